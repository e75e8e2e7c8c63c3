"""Learned text-to-frame alignment for non-autoregressive TTS, trained with the TTS itself.

The alignment framework of Badlani et al., 2022 ("One TTS Alignment to Rule Them All", arXiv
2108.10447), which NeMo's FastPitch and RAD-TTS use in place of a teacher's durations:

- ``AlignmentEncoder``: the symbol embeddings and the target mel frames, each through a few
  convolutions, meet in a soft attention whose energies are minus the squared distance between
  frame and symbol vectors (times a small temperature), added in the log domain to a
  beta-binomial prior (``log_beta_binomial_prior``) that favours the diagonal early on.
- ``forward_sum_loss``: the likelihood of every monotonic path through the soft attention that
  visits each symbol in order, summed over paths by CTC's forward algorithm (``F.ctc_loss``
  with one blank class, the symbols as the target sequence).
- ``monotonic_alignment``: the most likely such path (the dynamic programme of Glow-TTS's
  monotonic alignment search, Kim et al., 2020, arXiv 2005.11129): each frame on one symbol,
  symbols in order, every symbol at least one frame. Its frames per symbol are the durations
  the length regulator and the duration predictor train on.
- ``binarization_loss``: minus the soft attention's log-probability on that hard path, which
  pulls the two together once the alignment has settled.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# Log-probability of what cannot be (symbols past a sentence's end): finite, so that no gradient
# meets inf - inf, and low enough that its probability is exactly 0 in float32.
IMPOSSIBLE = -1e4


def log_beta_binomial_prior(symbols: torch.Tensor, frames: torch.Tensor, max_symbols: int, max_frames: int,
                            scaling: float = 1.0) -> torch.Tensor:
    """log P(symbol n | frame t) (B, T, N) of the beta-binomial prior: frame t of T (1-based) draws
    its symbol from BetaBinomial(N - 1, a = s t, b = s (T + 1 - t)) over 0..N-1, so the mass moves
    along the diagonal (Badlani et al. take BetaBinomial(N, ...) cut at N - 1, which leaves the last
    frames little mass; the distribution over the N symbols is used here). ``IMPOSSIBLE`` at symbols
    past an utterance's end, 0 at frames past its end."""
    dev = symbols.device
    n = (symbols.to(torch.float64) - 1).clamp_min(0)[:, None, None]               # (B, 1, 1)
    m = frames.to(torch.float64)[:, None, None]
    t = torch.arange(1, max_frames + 1, device=dev, dtype=torch.float64)[None, :, None]
    k = torch.arange(max_symbols, device=dev, dtype=torch.float64)[None, None, :]
    a, b = scaling * t, scaling * (m + 1 - t).clamp_min(1.0)
    lg = torch.lgamma
    kk = torch.minimum(k, n)  # keeps lgamma's arguments positive where k is past the end
    log_choose = lg(n + 1) - lg(kk + 1) - lg(n - kk + 1)
    log_pmf = log_choose + lg(kk + a) + lg(n - kk + b) - lg(n + a + b) - (lg(a) + lg(b) - lg(a + b))
    log_pmf = torch.where(t <= m, log_pmf, torch.zeros_like(log_pmf))
    return torch.where(k <= n, log_pmf, torch.full_like(log_pmf, IMPOSSIBLE)).float()


