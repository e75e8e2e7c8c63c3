"""The egs/mini_lm results table (run.sh stage 3): one row per model, written into RESULTS.md
between its markers (s2s.score.replace_block; replaced on every run).

    python local/results.py --stats data/stats.json --results RESULTS.md exp/lstm/model.pt ...

Reads each model's exp/NAME/ppl_{dev,test}.json (s2s.bin.evaluate_lm) and the checkpoint (for the
cell and the parameter counts: all, and the recurrent layers alone).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from s2s.score import replace_block


def row(model: Path) -> str:
    from s2s.models.checkpoint import load_model

    net, meta = load_model(model, task="lm")
    conf = meta["model"]["args"]["lm_conf"]
    cell = conf.get("cell", "lstm")
    detail = {"flstm": f"rank {conf.get('rank')}", "glstm": f"{conf.get('groups')} groups"}.get(cell, "")
    recurrent = sum(p.numel() for p in net.rnn.parameters())
    total = sum(p.numel() for p in net.parameters())
    ppl = {s: json.loads((model.parent / f"ppl_{s}.json").read_text()) for s in ("dev", "test")}
    size = f"{conf.get('num_layers', 2)} x {conf.get('hidden', 512)}"
    return (f"| {model.parent.name} | {cell}{f' ({detail})' if detail else ''} | {size} | {recurrent:,} | {total:,} "
            f"| {ppl['dev']['ppl']:.2f} | {ppl['test']['ppl']:.2f} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stats", required=True)
    p.add_argument("--results", required=True)
    p.add_argument("models", nargs="+", type=Path)
    a = p.parse_args()
    stats = json.loads(Path(a.stats).read_text())
    tr, te = stats["train"], stats["test"]
    block = [
        "## Word-level LMs on WordNet definitions",
        "",
        f"Train: {tr['lines']:,} definitions, {tr['tokens']:,} tokens (`</s>` included), "
        f"{100 * tr['unk'] / tr['tokens']:.2f} % `<unk>`; vocabulary {stats['vocabulary']:,} words seen at least "
        f"{stats['min_count']} times + the specials. Test: {te['lines']:,} definitions, {te['tokens']:,} tokens. "
        "Perplexity per word, `</s>` counted, each piece of `bptt` tokens from a zero state (as trained). "
        "Parameters: the recurrent layers alone, and the whole model (the tied embedding included).",
        "",
        "| model | cell | layers x units | recurrent parameters | parameters | dev ppl | test ppl |",
        "|---|---|---|---:|---:|---:|---:|",
        *[row(m) for m in a.models],
    ]
    replace_block(a.results, "mini-lm", "\n".join(block))
    print("\n".join(block))


if __name__ == "__main__":
    main()
