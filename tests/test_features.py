"""Front ends against kaldi-native-fbank (the reference), their properties, config errors, and compute_feats."""

import subprocess
import sys
from pathlib import Path

import kaldi_native_fbank as knf
import kaldiio
import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from s2s.bin.compute_feats import main as compute_feats_main
from s2s.data.features import build_frontend
from s2s.errors import S2SError

ROOT = Path(__file__).resolve().parents[1]
SR = 16000


@pytest.fixture(scope="module")
def speech():
    """1.5 s of speech-like audio (harmonics with a moving pitch) over a -60 dBFS noise floor."""
    rng = np.random.RandomState(0)
    t = np.arange(int(1.5 * SR)) / SR
    phase = 2 * np.pi * np.cumsum(110 + 40 * np.sin(2 * np.pi * 0.7 * t)) / SR
    x = sum(np.sin(k * phase) / k for k in range(1, 40)) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
    x = 0.3 * x / np.abs(x).max() + 1e-3 * rng.randn(len(t))
    return x.astype(np.float32)


def knf_features(wav, opts, cls):
    f = cls(opts)
    f.accept_waveform(SR, wav * 32768.0)
    f.input_finished()
    return np.stack([f.get_frame(i) for i in range(f.num_frames_ready)])


def assert_close_to_reference(ref, ours):
    """Max |diff| <= 1e-3 over values within 15 nats of their frame's maximum.

    Further below, values are deep spectral nulls where float32 FFT rounding in
    either implementation moves the log by more; they still agree to 1e-2.
    """
    assert ref.shape == ours.shape
    diff = np.abs(ref - ours)
    well_conditioned = ref > ref.max(1, keepdims=True) - 15
    assert diff[well_conditioned].max() <= 1e-3
    assert diff.max() <= 1e-2


FBANK_CASES = [
    ({}, {}),
    ({"snip_edges": False}, {"snip_edges": False}),
    ({"window_type": "hamming", "use_energy": True, "remove_dc_offset": False},
     {"window_type": "hamming", "use_energy": True, "remove_dc_offset": False}),
    ({"window_type": "hann", "preemphasis_coefficient": 0.0, "low_freq": 64.0, "high_freq": -400.0},
     {"window_type": "hann", "preemph_coeff": 0.0, "low_freq": 64.0, "high_freq": -400.0}),
    ({"window_type": "hanning", "round_to_power_of_two": False, "use_power": False},
     {"window_type": "hanning", "round_to_power_of_two": False, "use_power": False}),
    ({"window_type": "blackman", "use_energy": True, "raw_energy": False, "energy_floor": 1.0},
     {"window_type": "blackman", "use_energy": True, "raw_energy": False, "energy_floor": 1.0}),
    ({"window_type": "sine", "frame_length_ms": 32.0, "frame_shift_ms": 12.5, "num_mel_bins": 40},
     {"window_type": "sine", "frame_length_ms": 32.0, "frame_shift_ms": 12.5, "num_bins": 40}),
    ({"window_type": "rectangular", "use_log_fbank": False}, {"window_type": "rectangular", "use_log_fbank": False}),
]


@pytest.mark.parametrize("ours,theirs", FBANK_CASES)
def test_fbank_matches_kaldi_native_fbank(speech, ours, theirs):
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.mel_opts.num_bins = 80
    for k, v in theirs.items():
        if k in ("num_bins", "low_freq", "high_freq"):
            setattr(opts.mel_opts, k, v)
        elif hasattr(opts.frame_opts, k):
            setattr(opts.frame_opts, k, v)
        else:
            setattr(opts, k, v)
    ref = knf_features(speech, opts, knf.OnlineFbank)
    out = build_frontend({"type": "fbank", **ours}).extract(speech, SR).numpy()
    if ours.get("use_log_fbank") is False:
        ref, out = np.log(ref), np.log(out)  # compare linear energies in the log domain
    assert_close_to_reference(ref, out)


def test_mfcc_matches_kaldi_native_fbank(speech):
    opts = knf.MfccOptions()
    opts.frame_opts.dither = 0.0
    opts.num_ceps = 20
    opts.mel_opts.num_bins = 30
    ref = knf_features(speech, opts, knf.OnlineMfcc)
    out = build_frontend({"type": "mfcc", "num_ceps": 20, "num_mel_bins": 30}).extract(speech, SR).numpy()
    assert ref.shape == out.shape
    assert np.abs(ref - out).max() <= 1e-3


