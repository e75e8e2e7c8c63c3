"""A learnable toy ASR corpus for trainer tests: each character has a feature template,
an utterance is its characters' templates (a few noisy frames each) with silence between."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np

WORDS = ["ab", "ba", "cab", "bad", "dab", "ac", "ca", "dd"]


def make_toy_corpus(root: Path, n_train: int = 48, n_valid: int = 8, dim: int = 12, seed: int = 0) -> dict:
    import kaldiio

    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    chars = sorted(set("".join(WORDS)) | {" "})
    templates = {c: nrng.normal(0, 1, dim).astype(np.float32) * 2 for c in chars}
    templates[" "] = np.zeros(dim, np.float32)
    out = {}
    for split, n in (("train", n_train), ("valid", n_valid)):
        d = root / "data" / split
        d.mkdir(parents=True, exist_ok=True)
        texts, feats = {}, {}
        for i in range(n):
            words = [rng.choice(WORDS) for _ in range(rng.randint(1, 3))]
            text = " ".join(words)
            frames = [np.zeros((2, dim), np.float32)]
            for c in text:
                k = rng.randint(3, 5)
                frames.append(templates[c] + nrng.normal(0, 0.3, (k, dim)).astype(np.float32))
                frames.append(np.zeros((1, dim), np.float32))
            utt = f"spk{i % 4}-{split}{i:03d}"
            texts[utt] = text
            feats[utt] = np.concatenate(frames)
        with kaldiio.WriteHelper(f"ark,scp:{d}/feats.ark,{d}/feats.scp") as w:
            for u in sorted(feats):
                w(u, feats[u])
        with open(d / "text", "w") as f:
            for u in sorted(texts):
                f.write(f"{u} {texts[u]}\n")
        with open(d / "utt2spk", "w") as f:
            for u in sorted(texts):
                f.write(f"{u} {u.split('-')[0]}\n")
        with open(d / "utt2num_frames", "w") as f:
            for u in sorted(feats):
                f.write(f"{u} {feats[u].shape[0]}\n")
        out[split] = d
    from s2s.data.tokens import build_vocabulary

    lang = root / "data" / "lang"
    build_vocabulary(list(out and _read_text(out["train"] / "text")), "char").save(lang)
    out["lang"] = lang
    return out


def _read_text(path: Path) -> list[str]:
    return [line.split(maxsplit=1)[1].strip() for line in open(path) if line.strip()]


def toy_config(root: Path, corpus: dict, **over) -> Path:
    import yaml

    conf = {
        "task": "asr",
        "train_data": str(corpus["train"]),
        "valid_data": str(corpus["valid"]),
        "token_list": str(corpus["lang"]),
        "cmvn": "none",
        "encoder": "jasper",
        "encoder_conf": {"blocks": [
            {"filters": 32, "kernel": 5, "repeat": 1, "norm": "none"},
            {"filters": 32, "kernel": 5, "repeat": 2, "residual": True, "norm": "none"},
        ]},
        "optim": "adam",
        "optim_conf": {"lr": 0.003},
        "batch_frames": 400,
        "max_epochs": 30,
        "seed": 3,
        "log_every_steps": 5,
    }
    conf.update(over)
    path = root / "train.yaml"
    with open(path, "w") as f:
        yaml.safe_dump(conf, f)
    return path


ROOT = Path(__file__).resolve().parents[1]


def run_train(cwd: Path, *args: str, check: bool = True, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m s2s.bin.train ARGS`` in ``cwd`` (this checkout's s2s, one thread, no progress bars);
    AssertionError with its output when it fails and ``check``."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", S2S_NO_PROGRESS="1", **(env_extra or {}))
    proc = subprocess.run([sys.executable, "-m", "s2s.bin.train", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"train failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc
