"""Train a KenLM n-gram (and its lexicon) on text normalised to the acoustic model's tokens.

    python -m s2s.bin.train_ngram --text data/train/text [--corpus lm_corpus.txt.gz ...] \\
        --tokens data/lang/tokens.txt --order 4 [--prune 0 0 1] [--unit word|token] --out data/lm

Writes OUT/ngram.arpa, OUT/ngram.bin (KenLM binary; ``--no-binary`` skips it) with
its word list OUT/ngram.bin.vocab, and for word models OUT/lexicon.txt (each word
spelled in the tokens). Text is put in the tokens' case; characters outside the
tokens are dropped (``--oov drop``) or their sentences skipped (``--oov skip``).
``--unit token`` trains a token-level n-gram (text spelled in tokens) for
lexicon-free beam search. Needs KenLM's lmplz/build_binary (tools/install_kenlm.sh).
"""

from __future__ import annotations

import argparse
import sys

from s2s.errors import run_main


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="s2s.bin.train_ngram", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--text", action="append", default=[], help="Kaldi text table (utt words...); repeatable")
    p.add_argument("--corpus", action="append", default=[], help="plain text, one sentence a line (.gz ok); repeatable")
    p.add_argument("--tokens", help="data/lang/tokens.txt: normalise and spell for these tokens")
    p.add_argument("--order", type=int, default=4)
    p.add_argument("--prune", type=int, nargs="+", help="lmplz --prune thresholds per order (e.g. 0 0 1)")
    p.add_argument("--unit", choices=["word", "token"], default="word")
    p.add_argument("--oov", choices=["drop", "skip"], default="drop",
                   help="characters outside the tokens: drop them, or skip their sentences")
    p.add_argument("--memory", default="10%", help="lmplz -S memory budget")
    p.add_argument("--no-binary", action="store_true", help="do not write ngram.bin")
    p.add_argument("--no-discount-fallback", action="store_true",
                   help="refuse (instead of falling back to fixed discounts) on corpora too small for Kneser-Ney")
    p.add_argument("--out", required=True, help="output dir")
    return p


def main(argv=None) -> int:
    from s2s.decode.ngram import train_ngram_report

    a = get_parser().parse_args(argv)
    return run_main("s2s.bin.train_ngram", train_ngram_report, a.out, order=a.order, texts=a.text,
                    corpora=a.corpus, tokens=a.tokens, unit=a.unit, prune=a.prune, binary=not a.no_binary,
                    oov=a.oov, memory=a.memory, discount_fallback=not a.no_discount_fallback,
                    writes=[("dir", a.out)])


if __name__ == "__main__":
    sys.exit(main())
