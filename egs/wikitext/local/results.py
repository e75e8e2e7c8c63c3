"""A row of the egs/wikitext results table (run.sh stage 4), replaced when the same model and
dataset are evaluated again.

    python local/results.py --dataset wikitext-2 --results RESULTS.md exp/lstm_wkt2/model.pt

Reads exp/NAME/ppl_{dev,test}.json (s2s.bin.evaluate_lm) and the checkpoint's size.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from s2s.io import atomic_open
from s2s.score import update_results

INTRO = [
    "# egs/wikitext results",
    "",
    "Perplexity per word (every line's end counted as a word, as WikiText is usually scored), each "
    "piece of `bptt` tokens from a zero state (as trained). Published for comparison: OpenSeq2Seq's "
    "3 x 1024 LSTM on WikiText-103, test 51 after 36 h on 4 GPUs, 48.6 after about twice that "
    "(docs/sources/source/language-model/lstmlm.rst, commit 8681d381).",
]
COLUMNS = ["dataset", "model", "cell", "parameters", "dev ppl", "test ppl", "test tokens"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True)
    p.add_argument("--results", required=True)
    p.add_argument("model", type=Path)
    a = p.parse_args()
    ppl = {s: json.loads((a.model.parent / f"ppl_{s}.json").read_text()) for s in ("dev", "test")}
    from s2s.models.checkpoint import checkpoint_meta, read_checkpoint

    meta = checkpoint_meta(read_checkpoint(a.model), a.model)
    cell = (meta["model"]["args"].get("lm_conf") or {}).get("cell", "lstm")
    row = [a.dataset, a.model.parent.name, cell, f"{ppl['test']['parameters']:,}", f"{ppl['dev']['ppl']:.2f}",
           f"{ppl['test']['ppl']:.2f}", f"{ppl['test']['tokens']:,}"]
    path = Path(a.results)
    if not path.is_file():
        with atomic_open(path) as f:
            f.write("\n".join(INTRO) + "\n")
    update_results(path, COLUMNS, row)  # the (dataset, model) row replaced on a re-run
    print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
