"""Cached CTC log-probabilities: ``utt -> (T, V) float32`` in Kaldi ark/scp (kaldiio).

The network runs once (``s2s.bin.decode --dump-logprobs``); beam search and the
alpha/beta search (``s2s.bin.tune_lm``) then read the dump as often as they like.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from s2s.errors import S2SError
from s2s.io import atomic_path


def write_logprobs(prefix, table: dict) -> Path:
    """Write ``PREFIX.ark`` and ``PREFIX.scp`` (utterances in sorted order); returns the scp path.

    Both files appear complete or not at all: the ark is renamed into place
    first, then the scp that points into it.
    """
    import kaldiio

    prefix = Path(prefix)
    ark = prefix.with_name(prefix.name + ".ark")
    scp = prefix.with_name(prefix.name + ".scp")
    if not table:
        raise S2SError(f"{scp}: no utterances to write")
    with atomic_path(ark) as tmp_ark, atomic_path(scp) as tmp_scp:
        data = {}
        for k in sorted(table):
            m = np.asarray(table[k], dtype=np.float32)
            if m.ndim != 2:
                raise S2SError(f"log-probabilities of {k!r} must be a (T, V) matrix, got shape {m.shape}")
            data[k] = m
        kaldiio.save_ark(str(tmp_ark), data, scp=str(tmp_scp))
        # kaldiio wrote the temporary ark name into the scp; point it at the final name.
        lines = Path(tmp_scp).read_text(encoding="utf-8").splitlines()
        with open(tmp_scp, "w", encoding="utf-8") as f:
            for line in lines:
                key, loc = line.split(" ", 1)
                offset = loc.rsplit(":", 1)[1]
                f.write(f"{key} {ark}:{offset}\n")
    return scp


def read_logprobs(scp):
    """A lazy ``utt -> (T, V) float32`` mapping over an scp written by ``write_logprobs``."""
    import kaldiio

    scp = Path(scp)
    if not scp.is_file():
        raise S2SError(f"{scp}: log-probability dump not found; write it with "
                       f"python -m s2s.bin.decode ... --dump-logprobs")
    with open(scp, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split(" ", 1)
            if len(parts) != 2 or ":" not in parts[1]:
                raise S2SError(f"{scp}:{lineno}: expected 'utt ark_path:offset', got {line.strip()!r}")
            ark = parts[1].strip().rsplit(":", 1)[0]
            if not os.path.isfile(ark):
                raise S2SError(f"{scp}:{lineno}: {ark} not found; the dump is incomplete, write it again "
                               f"with python -m s2s.bin.decode ... --dump-logprobs")
    try:
        return kaldiio.load_scp(str(scp))
    except Exception as e:  # kaldiio raises assorted errors for malformed tables
        raise S2SError(f"{scp}: cannot read ({e})") from None


def load_all(scp) -> dict[str, np.ndarray]:
    """Every matrix of an scp in memory, as float32 (tuning decodes them many times)."""
    table = read_logprobs(scp)
    out = {}
    for k in table:
        try:
            out[k] = np.ascontiguousarray(table[k], dtype=np.float32)
        except Exception as e:
            raise S2SError(f"{scp}: cannot read the matrix of {k!r} ({e}); write the dump again") from None
    return out
