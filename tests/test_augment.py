"""On-the-fly augmentation: mask bounds, valid frames only, noise levels and SNRs, tempo, shifts, seeds."""

import subprocess

import numpy as np
import pytest
import soundfile as sf
import torch

from s2s.data.audio import load_audio
from s2s.data.augment import (
    BackgroundNoise,
    Compose,
    RandomTimeShift,
    SpecAugment,
    TimeStretch,
    WhiteNoise,
    build_augment,
)
from s2s.errors import S2SError

SR = 16000


def _db(power):
    return 10 * np.log10(power)


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    path = tmp_path_factory.mktemp("speech") / "hello.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "hello world, this is a test"], check=True)
    wav, _ = load_audio(str(path), target_sr=SR, resample=True)
    return wav


def _write_noise(path, seconds, seed=0, sr=SR):
    rng = np.random.default_rng(seed)
    sf.write(path, (0.3 * rng.standard_normal(int(seconds * sr))).clip(-1, 1).astype(np.float32), sr)
    return str(path)


# ---------------------------------------------------------------- SpecAugment


def test_specaugment_draws_the_configured_number_of_masks_within_width_bounds():
    sa = SpecAugment(freq_masks=2, freq_width=7, time_masks=3, time_width=10, rect_masks=1, rect_time=4,
                     rect_freq=5, seed=0)
    widths = {"f": set(), "t": set()}
    for _ in range(300):
        masks = sa.masks(num_frames=60, dim=40)
        assert len(masks) == 2 + 3 + 1
        for m in masks[:2]:
            assert (m.t0, m.t1) == (0, 60) and 0 <= m.f0 <= m.f1 <= 40 and m.f1 - m.f0 <= 7
            widths["f"].add(m.f1 - m.f0)
        for m in masks[2:5]:
            assert (m.f0, m.f1) == (0, 40) and 0 <= m.t0 <= m.t1 <= 60 and m.t1 - m.t0 <= 10
            widths["t"].add(m.t1 - m.t0)
        rect = masks[5]
        assert rect.t1 - rect.t0 <= 4 and rect.f1 - rect.f0 <= 5 and rect.t1 <= 60 and rect.f1 <= 40
    assert widths["f"] == set(range(8)) and widths["t"] == set(range(11))


def test_float_time_width_is_a_fraction_of_the_length():
    sa = SpecAugment(time_masks=1, time_width=0.1, seed=0)
    widths = {m.t1 - m.t0 for _ in range(200) for m in sa.masks(num_frames=80, dim=10)}
    assert max(widths) == 8


def test_masked_values_are_exactly_the_drawn_rectangles():
    feats = torch.randn(50, 20) + 10.0  # no natural zeros
    out = SpecAugment(freq_masks=2, freq_width=5, time_masks=2, time_width=8, rect_masks=2, seed=3)(feats)
    expected = torch.zeros(50, 20, dtype=torch.bool)
    for m in SpecAugment(freq_masks=2, freq_width=5, time_masks=2, time_width=8, rect_masks=2, seed=3).masks(50, 20):
        expected[m.t0:m.t1, m.f0:m.f1] = True
    assert torch.equal(out == 0, expected)
    assert torch.equal(out[~expected], feats[~expected])
    assert (feats != 0).all()  # the input is not modified in place


def test_batch_masks_stay_inside_valid_frames():
    lengths = torch.tensor([30, 12, 50])
    feats = torch.full((3, 50, 16), 7.0)
    for b, n in enumerate(lengths.tolist()):
        feats[b, :n] = 1.0
    sa = SpecAugment(freq_masks=2, freq_width=8, time_masks=4, time_width=10, rect_masks=3, seed=0)
    for _ in range(20):
        out = sa(feats, lengths)
        for b, n in enumerate(lengths.tolist()):
            assert (out[b, n:] == 7.0).all()  # padding untouched
            assert ((out[b, :n] == 0) | (out[b, :n] == 1)).all()
        assert (out == 0).any()


def test_specaugment_is_reproducible_with_a_seed():
    feats = torch.ones(3, 40, 20)
    conf = dict(freq_masks=2, freq_width=6, time_masks=2, time_width=0.2)
    a = SpecAugment(**conf, seed=11)
    b = SpecAugment(**conf, seed=11)
    c = SpecAugment(**conf, seed=12)
    first, second = a(feats), b(feats)
    assert torch.equal(first, second)
    assert not torch.equal(first, c(feats))
    assert not torch.equal(first, a(feats))  # the generator moves on


# ---------------------------------------------------------------- waveforms


def test_white_noise_level_in_db_fs():
    silence = np.zeros(SR, dtype=np.float32)
    out = WhiteNoise(min_db=-30.0, max_db=-30.0, seed=0)(silence)
    assert abs(_db(np.mean(out.astype(np.float64) ** 2)) - (-30.0)) < 0.2
    ranged = WhiteNoise(min_db=-60.0, max_db=-40.0, seed=1)
    levels = [_db(np.mean(ranged(silence).astype(np.float64) ** 2)) for _ in range(20)]
    assert all(-60.2 < lv < -39.8 for lv in levels) and max(levels) - min(levels) > 5


