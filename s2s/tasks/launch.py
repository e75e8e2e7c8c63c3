"""Train a model from a config: what ``python -m s2s.bin.train`` runs.

The resolved config (trainer defaults <- task defaults <- YAML <- overrides) is
written to EXP/config.yaml and the exact command to EXP/train.sh; then the task
and trainer are built and trained (or, with ``dry_run``, only built and sized).
"""

from __future__ import annotations

import copy
import shlex
import sys
from pathlib import Path

from s2s.errors import S2SError
from s2s.tasks.base import TASKS


def full_defaults(task_name: str) -> dict:
    """Every config key of ``task_name`` with its default: the trainer's and the task's."""
    import s2s.tasks  # noqa: F401  (registers the tasks)
    from s2s.train.trainer import TRAIN_DEFAULTS

    task_cls = TASKS.get(task_name, context="config key 'task'")
    defaults = copy.deepcopy(TRAIN_DEFAULTS)
    defaults.update(copy.deepcopy(task_cls.defaults))
    return defaults


def _choices() -> dict[str, list[str]]:
    """Config keys that name a registered component, with the names they accept."""
    import s2s.models  # noqa: F401  (registers the encoders and networks)
    from s2s.models.classifiers import CLASSIFIERS
    from s2s.models.lm import LMS
    from s2s.models.registry import ENCODERS
    from s2s.models.seq2seq import DECODERS
    from s2s.optim.build import OPTIMIZERS
    from s2s.optim.schedulers import SCHEDULERS

    return {"task": sorted(TASKS.names()), "encoder": ENCODERS.names(), "decoder": DECODERS.names(), "lm": LMS.names(),
            "model": CLASSIFIERS.names(), "optim": OPTIMIZERS.names(), "scheduler": SCHEDULERS.names()}


def key_help(task_name: str) -> dict[str, str]:
    """What each config key of ``task_name`` means (trainer keys and the task's own)."""
    from s2s.train.trainer import TRAIN_HELP

    return {**TRAIN_HELP, **TASKS.get(task_name, context="config key 'task'").help}


def config_help(task_name: str) -> str:
    """The config keys of a task with their meaning and default, for ``s2s-train --help``."""
    import json
    import textwrap

    defaults, helps, choices = full_defaults(task_name), key_help(task_name), _choices()
    lines = [f"config keys of task {task_name!r} (in the YAML file, or --KEY VALUE on the command line; "
             f"other tasks: s2s-train --task NAME --help):"]
    for key, value in defaults.items():
        text = helps.get(key, "")
        if key in choices:
            text += f" (one of: {', '.join(choices[key])})"
        lines.append(f"  {key}: {json.dumps(value)}")
        lines.append(textwrap.fill(text, width=100, initial_indent=" " * 6, subsequent_indent=" " * 6))
    return "\n".join(lines)


def resolve_config(config_path, overrides: list[str]) -> dict:
    from s2s.config import load_yaml, parse_overrides, resolve

    task = "asr"
    if config_path:
        task = load_yaml(config_path).get("task", task)
    task = parse_overrides(overrides).get("task", task) if overrides else task
    return resolve(full_defaults(task), config_path, overrides)


def train(config, exp_dir, overrides: list[str] = (), resume: bool = False, dry_run: bool = False,
          print_config: bool = False) -> dict:
    """Resolve the config and train; returns the final validation metrics ({} for a dry run)."""
    import yaml

    conf = resolve_config(config, list(overrides))
    if print_config:
        yaml.safe_dump(conf, sys.stdout, sort_keys=False, default_flow_style=None)
        return {}
    if not exp_dir and not dry_run:
        raise S2SError("--exp-dir is required (where checkpoints and logs go)")

    from s2s.train.distributed import cleanup, init_distributed
    from s2s.train.trainer import Trainer, human_count, seed_everything, setup_logging

    dist = init_distributed(conf["device"])
    exp = Path(exp_dir) if exp_dir else None
    setup_logging(exp / "train.log" if exp and not dry_run else None, dist.is_main)
    seed_everything(conf["seed"])  # the same seed on every rank: identical initial weights
    try:
        task = TASKS.get(conf["task"])(conf)
        trainer = Trainer(conf, exp or Path("."), task, dist, resume=resume)
        trainer.setup()
    except S2SError as e:
        # A component's *_conf is checked when it is built: say which file (and line) holds it.
        from s2s.config import config_source

        source = config_source(config, overrides, str(e))
        if source:
            raise S2SError(f"{source}: {e}") from None
        raise
    if dist.is_main:
        print(f"model: {human_count(trainer.num_params)} parameters ({trainer.num_params})")
        print(f"train: {len(trainer.train_set)} items in {len(trainer.sampler)} batches per epoch "
              f"(batch_frames counts {task.cost_unit})"
              + (f", valid: {len(trainer.valid_set)} items" if trainer.valid_set is not None else ""))
    if dry_run:
        cleanup(dist)
        return {}
    if dist.is_main:
        write_replay(conf, exp)
    try:
        metrics = trainer.train()
    finally:
        cleanup(dist)
    if dist.is_main and metrics:
        print("final validation: " + "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    return metrics


def write_replay(conf: dict, exp: Path) -> None:
    """EXP/config.yaml (the resolved config) and EXP/train.sh (the command that replays the run)."""
    from s2s.config import write_config
    from s2s.io import atomic_open

    write_config(conf, exp / "config.yaml")
    with atomic_open(exp / "train.sh") as f:
        f.write("#!/usr/bin/env bash\n# Replays this training run (add --resume to continue it).\n")
        f.write(" ".join(shlex.quote(a) for a in [sys.executable, "-m", "s2s.bin.train", "--config",
                                                  str(exp / "config.yaml"), "--exp-dir", str(exp)]) + "\n")
