"""Symbol durations for FastSpeech from a trained Tacotron 2 or Centaur (the teacher's attention).

``python -m s2s.bin.tts_durations TEACHER.pt --data data/tts_train data/tts_valid
[--trim-silence-db 40] [--out FILE ...] [--no-pitch]``

Writes DATA/durations (``utt d_1 ... d_N``: frames per symbol, end of sentence included),
computed on the log-mels as the FastSpeech training will see them: give --trim-silence-db
the ``trim_silence_db`` of its config. See s2s.synth.durations. Beside each, DATA/pitch
(``utt f_1 ... f_N``: each symbol's mean F0 in Hz over its voiced frames, 0 if none; FILE.pitch
with --out), which a FastSpeech with ``pitch: true`` (FastPitch) trains on; --no-pitch skips it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from s2s.errors import run_main


def main(argv=None) -> int:
    from s2s.synth.durations import extract

    p = argparse.ArgumentParser(prog="s2s.bin.tts_durations", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="the teacher: a Tacotron 2 or Centaur checkpoint (exp/tts/model.pt)")
    p.add_argument("--data", nargs="+", required=True, help="data dirs with text, utt2spk and logmel features")
    p.add_argument("--trim-silence-db", type=float, default=0.0,
                   help="trim as the FastSpeech config's trim_silence_db does (0: no trimming)")
    p.add_argument("--out", nargs="+", help="output files, one per data dir (default: DATA/durations)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-pitch", dest="pitch", action="store_false",
                   help="do not write the per-symbol pitch (DATA/pitch) beside the durations")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    outs = a.out or [str(Path(d) / "durations") for d in a.data]
    pitch = ([f"{o}.pitch" for o in a.out] if a.out else [str(Path(d) / "pitch") for d in a.data]) if a.pitch else []
    return run_main("s2s.bin.tts_durations", extract, a.model, a.data, a.trim_silence_db, a.out,
                    a.batch_size, a.seed, a.pitch, writes=[("file", o) for o in outs + pitch])


if __name__ == "__main__":
    sys.exit(main())
