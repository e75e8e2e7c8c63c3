"""Cepstral mean and variance normalisation (CMVN): Kaldi stats, and the normaliser every speech
model carries (global or per utterance).

Global statistics use Kaldi's format (``compute-cmvn-stats``): a 2 x (D+1)
float64 matrix whose first row holds the per-dimension sums and, in the last
column, the frame count; the second row holds the sums of squares (last
column 0). Stored with kaldiio as a plain Kaldi matrix (``DATA/cmvn.ark``).
"""

from __future__ import annotations

from pathlib import Path

import kaldiio
import numpy as np
import torch
from torch import Tensor, nn

from s2s.errors import S2SError

# Kaldi's apply-cmvn floors the variance the same way before dividing by it.
VAR_FLOOR = 1.0e-20


def accumulate_stats(feats_iter) -> np.ndarray:
    """Kaldi CMVN stats over ``(T, D)`` matrices: ``[[sum..., count], [sum_sq..., 0]]`` (float64)."""
    stats = None
    for key, feats in feats_iter:
        x = np.asarray(feats, dtype=np.float64)
        if x.ndim != 2:
            raise S2SError(f"{key}: features should be a (frames, dim) matrix, got shape {x.shape}")
        if stats is None:
            stats = np.zeros((2, x.shape[1] + 1), dtype=np.float64)
        elif x.shape[1] != stats.shape[1] - 1:
            raise S2SError(f"{key}: feature dim {x.shape[1]} differs from earlier utterances "
                           f"({stats.shape[1] - 1}); recompute features with one config")
        stats[0, :-1] += x.sum(0)
        stats[1, :-1] += np.square(x).sum(0)
        stats[0, -1] += x.shape[0]
    if stats is None or stats[0, -1] == 0:
        raise S2SError("no feature frames to compute CMVN statistics from")
    return stats


def compute_cmvn_stats(feats_scp, out) -> np.ndarray:
    """Global stats over every utterance of ``feats_scp``, written atomically to ``out``."""
    from s2s.io import atomic_path

    feats_scp = Path(feats_scp)
    if not feats_scp.is_file():
        raise S2SError(f"{feats_scp}: not found; compute features first (utils/make_feats.sh)")
    try:
        stats = accumulate_stats(kaldiio.load_scp_sequential(str(feats_scp)))
    except S2SError as e:
        raise S2SError(f"{feats_scp}: {e}") from None
    except (OSError, ValueError) as e:
        raise S2SError(f"{feats_scp}: cannot read features ({e}); re-run utils/make_feats.sh") from None
    with atomic_path(out) as tmp:
        kaldiio.save_mat(str(tmp), stats)
    return stats


def stats_to_mean_std(stats: np.ndarray, source: str = "cmvn stats") -> tuple[np.ndarray, np.ndarray]:
    stats = np.asarray(stats, dtype=np.float64)
    if stats.ndim != 2 or stats.shape[0] != 2 or stats.shape[1] < 2:
        raise S2SError(f"{source}: expected a 2 x (dim+1) Kaldi CMVN stats matrix, got shape {stats.shape}; "
                       f"recompute it with utils/compute_cmvn_stats.sh")
    count = stats[0, -1]
    if count <= 0:
        raise S2SError(f"{source}: frame count is {count}; recompute it with utils/compute_cmvn_stats.sh")
    mean = stats[0, :-1] / count
    var = np.maximum(stats[1, :-1] / count - mean ** 2, VAR_FLOOR)
    return mean.astype(np.float32), np.sqrt(var).astype(np.float32)


