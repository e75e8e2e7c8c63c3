"""The F0 of every log-mel frame, for FastPitch trained with its own aligner.

``python -m s2s.bin.tts_pitch --data data/tts_train data/tts_valid [--out FILE ...]
[--frontend-conf conf/tts_logmel.yaml]``

Writes DATA/f0 (``utt f_1 ... f_T``: the F0 in Hz of each frame of the data dir's dumped logmel
features, or of --frontend-conf's log-mel where none are dumped, before silence trimming; 0
where unvoiced), tracked on the audio of wav.scp with
Praat's autocorrelation tracker (s2s.synth.pitch). A FastSpeech with ``pitch: true`` and
``aligner: true`` averages it per symbol over the durations its aligner finds. (With durations
from a teacher, ``s2s.bin.tts_durations`` writes the per-symbol DATA/pitch instead.)
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from s2s.errors import run_main


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="s2s.bin.tts_pitch", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", nargs="+", required=True, help="data dirs with wav.scp and dumped logmel features")
    p.add_argument("--out", nargs="+", help="output files, one per data dir (default: DATA/f0)")
    p.add_argument("--frontend-conf", help="YAML of the TTS's log-mel front end (a front-end config, or a TTS "
                                           "config with frontend_conf), for data dirs without dumped features")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    outs = a.out or [str(Path(d) / "f0") for d in a.data]
    return run_main("s2s.bin.tts_pitch", _run, a, writes=[("file", o) for o in outs])


def _run(a) -> None:
    from s2s.config import load_yaml
    from s2s.synth.pitch import write_frame_pitch

    conf = None
    if a.frontend_conf:
        conf = load_yaml(a.frontend_conf)
        conf = conf.get("frontend_conf", conf) if isinstance(conf, dict) else conf
    write_frame_pitch(a.data, a.out, conf)


if __name__ == "__main__":
    sys.exit(main())
