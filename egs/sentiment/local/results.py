"""The egs/sentiment results table (run.sh stage 4): one row per experiment, next to published
figures for the dataset, written into RESULTS.md between the dataset's markers (s2s.score.replace_block).

    python local/results.py --dataset imdb --stats data/stats.json --lm exp/lm/model.pt --results RESULTS.md exp/TAG

Reads exp/TAG/eval_{dev,test}/scores.json (s2s.bin.evaluate_classifier). Rows of other experiments
already in the table are kept.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from s2s.score import replace_block

PUBLISHED = {
    "imdb": [
        "| Dai & Le 2015, SA-LSTM (LM pre-training) | published | | 92.76 | |",
        "| Howard & Ruder 2018, ULMFiT | published | | 95.40 | |",
    ],
    "sst2": [
        "| Radford et al. 2017, byte mLSTM (NVIDIA sentiment-discovery's data) | published | | 91.8 | |",
    ],
}
NAMES = {"imdb": "IMDB", "sst2": "binary SST"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, choices=sorted(PUBLISHED))
    p.add_argument("--stats", required=True, type=Path)
    p.add_argument("--lm", required=True, help="the LM the classifier started from, or none")
    p.add_argument("--results", required=True, type=Path)
    p.add_argument("exp", type=Path)
    a = p.parse_args()
    name = f"sentiment-{a.dataset}"
    begin, end = f"<!-- {name}: begin", f"<!-- {name}: end -->"
    sc = {s: json.loads((a.exp / f"eval_{s}/scores.json").read_text()) for s in ("dev", "test")}
    stats = json.loads(a.stats.read_text())
    new_row = (f"| {a.exp.name} | {a.lm} | {sc['dev']['accuracy']:.2f} | {sc['test']['accuracy']:.2f} "
               f"| {sc['test']['macro_f1']:.2f} |")
    old = a.results.read_text() if a.results.is_file() else ""
    rows = []
    if begin in old and end in old:
        rows = [r for r in old.split(begin, 1)[1].split(end, 1)[0].splitlines()
                if r.startswith("| ") and not r.startswith(("| model", "| experiment")) and "| published |" not in r
                and not r.startswith(f"| {a.exp.name} |")]
    block = [
        f"## {NAMES[a.dataset]}",
        "",
        f"Train {stats['train']['documents']:,}, dev {stats['dev']['documents']:,}, test "
        f"{stats['test']['documents']:,} documents; LM text {stats['lm']['tokens']:,} tokens. Accuracy and "
        "macro-F1 in %.",
        "",
        "| experiment | initialised from | dev accuracy | test accuracy | test macro-F1 |",
        "|---|---|---:|---:|---:|",
        *sorted(rows + [new_row]),
        *PUBLISHED[a.dataset],
    ]
    replace_block(a.results, name, "\n".join(block))
    print("\n".join(block))


if __name__ == "__main__":
    main()
