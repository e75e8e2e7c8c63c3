"""Global CMVN statistics of a data directory's features, in Kaldi's format.

    python -m s2s.bin.compute_cmvn --data data/train [--out data/train/cmvn.ark]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from s2s.data.cmvn import compute_cmvn_stats
from s2s.errors import run_main


def run(args) -> None:
    data = Path(args.data)
    stats = compute_cmvn_stats(data / "feats.scp", Path(args.out) if args.out else data / "cmvn.ark")
    print(f"compute_cmvn: {int(stats[0, -1])} frames, dim {stats.shape[1] - 1}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="compute_cmvn", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="data directory with feats.scp")
    ap.add_argument("--out", help="output stats (default: DATA/cmvn.ark)")
    args = ap.parse_args(argv)
    return run_main("compute_cmvn", run, args, writes=[("file", args.out)])


if __name__ == "__main__":
    sys.exit(main())
