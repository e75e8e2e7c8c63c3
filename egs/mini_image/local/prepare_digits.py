#!/usr/bin/env python3
"""The UCI handwritten digits that scikit-learn ships (1797 8x8 grey images of 0-9, Alpaydin & Kaynak
1998; sklearn.datasets.load_digits) written as PNG files in ImageNet's folder layout,
OUT/{train,val,test}/<digit>/<n>.png, split per class 60/20/20 in a fixed shuffled order, with
OUT/labels.txt (the classes 0-9) and OUT/stats.json (counts per split). Pixel values 0-16 are scaled to
0-255."""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
from PIL import Image

SPLITS = (("train", 0.6), ("val", 0.2), ("test", 0.2))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise SystemExit("prepare_digits.py: scikit-learn is not installed; run tools/setup.sh "
                         "(it installs the package's 'images' extra)") from None
    digits = load_digits()
    out = Path(a.out)
    rng = random.Random(a.seed)
    counts = {name: 0 for name, _ in SPLITS}
    for label in range(10):
        idx = [i for i, t in enumerate(digits.target) if t == label]
        rng.shuffle(idx)
        n_train, n_val = round(0.6 * len(idx)), round(0.2 * len(idx))
        parts = {"train": idx[:n_train], "val": idx[n_train:n_train + n_val], "test": idx[n_train + n_val:]}
        for name, ids in parts.items():
            folder = out / name / str(label)
            folder.mkdir(parents=True, exist_ok=True)
            for i in ids:
                pixels = np.round(digits.images[i] * (255.0 / 16.0)).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{i:04d}.png")
            counts[name] += len(ids)
    (out / "labels.txt").write_text("".join(f"{k}\n" for k in range(10)))
    (out / "stats.json").write_text(json.dumps({"images": counts, "classes": 10, "size": [8, 8]}, indent=1))
    print(f"prepare_digits.py: {counts} -> {out}")


if __name__ == "__main__":
    main()
