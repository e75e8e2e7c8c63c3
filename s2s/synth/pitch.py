"""Pitch for FastPitch-style conditioning: F0 per log-mel frame, averaged per symbol.

FastPitch (Lancucki, 2021, arXiv 2006.06873; NeMo's FastPitch) conditions a non-autoregressive
TTS on the mean fundamental frequency of each input symbol: in training the mean of the
voiced frames of the symbol's span (its durations), for synthesis a predictor's estimate.
A speaker whose F0 moves within a sentence then no longer has to be averaged over all the
contours the same text was spoken with, which blurs the harmonics of the predicted spectra.

F0 comes from Praat's autocorrelation pitch tracker (Boersma, 1993) through Parselmouth,
sampled at the centres of the log-mel frames (frame i is centred on sample i * hop); 0 marks
an unvoiced frame. A symbol none of whose frames is voiced gets 0.
"""

from __future__ import annotations

import numpy as np

from s2s.errors import S2SError

PITCH_FLOOR_HZ = 60.0
PITCH_CEILING_HZ = 600.0


def frame_pitch(wav: np.ndarray, sample_rate: int, hop: int, n_frames: int,
                floor: float = PITCH_FLOOR_HZ, ceiling: float = PITCH_CEILING_HZ) -> np.ndarray:
    """F0 in Hz (n_frames,) at the centres of centred STFT frames with ``hop`` samples between
    them; 0 where the frame is unvoiced or outside the tracker's frames."""
    try:
        import parselmouth
    except ImportError as e:
        raise S2SError("pitch needs Praat's tracker from the praat-parselmouth package: pip install "
                       "praat-parselmouth (or extract durations without pitch: --no-pitch)") from e

    out = np.zeros(n_frames, dtype=np.float32)
    if wav.size == 0 or n_frames == 0:
        return out
    sound = parselmouth.Sound(np.asarray(wav, dtype=np.float64), sampling_frequency=sample_rate)
    try:
        pitch = sound.to_pitch_ac(time_step=hop / sample_rate, pitch_floor=floor, pitch_ceiling=ceiling)
    except parselmouth.PraatError:  # shorter than the tracker's window (3 periods of the floor)
        return out
    f0 = pitch.selected_array["frequency"]
    if len(f0) == 0:
        return out
    # the nearest tracker frame, ties up (rint's ties-to-even would alternate when the tracker's
    # first frame falls half a frame off our grid)
    k = np.floor((np.arange(n_frames) * hop / sample_rate - pitch.x1) / pitch.dx + 0.5).astype(np.int64)
    inside = (k >= 0) & (k < len(f0))
    out[inside] = f0[k[inside]]
    return out


def symbol_pitch(f0: np.ndarray, durations) -> np.ndarray:
    """Mean F0 of the voiced frames of each symbol's span (N,); 0 for a symbol with none.
    ``durations`` (N,) must sum to len(f0)."""
    d = np.asarray(durations, dtype=np.int64)
    if int(d.sum()) != len(f0):
        raise ValueError(f"durations sum to {int(d.sum())} frames, the F0 has {len(f0)}")
    ends = np.cumsum(d)
    voiced = (f0 > 0).astype(np.float64)
    total = np.add.reduceat(np.concatenate([f0 * voiced, [0.0]]), np.concatenate([[0], ends[:-1]]))[: len(d)]
    count = np.add.reduceat(np.concatenate([voiced, [0.0]]), np.concatenate([[0], ends[:-1]]))[: len(d)]
    total[d == 0] = 0.0  # reduceat gives the next element for an empty span
    count[d == 0] = 0.0
    return np.where(count > 0, total / np.maximum(count, 1), 0.0).astype(np.float32)
