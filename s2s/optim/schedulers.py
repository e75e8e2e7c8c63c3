"""Learning-rate policies, stepped once per optimizer step (iteration), not per epoch.

Notation: ``s`` is the number of optimizer steps already taken (0 for the first
update), ``base`` the lr the optimizer was built with (per parameter group),
``W`` the warmup length in steps. Every policy has the same linear warmup:

    s < W:   lr(s) = (s + 1) / W * lr_policy(W)

so the first update already moves (lr > 0) and warmup ends exactly at the value
where the policy takes over. After warmup, decaying policies count ``t = s - W``
steps over a decay span ``D = total_steps - W``:

    constant:     lr = base
    poly:         lr = (base - min_lr) * (1 - min(t, D) / D) ** power + min_lr
    cosine:       lr = min_lr + (base - min_lr) * (1 + cos(pi * min(t, D) / D)) / 2
    exponential:  lr = max(base * decay_rate ** (t / decay_steps), min_lr)
                  (t // decay_steps with staircase)
    piecewise:    lr = values[i] (or base * scales[i]), i = number of boundaries <= s
                  (boundaries count absolute steps, warmup included)
    noam:         lr = base * d_model ** -0.5 * min(n ** -0.5, n * W ** -1.5), n = s + 1
                  (its own warmup: the rise is part of the formula)

Every length can be given in steps or in epochs (``warmup_epochs``,
``total_epochs``, ``decay_epochs``, ``boundaries_epochs``), converted with the
``steps_per_epoch`` the trainer passes in.
"""

from __future__ import annotations

import functools
import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from s2s.errors import S2SError
from s2s.registry import Registry

SCHEDULERS = Registry("lr scheduler")


def steps_from(name: str, steps, epochs, steps_per_epoch: int, required: bool = False,
               default: int = 0) -> int:
    """Return ``steps``, or ``epochs * steps_per_epoch`` rounded, checking exactly one is given."""
    if steps is not None and epochs is not None:
        raise S2SError(f"scheduler_conf: give {name}_steps or {name}_epochs, not both")
    if epochs is not None:
        if steps_per_epoch <= 0:
            raise S2SError(f"scheduler_conf: {name}_epochs needs steps_per_epoch > 0, got {steps_per_epoch}")
        return int(round(epochs * steps_per_epoch))
    if steps is not None:
        return int(steps)
    if required:
        raise S2SError(f"scheduler_conf: {name}_steps or {name}_epochs is required")
    return default


class Scheduler(LambdaLR):
    """A per-iteration LR policy on top of ``LambdaLR``; subclasses define ``policy_lr``.

    ``state_dict()`` holds only the position (steps taken) and the base lrs, so a
    resumed run continues the same sequence while the policy's settings come from
    the config it is resumed with.
    """

    name = "base"

    def __init__(self, optimizer: Optimizer, steps_per_epoch: int, warmup_steps: int | None = None,
                 warmup_epochs: float | None = None):
        self.steps_per_epoch = steps_per_epoch
        self.warmup_steps = steps_from("warmup", warmup_steps, warmup_epochs, steps_per_epoch)
        if self.warmup_steps < 0:
            raise S2SError(f"scheduler_conf: warmup must be >= 0 steps, got {self.warmup_steps}")
        # On resume the optimizer may already carry LambdaLR's "initial_lr": that is the base.
        lambdas = [functools.partial(self._factor, group.get("initial_lr", group["lr"]))
                   for group in optimizer.param_groups]
        super().__init__(optimizer, lambdas)

    def policy_lr(self, base: float, step: int) -> float:
        """The lr after warmup at absolute step ``step`` (>= warmup_steps)."""
        raise NotImplementedError

    def lr_at(self, base: float, step: int) -> float:
        """The lr used for update number ``step`` (0-based) of a group whose base lr is ``base``."""
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps * self.policy_lr(base, self.warmup_steps)
        return self.policy_lr(base, step)

    def _factor(self, base: float, step: int) -> float:
        return self.lr_at(base, step) / base if base else 0.0

    def state_dict(self) -> dict:
        return {"policy": self.name, "last_epoch": self.last_epoch, "_step_count": self._step_count,
                "base_lrs": list(self.base_lrs), "_last_lr": list(self._last_lr)}

    def load_state_dict(self, state_dict: dict) -> None:
        policy = state_dict.get("policy")
        if policy != self.name:
            raise S2SError(
                f"scheduler state is for policy {policy!r} but the config asks for {self.name!r}; "
                "use the same scheduler to resume, or start the schedule afresh (no --resume)"
            )
        self.last_epoch = state_dict["last_epoch"]
        self._step_count = state_dict["_step_count"]
        self.base_lrs = list(state_dict["base_lrs"])
        self.lr_lambdas = [functools.partial(self._factor, base) for base in self.base_lrs]
        # Put the optimizer at the restored position whatever order the trainer
        # loads optimizer and scheduler state in.
        self._last_lr = [self.lr_at(base, self.last_epoch) for base in self.base_lrs]
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr


