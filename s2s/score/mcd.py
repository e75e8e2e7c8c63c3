"""Mel-cepstral distortion between two renderings of the same sentence (TTS evaluation).

MCD (Kubichek, 1993) in dB between mel-cepstra c and c' of aligned frames:

    MCD = (10 / ln 10) * sqrt(2 * sum_{d=1..D} (c_d - c'_d)^2), averaged over the frames

with c_0 (the frame's energy) left out. The two signals are aligned by dynamic time
warping on the same distance (steps (1,0), (0,1), (1,1)), as the TTS literature does when
the durations differ. The cepstra here come from a mel filterbank, not from SPTK's
mel-generalised cepstral analysis: the log amplitude L_m of each of the M mel bands (half the
natural log of the ``logmel`` front end's power) expanded as L_m = c_0 + 2 sum_k c_k
cos(pi k (m + 1/2) / M), i.e. c_k = (1/M) sum_m L_m cos(pi k (m + 1/2) / M), the scale of a
real cepstrum. Values are comparable between systems scored with this module and the same
front end; figures from other tool chains differ in the analysis.
"""

from __future__ import annotations

import math

import numpy as np
import torch

_DB = 10.0 / math.log(10.0) * math.sqrt(2.0)


def mel_cepstrum(logmel: torch.Tensor | np.ndarray, order: int = 24) -> np.ndarray:
    """Mel-cepstral coefficients c_1..c_order of each frame of a natural-log mel power spectrogram (T, M)."""
    amplitude = 0.5 * np.asarray(logmel, dtype=np.float64)
    m = amplitude.shape[1]
    k = np.arange(1, order + 1)[:, None]
    basis = np.cos(np.pi * k * (np.arange(m) + 0.5) / m) / m
    return amplitude @ basis.T


def dtw_path_cost(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    """Dynamic time warping of frame sequences a (N, D) and b (M, D) with Euclidean frame
    distances: (summed distance along the best path, its length)."""
    d = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    n, m = d.shape
    cost = np.full((n + 1, m + 1), np.inf)
    steps = np.zeros((n + 1, m + 1), dtype=np.int64)
    cost[0, 0] = 0.0
    for i in range(1, n + 1):
        # Row by row: the diagonal and vertical moves are vectorised, the horizontal one is a
        # running scan along the row.
        diag, up = cost[i - 1, :-1], cost[i - 1, 1:]
        best = np.minimum(diag, up)
        from_steps = np.where(diag <= up, steps[i - 1, :-1], steps[i - 1, 1:])
        row, row_steps = cost[i], steps[i]
        for j in range(1, m + 1):
            c, s = best[j - 1], from_steps[j - 1]
            if row[j - 1] < c:
                c, s = row[j - 1], row_steps[j - 1]
            row[j] = c + d[i - 1, j - 1]
            row_steps[j] = s + 1
    return float(cost[n, m]), int(steps[n, m])


def mcd(logmel_a, logmel_b, order: int = 24) -> float:
    """MCD in dB between two log-mel spectrograms (T_a, M) and (T_b, M), aligned by DTW."""
    a, b = mel_cepstrum(logmel_a, order), mel_cepstrum(logmel_b, order)
    if len(a) == 0 or len(b) == 0:
        raise ValueError("mcd: an empty spectrogram")
    total, length = dtw_path_cost(a, b)
    return _DB * total / length
