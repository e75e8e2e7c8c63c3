"""Transcribe audio files with a trained model: ``s2s-transcribe MODEL a.wav [b.flac ...]``.

Prints ``file<TAB>transcript`` per file (just the transcript with one file). Any
format libsndfile or sox reads, any sample rate: audio is converted to the
model's rate and mono first.
"""

from __future__ import annotations

import argparse
import sys

from s2s.errors import run_main


def main(argv=None) -> int:
    from s2s.decode.transcribe import transcribe_files

    p = argparse.ArgumentParser(prog="s2s-transcribe", description=__doc__)
    p.add_argument("model", help="checkpoint (.pt) written by s2s.bin.train")
    p.add_argument("audio", nargs="+", help="audio files")
    p.add_argument("--device", default="cpu")
    a = p.parse_args(argv)
    return run_main("s2s-transcribe", transcribe_files, a.model, a.audio, a.device)


if __name__ == "__main__":
    sys.exit(main())
