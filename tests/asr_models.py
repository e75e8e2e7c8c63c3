"""Small CTC checkpoints with random weights for inference and export tests, one per encoder family,
and speech made by espeak-ng."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

FBANK = {"type": "fbank", "num_mel_bins": 40}
LOGMEL = {"type": "logmel", "num_mel_bins": 32}
SPECTROGRAM = {"type": "spectrogram", "num_bins": 64}

FAMILIES = {
    "ds2": ("ds2", {"conv_channels": [4], "conv_kernels": [[11, 11]], "conv_strides": [[2, 2]], "rnn_layers": 2,
                    "rnn_hidden": 32, "rnn_batch_norm": True, "fc_layers": [32], "lookahead": 0}),
    "ds2_unidirectional": ("ds2", {"conv_channels": [4], "conv_kernels": [[11, 11]], "conv_strides": [[3, 2]],
                                   "rnn_type": "lstm", "bidirectional": False, "lookahead": 4, "rnn_layers": 1,
                                   "rnn_hidden": 32, "fc_layers": []}),
    "jasper": ("jasper", {"blocks": [
        {"filters": 32, "kernel": 11, "stride": 2},
        {"filters": 32, "kernel": 7, "repeat": 2, "dense_residual": True},
        {"filters": 48, "kernel": 9, "repeat": 2, "dense_residual": True, "dilation": 2},
        {"filters": 48, "kernel": 1}]}),
    "quartznet": ("quartznet", {"blocks": [
        {"filters": 32, "kernel": 11, "stride": 2, "separable": True},
        {"filters": 32, "kernel": 13, "repeat": 3, "residual": True, "separable": True},
        {"filters": 48, "kernel": 1}]}),
    "wav2letter": ("wav2letter", {"blocks": [
        {"filters": 32, "kernel": 11, "stride": 2, "activation": "clipped_relu"},
        {"filters": 32, "kernel": 11, "repeat": 2, "activation": "clipped_relu"},
        {"filters": 48, "kernel": 1, "activation": "clipped_relu"}]}),
}


def random_checkpoint(path: Path, family: str = "quartznet", frontend: dict | None = None, cmvn: str = "global",
                      seed: int = 0) -> Path:
    """A checkpoint of family ``family`` with random weights that emits many different tokens."""
    from s2s.data.tokens import character_vocabulary
    from s2s.models.checkpoint import CHECKPOINT_FORMAT, save_checkpoint
    from s2s.models.registry import build_model

    frontend = dict(frontend or FBANK)
    vocab = character_vocabulary("abcdefghijklmnopqrstuvwxyz'")
    torch.manual_seed(seed)
    encoder, conf = FAMILIES[family]
    args = {"encoder": encoder, "encoder_conf": conf, "input_dim": frontend.get("num_mel_bins") or frontend["num_bins"],
            "vocab_size": len(vocab), "frontend": frontend, "cmvn": cmvn}
    model = build_model("asr", args)
    if cmvn == "global":
        dim = frontend["num_mel_bins"]
        model.frontend.normalizer.set_stats(torch.linspace(2.0, 10.0, dim), torch.linspace(1.5, 3.0, dim))
    with torch.no_grad():
        model.head.weight.mul_(6.0)
    # a little training-mode pass so batch norm statistics are not the identity
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(2, 16000) * 0.1, torch.tensor([16000, 12000]))
    meta = {"format": CHECKPOINT_FORMAT, "task": "asr", "model": model.spec, "vocab": vocab.to_dict()}
    save_checkpoint(path, model.state_dict(), meta)
    return path


def speak(path: Path, text: str, voice: str = "en-us", rate: int | None = None) -> Path:
    """A wav of ``text`` by espeak-ng (optionally resampled with sox to ``rate``)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is needed (tools/setup.sh installs it)")
    raw = path.with_suffix(".espeak.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True, capture_output=True)
    if rate is None:
        wav, sr = sf.read(raw, dtype="float32")
        from s2s.data.audio import resample_audio

        sf.write(path, resample_audio(wav, sr, 16000), 16000, subtype="PCM_16")
    else:
        subprocess.run(["sox", str(raw), "-r", str(rate), str(path)], check=True)
    raw.unlink()
    return path


def waveform(path: Path) -> np.ndarray:
    wav, sr = sf.read(path, dtype="float32")
    assert sr == 16000
    return wav
