"""Initialising a model from another checkpoint (fine-tuning), and freezing parts of it.

``init_from: PATH`` with ``init_conf``:

- ``map: {source prefix: model prefix}``: tensor names of the source are renamed before
  matching (e.g. ``{encoder.: encoder.}`` is the identity; ``{encoder.layers.: encoder.blocks.}``
  follows a renamed module);
- ``exclude: [prefix, ...]``: model tensors that stay freshly initialised;
- ``freeze: [prefix, ...]``: parameters that are not trained (``requires_grad`` off, so the
  optimizer never updates them; batch-norm statistics still adapt in training mode).

A tensor is copied when its (mapped) name exists in the model with the same shape. The
layers a task ties to its vocabulary (``Task.vocab_layers``) are kept freshly initialised
when the source model's vocabulary differs from this task's, even where the sizes agree, so a
new vocabulary never inherits another's output rows. Everything not copied is logged.
"""

from __future__ import annotations

import logging

import torch

from s2s.errors import S2SError
from s2s.models.checkpoint import read_checkpoint

log = logging.getLogger("s2s.train")

INIT_KEYS = ("map", "exclude", "freeze")


def _prefixes(conf: dict, key: str) -> list[str]:
    value = conf.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise S2SError(f"init_conf: key '{key}' should be a list of parameter-name prefixes, got {value!r}")
    return value


def check_init_conf(conf: dict | None) -> dict:
    conf = dict(conf or {})
    for key in conf:
        if key not in INIT_KEYS:
            raise S2SError(f"init_conf: unknown key '{key}'; init_conf takes {', '.join(INIT_KEYS)}")
    mapping = conf.get("map") or {}
    if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                for k, v in mapping.items()):
        raise S2SError(f"init_conf: key 'map' should map source prefixes to model prefixes, got {mapping!r}")
    return {"map": mapping, "exclude": _prefixes(conf, "exclude"), "freeze": _prefixes(conf, "freeze")}


def _rename(name: str, mapping: dict) -> str:
    for src, dst in sorted(mapping.items(), key=lambda kv: -len(kv[0])):
        if name.startswith(src):
            return dst + name[len(src):]
    return name


def init_from_checkpoint(model: torch.nn.Module, path, conf: dict | None, vocab_layers: list[str],
                         meta: dict) -> dict:
    """Copy the matching tensors of checkpoint ``path`` into ``model``; returns counts and names
    (``copied``, ``shape``: skipped for their shape, ``vocab``: re-initialised for a new vocabulary,
    ``excluded``, ``fresh``: model tensors the source does not have). ``meta``: this task's
    ``extra_meta`` (its ``vocab`` or ``labels`` are compared with the source's)."""
    conf = check_init_conf(conf)
    try:
        ckpt = read_checkpoint(path)
    except S2SError as e:
        raise S2SError(f"init_from: {e}") from None
    if "model" not in ckpt:
        raise S2SError(f"init_from: {path}: not an s2s checkpoint (no 'model'); give exp/<tag>/model.pt "
                       "or a checkpoints/*.pt file")
    source = {_rename(k, conf["map"]): v for k, v in ckpt["model"].items()}
    src_meta = ckpt.get("meta") or {}
    new_vocab = any(k in src_meta and k in meta and src_meta[k] != meta[k] for k in ("vocab", "labels"))
    target = model.state_dict()
    report: dict[str, list[str]] = {"copied": [], "shape": [], "vocab": [], "excluded": [], "fresh": []}
    update = {}
    for name, tensor in target.items():
        if any(name.startswith(p) for p in conf["exclude"]):
            report["excluded"].append(name)
        elif new_vocab and any(name.startswith(p) for p in vocab_layers):
            report["vocab"].append(name)
        elif name not in source:
            report["fresh"].append(name)
        elif tuple(source[name].shape) != tuple(tensor.shape):
            report["shape"].append(f"{name} {tuple(source[name].shape)} -> {tuple(tensor.shape)}")
        else:
            update[name] = source[name].to(tensor.dtype)
            report["copied"].append(name)
    if not update:
        raise S2SError(f"init_from: {path}: no tensor of this checkpoint matches the model by name and shape; check "
                       f"init_conf.map (source names look like {', '.join(list(ckpt['model'])[:3])})")
    model.load_state_dict(update, strict=False)
    log.info("init_from %s: %d of %d tensors copied", path, len(update), len(target))
    for key, what in (("vocab", "re-initialised (the vocabulary differs)"), ("shape", "kept fresh (shape differs)"),
                      ("excluded", "kept fresh (init_conf.exclude)"), ("fresh", "kept fresh (not in the source)")):
        if report[key]:
            shown = ", ".join(report[key][:6]) + (f", ... ({len(report[key])} in all)" if len(report[key]) > 6 else "")
            log.info("init_from: %s: %s", what, shown)
    return report


def freeze(model: torch.nn.Module, prefixes: list[str]) -> int:
    """Turn off ``requires_grad`` of the parameters under ``prefixes``; the number frozen."""
    n = 0
    names = [name for name, _ in model.named_parameters()]
    for p in prefixes:
        if not any(name.startswith(p) for name in names):
            raise S2SError(f"init_conf: key 'freeze': no parameter of the model starts with {p!r} "
                           f"(the model's top-level modules: {', '.join(sorted({x.split('.')[0] for x in names}))})")
    for name, param in model.named_parameters():
        if any(name.startswith(p) for p in prefixes):
            param.requires_grad_(False)
            n += param.numel()
    log.info("init_conf.freeze: %d parameters frozen (%s)", n, ", ".join(prefixes))
    return n
