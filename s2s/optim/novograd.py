"""NovoGrad: SGD with layer-wise second moments (Ginsburg et al., 2019, arXiv:1905.11286).

For every parameter tensor ("layer") l at step t, with gradient g:

    v_t = ||g||^2                              (t = 1)
    v_t = beta2 * v_{t-1} + (1 - beta2) * ||g||^2   (t > 1)
    d_t = g / sqrt(v_t + eps) + weight_decay * w     (decoupled weight decay, as in the paper)
    d_t = (1 - beta1) * d_t                          (only with grad_averaging)
    m_t = beta1 * m_{t-1} + d_t                      (m_0 = 0)
    w   = w - lr * m_t

The second moment is one scalar per tensor, so the optimizer state is about half
of Adam's. ``eps`` sits inside the square root as in OpenSeq2Seq's NovoGrad
(NeMo adds it outside; the difference matters only for tiny gradients).
``grad_averaging`` scales the whole step direction including the weight-decay
term, as both reference implementations do. With ``amsgrad`` the running
maximum of ``v`` normalises the gradient instead of ``v`` itself.
"""

from __future__ import annotations

import torch
from torch.optim import Optimizer


class NovoGrad(Optimizer):
    """NovoGrad with decoupled weight decay; see the module docstring for the update."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.95, 0.98),
                 eps: float = 1e-8, weight_decay: float = 0.0, grad_averaging: bool = False,
                 amsgrad: bool = False):
        if lr < 0.0:
            raise ValueError(f"invalid learning rate {lr}")
        if not 0.0 <= betas[0] < 1.0 or not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"invalid betas {betas}: each must be in [0, 1)")
        if eps < 0.0 or weight_decay < 0.0:
            raise ValueError(f"invalid eps {eps} or weight_decay {weight_decay}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        grad_averaging=grad_averaging, amsgrad=amsgrad)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("NovoGrad does not support sparse gradients")
                grad = p.grad.float()
                state = self.state[p]
                # The layer norm is accumulated in fp32 even for fp16/bf16 parameters:
                # ||g||^2 of a large layer overflows fp16 easily.
                norm_sq = grad.pow(2).sum()
                if len(state) == 0:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, dtype=torch.float32)
                    state["exp_avg_sq"] = norm_sq.clone()
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = norm_sq.clone()
                else:
                    state["exp_avg_sq"].mul_(beta2).add_(norm_sq, alpha=1.0 - beta2)
                state["step"] += 1
                v = state["exp_avg_sq"]
                if group["amsgrad"]:
                    torch.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
                    v = state["max_exp_avg_sq"]
                direction = grad / (v + group["eps"]).sqrt()
                if group["weight_decay"] != 0:
                    direction.add_(p.float(), alpha=group["weight_decay"])
                if group["grad_averaging"]:
                    direction.mul_(1.0 - beta1)
                exp_avg = state["exp_avg"]
                exp_avg.mul_(beta1).add_(direction)
                p.add_(exp_avg.to(p.dtype), alpha=-group["lr"])
        return loss
