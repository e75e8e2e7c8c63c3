"""CTC best-path decoding: the one CTC collapse of s2s.

``collapse`` turns a frame-level path into tokens (merge repeats, drop blanks);
``greedy_search`` does it for the argmax path of a batch (or one utterance) of
log-probabilities. The beam decoder, validation during training and inference all
use these.
"""

from __future__ import annotations

import numpy as np
import torch


def collapse(frame_ids, blank: int = 0) -> list[int]:
    """CTC collapse of a frame-level path: merge repeated tokens, then drop blanks."""
    out, prev = [], None
    for t in frame_ids:
        t = int(t)
        if t != prev and t != blank:
            out.append(t)
        prev = t
    return out


def greedy_search(log_probs, lengths=None, blank: int = 0) -> list[list[int]]:
    """Best-path token ids per utterance of ``log_probs`` (B, T, V) with valid ``lengths`` (B,),
    or of one utterance (T, V) (then a one-element list)."""
    if isinstance(log_probs, np.ndarray):
        log_probs = torch.from_numpy(log_probs)
    if log_probs.dim() == 2:
        log_probs = log_probs[None]
        lengths = [log_probs.shape[1]]
    best = log_probs.argmax(-1).cpu()
    if lengths is None:
        lengths = [best.shape[1]] * best.shape[0]
    return [collapse(best[b, : int(n)].tolist(), blank) for b, n in enumerate(lengths)]