def test_background_noise_is_mixed_at_the_requested_snr(speech, tmp_path):
    noise = _write_noise(tmp_path / "noise.wav", 3.0)
    for snr in (0.0, 5.0, 17.5):
        out = BackgroundNoise(noise_files=[noise], snr_min=snr, snr_max=snr, seed=0)(speech, SR)
        measured = _db(np.mean(speech.astype(np.float64) ** 2) / np.mean((out - speech).astype(np.float64) ** 2))
        assert abs(measured - snr) < 0.5
        assert out.shape == speech.shape


def test_background_noise_from_a_data_dir_with_short_noise_and_snr_range(speech, tmp_path):
    noise_dir = tmp_path / "noise"
    noise_dir.mkdir()
    wavs = [_write_noise(tmp_path / f"n{i}.wav", 0.3, seed=i, sr=8000) for i in range(2)]  # shorter, resampled
    (noise_dir / "wav.scp").write_text("".join(f"n{i} {w}\n" for i, w in enumerate(wavs)))
    aug = BackgroundNoise(noise_dir=str(noise_dir), snr_min=0.0, snr_max=10.0, seed=0)
    for _ in range(5):
        out = aug(torch.from_numpy(speech), SR)
        assert isinstance(out, torch.Tensor) and out.shape == (len(speech),)
        residual = out.numpy().astype(np.float64) - speech
        measured = _db(np.mean(speech.astype(np.float64) ** 2) / np.mean(residual ** 2))
        assert -0.5 < measured < 10.5


@pytest.mark.parametrize("factor", [0.8, 1.25])
def test_time_stretch_changes_length_by_the_factor(speech, factor):
    out = TimeStretch(min_factor=factor, max_factor=factor)(speech, SR)
    assert abs(len(out) - len(speech) / factor) < 0.01 * len(speech)
    assert np.abs(out).max() > 0.1  # still audio, not silence


def test_random_time_shift_keeps_length_and_moves_content():
    wav = np.arange(1, SR + 1, dtype=np.float32)
    aug = RandomTimeShift(max_shift_s=0.1, seed=0)
    shifts = set()
    for _ in range(30):
        out = aug(wav, SR)
        assert out.shape == wav.shape
        nonzero = np.flatnonzero(out)
        # wav[i] == i + 1, so the first kept sample tells where it came from.
        shift = int(nonzero[0] - (out[nonzero[0]] - 1))
        assert abs(shift) <= 1600
        assert np.array_equal(out[nonzero], wav[nonzero - shift])
        shifts.add(shift)
    assert len(shifts) > 10 and min(shifts) < 0 < max(shifts)


def test_waveform_augments_are_reproducible_with_a_seed(speech, tmp_path):
    noise = _write_noise(tmp_path / "noise.wav", 2.0)
    conf = [{"type": "white_noise", "min_db": -50, "max_db": -30, "seed": 5},
            {"type": "background_noise", "noise_files": [noise], "snr_min": 0, "snr_max": 20, "seed": 6},
            {"type": "time_stretch", "min_factor": 0.9, "max_factor": 1.1, "seed": 7},
            {"type": "time_shift", "max_shift_s": 0.05, "seed": 8}]
    a, b = build_augment(conf)(speech, SR), build_augment(conf)(speech, SR)
    assert np.array_equal(a, b)
    other = [dict(c, seed=c["seed"] + 100) for c in conf]
    assert not np.array_equal(a[: len(speech) // 2], build_augment(other)(speech, SR)[: len(speech) // 2])


# ---------------------------------------------------------------- builder


def test_build_augment_from_yaml_data():
    spec = build_augment({"freq_masks": 2, "freq_width": 27, "time_masks": 2, "time_width": 0.05},
                         default_type="specaugment")
    assert isinstance(spec, SpecAugment) and spec.kind == "feats" and spec.freq_width == 27
    chain = build_augment([{"type": "white_noise"}, {"type": "time_shift", "max_shift_s": 0.1, "prob": 0.5}])
    assert isinstance(chain, Compose) and chain.kind == "wave"
    assert build_augment(None) is None and build_augment({}) is None


def test_build_augment_by_name_mapping():
    spec = build_augment({"specaug": {"freq_masks": 1, "freq_width": 4}})
    assert isinstance(spec, SpecAugment) and spec.freq_width == 4
    both = build_augment({"white_noise": {"min_db": -60}, "time_shift": None})
    assert isinstance(both, Compose) and [type(a) for a in both.augments] == [WhiteNoise, RandomTimeShift]


def test_prob_zero_leaves_input_unchanged():
    wav = np.ones(100, dtype=np.float32)
    aug = build_augment({"type": "white_noise", "min_db": -10, "max_db": -10, "prob": 0.0})
    assert np.array_equal(aug(wav, SR), wav)


def test_bad_augment_confs_are_errors():
    with pytest.raises(S2SError, match="valid names: background_noise, specaug, specaugment, speed, time_shift"):
        build_augment({"type": "reverb"})
    with pytest.raises(S2SError, match="unknown key 'freq_mask'"):
        build_augment({"freq_mask": 2}, default_type="specaugment")
    with pytest.raises(S2SError, match="mixes feature"):
        build_augment([{"type": "specaugment"}, {"type": "white_noise"}])
    with pytest.raises(S2SError, match="noise_files .* or noise_dir"):
        build_augment({"type": "background_noise"})
    with pytest.raises(S2SError, match="missing 'type'"):
        build_augment({"min_db": -3})
