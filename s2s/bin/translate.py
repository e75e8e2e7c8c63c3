"""Translate text: ``s2s-translate MODEL [INPUT ...] [--beam 4 --lenpen 0.6] [--output FILE]``.

MODEL is a checkpoint of task ``mt`` (exp/x/model.pt). Sentences are read one per line
from the INPUT files, or from stdin when none is given; translations are written one per
line, in input order, to stdout or --output (written complete or not at all). With
--table, inputs and output are Kaldi-style ``id sentence`` tables (what the recipes
score). --nbest N writes N lines per input in Moses' n-best format
``index ||| translation ||| score``. A source longer than the model's positions is
truncated with a warning (--long truncate) or is an error (--long error). --lm fuses a
target-language LM (an s2s LM checkpoint or a KenLM word n-gram) into the beam search.
"""

from __future__ import annotations

import argparse
import sys

from s2s.errors import run_main


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="s2s-translate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="checkpoint of an mt model (.pt)")
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="text files, one sentence per line (default: stdin)")
    p.add_argument("--output", help="write here instead of stdout")
    p.add_argument("--table", action="store_true", help="inputs and output are 'id sentence' tables")
    p.add_argument("--beam", type=int, default=4, help="beam size (1: greedy; default 4)")
    p.add_argument("--lenpen", type=float, default=0.6, help="GNMT length penalty alpha (default 0.6)")
    p.add_argument("--nbest", type=int, default=1)
    p.add_argument("--max-len-a", type=float, default=1.5, help="output at most A * source tokens + B")
    p.add_argument("--max-len-b", type=int, default=10)
    p.add_argument("--batch-tokens", type=int, default=4000, help="source tokens per batch (padded)")
    p.add_argument("--long", choices=["truncate", "error"], default="truncate",
                   help="a source longer than the model's positions (default: truncate with a warning)")
    p.add_argument("--lm", help="shallow fusion with a target-language LM: an s2s LM checkpoint (.pt, task lm, "
                                "the model's tokens) or a KenLM word n-gram")
    p.add_argument("--lm-weight", type=float, default=0.3, help="weight of the LM's log-probabilities (default 0.3)")
    p.add_argument("--word-score", type=float, default=0.0, help="n-gram: bonus per word")
    p.add_argument("--unk-score", type=float, default=float("-inf"),
                   help="n-gram: score of a word the LM does not know (default -inf: not allowed)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", choices=["float32", "bfloat16", "int8"], default="float32",
                   help="weights and activations (scores stay float32); bfloat16 made a Transformer-base 1.35-1.47x "
                        "faster on a CPU with AVX512-BF16 (benchmarks/README.md); egs/mini_mt's test BLEU went "
                        "from 31.48 to 31.11; int8: linear layers dynamically quantized (CPU; benchmarks/README.md)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (default: the library's)")
    return p


def main(argv=None) -> int:
    from s2s.decode.translate import translate_files

    a = get_parser().parse_args(argv)
    return run_main("s2s-translate", translate_files, a.model, a.inputs, output=a.output, table=a.table,
                    device=a.device, threads=a.threads, dtype=a.dtype, beam=a.beam, lenpen=a.lenpen, nbest=a.nbest,
                    max_len_a=a.max_len_a, max_len_b=a.max_len_b, batch_tokens=a.batch_tokens, long=a.long,
                    lm=a.lm, lm_weight=a.lm_weight, word_score=a.word_score, unk_score=a.unk_score,
                    writes=[("file", a.output)])


if __name__ == "__main__":
    sys.exit(main())
