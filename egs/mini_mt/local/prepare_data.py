"""egs/mini_mt data: English example sentences from WordNet, translated into Spanish by Apertium.

The English side is the usage examples of Princeton WordNet 3.0 (Debian package
``wordnet-base``: the quoted examples in /usr/share/wordnet/data.{noun,verb,adj,adv}),
real sentences written by lexicographers, kept when they have 4-25 words. The Spanish
side is Apertium's rule-based translation (Debian ``apertium-en-es``, mode eng-spa, unknown
words passed through unmarked): a deterministic teacher, as egs/mini uses TTS engines to
make its speech. Sentences are de-duplicated (case-insensitively), shuffled with a fixed
seed and split into test, dev and train; no held-out English sentence is in train.

    python local/prepare_data.py --out data [--wordnet /usr/share/wordnet] [--dev 500 --test 500]

Writes data/{train,dev,test}/text (``id english``) and text.es (``id spanish``).
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

PARTS = ("noun", "verb", "adj", "adv")


def wordnet_examples(wordnet: Path, min_words: int, max_words: int) -> list[str]:
    seen, out = set(), []
    for part in PARTS:
        path = wordnet / f"data.{part}"
        if not path.is_file():
            sys.exit(f"prepare_data.py: {path} not found; install WordNet (apt-get install wordnet-base) or give "
                     f"--wordnet DIR")
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  "):  # the licence header
                    continue
                gloss = line.split(" | ", 1)[1] if " | " in line else ""
                for ex in re.findall(r'"([^"]+)"', gloss):
                    s = " ".join(ex.split())
                    key = s.lower()
                    if min_words <= len(s.split()) <= max_words and key not in seen:
                        seen.add(key)
                        out.append(s)
    return out


def apertium(lines: list[str], mode: str) -> list[str]:
    if shutil.which("apertium") is None:
        sys.exit("prepare_data.py: apertium not found; install it (apt-get install apertium apertium-en-es)")
    proc = subprocess.run(["apertium", "-u", mode], input="\n".join(lines) + "\n", capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"prepare_data.py: apertium {mode} failed: {proc.stderr.strip()} (is apertium-en-es installed?)")
    out = proc.stdout.split("\n")
    if out and out[-1] == "":
        out.pop()
    if len(out) != len(lines):
        sys.exit(f"prepare_data.py: apertium gave {len(out)} lines for {len(lines)}; cannot align the corpus")
    return [" ".join(s.split()) for s in out]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="data")
    p.add_argument("--wordnet", default="/usr/share/wordnet")
    p.add_argument("--mode", default="eng-spa", help="Apertium mode")
    p.add_argument("--dev", type=int, default=500)
    p.add_argument("--test", type=int, default=500)
    p.add_argument("--max-train", type=int, default=0, help="use at most this many training pairs (0: all)")
    p.add_argument("--min-words", type=int, default=4)
    p.add_argument("--max-words", type=int, default=25)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    sents = wordnet_examples(Path(a.wordnet), a.min_words, a.max_words)
    random.Random(a.seed).shuffle(sents)
    spanish = apertium(sents, a.mode)
    pairs = [(e, s) for e, s in zip(sents, spanish) if s.strip()]
    sets = {"test": pairs[: a.test], "dev": pairs[a.test: a.test + a.dev], "train": pairs[a.test + a.dev:]}
    if a.max_train:
        sets["train"] = sets["train"][: a.max_train]
    held = {e.lower() for name in ("dev", "test") for e, _ in sets[name]}
    assert not any(e.lower() in held for e, _ in sets["train"]), "a held-out sentence is in train"
    for name, rows in sets.items():
        d = Path(a.out) / name
        d.mkdir(parents=True, exist_ok=True)
        ids = [f"{name}_{i:06d}" for i in range(len(rows))]
        for fname, side in (("text", 0), ("text.es", 1)):
            tmp = d / (fname + ".tmp")
            tmp.write_text("".join(f"{u} {r[side]}\n" for u, r in zip(ids, rows)), encoding="utf-8")
            tmp.replace(d / fname)
        print(f"prepare_data.py: {d}: {len(rows)} sentence pairs, "
              f"{sum(len(r[0].split()) for r in rows)} English words")


if __name__ == "__main__":
    main()
