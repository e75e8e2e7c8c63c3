"""Synthesize a Kaldi ``text`` file with an s2s Tacotron 2 model into wavs + a data dir.

  python -m s2s.bin.synthesize_tts --model exp/tts/model.pt --text data/train/text --out-dir data/syn \
      [--speakers ID ... | --num-speakers 8 --seed 1] [--all-speakers] [--sample-rate 16000] \
      [--griffin-lim-iters 32] [--device cpu] [--nj N --job J] [--list-speakers]

The same contract as ``python -m s2s.bin.synthesize`` (the Debian engines): each line is
normalised (numbers spelled out, punctuation and non-ASCII removed; counts reported) and
spoken by one speaker in turn (or all with --all-speakers); utterance ids become
``<speaker>-<utt>``; wavs go to OUT/wav/, tables to OUT or OUT/split<N>/<J>. Lines whose
decoder hit the step limit without stopping are kept and counted in the summary.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from s2s.errors import run_main


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="synthesize_tts", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="Tacotron 2 checkpoint (exp/<tag>/model.pt)")
    p.add_argument("--text", type=Path, help="Kaldi text file: utt words...")
    p.add_argument("--out-dir", type=Path)
    p.add_argument("--speakers", nargs="+", metavar="ID")
    p.add_argument("--num-speakers", type=int, default=8)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--all-speakers", action="store_true")
    p.add_argument("--sample-rate", type=int, default=16000)
    p.add_argument("--griffin-lim-iters", type=int, default=32)
    p.add_argument("--device", default="cpu")
    p.add_argument("--nj", type=int, default=1)
    p.add_argument("--job", type=int, default=1)
    p.add_argument("--list-speakers", action="store_true")
    return p


def run(args) -> None:
    from s2s.synth.jobs import synthesize_tacotron_job

    if args.list_speakers:
        from s2s.synth.tacotron import TacotronSynthesizer

        print("\n".join(TacotronSynthesizer(args.model, device=args.device).speakers()))
        return
    print(f"synthesize_tts: {synthesize_tacotron_job(args)}", file=sys.stderr)


def main(argv=None) -> int:
    return run_main("synthesize_tts", run, get_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
