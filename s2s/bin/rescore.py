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
from pathlib import Path

from s2s.errors import S2SError


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


def run(args) -> dict:
    """Rescore as ``args`` say and write the outputs; returns the weights used (and WER with --tune)."""
    from s2s.data.datadir import read_table
    from s2s.decode.rescore import (NeuralLmScorer, add_nlm_scores, best_texts, parse_grid, read_nbest,
                                    total_scores, tune, write_nbest)
    from s2s.io import atomic_open

    if args.tune and not args.ref:
        raise S2SError("--tune needs --ref data/<dev set>/text (the references to tune against)")
    if (args.ngram_weight is None) != (args.word_score is None):
        raise S2SError("give both --ngram-weight and --word-score, or neither (then the decoder's combined "
                       "score is used)")
    lm_weights = parse_grid(args.weights, "--weights") if args.tune else [args.lm_weight]
    bonuses = parse_grid(args.length_bonuses, "--length-bonuses") if args.tune else [args.length_bonus]
    refs = read_table(args.ref, allow_empty_value=True) if args.tune else None
    nbest = read_nbest(args.nbest)
    scorer = NeuralLmScorer.from_checkpoint(args.lm_model, args.device, args.batch_tokens)
    add_nlm_scores(nbest, scorer)

    weights = {"lm_weight": args.lm_weight, "length_bonus": args.length_bonus}
    out = Path(args.out)
    if args.tune:
        # References in the hypotheses' normalisation (the token set's case), as tune_lm does.
        refs = {k: scorer.tokenizer.normalize(v) for k, v in refs.items()}
        res = tune(nbest, refs, lm_weights, bonuses, args.ngram_weight, args.word_score, ref_name=args.ref)
        weights = {"lm_weight": res.lm_weight, "length_bonus": res.length_bonus, "wer": res.wer}
        with atomic_open(out / "tune.txt") as f:
            f.write(f"# WER (%) on {args.ref} of {sum(len(h) for h in nbest.values())} hypotheses "
                    f"of {len(nbest)} utterances\n# lm_weight length_bonus wer\n")
            for lam, bonus, wer in res.table:
                f.write(f"{lam:g} {bonus:g} {wer:.2f}\n")
    texts = best_texts(nbest, weights["lm_weight"], args.ngram_weight, args.word_score, weights["length_bonus"])
    totals = {u: total_scores(h, weights["lm_weight"], args.ngram_weight, args.word_score, weights["length_bonus"])
              for u, h in nbest.items()}
    write_nbest(out / "nbest.jsonl", nbest, totals)
    with atomic_open(out / "text") as f:
        for utt in sorted(texts):
            f.write(f"{utt} {texts[utt]}".rstrip() + "\n")
    if args.ngram_weight is not None:
        weights.update(ngram_weight=args.ngram_weight, word_score=args.word_score)
    if args.tune:
        with atomic_open(out / "best_weights") as f:
            for k, v in weights.items():
                f.write(f"{k} {v:.2f}\n" if k == "wer" else f"{k} {v:g}\n")
    return weights


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    try:
        weights = run(args)
    except S2SError as e:
        print(f"s2s.bin.rescore: error: {e}", file=sys.stderr)
        return 1
    print("rescored into " + str(Path(args.out) / "text") + ": "
          + " ".join(f"{k}={v:g}" for k, v in weights.items()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
