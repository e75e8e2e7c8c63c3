"""Rescore beam-search n-best lists with a neural LM (trained with task ``lm``).

    python -m s2s.bin.rescore --nbest exp/x/decode_dev/nbest.jsonl --lm-model exp/lm/model.pt \\
        --out exp/x/decode_dev_rescore [--lm-weight 0.3] [--ngram-weight A --word-score B]
    python -m s2s.bin.rescore ... --tune --ref data/dev/text --weights 0:1.5:0.1 [--length-bonuses=-1:1:0.5]

Each hypothesis gets ``am + α·ngram + λ·nlm + β·words`` (natural logs); with
neither ``--ngram-weight`` nor ``--word-score`` the decoder's own score stands
for ``am + α·ngram + β·words``. Writes OUT/text (the best hypothesis per
utterance, Kaldi format) and OUT/nbest.jsonl (the lists with ``nlm_score`` and
``total``). With ``--tune`` the grid of λ (and extra length bonus) values is
searched for the lowest WER against ``--ref``; OUT/text uses the best values,
OUT/tune.txt has the whole table and OUT/best_weights the chosen values as
``key value`` lines (lm_weight, length_bonus, ngram_weight, word_score, wer),
which a recipe passes on to the test set. All outputs are written atomically.
"""

from __future__ import annotations

import argparse
import sys

from s2s.errors import run_main


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="s2s.bin.rescore", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nbest", required=True, nargs="+", help="nbest.jsonl file(s) from s2s.bin.decode --nbest N")
    p.add_argument("--lm-model", "--lm", dest="lm_model", required=True, help="neural LM checkpoint (task lm)")
    p.add_argument("--out", required=True, help="output dir (text, nbest.jsonl; tune.txt, best_weights with --tune)")
    p.add_argument("--lm-weight", type=float, default=0.5, help="lambda, the neural LM weight (without --tune)")
    p.add_argument("--length-bonus", type=float, default=0.0,
                   help="extra score per word on top of beta (without --tune)")
    p.add_argument("--ngram-weight", type=float, default=None, help="alpha (default: the decoder's combined score)")
    p.add_argument("--word-score", type=float, default=None, help="beta (default: the decoder's combined score)")
    p.add_argument("--tune", action="store_true", help="search lambda (and the length bonus) for the lowest WER")
    p.add_argument("--ref", help="reference text table for --tune")
    p.add_argument("--weights", default="0:1.5:0.1", help="lambda grid: start:stop:step or a list (default 0:1.5:0.1)")
    p.add_argument("--length-bonuses", default="0",
                   help="extra length bonus grid (default 0); write --length-bonuses=-1:1:0.5 when it starts with -")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-tokens", type=int, default=20000, help="padded tokens per LM batch")
    return p


def main(argv=None) -> int:
    from s2s.decode.rescore import rescore_files

    args = get_parser().parse_args(argv)
    return run_main("s2s.bin.rescore", rescore_files, args, writes=[("dir", args.out)])


if __name__ == "__main__":
    sys.exit(main())
