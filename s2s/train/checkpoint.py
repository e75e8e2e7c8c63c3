"""Checkpoints: atomic save, exact resume state, averaging, and loading a model for inference.

A checkpoint holds ``model`` (state dict), ``meta`` (what inference needs: task name,
model build arguments, frontend settings, CMVN, tokens) and, for training
checkpoints, ``train_state`` (optimizer, scheduler, scaler, counters, RNG states).
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import torch

from s2s.errors import S2SError
from s2s.io import atomic_path


def save_checkpoint(path, model_state: dict, meta: dict, train_state: dict | None = None) -> None:
    obj = {"model": model_state, "meta": meta}
    if train_state is not None:
        obj["train_state"] = train_state
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_checkpoint(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise S2SError(f"{path}: checkpoint not found; check the path (exp/<tag>/checkpoints/*.pt)")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # truncated or not a torch file
        raise S2SError(f"{path}: cannot read checkpoint ({type(e).__name__}: {e}); it is corrupt or not a checkpoint") from None


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


_STEP_RE = re.compile(r"^step(\d+)\.pt$")
_EPOCH_RE = re.compile(r"^epoch(\d+)\.pt$")


def list_checkpoints(ckpt_dir, kind: str = "step") -> list[Path]:
    """Checkpoints of one kind (``step`` or ``epoch``) in ascending order."""
    rx = _STEP_RE if kind == "step" else _EPOCH_RE
    found = []
    for p in Path(ckpt_dir).glob("*.pt"):
        m = rx.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return [p for _, p in sorted(found)]


def average_checkpoints(paths: list[Path], out) -> None:
    """Average model parameters of several checkpoints (integer buffers taken from the last)."""
    if not paths:
        raise S2SError("no checkpoints to average; train first or lower --num")
    avg: dict | None = None
    meta = None
    for p in paths:
        ckpt = load_checkpoint(p)
        state = ckpt["model"]
        meta = ckpt["meta"]
        if avg is None:
            avg = {k: v.clone().double() if v.is_floating_point() else v.clone() for k, v in state.items()}
        else:
            for k, v in state.items():
                if v.is_floating_point():
                    avg[k] += v.double()
                else:
                    avg[k] = v.clone()
    assert avg is not None
    ref = load_checkpoint(paths[-1])["model"]
    for k, v in avg.items():
        if v.is_floating_point():
            avg[k] = (v / len(paths)).to(ref[k].dtype)
    meta = dict(meta or {})
    meta["averaged_from"] = [str(p) for p in paths]
    save_checkpoint(out, avg, meta)


def load_model(path, device: str | torch.device = "cpu"):
    """Rebuild the model a checkpoint was trained as and load its weights, in eval mode."""
    from s2s.tasks import TASKS

    ckpt = load_checkpoint(path)
    meta = ckpt.get("meta")
    if not meta or "task" not in meta:
        raise S2SError(f"{path}: checkpoint has no model metadata; it was not written by s2s.bin.train")
    task_cls = TASKS.get(meta["task"], context=str(path))
    model = task_cls.model_from_meta(meta)
    model.load_state_dict(ckpt["model"])
    model.to(device).eval()
    return model, meta
