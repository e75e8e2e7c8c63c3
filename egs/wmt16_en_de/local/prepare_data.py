"""WMT16 en-de data dirs from the extracted archives (local/download.sh), as OpenSeq2Seq's get_en_de.sh.

    python local/prepare_data.py DOWNLOAD_DIR data [--max-words 80]

- data/train: Europarl v7 + CommonCrawl + News Commentary v11, concatenated in that order,
  cleaned as Moses' clean-corpus-n.perl with 1-80 words (a pair is dropped when a side is
  empty, longer than --max-words words, or one side is more than 9 times the other);
- data/dev: newstest2013 (wmt13 test.tgz), data/test: newstest2014 (wmt14 test-filtered.tgz,
  2737 sentences, what `sacrebleu -t wmt14 -l en-de` scores). SGML segments are taken as
  sacrebleu reads them (the text between <seg ...> and </seg>, stripped).

Each dir gets ``text`` (``id English``) and ``text.de`` (``id German``), raw (untokenised) text:
the joint SentencePiece model reads it as is and the output is scored detokenised.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

TRAIN = [("europarl-v7.de-en", "train/europarl-v7.de-en"),
         ("commoncrawl.de-en", "train/commoncrawl.de-en"),
         ("news-commentary-v11.de-en", "train/training-parallel-nc-v11/news-commentary-v11.de-en")]
TESTS = {"dev": ("wmt13/test/newstest2013-src.en.sgm", "wmt13/test/newstest2013-src.de.sgm"),
         "test": ("wmt14/test/newstest2014-deen-src.en.sgm", "wmt14/test/newstest2014-deen-ref.de.sgm")}
SEG = re.compile(r"<seg[^>]*>(.*)</seg>")


def die(msg: str) -> None:
    sys.exit(f"prepare_data.py: {msg}")


def lines(path: Path):
    if not path.is_file():
        die(f"{path} not found; run local/download.sh first (./run.sh --stage 0)")
    with open(path, encoding="utf-8", errors="strict", newline="\n") as f:
        lineno = 0
        try:
            for lineno, line in enumerate(f, 1):
                yield " ".join(line.split())
        except UnicodeDecodeError:
            die(f"{path}:{lineno + 1}: not valid UTF-8; the download is damaged (delete it and run stage 0 again)")


def sgm(path: Path) -> list[str]:
    return [m.group(1).strip() for m in (SEG.search(x) for x in lines(path)) if m]


def write_pairs(out: Path, pairs, prefix: str) -> int:
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(out / "text.tmp", "w", encoding="utf-8") as fe, open(out / "text.de.tmp", "w", encoding="utf-8") as fd:
        for en, de in pairs:
            n += 1
            fe.write(f"{prefix}{n:08d} {en}\n")
            fd.write(f"{prefix}{n:08d} {de}\n")
    (out / "text.de.tmp").replace(out / "text.de")
    (out / "text.tmp").replace(out / "text")
    return n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("download_dir")
    p.add_argument("data_dir")
    p.add_argument("--max-words", type=int, default=80)
    p.add_argument("--ratio", type=float, default=9.0)
    a = p.parse_args()
    root, data = Path(a.download_dir), Path(a.data_dir)
    stats = {"kept": 0, "dropped": 0}

    def train_pairs():
        for name, stem in TRAIN:
            en_path, de_path = root / f"{stem}.en", root / f"{stem}.de"
            en_it, de_it = lines(en_path), lines(de_path)
            count = 0
            for count, (en, de) in enumerate(zip(en_it, de_it), 1):
                ne, nd = len(en.split()), len(de.split())
                if 0 < ne <= a.max_words and 0 < nd <= a.max_words and max(ne, nd) <= a.ratio * min(ne, nd):
                    stats["kept"] += 1
                    yield en, de
                else:
                    stats["dropped"] += 1
            rest = sum(1 for _ in en_it) + sum(1 for _ in de_it)
            if rest:
                die(f"{en_path} and {de_path} differ in length ({count} pairs read, {rest} lines left over); "
                    f"the download is damaged")
            print(f"prepare_data.py: {name}: {count} pairs read", file=sys.stderr)

    n = write_pairs(data / "train", train_pairs(), "train")
    print(f"prepare_data.py: data/train: {n} pairs ({stats['dropped']} dropped by the 1-{a.max_words} words / "
          f"ratio {a.ratio:g} filter)", file=sys.stderr)
    for name, (src, ref) in TESTS.items():
        en, de = sgm(root / src), sgm(root / ref)
        if len(en) != len(de) or not en:
            die(f"{root / src} has {len(en)} segments but {root / ref} has {len(de)}")
        print(f"prepare_data.py: data/{name}: {write_pairs(data / name, zip(en, de), name)} pairs", file=sys.stderr)


if __name__ == "__main__":
    main()
