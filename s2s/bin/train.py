"""Train a model: ``python -m s2s.bin.train --config conf/train.yaml --exp-dir exp/NAME [overrides]``.

Overrides are ``--key value`` or ``key=value`` (dotted keys reach into mappings:
``--optim_conf.lr 0.01``). The resolved config is written to EXP/config.yaml and
the exact command to EXP/train.sh. Launch several processes with torchrun for
data-parallel training; ``--dry-run`` builds data, model and optimizer, prints the
parameter count and exits.
"""

from __future__ import annotations

import argparse
import sys

from s2s.errors import run_main


def main(argv: list[str] | None = None) -> int:
    from s2s.tasks.launch import train

    p = argparse.ArgumentParser(prog="s2s.bin.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="YAML experiment config")
    p.add_argument("--exp-dir", help="experiment directory (config.yaml, train.log, checkpoints/, tensorboard/)")
    p.add_argument("--resume", action="store_true", help="continue from EXP/checkpoints/last.pt if present")
    p.add_argument("--dry-run", action="store_true", help="build data, model and optimizer; print sizes; exit")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    a, overrides = p.parse_known_args(argv)
    return run_main("s2s.bin.train", train, a.config, a.exp_dir, overrides, resume=a.resume, dry_run=a.dry_run,
                    print_config=a.print_config)


if __name__ == "__main__":
    sys.exit(main())
