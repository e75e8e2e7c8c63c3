"""egs/mini_lm data: the definitions of WordNet 3.0 as a small word-level language-modelling corpus.

Princeton WordNet's glosses (Debian package ``wordnet-base``, /usr/share/wordnet/data.{noun,verb,
adj,adv}) are a definition followed by quoted usage examples. egs/mini_mt translates the examples;
this corpus is the definitions only (the gloss up to its first quoted example), text written by
lexicographers, one per line. Lines are tokenised WikiText-style (lower-cased; words, numbers and
each punctuation mark separate), de-duplicated, shuffled with a fixed seed and split into test,
dev and train lines; as in WikiText (Merity et al. 2016) a word seen fewer than ``--min-count``
times in train becomes ``<unk>`` in every split, so the vocabulary is closed.

    python local/prepare_data.py --out data [--wordnet /usr/share/wordnet] [--dev 3000 --test 3000]
        [--max-train 0] [--min-count 3]

Writes data/{train,dev,test}/text (Kaldi text: ``id words...``) and data/stats.json.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import re
import sys
from pathlib import Path

PARTS = ("noun", "verb", "adj", "adv")
TOKEN = re.compile(r"[a-z0-9]+(?:['.-][a-z0-9]+)*|[^\sa-z0-9]")


def definitions(wordnet: Path) -> list[str]:
    seen, out = set(), []
    for part in PARTS:
        path = wordnet / f"data.{part}"
        if not path.is_file():
            sys.exit(f"prepare_data.py: {path} not found; install WordNet (apt-get install wordnet-base) or give "
                     f"--wordnet DIR")
        with open(path, encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                if line.startswith("  "):  # the licence header
                    continue
                if " | " not in line:
                    sys.exit(f"prepare_data.py: {path}:{lineno}: no ' | ' before a gloss; is this a WordNet 3.0 "
                             f"data file?")
                gloss = line.split(" | ", 1)[1].split('"', 1)[0]
                toks = TOKEN.findall(gloss.lower())
                while toks and toks[-1] in (";", ":", ","):
                    toks.pop()
                s = " ".join(toks)
                if len(toks) >= 2 and s not in seen:
                    seen.add(s)
                    out.append(s)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="data")
    p.add_argument("--wordnet", default="/usr/share/wordnet")
    p.add_argument("--dev", type=int, default=3000)
    p.add_argument("--test", type=int, default=3000)
    p.add_argument("--max-train", type=int, default=0, help="use at most this many training lines (0: all)")
    p.add_argument("--min-count", type=int, default=3, help="rarer training words become <unk>")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    lines = definitions(Path(a.wordnet))
    random.Random(a.seed).shuffle(lines)
    sets = {"test": lines[: a.test], "dev": lines[a.test: a.test + a.dev], "train": lines[a.test + a.dev:]}
    if a.max_train:
        sets["train"] = sets["train"][: a.max_train]
    if not sets["train"]:
        sys.exit(f"prepare_data.py: no training lines left after {a.dev} dev and {a.test} test lines")
    counts = collections.Counter(w for s in sets["train"] for w in s.split())
    keep = {w for w, c in counts.items() if c >= a.min_count}
    stats = {"min_count": a.min_count, "vocabulary": len(keep)}
    for name, sents in sets.items():
        d = Path(a.out) / name
        d.mkdir(parents=True, exist_ok=True)
        n_tok = n_unk = 0
        tmp = d / "text.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            for i, s in enumerate(sents):
                words = [w if w in keep else "<unk>" for w in s.split()]
                n_tok += len(words) + 1  # + </s>
                n_unk += sum(w == "<unk>" for w in words)
                f.write(f"wn_{name}_{i:06d} {' '.join(words)}\n")
        tmp.replace(d / "text")
        stats[name] = {"lines": len(sents), "tokens": n_tok, "unk": n_unk}
        print(f"prepare_data.py: {d}/text: {len(sents)} lines, {n_tok} tokens with </s>, "
              f"{100 * n_unk / max(n_tok, 1):.2f} % <unk>")
    (Path(a.out) / "stats.json").write_text(json.dumps(stats, indent=1) + "\n")


if __name__ == "__main__":
    main()
