"""Training checkpoints: exact resume state (RNG), listing and averaging.

The file format and ``load_model`` live in ``s2s.models.checkpoint``; training adds
``train_state`` (optimizer, scheduler, scaler, counters, RNG states).
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import torch

from s2s.errors import S2SError
from s2s.models.checkpoint import checkpoint_meta, read_checkpoint, save_checkpoint


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
        ckpt = read_checkpoint(p)
        state = ckpt["model"]
        meta = checkpoint_meta(ckpt, p)
        if avg is None:
            avg = {k: v.clone().double() if v.is_floating_point() else v.clone() for k, v in state.items()}
        else:
            for k, v in state.items():
                if v.is_floating_point():
                    avg[k] += v.double()
                else:
                    avg[k] = v.clone()
    assert avg is not None
    ref = read_checkpoint(paths[-1])["model"]
    for k, v in avg.items():
        if v.is_floating_point():
            avg[k] = (v / len(paths)).to(ref[k].dtype)
    meta = dict(meta or {})
    meta["averaged_from"] = [str(p) for p in paths]
    save_checkpoint(out, avg, meta)


def average_last(exp_dir, num: int, kind: str, out) -> list[Path]:
    """Average the last ``num`` checkpoints of ``kind`` (epoch | step) of an experiment into ``out``;
    kind ``last``: the model of ``checkpoints/last.pt`` (where a run stopped, epoch end or not)."""
    if kind == "last":
        last = Path(exp_dir) / "checkpoints" / "last.pt"
        ckpts = [last] if last.is_file() else []
    else:
        ckpts = list_checkpoints(Path(exp_dir) / "checkpoints", kind)[-num:]
    if not ckpts:
        raise S2SError(f"{exp_dir}/checkpoints: no {kind} checkpoints to average")
    if kind == "epoch" and len(ckpts) < num:
        last = Path(exp_dir) / "checkpoints" / "last.pt"
        trained = read_checkpoint(last)["train_state"]["epoch"] if last.is_file() else len(ckpts)
        if trained >= num:
            keep = read_checkpoint(last)["train_state"]["conf"].get("keep_epoch_checkpoints")
            raise S2SError(f"{exp_dir}/checkpoints: {num} epoch checkpoints asked for averaging but the run kept "
                           f"only {len(ckpts)} (keep_epoch_checkpoints: {keep}); set keep_epoch_checkpoints to at "
                           f"least {num} in the config, or average fewer (--num / utils/train.sh --avg-num)")
        print(f"average_checkpoints: the run has {len(ckpts)} epoch checkpoints, fewer than --num {num}: "
              f"averaging those")
    average_checkpoints(ckpts, out)
    print(f"averaged {len(ckpts)} checkpoints ({', '.join(c.name for c in ckpts)}) into {out}")
    return ckpts