def load_cmvn(path) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, std)`` float32 vectors from Kaldi CMVN stats.

    Accepts a single matrix (global stats) or an ark of per-speaker stats,
    which are summed into global ones.
    """
    path = Path(path)
    if not path.is_file():
        raise S2SError(f"{path}: CMVN stats not found; run utils/compute_cmvn_stats.sh on the data dir")
    try:
        stats = kaldiio.load_mat(str(path))
    except Exception:
        try:
            mats = list(kaldiio.load_ark(str(path)))
        except Exception as e:
            raise S2SError(f"{path}: not a Kaldi matrix or ark ({e}); recompute it with "
                           f"utils/compute_cmvn_stats.sh") from None
        if not mats:
            raise S2SError(f"{path}: empty; recompute it with utils/compute_cmvn_stats.sh")
        stats = sum(np.asarray(m, dtype=np.float64) for _, m in mats)
    return stats_to_mean_std(stats, str(path))


MODES = ("global", "utterance", "none")


class Normalizer(nn.Module):
    """Feature normalisation inside a model: ``global`` (mean/std buffers from Kaldi CMVN stats,
    saved with the weights), ``utterance`` (each utterance to zero mean and unit variance per
    dimension over its own valid frames) or ``none``.

    ``forward(feats (B, T, D), lengths (B,))`` normalises a padded batch (padded frames come out
    zero, so a batch gives each utterance what it gives alone); ``normalize_one`` does one
    ``(T, D)`` matrix.
    """

    def __init__(self, mode: str, dim: int, eps: float = 1e-5):
        super().__init__()
        if mode not in MODES:
            raise S2SError(f"cmvn: unknown mode {mode!r}; use global, utterance or none")
        self.mode = mode
        self.dim = dim
        self.eps = eps
        self.register_buffer("mean", torch.zeros(dim), persistent=mode == "global")
        self.register_buffer("std", torch.ones(dim), persistent=mode == "global")

    def set_stats(self, mean, std) -> "Normalizer":
        mean = torch.as_tensor(np.asarray(mean), dtype=torch.float32)
        std = torch.as_tensor(np.asarray(std), dtype=torch.float32)
        if mean.shape != (self.dim,) or std.shape != (self.dim,):
            raise S2SError(f"CMVN has dim {mean.shape[-1]} but the features have dim {self.dim}; "
                           f"recompute the stats (utils/compute_cmvn_stats.sh) for these features")
        self.mean.copy_(mean)
        self.std.copy_(std)
        return self

    def forward(self, feats: Tensor, lengths: Tensor) -> Tensor:
        valid = (torch.arange(feats.shape[1], device=feats.device)[None, :]
                 < lengths.to(feats.device)[:, None]).to(feats.dtype)[..., None]
        if self.mode == "global":
            return (feats - self.mean) / self.std * valid
        if self.mode == "utterance":
            count = valid.sum(1, keepdim=True).clamp_min(1.0)
            mean = (feats * valid).sum(1, keepdim=True) / count
            var = (((feats - mean) * valid) ** 2).sum(1, keepdim=True) / count
            return (feats - mean) / var.sqrt().clamp_min(self.eps) * valid
        return feats * valid

    def normalize_one(self, feats: Tensor) -> Tensor:
        """One utterance ``(T, D)``."""
        if feats.dim() != 2 or feats.shape[1] != self.dim:
            raise S2SError(f"cmvn expects (frames, {self.dim}) features, got shape {tuple(feats.shape)}")
        return self(feats[None], torch.tensor([feats.shape[0]]))[0]

    def extra_repr(self) -> str:
        return f"mode={self.mode}, dim={self.dim}"


def cmvn_from_config(conf: dict, first_dir: str | None, dim: int) -> Normalizer:
    """The normaliser of a task config's ``cmvn`` / ``cmvn_file``; global stats default to
    FIRST_DIR/cmvn.ark (written by utils/compute_cmvn_stats.sh)."""
    mode = conf.get("cmvn", "global")
    norm = Normalizer(mode, dim)
    if mode != "global":
        return norm
    path = conf.get("cmvn_file") or (str(Path(first_dir) / "cmvn.ark") if first_dir else None)
    if path is None or not Path(path).is_file():
        raise S2SError(f"{path}: global CMVN stats not found; run utils/compute_cmvn_stats.sh on the training data "
                       f"or set cmvn: utterance")
    return norm.set_stats(*load_cmvn(path))
