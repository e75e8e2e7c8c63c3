#!/usr/bin/env python3
"""Draw sentences from the LibriSpeech LM corpus for speech synthesis (stage 4).

  local/sample_lm_text.py --lm-text downloads/lm/librispeech-lm-norm.txt.gz --num 1000 \
      [--exclude data/dev_clean/text ...] [--min-words 4] [--max-words 35] [--seed 1] --out data/syn_text/text

Writes a Kaldi text table with ids ``syn-000000001``...: ``--num`` distinct sentences of
``--min-words``..``--max-words`` words, drawn uniformly (reservoir sampling, one pass over the
~40 M lines, constant memory) with a fixed seed, leaving out any sentence that is a transcript
of an --exclude table (so no dev/test sentence is ever spoken into the training data).
"""

from __future__ import annotations

import argparse
import gzip
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from s2s.errors import S2SError  # noqa: E402
from s2s.io import atomic_open  # noqa: E402

PROG = "local/sample_lm_text.py"


def sample(lines, num: int, min_words: int, max_words: int, exclude: set[str], seed: int) -> list[str]:
    """Uniform sample of ``num`` eligible lines (all of them if there are fewer), no line twice."""
    rng = random.Random(seed)
    reservoir: list[str] = []
    chosen: set[str] = set()  # mirrors the reservoir, so a repeated line cannot be drawn twice
    n = 0
    for line in lines:
        s = " ".join(line.split())
        if not min_words <= len(s.split()) <= max_words or s in exclude or s in chosen:
            continue
        n += 1
        if len(reservoir) < num:
            reservoir.append(s)
            chosen.add(s)
        else:
            j = rng.randrange(n)
            if j < num:
                chosen.discard(reservoir[j])
                reservoir[j] = s
                chosen.add(s)
    return reservoir


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lm-text", type=Path, required=True, help="plain text, one sentence a line (.gz read as gzip)")
    p.add_argument("--num", type=int, required=True)
    p.add_argument("--exclude", type=Path, nargs="*", default=[], help="Kaldi text tables whose sentences to avoid")
    p.add_argument("--min-words", type=int, default=4)
    p.add_argument("--max-words", type=int, default=35)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    try:
        if not args.lm_text.is_file():
            raise S2SError(f"{args.lm_text}: LM corpus not found; run stage 0 with librispeech-lm-norm.txt.gz "
                           f"in --lm-files")
        exclude = set()
        for t in args.exclude:
            with open(t, encoding="utf-8") as f:
                exclude.update(" ".join(line.split()[1:]) for line in f)
        opener = gzip.open if args.lm_text.suffix == ".gz" else open
        with opener(args.lm_text, "rt", encoding="utf-8") as f:
            chosen = sample(f, args.num, args.min_words, args.max_words, exclude, args.seed)
        if len(chosen) < args.num:
            print(f"{PROG}: warning: only {len(chosen)} eligible sentences in {args.lm_text}, {args.num} wanted",
                  file=sys.stderr)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(args.out) as f:
            for i, s in enumerate(chosen):
                f.write(f"syn-{i:09d} {s}\n")
    except (S2SError, OSError, UnicodeDecodeError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    print(f"{PROG}: {len(chosen)} sentences -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
