"""The egs/sentiment results table (run.sh stage 4): one row per (dataset, experiment), next to
published figures for the dataset, in RESULTS.md (s2s.score.update_results: a re-run replaces its row).

    python local/results.py --dataset imdb --stats data/stats.json --lm exp/lm/model.pt --results RESULTS.md exp/TAG

Reads exp/TAG/eval_{dev,test}/scores.json (s2s.bin.evaluate_classifier) and data/stats.json (the counts).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from s2s.score import update_results

COLUMNS = ["dataset", "experiment", "initialised from", "train / dev / test documents", "dev accuracy %",
           "test accuracy %", "test macro-F1 %"]
PUBLISHED = {
    "imdb": [["Dai & Le 2015, SA-LSTM (LM pre-training)", "92.76"], ["Howard & Ruder 2018, ULMFiT", "95.40"]],
    "sst2": [["Radford et al. 2017, byte mLSTM (NVIDIA sentiment-discovery's data)", "91.8"]],
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, choices=sorted(PUBLISHED))
    p.add_argument("--stats", required=True, type=Path)
    p.add_argument("--lm", required=True, help="the LM the classifier started from, or none")
    p.add_argument("--results", required=True, type=Path)
    p.add_argument("exp", type=Path)
    a = p.parse_args()
    sc = {s: json.loads((a.exp / f"eval_{s}/scores.json").read_text()) for s in ("dev", "test")}
    st = json.loads(a.stats.read_text())
    counts = " / ".join(f"{st[s]['documents']:,}" for s in ("train", "dev", "test"))
    row = [a.dataset, a.exp.name, a.lm, counts, f"{sc['dev']['accuracy']:.2f}", f"{sc['test']['accuracy']:.2f}",
           f"{sc['test']['macro_f1']:.2f}"]
    update_results(a.results, COLUMNS, row)
    for name, acc in PUBLISHED[a.dataset]:
        update_results(a.results, COLUMNS, [a.dataset, name, "published", "", "", acc, ""])
    print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
