"""A parallel vocoder with an inverse-STFT head: log-mel frames -> waveform in one pass.

    mel (T, n_mels) -> conv (kernel 7) -> N x ConvNeXt block -> layer norm
        -> linear -> log-magnitude and phase of every STFT bin at every frame
        -> complex spectrum -> inverse STFT (the front end's hop) -> waveform

The architecture of Vocos (Siuzdak, 2023, arXiv 2306.00814): a ConvNeXt backbone (Liu et
al., 2022) at the frame rate and an iSTFT output layer instead of transposed convolutions,
so nothing runs at the sample rate but the inverse FFT, and a second of speech costs a few
milliseconds on a CPU. Vocos trains with adversarial losses; this one is trained with the
multi-resolution STFT loss of Parallel WaveGAN (Yamamoto et al., 2020, arXiv 1910.11480) and
an L1 log-mel loss (s2s.tasks.vocoder), which is what fits a CPU budget. The phase is
predicted as an angle (cos and sin of one output), as in Vocos.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from s2s.models.registry import MODELS


class ConvNeXtBlock(nn.Module):
    """Depthwise conv (kernel 7) -> layer norm -> pointwise expand x3 -> GELU -> project, scaled residual."""

    def __init__(self, dim: int, kernel: int = 7, expand: int = 3, layer_scale: float = 0.1):
        super().__init__()
        self.dw = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.pw1 = nn.Linear(dim, expand * dim)
        self.pw2 = nn.Linear(expand * dim, dim)
        self.scale = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, D, T)
        y = self.dw(x).transpose(1, 2)
        y = self.pw2(torch.nn.functional.gelu(self.pw1(self.norm(y))))
        return x + (self.scale * y).transpose(1, 2)


@MODELS.register("istft_vocoder")
class IstftVocoder(nn.Module):
    """Mel -> waveform through an inverse STFT with ``n_fft`` and the mel's ``hop``."""

    def __init__(self, n_mels: int = 80, hop: int = 200, sample_rate: int = 16000, n_fft: int = 800,
                 dim: int = 256, blocks: int = 8, kernel: int = 7):
        super().__init__()
        self.n_mels, self.hop, self.sample_rate, self.n_fft = n_mels, hop, sample_rate, n_fft
        self.bins = n_fft // 2 + 1
        self.embed = nn.Conv1d(n_mels, dim, kernel, padding=kernel // 2)
        self.norm_in = nn.LayerNorm(dim)
        self.blocks = nn.ModuleList(ConvNeXtBlock(dim, kernel) for _ in range(blocks))
        self.norm_out = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 2 * self.bins)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def spectrum(self, mels: torch.Tensor) -> torch.Tensor:
        """Complex spectrum (B, n_fft/2 + 1, T) predicted from mels (B, T, n_mels)."""
        x = self.embed(mels.transpose(1, 2))
        x = self.norm_in(x.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        out = self.head(self.norm_out(x.transpose(1, 2))).transpose(1, 2).float()
        log_mag, phase = out.split(self.bins, dim=1)
        mag = log_mag.clamp(max=6.0).exp()  # |S| <= e^6: keeps an untrained model's output finite
        return torch.polar(mag, phase)

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        """Waveforms (B, T * hop) for mels (B, T, n_mels); frame t is centred at sample t * hop."""
        spec = self.spectrum(mels)
        t = mels.shape[1]
        return torch.istft(spec, self.n_fft, self.hop, window=self.window, center=True, length=t * self.hop)

    @torch.no_grad()
    def generate(self, mels: list[torch.Tensor], **_) -> list[np.ndarray]:
        """Waveforms (float32, [-1, 1]) for a list of log-mels (T_i, n_mels), one pass each."""
        out = []
        device = next(self.parameters()).device
        for m in mels:
            wav = self.forward(m[None].float().to(device))[0].clamp(-1.0, 1.0)
            out.append(wav.cpu().numpy().astype(np.float32))
        return out