@pytest.mark.parametrize("window_ms,bins", [(20, 64), (25, 80)])
def test_logmel_matches_kaldi_native_fbank_nemo(speech, window_ms, bins):
    opts = knf.NemoFbankOptions()
    opts.frame_length_ms = window_ms
    opts.num_mel_bins = bins
    f = knf.OnlineNemoFbank(opts)
    f.accept_waveform(SR, speech)
    f.input_finished()
    ref, _ = f.get_frames(0, f.num_frames_ready, True)
    fe = build_frontend({"type": "logmel", "window_size": window_ms / 1000, "num_mel_bins": bins})
    out = fe.extract(speech, SR).numpy()
    # knf's streaming extractor stops at whole hops; NeMo's offline STFT has one more (centred) frame.
    assert out.shape == (len(speech) // 160 + 1, bins) == (fe.num_frames(len(speech)), bins)
    assert np.abs(ref - out[: len(ref)]).max() <= 1e-3


def psf_logpowspec(sig: np.ndarray, win: int, hop: int, nfft: int) -> np.ndarray:
    """python_speech_features' framesig + logpowspec(norm=1) with numpy's Hann window, as
    OpenSeq2Seq computes DeepSpeech2's spectrogram (written out here from its definition)."""
    n = len(sig)
    frames = 1 if n <= win else 1 + int(np.ceil((n - win) / hop))
    padded = np.concatenate([sig.astype(np.float64), np.zeros((frames - 1) * hop + win - n)])
    idx = np.arange(win)[None, :] + hop * np.arange(frames)[:, None]
    f = padded[idx] * np.hanning(win)[None, :]
    pow_spec = np.abs(np.fft.rfft(f, nfft)) ** 2 / nfft
    pow_spec[pow_spec <= 1e-30] = 1e-30
    lps = 10 * np.log10(pow_spec)
    return lps - lps.max()


@pytest.mark.parametrize("samples", [24000, 16001, 321, 200])
def test_spectrogram_matches_openseq2seq_psf_definition(speech, samples):
    wav = np.resize(speech, samples)
    fe = build_frontend({"type": "spectrogram"})
    out = fe.extract(wav, SR).numpy()
    ref = psf_logpowspec(wav, 320, 160, 320)[:, :160]
    assert out.shape == ref.shape == (fe.num_frames(samples), 160)
    assert fe.dim == 160 and fe.frame_shift == 0.01
    # float32 DFT vs float64 FFT: bins 60 dB below the peak carry float32 rounding
    loud = ref > -60
    assert np.abs(out - ref)[loud].max() < 0.05
    assert np.abs(out - ref).mean() < 0.05


def test_logmel_tone_peaks_in_its_mel_bin():
    fe = build_frontend({"type": "logmel", "num_mel_bins": 64})
    t = np.arange(SR) / SR
    freq = 1234.0
    feats = fe.extract(0.5 * np.sin(2 * np.pi * freq * t).astype(np.float32), SR)
    peak = int(feats[10:-10].mean(0).argmax())
    # the peak is the filter whose triangle centre lies nearest the tone
    centres = fe.mel.argmax(0).numpy() * SR / fe.n_fft
    assert peak == int(np.abs(centres - freq).argmin())


@pytest.mark.parametrize("conf,samples", [
    ({"type": "fbank"}, 399), ({"type": "fbank"}, 400), ({"type": "fbank"}, 16000),
    ({"type": "fbank", "snip_edges": False}, 16000), ({"type": "fbank", "snip_edges": False}, 100),
    ({"type": "mfcc"}, 12345), ({"type": "logmel"}, 1), ({"type": "logmel"}, 16001),
    ({"type": "spectrogram"}, 1), ({"type": "spectrogram"}, 320), ({"type": "spectrogram"}, 16001),
])
def test_num_frames_agrees_with_output(conf, samples):
    fe = build_frontend(conf)
    wav = np.random.RandomState(1).uniform(-0.5, 0.5, samples).astype(np.float32)
    out = fe.extract(wav, SR)
    assert out.shape == (fe.num_frames(samples), fe.dim) and out.dtype == torch.float32


def test_frontend_attributes_and_resolved_conf():
    fe = build_frontend({"type": "fbank", "num_mel_bins": 40, "use_energy": True})
    assert fe.dim == 41 and fe.frame_shift == 0.01
    conf = fe.conf
    assert conf["type"] == "fbank" and conf["window_type"] == "povey" and conf["num_mel_bins"] == 40
    again = build_frontend(yaml.safe_load(yaml.safe_dump(conf)))
    assert again.conf == conf
    assert build_frontend({"type": "logmel"}).conf["n_fft"] == 512


def test_dither_is_seeded_and_reproducible(speech):
    conf = {"type": "fbank", "dither": 1.0, "seed": 3}
    a = build_frontend(conf).extract(speech, SR)
    b = build_frontend(conf).extract(speech, SR)
    c = build_frontend({**conf, "seed": 4}).extract(speech, SR)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c)
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    fe = build_frontend(conf)
    torch.testing.assert_close(fe.extract(speech, SR, generator=g1), fe.extract(speech, SR, generator=g2), rtol=0, atol=0)


