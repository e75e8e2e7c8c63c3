"""Build the output token inventory (data/lang) from a training transcript table.

    python -m s2s.bin.prepare_tokens --text data/train/text --out data/lang --kind char
    python -m s2s.bin.prepare_tokens --text data/train/text --out data/lang --kind bpe --vocab-size 500
    python -m s2s.bin.prepare_tokens --text data/train/text --out data/lang_word --kind word --vocab-size 10000
    python -m s2s.bin.prepare_tokens --text data/train/text data/train/text.de --out data/lang \
        --kind bpe --vocab-size 32000 --no-transcript-checks     # one joint vocabulary for translation

Writes OUT/tokens.txt (the specials ``<blank> <pad> <s> </s> <unk>`` first, see
``s2s.data.tokens``), OUT/token_type, OUT/normalization and, for bpe/unigram, the
SentencePiece model OUT/bpe.model, each atomically.
"""

from __future__ import annotations

import argparse
import os
import sys

from s2s.errors import run_main


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="prepare_tokens", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--text", required=True, nargs="+",
                   help="Kaldi text table(s): 'utt words...' per line; several (e.g. both sides of a parallel "
                        "corpus) give one joint vocabulary")
    p.add_argument("--out", required=True, help="lang directory to write (e.g. data/lang)")
    p.add_argument("--kind", required=True, choices=["char", "bpe", "unigram", "word"],
                   help="token type (word: whole words, for word-level LMs)")
    p.add_argument("--vocab-size", type=int, default=None,
                   help="SentencePiece vocabulary size incl. <unk> (bpe/unigram), or the most frequent words kept + <unk> "
                        "(word; default: every word); the vocabulary adds 4 specials")
    p.add_argument("--lowercase", action="store_true", help="lower-case the text (here and at encode time)")
    p.add_argument("--no-transcript-checks", action="store_true",
                   help="the text is not speech transcripts (e.g. a parallel corpus for translation): skip the "
                        "warnings about digits, punctuation and mixed case")
    p.add_argument("--num-threads", type=int, default=min(4, os.cpu_count() or 1),
                   help="SentencePiece training threads")
    return p


def main(argv=None) -> int:
    from s2s.data.tokens import prepare_lang

    a = get_parser().parse_args(argv)
    return run_main("prepare_tokens", prepare_lang, a.text, a.out, a.kind, vocab_size=a.vocab_size,
                    lowercase=a.lowercase, num_threads=a.num_threads,
                    transcript_checks=not a.no_transcript_checks, writes=[("dir", a.out)])


if __name__ == "__main__":
    sys.exit(main())
