"""Checkpoint files and loading a trained model with nothing but its checkpoint.

A checkpoint is a ``torch.save``d dict:

- ``model``: the state dict (weights and the normaliser's statistics);
- ``meta``: ``format`` (``CHECKPOINT_FORMAT``), ``task``, ``model`` (the spec
  ``{"name", "args"}`` that ``build_model`` rebuilds it from, front end included)
  and what inference needs beside the network (``vocab``, labels, speakers, ...);
- ``train_state`` (training checkpoints only): optimizer, scheduler, counters, RNG.

Files are written under a temporary name and renamed, so a crash never leaves a
truncated checkpoint under the final name.
"""

from __future__ import annotations

from pathlib import Path

import torch

from s2s.errors import S2SError
from s2s.io import atomic_path

CHECKPOINT_FORMAT = 2


def save_checkpoint(path, model_state: dict, meta: dict, train_state: dict | None = None) -> None:
    obj = {"model": model_state, "meta": meta}
    if train_state is not None:
        obj["train_state"] = train_state
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def read_checkpoint(path) -> dict:
    """The checkpoint dict; S2SError naming the file when it is missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise S2SError(f"{path}: checkpoint not found; check the path (exp/<tag>/model.pt or checkpoints/*.pt)")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # truncated or not a torch file
        raise S2SError(f"{path}: cannot read checkpoint ({type(e).__name__}: {e}); it is corrupt or not a "
                       f"checkpoint") from None


def checkpoint_meta(ckpt: dict, path) -> dict:
    """The ``meta`` of a checkpoint of this s2s version; S2SError saying how to re-create older ones."""
    meta = ckpt.get("meta") if isinstance(ckpt, dict) else None
    if not isinstance(meta, dict) or "task" not in meta:
        raise S2SError(f"{path}: not an s2s model checkpoint (no model metadata); give a file written by "
                       f"python -m s2s.bin.train or s2s.bin.average_checkpoints")
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise S2SError(f"{path}: written by an older s2s (checkpoint format {meta.get('format', 1)}, this version "
                       f"reads {CHECKPOINT_FORMAT}: the model now carries its front end and the vocabulary its "
                       f"special symbols); re-create data/lang (python -m s2s.bin.prepare_tokens, the recipe's "
                       f"tokens stage) and retrain (the recipe's training stage)")
    return meta


def load_model(path, device: str | torch.device = "cpu", task: str | tuple[str, ...] | None = None):
    """Rebuild the model a checkpoint holds, load its weights, eval mode: ``(model, meta)``.

    ``task``: the kind of model the caller can use (asr, classify, lm, tts), or a tuple of
    kinds; another kind is an S2SError naming the file.
    """
    from s2s.models.registry import build_model

    ckpt = read_checkpoint(path)
    meta = checkpoint_meta(ckpt, path)
    tasks = (task,) if isinstance(task, str) else task
    if tasks is not None and meta["task"] not in tasks:
        raise S2SError(f"{path}: a {meta['task']!r} model; this needs a {' or '.join(map(repr, tasks))} model")
    spec = meta["model"]
    model = build_model(spec["name"], spec["args"], context=str(path))
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as e:
        raise S2SError(f"{path}: the weights do not fit the model described in the checkpoint ({e}); "
                       f"the file is damaged") from None
    model.to(device).eval()
    return model, meta
