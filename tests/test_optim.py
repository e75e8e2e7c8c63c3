"""NovoGrad and LARC against hand calculations; the optimizer builder; LARC under GradScaler."""

import copy

import pytest
import torch

from s2s.errors import S2SError
from s2s.optim import LARC, NovoGrad, build_optimizer, build_scheduler


def _param(values):
    return torch.nn.Parameter(torch.tensor(values, dtype=torch.float64))


def _step(opt, p, grad):
    p.grad = torch.tensor(grad, dtype=torch.float64)
    opt.step()


# ---------------------------------------------------------------- NovoGrad


def test_novograd_two_steps_match_hand_calculation():
    p = _param([1.0, 2.0])
    opt = NovoGrad([p], lr=0.1, betas=(0.95, 0.98), eps=0.0, weight_decay=0.1)
    # Step 1: v = ||(3, 4)||^2 = 25; d = g / 5 + 0.1 * w = (0.7, 1.0); m = d; w -= 0.1 * m.
    _step(opt, p, [3.0, 4.0])
    assert p.tolist() == pytest.approx([0.93, 1.9])
    # Step 2: v = 0.98 * 25 + 0.02 * 1 = 24.52; d = (1, 0) / sqrt(24.52) + 0.1 * (0.93, 1.9)
    #       = (0.201948 + 0.093, 0.19); m = 0.95 * (0.7, 1.0) + d = (0.959948, 1.14).
    _step(opt, p, [1.0, 0.0])
    assert opt.state[p]["exp_avg_sq"].item() == pytest.approx(24.52)
    assert p.tolist() == pytest.approx([0.93 - 0.1 * 0.9599481, 1.9 - 0.1 * 1.14])


def test_novograd_second_moment_is_one_scalar_per_tensor():
    a, b = _param([[1.0, 1.0], [1.0, 1.0]]), _param([1.0])
    opt = NovoGrad([a, b], lr=0.1)
    a.grad = torch.ones(2, 2, dtype=torch.float64)
    b.grad = torch.full((1,), 3.0, dtype=torch.float64)
    opt.step()
    assert opt.state[a]["exp_avg_sq"].item() == pytest.approx(4.0)
    assert opt.state[b]["exp_avg_sq"].item() == pytest.approx(9.0)
    assert opt.state[a]["exp_avg_sq"].numel() == 1


def test_novograd_grad_averaging_scales_direction_by_one_minus_beta1():
    p = _param([1.0, 2.0])
    opt = NovoGrad([p], lr=0.1, betas=(0.9, 0.98), eps=0.0, weight_decay=0.1, grad_averaging=True)
    _step(opt, p, [3.0, 4.0])
    # d = 0.1 * ((0.6, 0.8) + 0.1 * (1, 2)) = (0.07, 0.1); w -= 0.1 * d.
    assert p.tolist() == pytest.approx([1.0 - 0.007, 2.0 - 0.01])


def test_novograd_amsgrad_normalises_by_running_max():
    p = _param([0.0, 0.0])
    opt = NovoGrad([p], lr=1.0, betas=(0.0, 0.5), eps=0.0, amsgrad=True)
    _step(opt, p, [3.0, 4.0])  # v = 25, max = 25; m = (0.6, 0.8)
    assert p.tolist() == pytest.approx([-0.6, -0.8])
    _step(opt, p, [1.0, 0.0])  # v = 0.5 * 25 + 0.5 * 1 = 13, max stays 25; m = (0.2, 0)
    assert opt.state[p]["exp_avg_sq"].item() == pytest.approx(13.0)
    assert p.tolist() == pytest.approx([-0.8, -0.8])