class _DecaySpan:
    """Mixin for policies that decay over ``total_steps`` (or ``total_epochs``)."""

    def _init_span(self, total_steps, total_epochs) -> None:
        self.total_steps = steps_from("total", total_steps, total_epochs, self.steps_per_epoch, required=True)
        if self.total_steps <= self.warmup_steps:
            raise S2SError(
                f"scheduler_conf: total steps ({self.total_steps}) must exceed warmup steps ({self.warmup_steps})"
            )

    def _progress(self, step: int) -> float:
        span = self.total_steps - self.warmup_steps
        return min(step - self.warmup_steps, span) / span


@SCHEDULERS.register("constant")
class ConstantLR(Scheduler):
    """lr = base after the warmup."""

    name = "constant"

    def policy_lr(self, base: float, step: int) -> float:
        return base


@SCHEDULERS.register("poly")
class PolyLR(_DecaySpan, Scheduler):
    """Polynomial decay from base to ``min_lr`` over the steps after warmup."""

    name = "poly"

    def __init__(self, optimizer: Optimizer, steps_per_epoch: int, power: float = 1.0, min_lr: float = 0.0,
                 total_steps: int | None = None, total_epochs: float | None = None,
                 warmup_steps: int | None = None, warmup_epochs: float | None = None):
        self.power = power
        self.min_lr = min_lr
        self.steps_per_epoch = steps_per_epoch
        self.warmup_steps = steps_from("warmup", warmup_steps, warmup_epochs, steps_per_epoch)
        self._init_span(total_steps, total_epochs)
        super().__init__(optimizer, steps_per_epoch, warmup_steps, warmup_epochs)

    def policy_lr(self, base: float, step: int) -> float:
        return (base - self.min_lr) * (1.0 - self._progress(step)) ** self.power + self.min_lr


@SCHEDULERS.register("cosine")
class CosineLR(_DecaySpan, Scheduler):
    """Half-cosine decay from base to ``min_lr`` over the steps after warmup."""

    name = "cosine"

    def __init__(self, optimizer: Optimizer, steps_per_epoch: int, min_lr: float = 0.0,
                 total_steps: int | None = None, total_epochs: float | None = None,
                 warmup_steps: int | None = None, warmup_epochs: float | None = None):
        self.min_lr = min_lr
        self.steps_per_epoch = steps_per_epoch
        self.warmup_steps = steps_from("warmup", warmup_steps, warmup_epochs, steps_per_epoch)
        self._init_span(total_steps, total_epochs)
        super().__init__(optimizer, steps_per_epoch, warmup_steps, warmup_epochs)

    def policy_lr(self, base: float, step: int) -> float:
        return self.min_lr + (base - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * self._progress(step)))


@SCHEDULERS.register("exponential")
class ExponentialLR(Scheduler):
    """lr = base * decay_rate ** (steps after warmup and ``begin_decay_at`` / decay_steps), floored at ``min_lr``
    (OpenSeq2Seq's exp_decay: constant until ``begin_decay_at``, e.g. GNMT's "luong10" scheme)."""

    name = "exponential"

    def __init__(self, optimizer: Optimizer, steps_per_epoch: int, decay_rate: float = 0.5,
                 decay_steps: int | None = None, decay_epochs: float | None = None, staircase: bool = False,
                 min_lr: float = 0.0, warmup_steps: int | None = None, warmup_epochs: float | None = None,
                 begin_decay_at: int = 0):
        if not 0.0 < decay_rate <= 1.0:
            raise S2SError(f"scheduler_conf: decay_rate must be in (0, 1], got {decay_rate}")
        self.decay_rate = decay_rate
        self.decay_steps = steps_from("decay", decay_steps, decay_epochs, steps_per_epoch, required=True)
        if self.decay_steps <= 0:
            raise S2SError(f"scheduler_conf: decay steps must be > 0, got {self.decay_steps}")
        self.staircase = staircase
        self.min_lr = min_lr
        self.begin_decay_at = begin_decay_at
        super().__init__(optimizer, steps_per_epoch, warmup_steps, warmup_epochs)

    def policy_lr(self, base: float, step: int) -> float:
        t = max(0, step - self.warmup_steps - self.begin_decay_at) / self.decay_steps
        if self.staircase:
            t = math.floor(t)
        return max(base * self.decay_rate ** t, self.min_lr)


