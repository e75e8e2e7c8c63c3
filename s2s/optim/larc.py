"""LARC: layer-wise adaptive rate control over any optimizer (You et al., 2017; OpenSeq2Seq).

For each parameter tensor with weights w and gradient g the trust ratio is

    trust = eta * ||w|| / (||g|| + wd * ||w|| + eps)

where the weight-decay term is present only when the wrapped optimizer applies
*coupled* weight decay (SGD, Adam): LARC then folds ``wd * w`` into the gradient
itself, as the LARS paper and NVIDIA apex do, so the adaptive rate scales the
decay too. Optimizers with decoupled decay (AdamW, NovoGrad) keep applying
their own decay and the trust ratio is ``eta * ||w|| / (||g|| + eps)``.

The gradient is multiplied by a factor, like OpenSeq2Seq's ``larc_params``:

    mode "clip":  factor = min(trust / lr, 1)   -> effective lr = min(lr, trust)
    mode "scale": factor = trust                -> effective lr = lr * trust

both bounded below by ``min_update``. Tensors whose weight or gradient norm is
zero (fresh biases, frozen rows) are left untouched.

``LARC`` *is* a ``torch.optim.Optimizer``: ``param_groups``, ``state``,
``state_dict()`` and ``load_state_dict()`` are the wrapped optimizer's, so
``torch.amp.GradScaler`` (``unscale_``/``step``) and LR schedulers work on it and
a checkpoint can be loaded with or without LARC.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch.optim import Optimizer

LARC_MODES = ("clip", "scale")


def has_decoupled_weight_decay(optimizer: Optimizer, group: dict) -> bool:
    """True when ``optimizer`` applies ``group['weight_decay']`` directly to weights, not to grads."""
    from s2s.optim.novograd import NovoGrad

    if isinstance(optimizer, (torch.optim.AdamW, NovoGrad)):
        return True
    return bool(group.get("decoupled_weight_decay", False))


class LARC(Optimizer):
    """Wrap ``optimizer`` so each tensor's update is rescaled by its trust ratio."""

    def __init__(self, optimizer: Optimizer, eta: float = 0.001, mode: str = "clip",
                 eps: float = 1e-8, min_update: float = 1e-7):
        if mode not in LARC_MODES:
            raise ValueError(f"LARC mode must be one of {LARC_MODES}, got {mode!r}")
        if eta <= 0:
            raise ValueError(f"LARC eta must be > 0, got {eta}")
        self.optim = optimizer
        self.eta = eta
        self.mode = mode
        self.eps = eps
        self.min_update = min_update
        # Optimizer.__init__ would create our own param_groups and state; we share the
        # wrapped optimizer's instead and set up only the hook tables.
        self._optimizer_step_pre_hooks = OrderedDict()
        self._optimizer_step_post_hooks = OrderedDict()
        self._optimizer_state_dict_pre_hooks = OrderedDict()
        self._optimizer_state_dict_post_hooks = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks = OrderedDict()
        self._optimizer_load_state_dict_post_hooks = OrderedDict()
        self._patch_step_function()

    # The wrapped optimizer replaces its own lists on load_state_dict, so these are
    # looked up on every access rather than copied once.
    @property
    def param_groups(self):
        return self.optim.param_groups

    @param_groups.setter
    def param_groups(self, value):
        self.optim.param_groups = value

    @property
    def state(self):
        return self.optim.state

    @state.setter
    def state(self, value):
        self.optim.state = value

    @property
    def defaults(self):
        return self.optim.defaults

    @defaults.setter
    def defaults(self, value):
        self.optim.defaults = value

    def __getstate__(self):
        return {"optimizer": self.optim, "eta": self.eta, "mode": self.mode, "eps": self.eps,
                "min_update": self.min_update}

    def __setstate__(self, state):
        self.__init__(**state)

    def __repr__(self) -> str:
        return f"LARC(mode={self.mode}, eta={self.eta}, optimizer={self.optim!r})"

    def state_dict(self):
        return self.optim.state_dict()

    def load_state_dict(self, state_dict) -> None:
        self.optim.load_state_dict(state_dict)

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optim.zero_grad(set_to_none=set_to_none)

    def add_param_group(self, param_group: dict) -> None:
        self.optim.add_param_group(param_group)

    def trust_factor(self, weight: torch.Tensor, grad: torch.Tensor, lr: float,
                     coupled_wd: float = 0.0) -> torch.Tensor:
        """The factor (a 0-d fp32 tensor) the gradient of ``weight`` is multiplied by.

        Computed on the tensors' device without ``.item()``, so a step does not
        synchronise with the GPU once per parameter.
        """
        w_norm = weight.detach().float().norm()
        g_norm = grad.detach().float().norm()
        trust = self.eta * w_norm / (g_norm + coupled_wd * w_norm + self.eps)
        if self.mode == "clip":
            factor = (trust / lr).clamp(max=1.0) if lr > 0 else torch.ones_like(trust)
        else:
            factor = trust
        factor = factor.clamp(min=self.min_update)
        return torch.where((w_norm > 0) & (g_norm > 0), factor, torch.ones_like(factor))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        saved_wd = []
        for group in self.param_groups:
            wd = group.get("weight_decay", 0.0) or 0.0
            coupled = wd if not has_decoupled_weight_decay(self.optim, group) else 0.0
            saved_wd.append(wd)
            for p in group["params"]:
                if p.grad is None:
                    continue
                factor = self.trust_factor(p, p.grad, group["lr"], coupled)
                if coupled:
                    p.grad.add_(p, alpha=coupled)
                p.grad.mul_(factor.to(p.grad.dtype))
            if coupled:
                # The decay is already in the gradient; the inner step must not add it again.
                group["weight_decay"] = 0.0
        try:
            self.optim.step()
        finally:
            for group, wd in zip(self.param_groups, saved_wd):
                if "weight_decay" in group:
                    group["weight_decay"] = wd
        return loss
