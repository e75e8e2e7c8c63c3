"""Perplexity of a trained language model on a text.

    python -m s2s.bin.evaluate_lm exp/lstm/model.pt data/test [--out exp/lstm/test_ppl.json] [--bptt N]

TEXT is a data dir (its ``text`` table), a Kaldi ``text`` table or a plain text file, one sentence
per line. The model reads it as it was validated in training: sentence by sentence, or, for a word
LM trained with ``bptt`` (WikiText-style), as one stream of words (every line ended by ``</s>``) in
pieces of ``bptt`` tokens. Prints ``ppl=... loss=... tokens=... unk_share=... parameters=...``
(perplexity per predicted token: per word, ``</s>`` counted, for a word LM); ``--out`` also writes
them as JSON.
"""

from __future__ import annotations

import argparse
import sys

from s2s.errors import run_main


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="evaluate_lm", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="an lm checkpoint (exp/NAME/model.pt)")
    p.add_argument("text", help="data dir, Kaldi text table or plain text file")
    p.add_argument("--out", default=None, help="write the figures as JSON here")
    p.add_argument("--bptt", type=int, default=None,
                   help="stream piece length (default: as trained; 0: sentence by sentence)")
    return p


def main(argv=None) -> int:
    from s2s.tasks.lm import evaluate_lm

    a = get_parser().parse_args(argv)

    def run() -> None:
        r = evaluate_lm(a.model, a.text, out=a.out, bptt=a.bptt)
        print(f"ppl={r['ppl']:.2f} loss={r['loss']:.4f} tokens={r['tokens']} unk_share={r['unk_share']:.4f} "
              f"parameters={r['parameters']}")

    return run_main("evaluate_lm", run, writes=[("file", a.out)])


if __name__ == "__main__":
    sys.exit(main())
