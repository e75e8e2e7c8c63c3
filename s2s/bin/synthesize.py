"""Synthesize a Kaldi ``text`` file with flite, espeak-ng or festival into wavs + a data dir.

  python -m s2s.bin.synthesize --backend espeak-ng --text data/lm_text/text --out-dir data/syn \
      [--speakers ID ... | --num-speakers 8 --seed 1] [--all-speakers] [--sample-rate 16000] \
      [--nj N --job J]

Each text line ``utt words...`` is normalised (numbers to words, punctuation and
non-ASCII removed; counts reported) and spoken by one speaker, the speakers taken in
turn, or by every speaker with --all-speakers. New utterance ids are ``<speaker>-<utt>``
so sorting keeps speakers together. Wavs go to OUT/wav/; the tables (wav.scp with
absolute paths, text, utt2spk, spk2utt, utt2dur) to OUT, or with --nj N to
OUT/split<N>/<J> for this job's share, to be joined with
``utils/combine_data.sh OUT OUT/split<N>/*``. List speaker ids with --list-speakers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from s2s.errors import run_main
from s2s.synth.engines import BACKENDS


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="synthesize", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", required=True, choices=BACKENDS)
    p.add_argument("--text", type=Path, help="Kaldi text file: utt words...")
    p.add_argument("--out-dir", type=Path)
    p.add_argument("--speakers", nargs="+", metavar="ID", help="speaker ids (default: --num-speakers random ones)")
    p.add_argument("--num-speakers", type=int, default=8, help="random speakers drawn from the default grid")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--all-speakers", action="store_true", help="every speaker says every line")
    p.add_argument("--sample-rate", type=int, default=16000)
    p.add_argument("--nj", type=int, default=1, help="number of jobs the work is split into")
    p.add_argument("--job", type=int, default=1, help="this job's number, 1..nj")
    p.add_argument("--list-speakers", action="store_true", help="print the backend's speaker ids and exit")
    return p


def run(args) -> None:
    from s2s.synth import get_synthesizer
    from s2s.synth.jobs import synthesize_engine_job

    if args.list_speakers:
        print("\n".join(get_synthesizer(args.backend).speakers()))
        return
    print(f"synthesize: {synthesize_engine_job(args)}", file=sys.stderr)


def main(argv=None) -> int:
    return run_main("synthesize", run, get_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
