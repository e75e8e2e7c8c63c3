"""LR policies: the lr used at update s (0-based) equals the formula, worked out by hand."""

import copy
import math

import pytest
import torch

from s2s.errors import S2SError
from s2s.optim import build_scheduler


def _optimizer(*lrs):
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs]
    return torch.optim.SGD(groups, lr=lrs[0])


def _run(sched, opt, n):
    """The lr of group 0 used for each of the next ``n`` updates."""
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def lrs(name, conf, n, base=0.1, steps_per_epoch=1):
    opt = _optimizer(base)
    return _run(build_scheduler(name, conf, opt, steps_per_epoch), opt, n)


def test_constant_with_linear_warmup():
    assert lrs("constant", {"warmup_steps": 4}, 6, base=1.0) == pytest.approx([0.25, 0.5, 0.75, 1, 1, 1])


def test_constant_without_warmup_is_base():
    assert lrs("constant", {}, 3) == pytest.approx([0.1, 0.1, 0.1])


def test_poly_decay_after_warmup():
    # W = 2, D = 10 - 2 = 8, power 2: s=6 -> t=4 -> 0.1 * (1 - 4/8)^2 = 0.025; ends at 0.
    got = lrs("poly", {"warmup_steps": 2, "total_steps": 10, "power": 2.0}, 12)
    assert got[0] == pytest.approx(0.05) and got[1] == pytest.approx(0.1) and got[2] == pytest.approx(0.1)
    assert got[6] == pytest.approx(0.025)
    assert got[10] == 0.0 and got[11] == 0.0


def test_poly_min_lr_is_the_floor():
    # s=6: (0.1 - 0.01) * 0.25 + 0.01 = 0.0325; after total steps: min_lr.
    got = lrs("poly", {"warmup_steps": 2, "total_steps": 10, "power": 2.0, "min_lr": 0.01}, 14)
    assert got[6] == pytest.approx(0.0325)
    assert got[13] == pytest.approx(0.01)


def test_cosine():
    got = lrs("cosine", {"total_steps": 4}, 6, base=1.0)
    assert got == pytest.approx([1.0, 0.5 * (1 + math.cos(math.pi / 4)), 0.5, 0.5 * (1 - math.cos(math.pi / 4)),
                                 0.0, 0.0])
    assert got[1] == pytest.approx(0.8535534)


def test_cosine_with_min_lr_and_warmup():
    got = lrs("cosine", {"total_steps": 6, "warmup_steps": 2, "min_lr": 0.2}, 8, base=1.0)
    # warmup 0.5, 1.0; then t = 0..4 of D = 4: mid point t=2 -> 0.2 + 0.8 * 0.5 = 0.6.
    assert got[:3] == pytest.approx([0.5, 1.0, 1.0])
    assert got[4] == pytest.approx(0.6)
    assert got[7] == pytest.approx(0.2)


def test_exponential_continuous_and_staircase():
    smooth = lrs("exponential", {"decay_rate": 0.5, "decay_steps": 2}, 5, base=1.0)
    assert smooth == pytest.approx([1.0, 0.70710678, 0.5, 0.35355339, 0.25])
    stairs = lrs("exponential", {"decay_rate": 0.5, "decay_steps": 2, "staircase": True}, 5, base=1.0)
    assert stairs == pytest.approx([1.0, 1.0, 0.5, 0.5, 0.25])
    floored = lrs("exponential", {"decay_rate": 0.5, "decay_steps": 2, "min_lr": 0.3}, 5, base=1.0)
    assert floored[4] == pytest.approx(0.3)


def test_piecewise_values_and_scales():
    values = lrs("piecewise", {"boundaries": [3, 6], "values": [0.1, 0.01, 0.001]}, 7)
    assert values == pytest.approx([0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.001])
    scales = lrs("piecewise", {"boundaries": [3, 6], "scales": [1.0, 0.5, 0.1]}, 7, base=0.2)
    assert scales == pytest.approx([0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.02])


