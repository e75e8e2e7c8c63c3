"""The interface between a task and the trainer, and what every task shares.

A task owns its model, data, loss and metrics; the trainer owns the loop,
precision, distribution, checkpoints and logging and knows nothing about the kind
of work. Each task class declares ``defaults``: the config keys it adds to the
trainer's, so configs are validated as one mapping.

What a task tells the trainer:
- ``dataset(split)``: items with ``.lengths``, the per-item cost the length buckets
  add up against ``batch_frames`` (feature frames, tokens, ...: ``cost_unit``);
- ``collate``, ``forward_loss`` (summed loss, its weight, stats) and ``evaluate``;
- ``throughput(batch)``: how much work a batch is, in ``throughput_unit`` (audio
  seconds, tokens, clips), for the training log;
- ``meta()``: what a checkpoint stores beside the weights: the model spec that
  ``s2s.models.checkpoint.load_model`` rebuilds the model from, and what inference
  needs (the vocabulary, labels, ...).
"""

from __future__ import annotations

from typing import Any

import torch

from s2s.models.checkpoint import CHECKPOINT_FORMAT
from s2s.models.registry import build_model
from s2s.registry import Registry

TASKS = Registry("task")


class Task:
    name = "base"
    model_name = "base"        # the model kind in s2s.models.registry.MODELS
    vocab_layers: tuple[str, ...] = ()  # parameter-name prefixes tied to the vocabulary/labels (init_from)
    cost_unit = "frames"       # what dataset lengths (and batch_frames) count
    throughput_unit = "items"  # what throughput() counts
    defaults: dict[str, Any] = {}
    help: dict[str, str] = {}  # what each key of ``defaults`` means (s2s-train --help)

    def __init__(self, conf: dict):
        self.conf = conf

    # -- model -------------------------------------------------------------------------
    def model_args(self) -> dict:
        """The keyword arguments of the model builder ``model_name`` (plain data, saved in checkpoints)."""
        raise NotImplementedError

    def build_model(self) -> torch.nn.Module:
        """A freshly initialised model (``init_model`` fills in what comes from the data)."""
        return self.init_model(build_model(self.model_name, self.model_args(), context="config"))

    def init_model(self, model: torch.nn.Module) -> torch.nn.Module:
        """Set state that comes from the data rather than training (e.g. CMVN statistics)."""
        return model

    def extra_meta(self) -> dict:
        """What inference needs beside the network (vocabulary, labels, ...)."""
        return {}

    def meta(self) -> dict:
        """Saved in every checkpoint: format, task, the model spec and ``extra_meta``."""
        return {"format": CHECKPOINT_FORMAT, "task": self.name,
                "model": {"name": self.model_name, "args": self.model_args()}, **self.extra_meta()}

    # -- data --------------------------------------------------------------------------
    def dataset(self, split: str):
        """``split`` is ``train`` or ``valid``; returns an indexable dataset with ``.lengths``
        (the cost in ``cost_unit`` used for bucketing) or None when the config names no such data."""
        raise NotImplementedError

    def collate(self, items: list) -> dict:
        raise NotImplementedError

    def throughput(self, batch: dict) -> float:
        """The work in one batch, in ``throughput_unit``."""
        return float(len(batch["ids"]))

    # -- loss and metrics ----------------------------------------------------------------
    def forward_loss(self, model, batch: dict) -> tuple[torch.Tensor, float, dict[str, float]]:
        """Return (loss summed over the batch, its weight (items or tokens), stats).

        The trainer divides by the weight summed over all ranks, so data-parallel
        training computes the same gradient as one process on the global batch.
        """
        raise NotImplementedError

    def evaluate(self, model, loader) -> dict[str, float]:
        """Validation metrics (``loss`` at least) over a loader of collated batches."""
        raise NotImplementedError


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model itself inside DistributedDataParallel and torch.compile wrappers (what
    ``forward_loss`` receives), for reading its attributes; call the wrapper for the forward."""
    while True:
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if inner is None:
            return model
        model = inner


def as_list(v) -> list[str]:
    """A config value that is one path or a list of paths, as a list of strings."""
    if v is None:
        return []
    if isinstance(v, (list, tuple)):
        return [str(x) for x in v]
    return [str(v)]
