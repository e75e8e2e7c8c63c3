"""Average the last N checkpoints of an experiment into one model file.

``python -m s2s.bin.average_checkpoints --exp-dir exp/NAME --num 5 [--kind epoch|step] [--out exp/NAME/model.avg.pt]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from s2s.errors import S2SError


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="s2s.bin.average_checkpoints", description=__doc__)
    p.add_argument("--exp-dir", required=True)
    p.add_argument("--num", type=int, default=5)
    p.add_argument("--kind", choices=["epoch", "step"], default="epoch")
    p.add_argument("--out", help="default: EXP/model.avg.pt")
    args = p.parse_args(argv)
    from s2s.train.checkpoint import average_checkpoints, list_checkpoints

    try:
        ckpts = list_checkpoints(Path(args.exp_dir) / "checkpoints", args.kind)[-args.num:]
        if not ckpts:
            raise S2SError(f"{args.exp_dir}/checkpoints: no {args.kind} checkpoints to average")
        out = Path(args.out) if args.out else Path(args.exp_dir) / "model.avg.pt"
        average_checkpoints(ckpts, out)
    except S2SError as e:
        print(f"s2s.bin.average_checkpoints: error: {e}", file=sys.stderr)
        return 1
    print(f"averaged {len(ckpts)} checkpoints ({', '.join(c.name for c in ckpts)}) into {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