@pytest.mark.parametrize("conf,match", [
    ({"num_mel_bins": 80}, "missing key 'type'"),
    ({"type": "spectrogram_x"}, "unknown frontend 'spectrogram_x'"),
    ({"type": "spectrogram", "num_bins": 200}, "key 'num_bins' must be between 1 and n_fft / 2 \\+ 1 = 161"),
    ({"type": "fbank", "num_mel_bin": 80}, "unknown key 'num_mel_bin'"),
    ({"type": "fbank", "num_mel_bins": "80"}, "key 'num_mel_bins' should be int"),
    ({"type": "fbank", "dither": "yes"}, "key 'dither' should be float"),
    ({"type": "fbank", "window_type": "gauss"}, "key 'window_type' must be one of"),
    ({"type": "fbank", "high_freq": 9000.0}, "key 'high_freq'"),
    ({"type": "fbank", "num_mel_bins": 200}, "key 'num_mel_bins'.*empty mel bins"),
    ({"type": "mfcc", "num_ceps": 30}, "key 'num_ceps'"),
    ({"type": "logmel", "pad_mode": "wrap"}, "key 'pad_mode'"),
])
def test_bad_config_names_the_key(conf, match):
    with pytest.raises(S2SError, match=match):
        build_frontend(conf)


def test_wrong_sample_rate_and_shape_are_errors():
    fe = build_frontend({"type": "fbank"})
    with pytest.raises(S2SError, match="expects 16000 Hz audio, got 8000 Hz.*resample: true"):
        fe.extract(np.zeros(8000, np.float32), 8000)
    with pytest.raises(S2SError, match="1-D mono"):
        fe.extract(np.zeros((2, 8000), np.float32), SR)


# --------------------------------------------------------------------------- compute_feats / make_feats.sh


