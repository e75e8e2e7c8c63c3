"""Optimizers by name: ``optim: novograd`` + ``optim_conf: {lr: 0.01, ...}`` in a config.

Two keys of ``optim_conf`` belong to this builder rather than to the optimizer:

- ``larc: {mode: clip|scale, eta: 0.001, ...}`` wraps the optimizer in LARC;
- ``exclude_from_weight_decay: true`` puts parameters with ndim <= 1 (norm
  weights, biases) in a second group with ``weight_decay: 0``.
"""

from __future__ import annotations

import inspect

import torch
from torch import nn
from torch.optim import Optimizer

from s2s.errors import S2SError
from s2s.optim.larc import LARC
from s2s.optim.novograd import NovoGrad
from s2s.registry import Registry, check_kwargs

OPTIMIZERS = Registry("optimizer")


@OPTIMIZERS.register("sgd")
def sgd(params, lr: float, momentum: float = 0.0, nesterov: bool = False, dampening: float = 0.0,
        weight_decay: float = 0.0) -> Optimizer:
    return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=nesterov, dampening=dampening,
                           weight_decay=weight_decay)


@OPTIMIZERS.register("adam")
def adam(params, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
         weight_decay: float = 0.0, amsgrad: bool = False) -> Optimizer:
    return torch.optim.Adam(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                            amsgrad=amsgrad)


@OPTIMIZERS.register("adamw")
def adamw(params, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
          weight_decay: float = 0.01, amsgrad: bool = False) -> Optimizer:
    return torch.optim.AdamW(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                             amsgrad=amsgrad)


@OPTIMIZERS.register("novograd")
def novograd(params, lr: float, betas: tuple[float, float] = (0.95, 0.98), eps: float = 1e-8,
             weight_decay: float = 0.0, grad_averaging: bool = False, amsgrad: bool = False) -> Optimizer:
    return NovoGrad(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                    grad_averaging=grad_averaging, amsgrad=amsgrad)


def _larc_options(eta: float = 0.001, mode: str = "clip", eps: float = 1e-8, min_update: float = 1e-7) -> dict:
    """Signature of the ``larc:`` mapping (checked like any component conf)."""
    return dict(eta=eta, mode=mode, eps=eps, min_update=min_update)


def param_groups(model: nn.Module, exclude_from_weight_decay: bool) -> list[dict]:
    """Trainable parameters, split into decayed and non-decayed (ndim <= 1) groups if asked."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise S2SError("build_optimizer: the model has no trainable parameters")
    if not exclude_from_weight_decay:
        return [{"params": params}]
    decay = [p for p in params if p.ndim > 1]
    no_decay = [p for p in params if p.ndim <= 1]
    groups = [{"params": decay}] if decay else []
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def build_optimizer(name: str, conf: dict | None, model: nn.Module) -> Optimizer:
    """Build optimizer ``name`` (sgd, adam, adamw, novograd) over ``model``'s trainable parameters.

    ``conf`` holds the optimizer's keyword arguments (``lr`` is required) plus
    the builder's ``larc`` and ``exclude_from_weight_decay``. Unknown names and
    keys raise S2SError listing the valid ones.
    """
    context = f"optim_conf (optimizer {name!r})"
    ctor = OPTIMIZERS.get(name, context="optim")
    conf = dict(conf or {})
    larc = conf.pop("larc", None)
    exclude = conf.pop("exclude_from_weight_decay", False)
    if not isinstance(exclude, bool):
        raise S2SError(f"{context}: key 'exclude_from_weight_decay' should be bool, got {exclude!r}")
    if "lr" not in conf:
        raise S2SError(f"{context}: 'lr' is required (e.g. optim_conf: {{lr: 0.001}})")
    allowed = sorted([k for k in inspect.signature(ctor).parameters if k != "params"]
                     + ["exclude_from_weight_decay", "larc"])
    for key in conf:
        if key not in allowed:
            raise S2SError(f"{context}: unknown key {key!r}; allowed keys: {', '.join(allowed)}")
    check_kwargs(ctor, conf, context, skip={"params": None})
    optimizer = ctor(param_groups(model, exclude), **conf)
    if larc is None or larc is False:
        return optimizer
    if larc is True:
        larc = {}
    if not isinstance(larc, dict):
        raise S2SError(f"{context}: 'larc' should be a mapping like {{mode: clip, eta: 0.001}}, got {larc!r}")
    check_kwargs(_larc_options, larc, f"{context}: larc")
    options = _larc_options(**larc)
    if options["mode"] not in ("clip", "scale"):
        raise S2SError(f"{context}: larc mode must be 'clip' or 'scale', got {options['mode']!r}")
    return LARC(optimizer, **options)