def test_novograd_resumes_from_a_saved_state_dict(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(16, 3)
    model = torch.nn.Linear(3, 2)
    opt = NovoGrad(model.parameters(), lr=0.01, weight_decay=0.001, amsgrad=True)

    def train(m, o, steps):
        for _ in range(steps):
            o.zero_grad()
            m(x).pow(2).mean().backward()
            o.step()

    train(model, opt, 2)
    torch.save({"model": model.state_dict(), "optim": opt.state_dict()}, tmp_path / "ckpt.pt")
    train(model, opt, 3)

    saved = torch.load(tmp_path / "ckpt.pt")
    resumed = torch.nn.Linear(3, 2)
    resumed.load_state_dict(saved["model"])
    opt2 = NovoGrad(resumed.parameters(), lr=0.01, weight_decay=0.001, amsgrad=True)
    opt2.load_state_dict(saved["optim"])
    train(resumed, opt2, 3)
    for a, b in zip(model.parameters(), resumed.parameters()):
        assert torch.equal(a, b)


def test_novograd_fits_a_linear_regression():
    torch.manual_seed(0)
    x = torch.randn(64, 4)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    model = torch.nn.Linear(4, 1)
    opt = NovoGrad(model.parameters(), lr=0.05)
    first = None
    for _ in range(200):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        first = first if first is not None else loss.item()
        loss.backward()
        opt.step()
    assert loss.item() < 0.01 * first


# ---------------------------------------------------------------- LARC
# w = (3, 4), ||w|| = 5; g = (0.6, 0.8), ||g|| = 1; SGD lr = 0.1.


def _larc_sgd(mode, eta, weight_decay=0.0):
    p = _param([3.0, 4.0])
    opt = LARC(torch.optim.SGD([p], lr=0.1, weight_decay=weight_decay), eta=eta, mode=mode, eps=0.0)
    _step(opt, p, [0.6, 0.8])
    return p, opt


def test_larc_clip_caps_lr_at_trust_ratio():
    # trust = 0.01 * 5 / 1 = 0.05 < lr: effective lr 0.05.
    p, _ = _larc_sgd("clip", eta=0.01)
    assert p.tolist() == pytest.approx([3.0 - 0.05 * 0.6, 4.0 - 0.05 * 0.8])


def test_larc_clip_keeps_lr_when_trust_ratio_is_larger():
    # trust = 1 * 5 / 1 = 5 > lr: plain SGD step.
    p, _ = _larc_sgd("clip", eta=1.0)
    assert p.tolist() == pytest.approx([3.0 - 0.1 * 0.6, 4.0 - 0.1 * 0.8])


def test_larc_scale_multiplies_lr_by_trust_ratio():
    # effective lr = 0.1 * 0.05 = 0.005.
    p, _ = _larc_sgd("scale", eta=0.01)
    assert p.tolist() == pytest.approx([3.0 - 0.005 * 0.6, 4.0 - 0.005 * 0.8])


def test_larc_includes_coupled_weight_decay_in_trust_ratio():
    # trust = 0.01 * 5 / (1 + 0.1 * 5) = 1/30; grad' = (g + 0.1 w) / 30 = (0.03, 0.04).
    p, opt = _larc_sgd("scale", eta=0.01, weight_decay=0.1)
    assert p.tolist() == pytest.approx([3.0 - 0.1 * 0.03, 4.0 - 0.1 * 0.04])
    assert opt.param_groups[0]["weight_decay"] == 0.1  # restored after the inner step


def test_larc_leaves_zero_norm_tensors_alone():
    p = _param([0.0, 0.0])
    opt = LARC(torch.optim.SGD([p], lr=0.1), eta=0.001, mode="scale")
    _step(opt, p, [1.0, 1.0])
    assert p.tolist() == pytest.approx([-0.1, -0.1])


def test_larc_state_dict_round_trip_continues_identically():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    x = torch.randn(8, 3)
    opt = build_optimizer("sgd", {"lr": 0.1, "momentum": 0.9, "larc": {"mode": "clip", "eta": 0.01}}, model)
    for _ in range(3):
        opt.zero_grad()
        model(x).pow(2).sum().backward()
        opt.step()
    clone = copy.deepcopy(model)
    opt2 = build_optimizer("sgd", {"lr": 0.1, "momentum": 0.9, "larc": {"mode": "clip", "eta": 0.01}}, clone)
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))  # as if saved to disk: no shared buffers
    for m, o in ((model, opt), (clone, opt2)):
        o.zero_grad()
        m(x).pow(2).sum().backward()
        o.step()
    for a, b in zip(model.parameters(), clone.parameters()):
        assert torch.equal(a, b)


