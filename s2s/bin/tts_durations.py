"""Symbol durations for FastSpeech from a trained Tacotron 2 or Centaur (the teacher's attention).

``python -m s2s.bin.tts_durations TEACHER.pt --data data/tts_train data/tts_valid
[--trim-silence-db 40] [--out FILE ...]``

Writes DATA/durations (``utt d_1 ... d_N``: frames per symbol, end of sentence included),
computed on the log-mels as the FastSpeech training will see them: give --trim-silence-db
the ``trim_silence_db`` of its config. See s2s.synth.durations.
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
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    outs = a.out or [str(Path(d) / "durations") for d in a.data]
    return run_main("s2s.bin.tts_durations", extract, a.model, a.data, a.trim_silence_db, a.out,
                    a.batch_size, a.seed, writes=[("file", o) for o in outs])


if __name__ == "__main__":
    sys.exit(main())
