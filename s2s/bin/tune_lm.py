"""Search the n-gram weight alpha and word bonus beta on a dev set's cached log-probabilities.

    python -m s2s.bin.tune_lm --logprobs exp/X/decode_dev/greedy/logprobs.scp --ref data/dev/text \\
        --tokens data/lang/tokens.txt --lm data/lm/ngram.bin [--lexicon data/lm/lexicon.txt] \\
        --alpha 0:2:0.25 --beta -1:3:0.5 [--search grid|coordinate] [--nj 2] --out exp/X/decode_tune/best.yaml

Ranges are ``start:stop:step`` (stop included) or comma lists. ``grid`` decodes
every (alpha, beta); ``coordinate`` alternates line searches over alpha and beta
from the middle of the ranges until neither moves (far fewer points). The WER of
each point is printed (and written to ``--grid-out`` when given); the best values
go to ``--out`` as YAML (``lm_weight``, ``word_score``, ``wer``, ...), atomically.
Points are decoded by ``--nj`` processes that share the loaded LM.
"""

from __future__ import annotations

import argparse
import sys

from s2s.errors import run_main


def get_parser() -> argparse.ArgumentParser:
    from s2s.decode.beam import add_beam_args

    p = argparse.ArgumentParser(prog="s2s.bin.tune_lm", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--logprobs", required=True, action="append", help="logprobs.scp (repeat for several sets)")
    p.add_argument("--ref", required=True, help="reference text (Kaldi text table)")
    p.add_argument("--tokens", required=True, help="data/lang/tokens.txt")
    p.add_argument("--alpha", default="0:2:0.25", help="lm_weight values: start:stop:step or a,b,c")
    p.add_argument("--beta", default="-1:3:0.5", help="word_score values: start:stop:step or a,b,c")
    p.add_argument("--search", default="grid", choices=["grid", "coordinate"])
    p.add_argument("--nj", type=int, default=2, help="decoding processes")
    p.add_argument("--grid-out", help="also write 'alpha beta WER' per point here")
    p.add_argument("--out", required=True, help="best values (YAML)")
    p.add_argument("--decoding-for", metavar="MODEL",
                   help="also write decode.yaml beside MODEL (the LM, lexicon, best alpha/beta, pruning), "
                        "so s2s-transcribe MODEL decodes with them by default")
    add_beam_args(p, weights=False)
    return p


def main(argv=None) -> int:
    from s2s.decode.tune import tune

    args = get_parser().parse_args(argv)
    if not args.lm:
        get_parser().error("--lm is required")
    return run_main("s2s.bin.tune_lm", tune, args, writes=[("file", args.out)])


if __name__ == "__main__":
    sys.exit(main())