def test_noam():
    # d_model 256 -> 1/16; W = 4 -> W^-1.5 = 1/8.
    got = lrs("noam", {"d_model": 256, "warmup_steps": 4}, 16, base=1.0)
    assert got[0] == pytest.approx(1 / 16 * 1 / 8)
    assert got[3] == pytest.approx(1 / 16 * 0.5)  # peak at n = W
    assert got[15] == pytest.approx(1 / 16 * 0.25)  # n = 16 -> 16^-0.5
    assert max(got) == got[3]


def test_epoch_keys_equal_their_step_counterparts():
    by_steps = lrs("poly", {"warmup_steps": 2, "total_steps": 10}, 12)
    by_epochs = lrs("poly", {"warmup_epochs": 0.5, "total_epochs": 2.5}, 12, steps_per_epoch=4)
    assert by_epochs == pytest.approx(by_steps)
    pw = lrs("piecewise", {"boundaries_epochs": [1, 2], "values": [3.0, 2.0, 1.0]}, 7, steps_per_epoch=3)
    assert pw == pytest.approx([3, 3, 3, 2, 2, 2, 1])
    ex = lrs("exponential", {"decay_epochs": 0.5, "decay_rate": 0.5, "staircase": True}, 3, base=1.0,
             steps_per_epoch=4)
    assert ex == pytest.approx([1.0, 1.0, 0.5])


def test_each_param_group_follows_its_own_base_lr():
    opt = _optimizer(0.1, 0.2)
    sched = build_scheduler("poly", {"total_steps": 4, "min_lr": 0.0}, opt, 1)
    _run(sched, opt, 2)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.05, 0.1])


@pytest.mark.parametrize("optimizer_first", [True, False])
def test_resume_from_state_dict_continues_the_same_sequence(optimizer_first):
    conf = {"warmup_steps": 3, "total_steps": 12, "power": 2.0, "min_lr": 0.001}
    opt = _optimizer(0.1)
    sched = build_scheduler("poly", conf, opt, 1)
    expected = _run(sched, opt, 12)

    opt = _optimizer(0.1)
    sched = build_scheduler("poly", conf, opt, 1)
    first = _run(sched, opt, 5)
    saved = copy.deepcopy({"optim": opt.state_dict(), "sched": sched.state_dict()})

    opt2 = _optimizer(0.1)
    sched2 = build_scheduler("poly", conf, opt2, 1)
    if optimizer_first:
        opt2.load_state_dict(saved["optim"])
        sched2.load_state_dict(saved["sched"])
    else:
        sched2.load_state_dict(saved["sched"])
        opt2.load_state_dict(saved["optim"])
    assert first + _run(sched2, opt2, 7) == pytest.approx(expected)


def test_resume_with_another_policy_is_an_error():
    opt = _optimizer(0.1)
    state = build_scheduler("constant", {}, opt, 1).state_dict()
    with pytest.raises(S2SError, match="'constant'.*'cosine'"):
        build_scheduler("cosine", {"total_steps": 5}, _optimizer(0.1), 1).load_state_dict(state)


def test_bad_scheduler_confs_are_errors():
    with pytest.raises(S2SError, match="valid names: constant, cosine, exponential, noam, piecewise, poly"):
        build_scheduler("linear", {}, _optimizer(0.1), 1)
    with pytest.raises(S2SError, match="unknown key 'totl_steps'"):
        build_scheduler("poly", {"totl_steps": 5}, _optimizer(0.1), 1)
    with pytest.raises(S2SError, match="not both"):
        build_scheduler("poly", {"total_steps": 5, "total_epochs": 1}, _optimizer(0.1), 1)
    with pytest.raises(S2SError, match="total_steps or total_epochs is required"):
        build_scheduler("cosine", {}, _optimizer(0.1), 1)
    with pytest.raises(S2SError, match="need 3 values"):
        build_scheduler("piecewise", {"boundaries": [1, 2], "values": [1.0]}, _optimizer(0.1), 1)
    with pytest.raises(S2SError, match="noam needs warmup"):
        build_scheduler("noam", {}, _optimizer(0.1), 1)
