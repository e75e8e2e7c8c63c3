"""CTC encoders: shapes and lengths, published sizes, padding invariance, init, config errors, learning."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from s2s.errors import S2SError
from s2s.models.asr import AsrModel, build_asr_model
from s2s.models.layers import MaskedBatchNorm
from s2s.models.registry import ENCODERS, build_model

D, V = 12, 6

# Small members of each family, covering every block/layer option.
SMALL = {
    "jasper_dr": ("jasper", {"blocks": [
        {"filters": 16, "kernel": 5, "stride": 2},
        {"filters": 16, "kernel": 3, "repeat": 2, "dense_residual": True},
        {"filters": 24, "kernel": 5, "repeat": 2, "dense_residual": True, "dropout": 0.1},
        {"filters": 24, "kernel": 3, "dilation": 2},
        {"filters": 32, "kernel": 1},
    ]}),
    "jasper_dr_strided_inside": ("jasper", {"blocks": [
        {"filters": 8, "kernel": 3, "dense_residual": True},
        {"filters": 12, "kernel": 3, "stride": 2, "repeat": 2, "dense_residual": True},
        {"filters": 12, "kernel": 3, "stride": 3, "dense_residual": True},
    ]}),
    "quartznet": ("quartznet", {"blocks": [
        {"filters": 16, "kernel": 7, "stride": 2, "separable": True},
        {"filters": 16, "kernel": 5, "repeat": 3, "residual": True, "separable": True},
        {"filters": 24, "kernel": 9, "repeat": 3, "residual": True, "separable": True},
        {"filters": 24, "kernel": 11, "dilation": 2, "separable": True},
        {"filters": 32, "kernel": 1},
    ]}),
    "wav2letter": ("wav2letter", {"blocks": [
        {"filters": 16, "kernel": 5, "stride": 2, "activation": "clipped_relu"},
        {"filters": 16, "kernel": 7, "repeat": 3, "activation": "clipped_relu"},
        {"filters": 24, "kernel": 9, "dilation": 2, "activation": "clipped_relu"},
    ]}),
    "jasper_weight_norm": ("jasper", {"norm": "weight_norm", "blocks": [
        {"filters": 16, "kernel": 5, "stride": 2},
        {"filters": 16, "kernel": 3, "repeat": 2, "residual": True, "separable": True},
        {"filters": 16, "kernel": 1, "norm": "none"},
    ]}),
    "ds2_gru_sum": ("ds2", {"conv_channels": [4, 4], "conv_kernels": [[5, 7], [3, 5]],
                            "conv_strides": [[2, 2], [1, 2]], "rnn_layers": 2, "rnn_hidden": 16,
                            "fc_layers": [16]}),
    "ds2_lstm_concat": ("ds2", {"conv_channels": [4], "conv_kernels": [[3, 5]], "conv_strides": [[2, 1]],
                                "rnn_type": "lstm", "merge": "concat", "rnn_layers": 2, "rnn_hidden": 8,
                                "fc_layers": [], "dropout": 0.1}),
    "ds2_rnn_lookahead": ("ds2", {"conv_channels": [4], "conv_kernels": [[5, 5]], "conv_strides": [[3, 2]],
                                  "rnn_type": "rnn", "bidirectional": False, "lookahead": 3, "rnn_layers": 2,
                                  "rnn_hidden": 16, "rnn_batch_norm": False, "fc_layers": [8]}),
}


def small_model(key: str, **model_conf) -> AsrModel:
    name, conf = SMALL[key]
    return build_model("asr", {"encoder": name, "encoder_conf": conf, "input_dim": D, "vocab_size": V,
                               "cmvn": "none", "model_conf": model_conf})


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def warm_up_batch_norm(model: AsrModel, steps: int = 3) -> None:
    """A few train-mode passes so eval uses non-trivial running statistics."""
    model.train()
    with torch.no_grad():
        for _ in range(steps):
            model(torch.randn(3, 40, D) * 2 + 1, torch.tensor([40, 33, 20]))
    model.eval()


# ----------------------------------------------------------------------------- shapes and lengths
@pytest.mark.parametrize("key", sorted(SMALL))
def test_output_shape_and_lengths_follow_the_time_stride(key):
    model = small_model(key).eval()
    stride = model.encoder.stride
    lengths = torch.tensor([37, 30, 1])
    logits, out_lengths = model(torch.randn(3, 37, D), lengths)
    # "same" padding with odd kernels: each stride s maps L frames to ceil(L / s).
    expected = torch.tensor([math.ceil(n / stride) for n in lengths.tolist()])
    assert out_lengths.tolist() == expected.tolist()
    assert logits.shape == (3, int(expected.max()), V)


def test_published_presets_keep_total_stride_two():
    with torch.device("meta"):
        for name, preset in (("jasper", "jasper10x5dr"), ("quartznet", "quartznet15x5"),
                             ("wav2letter", "wav2letter_plus_large")):
            assert ENCODERS.build(name, {"preset": preset}, input_dim=64).stride == 2
        assert ENCODERS.build("ds2", {}, input_dim=64).stride == 2


def test_encoder_output_is_zero_at_padded_frames():
    model = small_model("quartznet").eval()
    y, out_lengths = model.encoder(torch.randn(2, 30, D), torch.tensor([30, 11]))
    assert out_lengths.tolist() == [15, 6]
    assert torch.all(y[1, 6:] == 0)
    assert y.shape[-1] == model.encoder.output_dim


# ----------------------------------------------------------------------------- published sizes
@pytest.mark.parametrize("name,preset,expected", [
    ("jasper", "jasper10x5dr", 332.5e6),  # Jasper paper: 333 M; NeMo: 332.6 M
    ("quartznet", "quartznet15x5", 18.9e6),  # QuartzNet paper Table 1
])
def test_published_model_sizes(name, preset, expected):
    with torch.device("meta"):  # shapes only: no memory, no init time
        model = build_asr_model(name, {"preset": preset}, 64, 29)
    assert abs(n_params(model) - expected) / expected < 0.01


# ----------------------------------------------------------------------------- padding invariance
@pytest.mark.parametrize("key", sorted(SMALL))
def test_eval_batch_equals_each_utterance_alone(key):
    torch.manual_seed(0)
    model = small_model(key)
    warm_up_batch_norm(model)
    lengths = [41, 60, 17]
    utts = [torch.randn(n, D) for n in lengths]
    # NaN in the padding: any leak through a receptive field would show.
    batch = torch.full((3, max(lengths), D), float("nan"))
    for i, u in enumerate(utts):
        batch[i, : len(u)] = u
    with torch.no_grad():
        logits, out_lengths = model(batch, torch.tensor(lengths))
        for i, u in enumerate(utts):
            alone, alone_len = model(u[None], torch.tensor([len(u)]))
            assert out_lengths[i] == alone_len[0] == alone.shape[1]
            torch.testing.assert_close(logits[i, : out_lengths[i]], alone[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("key", ["jasper_dr", "quartznet", "ds2_gru_sum"])
def test_train_mode_statistics_ignore_padding(key):
    torch.manual_seed(0)
    model = small_model(key, init="xavier_uniform")
    for m in model.modules():  # dropout would make the two passes differ for its own reasons
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    lengths = torch.tensor([40, 25, 9])
    feats = torch.randn(3, 40, D)
    # The same batch with 25 more padded frames of garbage: the padding is longer for every
    # utterance, so statistics taken over padded frames would change.
    longer = torch.cat([feats, torch.full((3, 25, D), 1e3)], dim=1)
    model.train()
    out_a, n = model(feats, lengths)
    stats_a = [m.running_mean.clone() for m in model.modules() if isinstance(m, MaskedBatchNorm)]
    out_b, _ = model(longer, lengths)
    stats_b = [m.running_mean.clone() for m in model.modules() if isinstance(m, MaskedBatchNorm)]
    for i in range(3):
        torch.testing.assert_close(out_a[i, : n[i]], out_b[i, : n[i]], atol=1e-5, rtol=1e-5)
    # Both passes saw the same batch means: from 0, momentum 0.1 gives a = 0.1 m, then
    # b = 0.9 a + 0.1 m = 1.9 a.
    for a, b in zip(stats_a, stats_b):
        torch.testing.assert_close(b, 1.9 * a, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("shape", [(3, 5, 20), (3, 5, 4, 20)])
def test_masked_batch_norm_equals_batch_norm_on_the_valid_frames(shape):
    torch.manual_seed(0)
    lengths = torch.tensor([20, 13, 4])
    x = torch.randn(*shape) * 3 + 2
    mask = torch.arange(20)[None, :] < lengths[:, None]
    x = x.masked_fill(~mask.view(3, *([1] * (len(shape) - 2)), 20), 1e4)
    masked = MaskedBatchNorm(5).train()
    reference = (nn.BatchNorm1d(5) if len(shape) == 3 else nn.BatchNorm2d(5)).train()
    # Reference: the valid frames of all utterances side by side in one padding-free item.
    valid = torch.cat([x[i, ..., : n] for i, n in enumerate(lengths.tolist())], dim=-1)[None]
    y = masked(x, mask)
    y_ref = reference(valid)
    got = torch.cat([y[i, ..., : n] for i, n in enumerate(lengths.tolist())], dim=-1)[None]
    torch.testing.assert_close(got, y_ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(masked.running_mean, reference.running_mean)
    torch.testing.assert_close(masked.running_var, reference.running_var)


# ----------------------------------------------------------------------------- init and seeds
@pytest.mark.parametrize("init", ["default", "xavier_uniform", "kaiming_normal"])
@pytest.mark.parametrize("key", ["jasper_weight_norm", "ds2_lstm_concat"])
def test_a_fixed_seed_builds_identical_models(key, init):
    torch.manual_seed(123)
    a = small_model(key, init=init).state_dict()
    torch.manual_seed(123)
    b = small_model(key, init=init).state_dict()
    torch.manual_seed(124)
    c = small_model(key, init=init).state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_xavier_and_kaiming_init_follow_their_scales():
    conf = {"blocks": [{"filters": 256, "kernel": 11}]}
    torch.manual_seed(0)
    xavier = build_asr_model("jasper", conf, 256, 1000, model_conf={"init": "xavier_uniform"})
    w = xavier.encoder.blocks[0].layers[0].conv.weight
    fan_in, fan_out = 256 * 11, 256 * 11
    assert w.abs().max() <= math.sqrt(6 / (fan_in + fan_out))
    assert torch.all(xavier.head.bias == 0)
    kaiming = build_asr_model("jasper", conf, 256, 1000, model_conf={"init": "kaiming_normal"})
    w = kaiming.encoder.blocks[0].layers[0].conv.weight
    assert w.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.05)


def test_weight_norm_replaces_batch_norm():
    model = small_model("jasper_weight_norm", init="kaiming_normal")
    assert not any(isinstance(m, MaskedBatchNorm) for m in model.modules())
    conv = model.encoder.blocks[0].layers[0].conv
    assert nn.utils.parametrize.is_parametrized(conv, "weight")
    # The gain was set from the initialised direction: the effective weight is unit-scaled per channel.
    g = conv.parametrizations.weight.original0
    v = conv.parametrizations.weight.original1
    torch.testing.assert_close(g.flatten(), v.flatten(1).norm(dim=1))


# ----------------------------------------------------------------------------- config errors
@pytest.mark.parametrize("name,conf,message", [
    ("jasper", {"preset": "jasper10x5dr", "filters": 3}, "unknown key 'filters'"),
    ("jasper", {"preset": "jasper99"}, "jasper99"),
    ("jasper", {}, "exactly one of 'preset'"),
    ("quartznet", {"blocks": [{"kernel": 3}]}, "blocks[0]: missing required key 'filters'"),
    ("quartznet", {"blocks": [{"filters": 8, "kernel": 4}]}, "kernel must be odd"),
    ("quartznet", {"blocks": [{"filters": 8, "strides": 2}]}, "blocks[0]"),
    ("quartznet", {"blocks": [{"filters": "8"}]}, "'filters' should be int"),
    ("wav2letter", {"blocks": [{"filters": 8, "activation": "tanh"}]}, "activation"),
    ("ds2", {"rnn_type": "transformer"}, "rnn_type"),
    ("ds2", {"rnn_hidden": 1.5}, "'rnn_hidden' should be int"),
    ("ds2", {"conv_channels": [4], "conv_kernels": [[3, 3]], "conv_strides": [[1, 1], [1, 1]]}, "one entry per conv"),
    ("conformer", {}, "unknown encoder 'conformer'"),
    ("jasper", {"preset": "quartznet15x5"}, "preset 'quartznet15x5' is a quartznet model; write encoder: quartznet"),
])
def test_bad_encoder_conf_is_a_clear_error(name, conf, message):
    with pytest.raises(S2SError, match=r".*" + message.replace("[", r"\[").replace("]", r"\]")):
        build_asr_model(name, conf, D, V)


def test_bad_model_conf_is_a_clear_error():
    with pytest.raises(S2SError, match="model_conf: unknown key 'dropout'"):
        small_model("quartznet", dropout=0.1)
    with pytest.raises(S2SError, match="init"):
        small_model("quartznet", init="orthogonal")


def test_the_spec_rebuilds_the_same_model():
    torch.manual_seed(0)
    model = small_model("ds2_gru_sum", init="kaiming_normal")
    again = build_model(model.spec["name"], model.spec["args"])
    again.load_state_dict(model.state_dict())
    x, n = torch.randn(2, 20, D), torch.tensor([20, 12])
    torch.testing.assert_close(again.eval()(x, n)[0], model.eval()(x, n)[0])


# ----------------------------------------------------------------------------- learning
OVERFIT = {
    "jasper": ("jasper", {"blocks": [
        {"filters": 32, "kernel": 5},
        {"filters": 32, "kernel": 5, "repeat": 2, "dense_residual": True},
        {"filters": 32, "kernel": 5, "repeat": 2, "dense_residual": True},
        {"filters": 48, "kernel": 1},
    ]}),
    "quartznet": ("quartznet", {"blocks": [
        {"filters": 32, "kernel": 5, "separable": True},
        {"filters": 32, "kernel": 7, "repeat": 3, "residual": True, "separable": True},
        {"filters": 48, "kernel": 1},
    ]}),
    "wav2letter": ("wav2letter", {"blocks": [
        {"filters": 32, "kernel": 5, "activation": "clipped_relu"},
        {"filters": 32, "kernel": 5, "repeat": 3, "activation": "clipped_relu"},
        {"filters": 48, "kernel": 1, "activation": "clipped_relu"},
    ]}),
    "ds2": ("ds2", {"conv_channels": [4], "conv_kernels": [[3, 5]], "conv_strides": [[1, 2]],
                    "rnn_layers": 2, "rnn_hidden": 32, "fc_layers": []}),
}


@pytest.mark.parametrize("key", sorted(OVERFIT))
def test_a_tiny_model_learns_a_toy_ctc_task(key):
    torch.manual_seed(0)
    name, conf = OVERFIT[key]
    model = build_asr_model(name, conf, D, V)
    feats = torch.randn(4, 30, D)
    lengths = torch.tensor([30, 28, 25, 22])
    targets = torch.randint(1, V, (4, 4))
    target_lengths = torch.tensor([4, 3, 4, 2])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    model.train()
    for _ in range(80):
        logp, out_lengths = model(feats, lengths)
        loss = F.ctc_loss(logp.transpose(0, 1), targets, out_lengths, target_lengths, blank=0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.25 * losses[0], losses[::10]


def test_zero_init_residual_starts_each_residual_block_as_its_projection():
    torch.manual_seed(0)
    model = small_model("quartznet", zero_init_residual=True)
    blocks = [b for b in model.encoder.blocks if b.residuals]
    assert blocks and all(torch.all(b.layers[-1].norm.weight == 0) for b in blocks)
    assert all(torch.all(b.layers[0].norm.weight == 1) for b in model.encoder.blocks)  # only the last sub-layer
    # a residual block's output is then the activated projection of its input alone
    block = blocks[0]
    block.eval()
    x, n = torch.randn(2, block.layers[0].conv.in_channels if block.layers[0].depthwise is None
                       else block.layers[0].depthwise.in_channels, 30), torch.tensor([30, 30])
    out, _ = block(x, n, [(x, n)])
    proj = block.residuals[0](x, n)[0]
    torch.testing.assert_close(out, block.activation(proj + block.layers[-1].norm.bias[:, None]))
    # the option is refused where there is nothing to zero
    with pytest.raises(S2SError, match="zero_init_residual"):
        small_model("wav2letter", zero_init_residual=True)


# ----------------------------------------------------------------------------- the front end inside
def test_the_model_reads_waveforms_through_its_own_front_end():
    torch.manual_seed(0)
    fbank = {"type": "fbank", "num_mel_bins": 20}
    model = build_asr_model("quartznet", SMALL["quartznet"][1], 20, V, frontend=fbank, cmvn="utterance").eval()
    wavs = [torch.randn(n) * 0.1 for n in (16000, 9000)]
    x = torch.nn.utils.rnn.pad_sequence(wavs, batch_first=True)
    logp, out_lens = model(x, torch.tensor([16000, 9000]))
    assert torch.allclose(logp.exp().sum(-1), torch.ones(()), atol=1e-4)  # log-probabilities
    # the same as feeding the features the front end dumps
    fe = model.frontend.feature_extractor
    feats = [fe.extract(w.numpy(), 16000) for w in wavs]
    logp2, out_lens2 = model(torch.nn.utils.rnn.pad_sequence(feats, batch_first=True),
                             torch.tensor([f.shape[0] for f in feats]))
    assert out_lens.tolist() == out_lens2.tolist()
    torch.testing.assert_close(logp, logp2, rtol=1e-4, atol=1e-4)
    assert model.frame_shift == pytest.approx(0.02) and model.sample_rate == 16000


def test_a_model_without_a_front_end_refuses_audio():
    model = small_model("quartznet")
    with pytest.raises(S2SError, match="cannot read audio"):
        model(torch.zeros(1, 16000), torch.tensor([16000]))
