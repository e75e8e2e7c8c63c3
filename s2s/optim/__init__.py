"""Optimizers (torch's plus NovoGrad), the LARC wrapper and per-iteration LR policies."""

from s2s.optim.build import OPTIMIZERS, build_optimizer
from s2s.optim.larc import LARC
from s2s.optim.novograd import NovoGrad
from s2s.optim.schedulers import SCHEDULERS, Scheduler, build_scheduler

__all__ = ["OPTIMIZERS", "SCHEDULERS", "LARC", "NovoGrad", "Scheduler", "build_optimizer", "build_scheduler"]
