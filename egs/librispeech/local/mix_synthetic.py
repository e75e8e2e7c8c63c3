#!/usr/bin/env python3
"""Mix natural and synthetic speech at a given synthetic share (Jasper paper: 50/50).

  local/mix_synthetic.py --count data/train_sp --syn-ratio 0.5
      prints how many synthetic utterances the mix needs (n_nat * r / (1 - r))
  local/mix_synthetic.py --natural data/train_sp --synthetic data/train_syn --syn-ratio 0.5 --out data/train_aug
      writes OUT = all natural utterances + that many synthetic ones (spread evenly over the
      synthetic set), with the natural set's frontend.yaml, so training sees the same features

The share counts utterances, as the paper's mix does. All natural data is kept: when the
synthetic set is smaller than the mix needs, all of it is used and the actual share is reported.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from s2s.errors import S2SError  # noqa: E402
from s2s.recipe.datadir_tools import combine_data, read_lenient, subset_data_dir  # noqa: E402

PROG = "local/mix_synthetic.py"


def num_utts(data_dir: Path) -> int:
    f = data_dir / "utt2spk"
    if not f.is_file():
        raise S2SError(f"{f}: not found; prepare {data_dir} first")
    return len(read_lenient(f))


def synthetic_needed(n_natural: int, syn_ratio: float) -> int:
    """Synthetic utterances that make ``syn_ratio`` of a mix with ``n_natural`` natural ones."""
    if not 0.0 <= syn_ratio < 1.0:
        raise S2SError(f"--syn-ratio must be in [0, 1) (the synthetic share of the mix), got {syn_ratio}")
    return int(round(n_natural * syn_ratio / (1.0 - syn_ratio)))


def mix(natural: Path, synthetic: Path, syn_ratio: float, out: Path) -> tuple[int, int]:
    """Write the mixed data dir ``out``; return (natural, synthetic) utterance counts."""
    n_nat = num_utts(natural)
    n_have = num_utts(synthetic)
    n_syn = min(synthetic_needed(n_nat, syn_ratio), n_have)
    for d in (natural, synthetic):
        if not (d / "feats.scp").is_file():
            raise S2SError(f"{d}/feats.scp: not found; compute features (utils/make_feats.sh) before mixing")
    if n_syn < synthetic_needed(n_nat, syn_ratio):
        print(f"{PROG}: warning: {synthetic} has {n_have} utterances, the mix wanted "
              f"{synthetic_needed(n_nat, syn_ratio)}; synthetic share is {n_syn / (n_nat + n_syn):.3f}",
              file=sys.stderr)
    part = out.parent / f".{out.name}_syn_part"
    shutil.rmtree(part, ignore_errors=True)
    srcs = [natural]
    if n_syn > 0:
        if n_syn < n_have:
            subset_data_dir(synthetic, part, n_syn, prog=PROG)
            srcs.append(part)
        else:
            srcs.append(synthetic)
    shutil.rmtree(out, ignore_errors=True)
    combine_data(out, srcs, prog=PROG)
    shutil.rmtree(part, ignore_errors=True)
    if (natural / "frontend.yaml").is_file():
        shutil.copy(natural / "frontend.yaml", out / "frontend.yaml")
    return n_nat, n_syn


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=Path, metavar="NATURAL", help="print the synthetic utterances needed and exit")
    p.add_argument("--natural", type=Path)
    p.add_argument("--synthetic", type=Path)
    p.add_argument("--syn-ratio", type=float, required=True, help="synthetic share of the mix, in [0, 1)")
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    try:
        if args.count:
            print(synthetic_needed(num_utts(args.count), args.syn_ratio))
            return 0
        if not (args.natural and args.synthetic and args.out):
            raise S2SError("give --natural, --synthetic and --out (or --count)")
        n_nat, n_syn = mix(args.natural, args.synthetic, args.syn_ratio, args.out)
    except S2SError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    print(f"{PROG}: {args.out}: {n_nat} natural + {n_syn} synthetic utterances "
          f"(synthetic share {n_syn / max(1, n_nat + n_syn):.3f})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
