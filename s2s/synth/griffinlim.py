"""Griffin-Lim vocoder: log-mel spectrogram (the ``logmel`` front end's output) -> waveform.

The mel spectrogram is mapped back to a linear magnitude spectrogram through the
pseudo-inverse of the same Slaney mel basis the front end used (negative values
clipped), then a phase is found by fast Griffin-Lim (Perraudin et al., 2013: the
momentum variant), with the same STFT the front end computes (centred, symmetric
window of ``window_size`` inside ``n_fft``). Pre-emphasis is undone at the end.
torch only; runs on any device.
"""

from __future__ import annotations

import numpy as np
import torch

from s2s.errors import S2SError


class GriffinLim:
    """``GriffinLim(frontend_conf)(logmel (T, n_mels)) -> float32 waveform`` at ``sample_rate``.

    ``frontend_conf`` is a resolved ``logmel`` front-end config (``Frontend.conf`` or a data
    dir's frontend.yaml). ``power`` > 1 sharpens the magnitudes before phase recovery, which
    reduces Griffin-Lim's phasiness (Tacotron 1 used 1.5).
    """

    def __init__(self, frontend_conf: dict, n_iter: int = 32, momentum: float = 0.99, power: float = 1.2,
                 seed: int = 0):
        from s2s.data.features import build_frontend

        if not frontend_conf or frontend_conf.get("type") != "logmel":
            raise S2SError(f"Griffin-Lim needs features of the 'logmel' front end, got "
                           f"{(frontend_conf or {}).get('type')!r}; compute TTS features with type: logmel")
        fe = build_frontend(frontend_conf)
        self.conf = fe.conf
        self.sample_rate = fe.sample_rate
        self.n_fft, self.hop, self.win = fe.n_fft, fe.hop, fe.win
        # The analysis window sits in the middle of n_fft, as in the front end.
        window = torch.zeros(self.n_fft)
        offset = (self.n_fft - self.win) // 2
        window[offset:offset + self.win] = fe.window
        self.window = window
        self.inv_mel = torch.linalg.pinv(fe.mel.double()).float()  # (n_mels, n_fft/2 + 1)
        self.n_iter, self.momentum, self.power = n_iter, momentum, power
        self.seed = seed

    def magnitude(self, logmel: torch.Tensor) -> torch.Tensor:
        """Linear magnitude spectrogram (n_fft/2 + 1, T) from a log-mel (T, n_mels)."""
        mel = (logmel.float().exp() - self.conf["log_guard"]).clamp_min(0.0)
        spec = (mel @ self.inv_mel.to(mel.device)).clamp_min(0.0)  # power**(mag_power/2) per bin
        mag = spec.pow(1.0 / self.conf["mag_power"])
        return mag.T.pow(self.power)

    def _stft(self, x):
        return torch.stft(x, self.n_fft, self.hop, window=self.window.to(x.device), center=True,
                          pad_mode="constant", return_complex=True)

    def _istft(self, spec, length):
        return torch.istft(spec, self.n_fft, self.hop, window=self.window.to(spec.device), center=True,
                           length=length)

    def __call__(self, logmel) -> np.ndarray:
        logmel = torch.as_tensor(logmel)
        if logmel.dim() != 2 or logmel.shape[1] != self.inv_mel.shape[0]:
            raise S2SError(f"Griffin-Lim: expected a (frames, {self.inv_mel.shape[0]}) log-mel matrix, "
                           f"got shape {tuple(logmel.shape)}")
        if logmel.shape[0] == 0:
            return np.zeros(0, dtype=np.float32)
        mag = self.magnitude(logmel)
        length = (mag.shape[1] - 1) * self.hop
        gen = torch.Generator().manual_seed(self.seed)
        angles = torch.exp(2j * np.pi * torch.rand(mag.shape, generator=gen)).to(mag.device)
        prev = torch.zeros_like(angles)
        alpha = self.momentum / (1 + self.momentum)
        for _ in range(self.n_iter):
            rebuilt = self._stft(self._istft(mag * angles, length))
            angles = rebuilt - alpha * prev
            angles = angles / angles.abs().clamp_min(1e-16)
            prev = rebuilt
        wav = self._istft(mag * angles, length)
        p = self.conf.get("preemphasis") or 0.0
        if p:
            wav = _deemphasis(wav, p)
        peak = wav.abs().max()
        if peak > 0.99:  # the inverse is only up to scale; never clip
            wav = wav * (0.99 / peak)
        return wav.cpu().numpy().astype(np.float32)


def _deemphasis(x: torch.Tensor, p: float) -> torch.Tensor:
    """Invert y[n] = x[n] - p x[n-1]: the one-pole filter out[n] = y[n] + p out[n-1]."""
    # A plain loop: seconds of audio take milliseconds, and scipy is not a dependency.
    y = x.cpu().double().numpy()
    out = np.empty_like(y)
    acc = 0.0
    for i, v in enumerate(y):
        acc = v + p * acc
        out[i] = acc
    return torch.from_numpy(out).float()
