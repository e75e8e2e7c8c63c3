"""Griffin-Lim vocoder: log-mel -> audio that re-analyses to the same log-mel, the right
length and rate, pre-emphasis undone, and clear errors for the wrong features."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import soundfile as sf
import torch

from s2s.data.features import build_frontend
from s2s.errors import S2SError
from s2s.synth.griffinlim import GriffinLim

CONF = {"type": "logmel", "sample_rate": 16000, "num_mel_bins": 40, "window_size": 0.025,
        "window_stride": 0.01, "n_fft": 512, "preemphasis": 0.0, "log_guard": 1e-5}


def speech(tmp_path) -> np.ndarray:
    raw, wav = tmp_path / "raw.wav", tmp_path / "s.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(raw), "turn on the kitchen light"], check=True)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav)], check=True)
    return sf.read(str(wav), dtype="float32")[0]


def relative_mel_error(conf: dict, wav: np.ndarray, n_iter: int = 32) -> tuple[float, np.ndarray]:
    fe = build_frontend(conf)
    mel = fe.extract(wav, 16000)
    out = GriffinLim(conf, n_iter=n_iter, power=1.0)(mel)
    again = fe.extract(out, 16000)
    n = min(len(mel), len(again))
    # compare in the linear mel domain, speech frames only (silence is all log_guard)
    a, b = mel[:n].exp(), again[:n].exp()
    return float((a - b).norm() / a.norm()), out


def test_speech_round_trip_keeps_the_mel_spectrogram(tmp_path):
    err, out = relative_mel_error(CONF, speech(tmp_path))
    assert err < 0.15, err
    assert out.dtype == np.float32 and np.abs(out).max() <= 1.0


def test_more_iterations_give_a_closer_spectrogram(tmp_path):
    wav = speech(tmp_path)
    few, _ = relative_mel_error(CONF, wav, n_iter=2)
    many, _ = relative_mel_error(CONF, wav, n_iter=32)
    assert many < few


def test_length_follows_frames_and_hop():
    fe = build_frontend(CONF)
    t = np.arange(16000) / 16000
    wav = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    mel = fe.extract(wav, 16000)
    out = GriffinLim(CONF, n_iter=4)(mel)
    assert len(out) == (mel.shape[0] - 1) * fe.hop
    assert abs(len(out) - len(wav)) <= fe.hop
    # the tone comes back at its frequency
    spec = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spec) * 16000 / len(out) - 440) < 20


def test_preemphasis_is_undone(tmp_path):
    err, _ = relative_mel_error({**CONF, "preemphasis": 0.97}, speech(tmp_path))
    assert err < 0.15, err


def test_wrong_features_are_refused():
    with pytest.raises(S2SError, match="logmel"):
        GriffinLim({"type": "fbank", "num_mel_bins": 40})
    with pytest.raises(S2SError, match="40"):
        GriffinLim(CONF)(torch.zeros(10, 80))
    assert len(GriffinLim(CONF)(torch.zeros(0, 40))) == 0
