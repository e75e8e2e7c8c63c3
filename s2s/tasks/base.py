"""The interface between a task and the trainer.

A task owns its model, data and metrics; the trainer owns the loop, precision,
distribution, checkpoints and logging. Each task class declares ``defaults``: the
config keys it adds to the trainer's, so configs are validated as one mapping.
"""

from __future__ import annotations

from typing import Any

import torch


class Task:
    name = "base"
    defaults: dict[str, Any] = {}

    def __init__(self, conf: dict):
        self.conf = conf

    # -- model -------------------------------------------------------------------------
    def build_model(self) -> torch.nn.Module:
        raise NotImplementedError

    def meta(self) -> dict:
        """Everything ``model_from_meta`` and inference need, saved in every checkpoint."""
        raise NotImplementedError

    @classmethod
    def model_from_meta(cls, meta: dict) -> torch.nn.Module:
        raise NotImplementedError

    # -- data --------------------------------------------------------------------------
    def dataset(self, split: str):
        """``split`` is ``train`` or ``valid``; returns an indexable dataset with ``.lengths``
        (the size used for bucketing) or None when the config names no such data."""
        raise NotImplementedError

    def collate(self, items: list) -> dict:
        raise NotImplementedError

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
