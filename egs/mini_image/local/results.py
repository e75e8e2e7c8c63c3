"""The egs/mini_image results table (run.sh stage 3): one row per model, next to a scikit-learn SVM
trained on the same training images, written into RESULTS.md between its markers
(s2s.score.replace_block; replaced on every run).

    python local/results.py --data data --results RESULTS.md exp/resnet_v15/model.pt ...

Reads each model's exp/NAME/eval_{val,test}/scores.json (s2s.bin.evaluate_classifier) and the
checkpoint (network version and parameter count). The SVM (RBF kernel, gamma 0.001, C 10, on the raw
8x8 pixels as scikit-learn's digits example uses it) is trained here on data/train and scored on
data/val and data/test, so both rows see the same images.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from s2s.score import replace_block


def row(model: Path) -> str:
    from s2s.models.checkpoint import load_model

    net, meta = load_model(model, task="image")
    conf = meta["model"]["args"]["model_conf"]
    params = sum(p.numel() for p in net.parameters())
    sc = {s: json.loads((model.parent / f"eval_{s}/scores.json").read_text()) for s in ("val", "test")}
    return (f"| {model.parent.name} | ResNet v{conf.get('version', '1.5')}, {conf.get('block', 'basic')} "
            f"{conf.get('layers')} x {conf.get('width')} | {params:,} | {sc['val']['accuracy']:.2f} "
            f"| {sc['test']['accuracy']:.2f} | {sc['test']['top5']:.2f} | {sc['test']['errors']} / {sc['test']['n']} |")


def pixels(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    from s2s.data.datadir import read_table
    from s2s.data.images import load_image

    images, text = read_table(data_dir / "images.scp"), read_table(data_dir / "text")
    x = np.stack([np.asarray(load_image(p, 1), dtype=np.float64).ravel() / 255.0 for p in images.values()])
    return x, np.array([text[u] for u in images])


def svm_row(data: Path) -> str:
    from sklearn.svm import SVC

    x, y = pixels(data / "train")
    svm = SVC(gamma=0.001 * 256, C=10.0).fit(x, y)  # gamma 0.001 on 0-16 pixels = 0.256 on 0-1 pixels
    acc, errors, n = {}, 0, 0
    for s in ("val", "test"):
        xs, ys = pixels(data / s)
        right = svm.predict(xs) == ys
        acc[s] = 100.0 * float(np.mean(right))
        errors, n = int((~right).sum()), len(ys)
    return (f"| scikit-learn SVC | RBF kernel on the 64 raw pixels | {len(svm.support_):,} support vectors "
            f"| {acc['val']:.2f} | {acc['test']:.2f} | - | {errors} / {n} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--results", required=True)
    p.add_argument("models", nargs="+", type=Path)
    a = p.parse_args()
    counts = {s: len((a.data / s / "images.scp").read_text().splitlines()) for s in ("train", "val", "test")}
    block = [
        "## Small ResNets on the UCI digits (8x8, enlarged to 16x16)",
        "",
        f"Train {counts['train']}, val {counts['val']}, test {counts['test']} images (60/20/20 per class). "
        "Accuracy in %, top-5 of the 10 classes; the scikit-learn row is an SVM trained on the same training "
        "images (the classical reference for this data).",
        "",
        "| model | network | parameters | val top-1 | test top-1 | test top-5 | test errors |",
        "|---|---|---:|---:|---:|---:|---:|",
        *[row(m) for m in a.models],
        svm_row(a.data),
    ]
    replace_block(a.results, "mini-image", "\n".join(block))
    print("\n".join(block))


if __name__ == "__main__":
    main()
