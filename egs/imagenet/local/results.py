"""The egs/imagenet results table (run.sh stage 3): one row per experiment evaluated on val
(exp/*/eval_val/scores.json, s2s.bin.evaluate_classifier), next to the published figures, written into
RESULTS.md between its markers (s2s.score.replace_block; replaced on every run).

    python local/results.py --results RESULTS.md exp/resnet50_v15_larc
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from s2s.score import replace_block

PUBLISHED = [
    "| torchvision resnet50 IMAGENET1K_V1 (v1.5, SGD, 90 epochs) | 76.13 | 92.86 | torchvision model docs |",
    "| OpenSeq2Seq ResNet-50 v2, SGD, 100 epochs | 76.38 | 93.08 | OpenSeq2Seq docs, image-classification |",
    "| OpenSeq2Seq ResNet-50 v2, NovoGrad, 100 epochs | 77.00 | 93.37 | OpenSeq2Seq docs, image-classification |",
]


def row(exp: Path) -> str:
    scores = json.loads((exp / "eval_val/scores.json").read_text())
    conf = yaml.safe_load((exp / "config.yaml").read_text()) if (exp / "config.yaml").is_file() else {}
    what = f"{conf.get('model_conf', {}).get('preset', conf.get('model', '?'))}, {conf.get('optim', '?')}, " \
           f"{conf.get('max_epochs', '?')} epochs"
    return f"| {exp.name}: {what} | {scores['accuracy']:.2f} | {scores['top5']:.2f} | measured, {scores['n']:,} images |"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", required=True)
    p.add_argument("exps", nargs="*", type=Path, help="experiments to list (default: every exp/*/eval_val)")
    a = p.parse_args()
    exps = sorted(set(a.exps) | {d.parent for d in Path("exp").glob("*/eval_val")})
    block = [
        "## ImageNet val: top-1 and top-5 accuracy (shorter side 256, centre crop 224)",
        "",
        "| model | top-1 % | top-5 % | source |",
        "|---|---:|---:|---|",
        *[row(e) for e in exps if (e / "eval_val/scores.json").is_file()],
        *PUBLISHED,
    ]
    replace_block(a.results, "imagenet", "\n".join(block))
    print("\n".join(block))


if __name__ == "__main__":
    main()
