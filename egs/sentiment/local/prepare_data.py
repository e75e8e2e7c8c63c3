#!/usr/bin/env python3
"""Sentiment data dirs from IMDB (Maas et al. 2011) or binary SST (Socher et al. 2013), tokenised the way
WikiText is (so a WikiText LM's vocabulary covers them), plus the text an LM can be trained on.

    local/prepare_data.py --dataset imdb --src downloads/aclImdb --out data [--lm-lang LANG] [--dev 1000]
    local/prepare_data.py --dataset sst2 --src downloads/sst2 --out data

IMDB (aclImdb_v1.tar.gz): SRC/{train,test}/{pos,neg}/<id>_<rating>.txt and SRC/train/unsup/. As
OpenSeq2Seq's IMDBDataLayer does, --dev reviews drawn at random (seeded) from train become data/dev
(24,000 / 1,000 of the 25,000), test is data/test. The LM text is the training reviews (dev excluded) plus
the 50,000 unlabelled ones (never the test reviews).
Binary SST (NVIDIA sentiment-discovery's data/binary_sst, OpenSeq2Seq's SSTDataLayer): SRC/train.csv,
val.csv, test.csv with the columns sentence,label (label 0 negative, 1 positive) -> data/train, dev, test.

Each data dir gets ``text`` (``<id> <tokens>``) and ``utt2label`` (``neg`` or ``pos``); data/labels.txt
lists ``neg pos``; data/lm/text is the LM text (a Kaldi table, one document per line); data/stats.json the counts.
Tokens: ``<br />`` removed, punctuation split off, ``n't`` and ``'s`` style clitics split as in the
Penn Treebank, a hyphen inside a word written ``@-@`` (WikiText). With ``--lm-lang`` (the LM's lang
dir), a word the vocabulary lacks but whose lower-case form it has is lower-cased (OpenSeq2Seq's
check_oov does the same).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import sys
from pathlib import Path

LABELS = ("neg", "pos")


class DataError(Exception):
    pass


def tokenize(text: str) -> list[str]:
    text = re.sub(r"<br\s*/?>", " ", text)
    text = re.sub(r"(?<=\w)-(?=\w)", " @-@ ", text)
    text = re.sub(r"(?i)(\w)(n't)\b", r"\1 \2", text)
    text = re.sub(r"(?i)(\w)('(?:s|re|ve|ll|d|m))\b", r"\1 \2", text)
    text = re.sub(r"(\.\.\.|[.,!?;:()\"\[\]{}*/+`&%$#])", r" \1 ", text)
    return text.split()


def read_review(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not valid UTF-8 (byte {e.start}); re-encode the file or remove it") from None
    if not text.strip():
        raise DataError(f"{path}: empty review; remove the file")
    return text


def imdb(src: Path, dev: int, seed: int) -> tuple[dict, list[str]]:
    sets: dict[str, list[tuple[str, str, str]]] = {"train": [], "test": []}
    for split in ("train", "test"):
        for label in LABELS:
            folder = src / split / label
            if not folder.is_dir():
                raise DataError(f"{folder}: not found; --src must be the unpacked aclImdb directory "
                                f"(aclImdb/{{train,test}}/{{pos,neg}})")
            files = sorted(folder.glob("*.txt"))
            if not files:
                raise DataError(f"{folder}: no reviews (*.txt)")
            for f in files:
                if not re.fullmatch(r"\d+_\d+", f.stem):
                    raise DataError(f"{f}: not an IMDB review name (<id>_<rating>.txt)")
                sets[split].append((f"{split}_{label}_{f.stem}", " ".join(tokenize(read_review(f))), label))
    rng = random.Random(seed)
    train = sorted(sets["train"])
    rng.shuffle(train)
    if not 0 < dev < len(train):
        raise DataError(f"--dev {dev}: must be between 1 and {len(train) - 1} (the training reviews)")
    lm = [doc for _, doc, _ in train[dev:]]  # not dev: the LM validates on it
    unsup = src / "train" / "unsup"
    if unsup.is_dir():
        lm += [" ".join(tokenize(read_review(f))) for f in sorted(unsup.glob("*.txt"))]
    return {"train": train[dev:], "dev": train[:dev], "test": sets["test"]}, lm


def sst2(src: Path) -> tuple[dict, list[str]]:
    out = {}
    for name, file in (("train", "train.csv"), ("dev", "val.csv"), ("test", "test.csv")):
        path = src / file
        if not path.is_file():
            raise DataError(f"{path}: not found; --src must hold binary SST's train.csv, val.csv and test.csv")
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        header = [h.strip() for h in rows[0]] if rows else []
        if "sentence" not in header or "label" not in header:
            raise DataError(f"{path}:1: expected a header with the columns sentence and label")
        si, li = header.index("sentence"), header.index("label")
        items = []
        for lineno, row in enumerate(rows[1:], 2):
            if not any(c.strip() for c in row):
                raise DataError(f"{path}:{lineno}: empty line; remove it")
            if len(row) <= max(si, li) or row[li].strip() not in ("0", "1"):
                got = row[li] if len(row) > li else "nothing"
                raise DataError(f"{path}:{lineno}: label must be 0 or 1, got {got!r}")
            tokens = tokenize(row[si])
            if not tokens:
                raise DataError(f"{path}:{lineno}: empty sentence; remove the line")
            items.append((f"{name}_{lineno - 1:05d}", " ".join(tokens), LABELS[int(row[li])]))
        out[name] = items
    return out, [doc for _, doc, _ in out["train"]]


def lowercase_oov(doc: str, vocab: set[str]) -> str:
    return " ".join(w if w in vocab or w.lower() not in vocab else w.lower() for w in doc.split())


def write(out: Path, sets: dict, lm: list[str]) -> dict:
    stats = {}
    for name, items in sets.items():
        d = out / name
        d.mkdir(parents=True, exist_ok=True)
        items = sorted(items)
        for fname, col in (("text", 1), ("utt2label", 2)):
            tmp = d / f".{fname}.tmp"
            tmp.write_text("".join(f"{it[0]} {it[col]}\n" for it in items), encoding="utf-8")
            tmp.replace(d / fname)
        stats[name] = {"documents": len(items), "tokens": sum(len(it[1].split()) for it in items),
                       **{lab: sum(1 for it in items if it[2] == lab) for lab in LABELS}}
    (out / "lm").mkdir(parents=True, exist_ok=True)
    tmp = out / "lm/.text.tmp"
    tmp.write_text("".join(f"lm_{k:06d} {doc}\n" for k, doc in enumerate(lm, 1)), encoding="utf-8")
    tmp.replace(out / "lm/text")
    (out / "labels.txt").write_text("".join(lab + "\n" for lab in LABELS))
    stats["lm"] = {"documents": len(lm), "tokens": sum(len(d.split()) for d in lm)}
    (out / "stats.json").write_text(json.dumps(stats, indent=1))
    return stats


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, choices=["imdb", "sst2"])
    p.add_argument("--src", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--dev", type=int, default=1000, help="IMDB: training reviews held out as dev")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--lm-lang", type=Path, default=None, help="the LM's lang dir (lower-case fallback for OOVs)")
    a = p.parse_args()
    try:
        sets, lm = imdb(a.src, a.dev, a.seed) if a.dataset == "imdb" else sst2(a.src)
        if a.lm_lang is not None:
            tokens_file = a.lm_lang / "tokens.txt"
            if not tokens_file.is_file():
                raise DataError(f"{tokens_file}: not found (--lm-lang must be the LM's lang dir)")
            vocab = {line.split()[0] for line in tokens_file.read_text(encoding="utf-8").splitlines() if line.strip()}
            sets = {k: [(u, lowercase_oov(d, vocab), lab) for u, d, lab in v] for k, v in sets.items()}
            lm = [lowercase_oov(d, vocab) for d in lm]
        stats = write(a.out, sets, lm)
    except DataError as e:
        print(f"prepare_data.py: error: {e}", file=sys.stderr)
        return 1
    print(f"prepare_data.py: {json.dumps({k: v['documents'] for k, v in stats.items()})} -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