@SCHEDULERS.register("piecewise")
class PiecewiseLR(Scheduler):
    """Piecewise-constant lr: ``values[i]`` (absolute) or ``base * scales[i]`` between boundaries."""

    name = "piecewise"

    def __init__(self, optimizer: Optimizer, steps_per_epoch: int, boundaries: list[int] | None = None,
                 boundaries_epochs: list[float] | None = None, values: list[float] | None = None,
                 scales: list[float] | None = None, warmup_steps: int | None = None,
                 warmup_epochs: float | None = None):
        if (boundaries is None) == (boundaries_epochs is None):
            raise S2SError("scheduler_conf: piecewise needs exactly one of boundaries (steps) or boundaries_epochs")
        if boundaries_epochs is not None:
            boundaries = [steps_from("boundaries", None, e, steps_per_epoch) for e in boundaries_epochs]
        if list(boundaries) != sorted(boundaries) or len(set(boundaries)) != len(boundaries):
            raise S2SError(f"scheduler_conf: boundaries must be strictly increasing, got {boundaries}")
        if (values is None) == (scales is None):
            raise S2SError("scheduler_conf: piecewise needs exactly one of values (lrs) or scales (x base lr)")
        pieces = values if values is not None else scales
        if len(pieces) != len(boundaries) + 1:
            raise S2SError(
                f"scheduler_conf: {len(boundaries)} boundaries need {len(boundaries) + 1} "
                f"{'values' if values is not None else 'scales'}, got {len(pieces)}"
            )
        self.boundaries = list(boundaries)
        self.values = values
        self.scales = scales
        super().__init__(optimizer, steps_per_epoch, warmup_steps, warmup_epochs)

    def policy_lr(self, base: float, step: int) -> float:
        i = sum(1 for b in self.boundaries if b <= step)
        return self.values[i] if self.values is not None else base * self.scales[i]


@SCHEDULERS.register("noam")
class NoamLR(Scheduler):
    """The Transformer schedule (Vaswani et al., 2017) scaled by the optimizer's lr, capped at ``max_lr``
    when given (OpenSeq2Seq's transformer_policy with max_lr, as its ConvS2S config uses)."""

    name = "noam"

    def __init__(self, optimizer: Optimizer, steps_per_epoch: int, d_model: int = 512,
                 warmup_steps: int | None = None, warmup_epochs: float | None = None, max_lr: float | None = None):
        self.d_model = d_model
        self.max_lr = max_lr
        if steps_from("warmup", warmup_steps, warmup_epochs, steps_per_epoch) <= 0:
            raise S2SError("scheduler_conf: noam needs warmup_steps (or warmup_epochs) > 0")
        super().__init__(optimizer, steps_per_epoch, warmup_steps, warmup_epochs)

    def lr_at(self, base: float, step: int) -> float:
        n = step + 1
        lr = base * self.d_model ** -0.5 * min(n ** -0.5, n * self.warmup_steps ** -1.5)
        return lr if self.max_lr is None else min(lr, self.max_lr)


def build_scheduler(name: str, conf: dict | None, optimizer: Optimizer, steps_per_epoch: int) -> Scheduler:
    """Build LR policy ``name`` (constant, poly, cosine, exponential, piecewise, noam) from ``conf``.

    Unknown names or keys raise S2SError listing what is valid. Call ``.step()``
    once after every optimizer step.
    """
    return SCHEDULERS.build(name, conf or {}, context="scheduler_conf",
                            optimizer=optimizer, steps_per_epoch=steps_per_epoch)