def test_larc_works_with_grad_scaler_and_skips_inf_steps():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    reference = copy.deepcopy(model)
    x = torch.randn(8, 3)
    opt = LARC(torch.optim.SGD(model.parameters(), lr=0.1), eta=0.01, mode="clip")
    ref_opt = LARC(torch.optim.SGD(reference.parameters(), lr=0.1), eta=0.01, mode="clip")
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)

    scaler.scale(model(x).pow(2).sum()).backward()
    scaler.unscale_(opt)  # e.g. before gradient clipping
    scaler.step(opt)
    scaler.update()
    reference(x).pow(2).sum().backward()
    ref_opt.step()
    for a, b in zip(model.parameters(), reference.parameters()):
        assert torch.allclose(a, b, atol=1e-6)

    before = [p.detach().clone() for p in model.parameters()]
    opt.zero_grad()
    scaler.scale(model(x).sum() * float("inf")).backward()
    scaler.step(opt)
    scaler.update()
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert scaler.get_scale() == 512.0


def test_scheduler_drives_larc_wrapped_optimizer():
    model = torch.nn.Linear(2, 2)
    opt = build_optimizer("novograd", {"lr": 0.01, "larc": {"mode": "scale"}}, model)
    sched = build_scheduler("constant", {"warmup_steps": 4}, opt, steps_per_epoch=10)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0025)
    model(torch.ones(1, 2)).sum().backward()
    opt.step()
    sched.step()
    assert opt.optim.param_groups[0]["lr"] == pytest.approx(0.005)


# ---------------------------------------------------------------- builder


@pytest.mark.parametrize("name,cls", [("sgd", torch.optim.SGD), ("adam", torch.optim.Adam),
                                      ("adamw", torch.optim.AdamW), ("novograd", NovoGrad)])
def test_build_optimizer_by_name(name, cls):
    opt = build_optimizer(name, {"lr": 0.01, "weight_decay": 0.001}, torch.nn.Linear(2, 2))
    assert type(opt) is cls
    assert opt.param_groups[0]["lr"] == 0.01


def test_build_sgd_with_nesterov_momentum_and_yaml_betas():
    sgd = build_optimizer("sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, torch.nn.Linear(2, 2))
    assert sgd.param_groups[0]["nesterov"] and sgd.param_groups[0]["momentum"] == 0.9
    ng = build_optimizer("novograd", {"lr": 0.1, "betas": [0.9, 0.99]}, torch.nn.Linear(2, 2))
    assert ng.param_groups[0]["betas"] == (0.9, 0.99)


def test_exclude_from_weight_decay_puts_biases_and_norms_in_a_zero_decay_group():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    opt = build_optimizer("adamw", {"lr": 0.1, "weight_decay": 0.01, "exclude_from_weight_decay": True}, model)
    decayed, plain = opt.param_groups
    assert decayed["weight_decay"] == 0.01 and [p.ndim for p in decayed["params"]] == [2]
    assert plain["weight_decay"] == 0.0 and len(plain["params"]) == 3  # bias, norm weight, norm bias


def test_larc_conf_wraps_any_optimizer():
    opt = build_optimizer("adam", {"lr": 0.1, "larc": {"mode": "scale", "eta": 0.002}}, torch.nn.Linear(2, 2))
    assert isinstance(opt, LARC) and isinstance(opt.optim, torch.optim.Adam)
    assert (opt.mode, opt.eta) == ("scale", 0.002)


def test_unknown_optimizer_lists_valid_names():
    with pytest.raises(S2SError, match="adam, adamw, novograd, sgd"):
        build_optimizer("rmsprop", {"lr": 0.1}, torch.nn.Linear(2, 2))


@pytest.mark.parametrize("conf,key", [({"lr": 0.1, "momentun": 0.9}, "momentun"),
                                      ({"lr": 0.1, "larc": {"mode": "clip", "etta": 1}}, "etta")])
def test_unknown_conf_key_is_named(conf, key):
    with pytest.raises(S2SError, match=f"unknown key '{key}'"):
        build_optimizer("sgd", conf, torch.nn.Linear(2, 2))


def test_bad_larc_mode_and_missing_lr_are_errors():
    with pytest.raises(S2SError, match="clip"):
        build_optimizer("sgd", {"lr": 0.1, "larc": {"mode": "trust"}}, torch.nn.Linear(2, 2))
    with pytest.raises(S2SError, match="'lr' is required"):
        build_optimizer("sgd", {}, torch.nn.Linear(2, 2))
