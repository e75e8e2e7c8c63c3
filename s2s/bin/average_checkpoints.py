"""Average the last N checkpoints of an experiment into one model file.

``python -m s2s.bin.average_checkpoints --exp-dir exp/NAME --num 5 [--kind epoch|step|last] [--out exp/NAME/model.avg.pt]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from s2s.errors import run_main


def main(argv=None) -> int:
    from s2s.train.checkpoint import average_last

    p = argparse.ArgumentParser(prog="s2s.bin.average_checkpoints", description=__doc__)
    p.add_argument("--exp-dir", required=True)
    p.add_argument("--num", type=int, default=5)
    p.add_argument("--kind", choices=["epoch", "step", "last"], default="epoch",
                   help="last: the model where training stopped (checkpoints/last.pt), --num ignored")
    p.add_argument("--out", help="default: EXP/model.avg.pt")
    a = p.parse_args(argv)
    out = Path(a.out) if a.out else Path(a.exp_dir) / "model.avg.pt"
    return run_main("s2s.bin.average_checkpoints", average_last, a.exp_dir, a.num, a.kind, out,
                    writes=[("file", out)])


if __name__ == "__main__":
    sys.exit(main())
