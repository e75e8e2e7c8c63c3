"""Compute features for one job's share of a data directory and write them as Kaldi ark/scp.

    python -m s2s.bin.compute_feats --conf conf/fbank.yaml --data data/train --out-dir fbank [--nj 4 --job 2]
        [--name feats_train] [--compress]

Writes ``OUT/NAME.J.ark``, ``OUT/NAME.J.scp`` and ``OUT/NAME.utt2num_frames.J``
(NAME is ``--name``, default ``feats``; utils/make_feats.sh uses ``feats_<data dir
name>`` so sets can share one OUT); see ``s2s.data.dump``. ``--print-config``
prints the resolved frontend config (every option) and exits.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from s2s.errors import S2SError, run_main


def get_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="compute_feats", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conf", required=True, help="frontend YAML, e.g. {type: fbank, num_mel_bins: 80}")
    ap.add_argument("--data", help="Kaldi data directory (wav.scp [+ segments])")
    ap.add_argument("--out-dir", help="where NAME.J.ark/.scp and NAME.utt2num_frames.J go")
    ap.add_argument("--name", default="feats", help="file name prefix in --out-dir (default feats)")
    ap.add_argument("--nj", type=int, default=1)
    ap.add_argument("--job", type=int, default=1)
    ap.add_argument("--compress", action="store_true", help="Kaldi-compressed matrices (about 4x smaller)")
    ap.add_argument("--print-config", action="store_true", help="print the resolved frontend config and exit")
    return ap


def run(args) -> None:
    import torch
    import yaml

    from s2s.config import load_yaml
    from s2s.data.dump import dump_features
    from s2s.data.features import build_frontend

    frontend = build_frontend(load_yaml(args.conf))
    if args.print_config:
        sys.stdout.write(yaml.safe_dump(frontend.conf, sort_keys=False))
        return
    if not args.data or not args.out_dir:
        raise S2SError("--data and --out-dir are required (unless --print-config)")
    torch.set_num_threads(1)  # one job per core; run.pl provides the parallelism
    t0 = time.time()
    n = dump_features(frontend, Path(args.data), Path(args.out_dir), args.nj, args.job, args.compress, args.name)
    print(f"compute_feats: job {args.job}/{args.nj}: {n} utterances, {frontend.conf['type']} "
          f"dim {frontend.dim}, {time.time() - t0:.1f} s", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    return run_main("compute_feats", run, args, writes=[("dir", args.out_dir)])


if __name__ == "__main__":
    sys.exit(main())
