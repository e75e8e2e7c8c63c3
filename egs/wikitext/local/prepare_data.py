"""egs/wikitext data: the tokenized WikiText files as LM data dirs.

    python local/prepare_data.py --corpus downloads/wikitext-2 --out data

For each split (train, valid -> dev, test) writes data/<split>/wiki.tokens, the file as published
(one paragraph or heading per line, blank lines kept: every line, blank or not, ends with an end
of line in the word stream, as the usual WikiText readers count it), and data/<split>/text, its
non-empty lines as a Kaldi text table (``wt_<split>_<line> words``) for the vocabulary. The corpus
is already tokenized with rare words replaced by ``<unk>``, so the vocabulary of train is closed.
Checks each file is UTF-8, names the file and line otherwise, and prints the counts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SPLITS = {"train": "train", "valid": "dev", "test": "test"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", required=True, help="the extracted dataset directory (wiki.*.tokens inside)")
    p.add_argument("--out", default="data")
    a = p.parse_args()
    corpus = Path(a.corpus)
    stats = {}
    for split, name in SPLITS.items():
        src = corpus / f"wiki.{split}.tokens"
        if not src.is_file():
            sys.exit(f"prepare_data.py: {src} not found; run local/download.sh first (stage 0)")
        raw = src.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            line = raw[: e.start].count(b"\n") + 1
            sys.exit(f"prepare_data.py: {src}:{line}: not valid UTF-8; the file is damaged: delete "
                     f"{corpus.parent} and download it again")
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        d = Path(a.out) / name
        d.mkdir(parents=True, exist_ok=True)
        words = [ln.split() for ln in lines]
        tmp = d / "wiki.tokens.tmp"
        tmp.write_text("".join(" ".join(w) + "\n" for w in words), encoding="utf-8")
        tmp.replace(d / "wiki.tokens")
        tmp = d / "text.tmp"
        tmp.write_text("".join(f"wt_{name}_{i:07d} {' '.join(w)}\n" for i, w in enumerate(words) if w),
                       encoding="utf-8")
        tmp.replace(d / "text")
        n_tok = sum(len(w) + 1 for w in words)
        n_unk = sum(w.count("<unk>") for w in words)
        stats[name] = {"lines": len(words), "tokens": n_tok, "unk": n_unk}
        print(f"prepare_data.py: {d}: {len(words)} lines, {n_tok} tokens with an end of line each, "
              f"{100 * n_unk / max(n_tok, 1):.2f} % <unk>")
    (Path(a.out) / "stats.json").write_text(json.dumps(stats, indent=1) + "\n")


if __name__ == "__main__":
    main()
