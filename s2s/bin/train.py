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


def _epilog(argv: list[str]) -> str:
    """The config keys of the task named by ``--task`` or the ``--config`` file (default asr)."""
    from s2s.config import load_yaml, parse_overrides
    from s2s.errors import S2SError
    from s2s.tasks.launch import config_help

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    known, rest = pre.parse_known_args([a for a in argv if a not in ("-h", "--help")])
    try:
        task = load_yaml(known.config).get("task", "asr") if known.config else "asr"
        task = parse_overrides(rest).get("task", task)
        return config_help(task)
    except S2SError as e:
        return f"(config keys not listed: {e})"


def main(argv: list[str] | None = None) -> int:
    from s2s.tasks.launch import train

    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(prog="s2s.bin.train", description=__doc__,
                                epilog=_epilog(argv) if {"-h", "--help"} & set(argv) else None,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="YAML experiment config")
    p.add_argument("--exp-dir", help="experiment directory (config.yaml, train.log, checkpoints/, tensorboard/)")
    p.add_argument("--resume", action="store_true", help="continue from EXP/checkpoints/last.pt if present")
    p.add_argument("--dry-run", action="store_true", help="build data, model and optimizer; print sizes; exit")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    a, overrides = p.parse_known_args(argv)
    writes = [] if a.dry_run or a.print_config else [("dir", a.exp_dir)]
    return run_main("s2s.bin.train", train, a.config, a.exp_dir, overrides, resume=a.resume, dry_run=a.dry_run,
                    print_config=a.print_config, writes=writes)


if __name__ == "__main__":
    sys.exit(main())
