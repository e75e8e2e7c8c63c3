"""Decoding settings that travel with a model, and length batching; no PyTorch here.

A recipe that tunes an n-gram for a model writes ``decode.yaml`` beside its
``model.pt`` (``write_decoding``): the decoder (greedy or beam), the LM and lexicon
(paths relative to the file), alpha (``lm_weight``), beta (``word_score``) and the
pruning. ``s2s-transcribe exp/x/model.pt a.wav`` then decodes with them by default;
``s2s-export`` copies them into the exported model.
"""

from __future__ import annotations

from pathlib import Path

from s2s.errors import S2SError

DECODING_FILE = "decode.yaml"
KEYS = ("decoder", "lm", "lexicon", "lm_weight", "word_score", "beam", "beam_threshold", "token_beam", "unk_score")
PATH_KEYS = ("lm", "lexicon")


def read_decoding(model_path: Path) -> dict:
    """The settings of ``decode.yaml`` beside ``model_path`` (paths made absolute), or {} without one."""
    f = Path(model_path).parent / DECODING_FILE
    return read_decoding_file(f) if f.is_file() else {}


def parse_with_settings(parser, argv=None):
    """``parser.parse_args(argv)`` where ``--settings FILE`` (a decode.yaml) supplies the defaults of
    the decoding options (decoder, LM, lexicon, weights, pruning); options given explicitly win."""
    pre, _ = parser.parse_known_args(argv)
    if getattr(pre, "settings", None):
        parser.set_defaults(**read_decoding_file(Path(pre.settings)))
    return parser.parse_args(argv)


def read_decoding_file(f: Path) -> dict:
    """The settings of one decode.yaml (LM and lexicon paths made absolute)."""
    from s2s.config import safe_load

    f = Path(f)
    if not f.is_file():
        raise S2SError(f"{f}: decoding settings not found; utils/tune_lm.sh (python -m s2s.bin.tune_lm "
                       f"--decoding-for MODEL) writes them")
    with open(f, encoding="utf-8") as fh:
        data = safe_load(fh) or {}
    if not isinstance(data, dict):
        raise S2SError(f"{f}: expected a mapping of decoding settings ({', '.join(KEYS)})")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise S2SError(f"{f}: unknown key {unknown[0]!r}; allowed: {', '.join(KEYS)}")
    for k in PATH_KEYS:
        if data.get(k):
            p = Path(data[k])
            data[k] = str(p if p.is_absolute() else (f.parent / p).resolve())
    return data


def write_decoding(model_path: Path, settings: dict) -> Path:
    """Write ``decode.yaml`` beside ``model_path`` (atomically); LM/lexicon paths relative to it."""
    import os

    import yaml

    from s2s.io import atomic_open

    f = Path(model_path).parent / DECODING_FILE
    unknown = sorted(set(settings) - set(KEYS))
    if unknown:
        raise S2SError(f"decoding setting {unknown[0]!r} unknown; allowed: {', '.join(KEYS)}")
    out = {}
    for k, v in settings.items():
        if k in PATH_KEYS and v:
            v = os.path.relpath(Path(v).resolve(), f.parent.resolve())
        out[k] = v
    with atomic_open(f) as fh:
        yaml.safe_dump(out, fh, sort_keys=False)
    return f


def length_batches(durations: list[float], batch_seconds: float) -> list[list[int]]:
    """Indices grouped into batches sorted by length, each batch's padded length (longest times
    count) at most ``batch_seconds``; an input longer than that goes alone."""
    order = sorted(range(len(durations)), key=lambda i: durations[i])
    out, start = [], 0
    while start < len(order):
        end = start + 1
        while end < len(order) and durations[order[end]] * (end - start + 1) <= batch_seconds:
            end += 1
        out.append(order[start:end])
        start = end
    return out