class AlignmentEncoder(nn.Module):
    """Soft alignment (B, T, N) of mel frames (B, T, n_mels) to symbol vectors (B, N, text_dim)."""

    def __init__(self, n_mels: int, text_dim: int, dim: int = 80, temperature: float = 0.0005):
        super().__init__()
        self.temperature = temperature
        self.key = nn.Sequential(nn.Conv1d(text_dim, 2 * text_dim, 3, padding=1), nn.ReLU(),
                                 nn.Conv1d(2 * text_dim, dim, 1))
        self.query = nn.Sequential(nn.Conv1d(n_mels, 2 * n_mels, 3, padding=1), nn.ReLU(),
                                   nn.Conv1d(2 * n_mels, n_mels, 1), nn.ReLU(), nn.Conv1d(n_mels, dim, 1))

    def forward(self, mels: torch.Tensor, text: torch.Tensor, log_prior: torch.Tensor,
                text_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(log-probabilities (B, T, N): log-softmax of the energies over the symbols
        plus the log prior, soft attention (B, T, N): their softmax, 0 past each sentence's end)``."""
        # In float32 even under autocast: in fp16 the products overflow, in bf16 the distance of
        # close pairs is lost to rounding.
        with torch.autocast(mels.device.type, enabled=False):
            k = self.key(text.float().transpose(1, 2)).transpose(1, 2)        # (B, N, D)
            q = self.query(mels.float().transpose(1, 2)).transpose(1, 2)      # (B, T, D)
            dist = ((q * q).sum(-1, keepdim=True) + (k * k).sum(-1)[:, None, :]
                    - 2 * q @ k.transpose(1, 2)).clamp_min(0)
        energy = -self.temperature * dist
        energy = energy.masked_fill(~text_mask[:, None, :], IMPOSSIBLE)
        log_prob = F.log_softmax(energy, dim=-1) + log_prior
        return log_prob, F.softmax(log_prob, dim=-1)


def forward_sum_loss(log_prob: torch.Tensor, symbols: torch.Tensor, frames: torch.Tensor,
                     blank_logprob: float = -1.0) -> torch.Tensor:
    """Minus the log-likelihood, summed over the batch, of the symbol sequence under the soft
    alignment (every monotonic path that visits each symbol in order: CTC's forward algorithm,
    a blank class of fixed log-probability ``blank_logprob`` prepended to the symbols)."""
    b, t, n = log_prob.shape
    padded = F.pad(log_prob, (1, 0), value=blank_logprob)
    lp = F.log_softmax(padded, dim=-1).transpose(0, 1)                   # (T, B, N + 1)
    targets = torch.arange(1, n + 1, device=log_prob.device)[None, :].expand(b, -1)
    nll = F.ctc_loss(lp, targets, frames, symbols, blank=0, reduction="none", zero_infinity=True)
    return nll.sum()


def monotonic_alignment(log_attention: torch.Tensor, symbols: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """Frames per symbol (B, N) of the best monotonic path through each ``log_attention`` (B, T, N):
    frame 0 on symbol 0, the last frame on the last symbol, each frame on the same symbol as the
    one before or the next, so that every symbol gets at least one frame. An utterance with
    fewer frames than symbols (no such path) gets each frame on its most likely symbol."""
    out_device = log_attention.device
    # on the CPU: the loop over frames is many small steps (a GPU would launch kernels for each)
    la = log_attention.detach().float().cpu()
    symbols, frames = symbols.cpu(), frames.cpu()
    bsz, t_max, n_max = la.shape
    dev = la.device
    ar = torch.arange(n_max, device=dev)
    valid_n = ar[None, :] < symbols[:, None]
    la = la.masked_fill(~valid_n[:, None, :], -float("inf"))
    neg = torch.full((bsz, 1), -float("inf"), device=dev)
    score = torch.where(ar[None, :] == 0, la[:, 0], torch.full_like(la[:, 0], -float("inf")))
    moved = torch.zeros(t_max, bsz, n_max, dtype=torch.bool, device=dev)
    for t in range(1, t_max):
        shifted = torch.cat([neg, score[:, :-1]], dim=1)
        step = shifted > score
        new = torch.maximum(score, shifted) + la[:, t]
        live = (t < frames)[:, None]
        moved[t] = step & live
        score = torch.where(live, new, score)
    durations = torch.zeros(bsz, n_max, dtype=torch.long, device=dev)
    k = (symbols - 1).clamp_min(0).long()
    rows = torch.arange(bsz, device=dev)
    for t in range(t_max - 1, -1, -1):
        live = t < frames
        durations[rows, k] += live.long()
        k = k - (live & moved[t, rows, k]).long()
    stuck = frames < symbols  # no path: each frame on its argmax
    for i in stuck.nonzero().flatten().tolist():
        f, s = int(frames[i]), int(symbols[i])
        durations[i] = 0
        durations[i, :s] = torch.bincount(la[i, :f, :s].argmax(1), minlength=s)
    return durations.to(out_device)


def monotonic_durations(log_attention: np.ndarray) -> np.ndarray:
    """``monotonic_alignment`` of one utterance: ``log_attention`` (T frames, N symbols) -> frames
    per symbol (N,); needs T >= N."""
    t_len, n = log_attention.shape
    if t_len < n:
        raise ValueError(f"{t_len} frames cannot give each of {n} symbols a frame")
    d = monotonic_alignment(torch.from_numpy(np.asarray(log_attention, dtype=np.float32))[None],
                            torch.tensor([n]), torch.tensor([t_len]))
    return d[0].numpy()


def frame_symbols(durations: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(frame index (B, t), the symbol each frame is on (B, t))`` for durations (B, N); frames
    past an utterance's end are put on its last symbol slot."""
    frame = torch.arange(t, device=durations.device)[None, :].expand(durations.shape[0], -1).contiguous()
    symbol = torch.searchsorted(durations.cumsum(1), frame, right=True).clamp(max=durations.shape[1] - 1)
    return frame, symbol


def binarization_loss(soft: torch.Tensor, durations: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """Minus the log of the soft attention (B, T, N) on the hard path of ``durations`` (B, N),
    summed over every utterance's frames."""
    frame, symbol = frame_symbols(durations, soft.shape[1])
    p = soft.gather(2, symbol[..., None])[..., 0].float()
    valid = frame < frames[:, None]
    return -(torch.log(p.clamp_min(1e-12)) * valid).sum()
