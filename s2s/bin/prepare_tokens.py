"""Build the output token inventory (data/lang) from a training transcript table.

    python -m s2s.bin.prepare_tokens --text data/train/text --out data/lang --kind char
    python -m s2s.bin.prepare_tokens --text data/train/text --out data/lang --kind bpe --vocab-size 500

Writes OUT/tokens.txt (``<blank> 0`` first), OUT/token_type, OUT/normalization
and, for bpe/unigram, the SentencePiece model OUT/bpe.model, each atomically.
"""

from __future__ import annotations

import argparse
import os
import sys

from s2s.errors import S2SError


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="prepare_tokens", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--text", required=True, help="Kaldi text table: 'utt words...' per line")
    p.add_argument("--out", required=True, help="lang directory to write (e.g. data/lang)")
    p.add_argument("--kind", required=True, choices=["char", "bpe", "unigram"], help="token type")
    p.add_argument("--vocab-size", type=int, default=None,
                   help="SentencePiece vocabulary size incl. <unk> (bpe/unigram only); the inventory adds the blank")
    p.add_argument("--lowercase", action="store_true", help="lower-case the text (here and at encode time)")
    p.add_argument("--num-threads", type=int, default=min(4, os.cpu_count() or 1),
                   help="SentencePiece training threads")
    return p


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    from s2s.data.tokens import build_tokenizer, read_training_text

    try:
        lines = read_training_text(args.text, lowercase=args.lowercase)
        tok = build_tokenizer(lines, args.kind, vocab_size=args.vocab_size, lowercase=args.lowercase,
                              num_threads=args.num_threads, source=args.text)
        tok.save(args.out)
    except S2SError as e:
        print(f"prepare_tokens: error: {e}", file=sys.stderr)
        return 1
    n_words = sum(len(s.split()) for s in lines)
    print(f"prepare_tokens: {args.out}/tokens.txt: {len(tok)} {tok.kind} tokens (blank included) "
          f"from {len(lines)} transcripts, {n_words} words")
    return 0


if __name__ == "__main__":
    sys.exit(main())