def make_data(tmp_path, n=5):
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.RandomState(0)
    lines = []
    for i in range(n):
        path = tmp_path / f"u{i}.wav"
        sf.write(str(path), (0.1 * rng.randn(SR // 2 + 1000 * i)).astype(np.float32), SR, subtype="PCM_16")
        lines.append(f"utt{i} {path}" if i % 2 else f"utt{i} sox {path} -t wav - |")
    (data / "wav.scp").write_text("\n".join(lines) + "\n")
    conf = tmp_path / "fbank.yaml"
    conf.write_text("type: fbank\nnum_mel_bins: 40\ndither: 1.0\n")
    return data, conf


def compute_feats(*args):
    """Run the entry point in-process (as ``python -m s2s.bin.compute_feats ARGS``); return its exit code."""
    return compute_feats_main([str(a) for a in args])


def test_compute_feats_jobs_cover_the_data_and_match_the_frontend(tmp_path):
    data, conf = make_data(tmp_path)
    out = tmp_path / "fbank"
    for job in (1, 2):
        assert compute_feats("--conf", conf, "--data", data, "--out-dir", out, "--nj", 2, "--job", job) == 0
    feats = {}
    for job in (1, 2):
        feats.update(kaldiio.load_scp(str(out / f"feats.{job}.scp")))
    assert sorted(feats) == [f"utt{i}" for i in range(5)]
    assert (out / "feats.utt2num_frames.1").read_text().split() == ["utt0", str(feats["utt0"].shape[0]),
                                                              "utt1", str(feats["utt1"].shape[0])]
    # one job over everything gives the same numbers: dither is seeded per utterance
    assert compute_feats("--conf", conf, "--data", data, "--out-dir", tmp_path / "one") == 0
    single = kaldiio.load_scp(str(tmp_path / "one" / "feats.1.scp"))
    for utt, mat in feats.items():
        np.testing.assert_array_equal(mat, single[utt])
    assert not list(out.glob(".*tmp"))


def test_compute_feats_bad_audio_fails_with_the_entry(tmp_path, capsys):
    data, conf = make_data(tmp_path, n=2)
    (data / "wav.scp").write_text(f"utt0 {tmp_path}/gone.wav\n")
    assert compute_feats("--conf", conf, "--data", data, "--out-dir", tmp_path / "f") == 1
    err = capsys.readouterr().err
    assert err.startswith("compute_feats: error: ") and "wav.scp: utt0" in err
    assert not (tmp_path / "f" / "feats.1.scp").exists() and not (tmp_path / "f" / "feats.1.ark").exists()


def test_compute_feats_bad_conf_key(tmp_path, capsys):
    data, conf = make_data(tmp_path, n=1)
    conf.write_text("type: fbank\nnum_bins: 40\n")
    assert compute_feats("--conf", conf, "--data", data, "--out-dir", tmp_path / "f") == 1
    assert "unknown key 'num_bins'" in capsys.readouterr().err


def test_compute_feats_compressed_is_close_and_smaller(tmp_path):
    data, conf = make_data(tmp_path, n=2)
    conf.write_text("type: fbank\nnum_mel_bins: 40\n")
    assert compute_feats("--conf", conf, "--data", data, "--out-dir", tmp_path / "raw") == 0
    assert compute_feats("--conf", conf, "--data", data, "--out-dir", tmp_path / "cmp", "--compress") == 0
    raw = kaldiio.load_scp(str(tmp_path / "raw" / "feats.1.scp"))
    cmp = kaldiio.load_scp(str(tmp_path / "cmp" / "feats.1.scp"))
    for utt in raw:
        assert np.abs(raw[utt] - cmp[utt]).max() < 0.1
    assert (tmp_path / "cmp" / "feats.1.ark").stat().st_size < 0.5 * (tmp_path / "raw" / "feats.1.ark").stat().st_size


def make_feats_sh(tmp_path, data, conf, *extra):
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path)}
    return subprocess.run(["bash", "utils/make_feats.sh", "--nj", "2", "--conf", str(conf), *extra, str(data),
                           str(tmp_path / "log"), str(tmp_path / "fbank")],
                          cwd=ROOT, capture_output=True, text=True, env=env)


def test_make_feats_merges_sorted_outputs_and_skips_a_rerun(tmp_path):
    data, conf = make_data(tmp_path)
    r = make_feats_sh(tmp_path, data, conf)
    assert r.returncode == 0, r.stdout + r.stderr
    scp = (data / "feats.scp").read_text().splitlines()
    assert [line.split()[0] for line in scp] == [f"utt{i}" for i in range(5)]
    n2f = dict(line.split() for line in (data / "utt2num_frames").read_text().splitlines())
    feats = kaldiio.load_scp(str(data / "feats.scp"))
    assert {u: str(m.shape[0]) for u, m in feats.items()} == n2f
    assert yaml.safe_load((data / "frontend.yaml").read_text()) == build_frontend(yaml.safe_load(conf.read_text())).conf

    r = make_feats_sh(tmp_path, data, conf)
    assert r.returncode == 0 and "up to date" in r.stdout

    conf.write_text("type: fbank\nnum_mel_bins: 23\n")  # a changed config recomputes
    r = make_feats_sh(tmp_path, data, conf)
    assert r.returncode == 0 and "up to date" not in r.stdout
    assert next(iter(kaldiio.load_scp(str(data / "feats.scp")).values())).shape[1] == 23


def test_two_sets_sharing_one_feat_dir_keep_their_own_archives(tmp_path):
    data, conf = make_data(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    (other / "wav.scp").write_text("\n".join((data / "wav.scp").read_text().splitlines()[:2]) + "\n")
    for d in (data, other):
        r = make_feats_sh(tmp_path, d, conf)
        assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(p.name for p in (tmp_path / "fbank").glob("*.ark")) == [
        "feats_data.1.ark", "feats_data.2.ark", "feats_other.1.ark", "feats_other.2.ark"]
    # the first set's features are still there and still its own
    assert len(kaldiio.load_scp(str(data / "feats.scp"))) == 5
    assert len(kaldiio.load_scp(str(other / "feats.scp"))) == 2
    r = make_feats_sh(tmp_path, data, conf)
    assert "up to date" in r.stdout


def test_make_feats_failure_leaves_no_feats_scp(tmp_path):
    data, conf = make_data(tmp_path)
    (data / "feats.scp").write_text("utt0 old.ark:5\n")  # a previous run's output, now stale
    (data / "utt2num_frames").write_text("utt0 10\n")
    lines = (data / "wav.scp").read_text().splitlines()
    lines[3] = "utt3 false |"
    (data / "wav.scp").write_text("\n".join(lines) + "\n")
    r = make_feats_sh(tmp_path, data, conf)
    assert r.returncode != 0
    assert not (data / "feats.scp").exists() and not (data / "utt2num_frames").exists()
    logs = "".join(p.read_text() for p in (tmp_path / "log").glob("*.log"))
    assert "wav.scp: utt3" in logs and "exit code 1" in logs


# --------------------------------------------------------------------------- batches (the model's front end)


@pytest.mark.parametrize("conf", [
    {"type": "fbank"}, {"type": "fbank", "snip_edges": False, "use_energy": True},
    {"type": "mfcc"}, {"type": "logmel"}, {"type": "logmel", "pad_mode": "reflect", "n_fft": 400},
    {"type": "spectrogram"}, {"type": "spectrogram", "preemphasis": 0.97, "n_fft": 512},
])
def test_a_padded_batch_gives_each_utterance_its_own_features(conf):
    fe = build_frontend(conf).eval()
    rng = np.random.RandomState(2)
    lengths = [16000, 401, 9000, 120]
    wavs = [rng.uniform(-0.5, 0.5, n).astype(np.float32) for n in lengths]
    batch = torch.zeros(len(wavs), max(lengths))
    batch[0, :] = 0.25  # garbage past each length must not leak in
    for b, w in enumerate(wavs):
        batch[b, : len(w)] = torch.from_numpy(w)
    feats, frames = fe(batch, torch.tensor(lengths))
    assert frames.tolist() == [fe.num_frames(n) for n in lengths]
    for b, w in enumerate(wavs):
        alone = fe.extract(w, SR)
        torch.testing.assert_close(feats[b, : frames[b]], alone, rtol=1e-4, atol=1e-4)


def test_forward_dithers_only_in_training_mode(speech):
    fe = build_frontend({"type": "fbank", "dither": 1.0})
    x = torch.from_numpy(speech)[None]
    n = torch.tensor([len(speech)])
    fe.eval()
    a, _ = fe(x, n)
    b, _ = fe(x, n)
    assert torch.equal(a, b)
    fe.train()
    c, _ = fe(x, n)
    assert not torch.equal(a, c) and (a - c).abs().mean() < 0.1


@pytest.mark.parametrize("conf", [{"type": "fbank", "num_mel_bins": 40}, {"type": "mfcc"},
                                  {"type": "fbank", "num_mel_bins": 80}, {"type": "fbank", "num_mel_bins": 17},
                                  {"type": "mfcc", "use_energy": False},
                                  {"type": "fbank", "snip_edges": False, "use_power": False},
                                  {"type": "fbank", "remove_dc_offset": False, "preemphasis_coefficient": 0.5},
                                  {"type": "fbank", "preemphasis_coefficient": 0.0},
                                  {"type": "fbank", "preemphasis_coefficient": 1.0},
                                  {"type": "logmel", "num_mel_bins": 64, "n_fft": 512},
                                  {"type": "spectrogram", "num_bins": 161}], ids=lambda c: c["type"])
def test_eager_fft_and_exported_dft_matrix_give_the_same_features(conf):
    # Eagerly the spectrum is an FFT (for fbank without dither or energy, with pre-emphasis over the
    # whole signal and the DC offset removed after it); traced (TorchScript, ONNX) it is the
    # DFT-matrix product of frames pre-emphasised one by one.
    from s2s.data.features import build_frontend

    fe = build_frontend(conf).eval()
    gen = torch.Generator().manual_seed(0)
    wav = 0.1 * torch.randn(2, 16000, generator=gen)
    lengths = torch.tensor([16000, 12345])
    traced = torch.jit.trace(fe, (wav, lengths))
    other = 0.1 * torch.randn(2, 20000, generator=gen)  # fresh shapes: the trace is dynamic
    other_len = torch.tensor([20000, 9000])
    eager, n_eager = fe(other, other_len)
    exported, n_exported = traced(other, other_len)
    assert torch.equal(n_eager, n_exported)
    for b in range(2):
        t = int(n_eager[b])
        torch.testing.assert_close(exported[b, :t], eager[b, :t], atol=2e-3, rtol=1e-4)


@pytest.mark.parametrize("kind", ["fbank", "mfcc"])
def test_gradients_flow_through_the_kaldi_front_ends(kind):
    """A waveform that requires grad takes the out-of-place path (the eager fast path writes into
    buffers): backward works and gives the same features as without grad."""
    from s2s.data.features import build_frontend

    fe = build_frontend({"type": kind}).eval()
    wav = 0.1 * torch.randn(2, 8000, generator=torch.Generator().manual_seed(0))
    lengths = torch.tensor([8000, 6000])
    plain, _ = fe(wav, lengths)
    x = wav.clone().requires_grad_()
    feats, _ = fe(x, lengths)
    feats[0].sum().backward()
    assert torch.allclose(feats.detach(), plain, atol=1e-3)
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad[0].abs().sum() > 0


def test_the_fast_path_keeps_float32_under_a_float64_default():
    from s2s.data.features import build_frontend

    fe = build_frontend({"type": "fbank"})
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        out = fe.extract(0.1 * np.random.RandomState(0).randn(16000).astype(np.float32), 16000)
    finally:
        torch.set_default_dtype(before)
    assert out.dtype == torch.float32 and out.shape == (98, 80)


@pytest.mark.parametrize("snip_edges", [True, False])
def test_integer_num_frames_equals_frame_lengths(snip_edges):
    """The Kaldi front ends count frames in integer arithmetic for extract(); it must agree with the
    tensor formula the model uses for batches."""
    fe = build_frontend({"type": "fbank", "snip_edges": snip_edges})
    n = torch.arange(0, 3000, 7)
    assert [fe.num_frames(int(k)) for k in n] == fe.frame_lengths(n).tolist()


@pytest.mark.parametrize("bins", [1, 16, 17, 23, 40, 80, 100])
def test_the_banded_mel_product_equals_the_dense_one(bins):
    """The eager fast path multiplies each block of filters by its own span of FFT bins only (the
    squared real and imaginary parts, rows doubled): the blocks hold every non-zero weight of the
    dense matrix, and the product equals ``power @ mel``, also after a move to float64."""
    fe = build_frontend({"type": "fbank", "num_mel_bins": bins})
    covered = torch.zeros_like(fe.mel, dtype=torch.bool)
    for a, c, lo, hi, band in fe._mel_band_views():
        assert torch.equal(band, fe.mel[lo // 2:hi // 2, a:c].repeat_interleave(2, dim=0))
        covered[lo // 2:hi // 2, a:c] = True
    assert not (fe.mel.ne(0) & ~covered).any()
    wav = 0.1 * torch.randn(2, 9000, generator=torch.Generator().manual_seed(bins))
    lengths = torch.tensor([9000, 7000])
    for f in (fe, fe.double()):
        x = wav.to(f.mel.dtype)
        dense = f._fast_power_spectrum(x, lengths) @ f.mel
        banded = f._fast_mel_energies(x, lengths)
        assert banded.dtype == x.dtype
        torch.testing.assert_close(banded, dense, rtol=1e-5, atol=1e-3)


def test_reused_buffers_leave_no_trace_between_calls_and_threads():
    """The eager fast path keeps its frame and pre-emphasis buffers per thread from call to call:
    utterances of other lengths, another front end (another window) in between, or other threads
    at the same time change nothing in an utterance's features."""
    import threading

    gen = torch.Generator().manual_seed(3)
    wavs = [(0.1 * torch.randn(n, generator=gen)).numpy() for n in (16000, 48000, 7000, 200000)]
    fe = build_frontend({"type": "fbank"})
    other = build_frontend({"type": "fbank", "frame_length_ms": 30, "num_mel_bins": 40})  # win 480
    first = [fe.extract(w, SR) for w in wavs]
    for w in wavs[::-1]:
        other.extract(w, SR)
    for w, f in zip(wavs, first):
        assert torch.equal(fe.extract(w, SR), f)
    # Against the path that reuses nothing (power spectrum, dense mel product).
    x = torch.from_numpy(wavs[0])[None]
    plain = (fe._fast_power_spectrum(x, torch.tensor([x.shape[1]])) @ fe.mel).clamp_min(1e-7).log()[0]
    torch.testing.assert_close(first[0], plain, rtol=1e-5, atol=1e-4)
    results = {}

    def work(i):
        results[i] = [fe.extract(wavs[(i + k) % len(wavs)], SR) for k in range(8)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(3):
        for k, f in enumerate(results[i]):
            assert torch.equal(f, first[(i + k) % len(wavs)])
