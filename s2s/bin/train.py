"""Train a model: ``python -m s2s.bin.train --config conf/train.yaml --exp-dir exp/NAME [overrides]``.

Overrides are ``--key value`` or ``key=value`` (dotted keys reach into mappings:
``--optim_conf.lr 0.01``). The resolved config is written to EXP/config.yaml and
the exact command to EXP/train.sh. Launch several processes with torchrun for
data-parallel training; ``--dry-run`` builds data, model and optimizer, prints the
parameter count and exits.
"""

from __future__ import annotations

import argparse
import copy
import shlex
import sys
from pathlib import Path

from s2s.errors import S2SError


def full_defaults(task_name: str) -> dict:
    from s2s.tasks import TASKS
    from s2s.train.trainer import TRAIN_DEFAULTS

    task_cls = TASKS.get(task_name, context="config key 'task'")
    defaults = copy.deepcopy(TRAIN_DEFAULTS)
    defaults.update(copy.deepcopy(task_cls.defaults))
    return defaults


def resolve_config(config_path, overrides: list[str]) -> dict:
    from s2s.config import load_yaml, parse_overrides, resolve

    task = "asr"
    if config_path:
        task = load_yaml(config_path).get("task", task)
    task = parse_overrides(overrides).get("task", task) if overrides else task
    return resolve(full_defaults(task), config_path, overrides)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="s2s.bin.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="YAML experiment config")
    p.add_argument("--exp-dir", help="experiment directory (config.yaml, train.log, checkpoints/, tensorboard/)")
    p.add_argument("--resume", action="store_true", help="continue from EXP/checkpoints/last.pt if present")
    p.add_argument("--dry-run", action="store_true", help="build data, model and optimizer; print sizes; exit")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    args, overrides = p.parse_known_args(argv)
    try:
        return run(args, overrides)
    except S2SError as e:
        print(f"s2s.bin.train: error: {e}", file=sys.stderr)
        return 1


def run(args, overrides: list[str]) -> int:
    import yaml

    conf = resolve_config(args.config, overrides)
    if args.print_config:
        yaml.safe_dump(conf, sys.stdout, sort_keys=False, default_flow_style=None)
        return 0
    if not args.exp_dir and not args.dry_run:
        raise S2SError("--exp-dir is required (where checkpoints and logs go)")

    from s2s.config import write_config
    from s2s.io import atomic_open
    from s2s.tasks import TASKS
    from s2s.train.distributed import cleanup, init_distributed
    from s2s.train.trainer import Trainer, human_count, seed_everything, setup_logging

    dist = init_distributed(conf["device"])
    exp_dir = Path(args.exp_dir) if args.exp_dir else None
    setup_logging(exp_dir / "train.log" if exp_dir and not args.dry_run else None, dist.is_main)
    seed_everything(conf["seed"] + 0)  # the same seed on every rank: identical initial weights
    task = TASKS.get(conf["task"])(conf)
    trainer = Trainer(conf, exp_dir or Path("."), task, dist, resume=args.resume)
    trainer.setup()
    if dist.is_main:
        print(f"model: {human_count(trainer.num_params)} parameters ({trainer.num_params})")
        print(f"train: {len(trainer.train_set)} items in {len(trainer.sampler)} batches per epoch"
              + (f", valid: {len(trainer.valid_set)} items" if trainer.valid_set is not None else ""))
    if args.dry_run:
        cleanup(dist)
        return 0
    if dist.is_main:
        write_config(conf, exp_dir / "config.yaml")
        with atomic_open(exp_dir / "train.sh") as f:
            f.write("#!/usr/bin/env bash\n# Replays this training run (add --resume to continue it).\n")
            f.write(" ".join(shlex.quote(a) for a in [sys.executable, "-m", "s2s.bin.train", "--config",
                                                      str(exp_dir / "config.yaml"), "--exp-dir", str(exp_dir)]) + "\n")
    try:
        metrics = trainer.train()
    finally:
        cleanup(dist)
    if dist.is_main and metrics:
        print("final validation: " + "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
