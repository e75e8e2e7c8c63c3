"""The egs/imagenet results table (run.sh stage 3): one row per experiment evaluated on val
(exp/*/eval_val/scores.json, s2s.bin.evaluate_classifier), next to the published figures, written into
RESULTS.md between its markers (replaced on every run).

    python local/results.py --results RESULTS.md exp/resnet50_v15_larc
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

BEGIN, END = "<!-- imagenet: begin (written by local/results.py) -->", "<!-- imagenet: end -->"

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
        BEGIN,
        "## ImageNet val: top-1 and top-5 accuracy (shorter side 256, centre crop 224)",
        "",
        "| model | top-1 % | top-5 % | source |",
        "|---|---:|---:|---|",
        *[row(e) for e in exps if (e / "eval_val/scores.json").is_file()],
        *PUBLISHED,
        END,
    ]
    path = Path(a.results)
    old = path.read_text() if path.is_file() else "# egs/imagenet results\n"
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        new = head + "\n".join(block) + rest.split(END, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + "\n".join(block) + "\n"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(new)
    tmp.replace(path)
    print("\n".join(block))


if __name__ == "__main__":
    main()
