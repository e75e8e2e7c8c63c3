"""ASR waveform augmentation on the fly: speed perturbation, noise from a directory of files,
draws seeded per (seed, epoch, utterance), exact resume with DataLoader workers, bad configs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from s2s.data.augment import SpeedPerturb, build_augment, draws_from
from s2s.errors import S2SError

ROOT = Path(__file__).resolve().parents[1]
SR = 16000
CHARS = "abcd"


def make_audio_corpus(root: Path, n: int = 16) -> dict:
    """Utterances of 1-3 'characters', each a tone of its own pitch, as 16 kHz wav files."""
    from s2s.data.tokens import build_vocabulary

    rng = np.random.default_rng(0)
    d = root / "data/train"
    (root / "wav").mkdir(parents=True, exist_ok=True)
    d.mkdir(parents=True, exist_ok=True)
    texts = {}
    for i in range(n):
        word = "".join(rng.choice(list(CHARS), rng.integers(1, 4)))
        t = np.arange(int(0.12 * SR)) / SR
        parts = [np.zeros(800)]
        for c in word:
            parts += [0.3 * np.sin(2 * np.pi * (300 + 250 * CHARS.index(c)) * t), np.zeros(800)]
        wav = np.concatenate(parts) + 0.003 * rng.standard_normal(sum(len(p) for p in parts))
        utt = f"s{i % 2}-u{i:02d}"
        sf.write(root / f"wav/{utt}.wav", wav.astype(np.float32), SR)
        texts[utt] = word
    with open(d / "wav.scp", "w") as f:
        f.writelines(f"{u} {root / 'wav' / u}.wav\n" for u in sorted(texts))
    with open(d / "text", "w") as f:
        f.writelines(f"{u} {texts[u]}\n" for u in sorted(texts))
    with open(d / "utt2spk", "w") as f:
        f.writelines(f"{u} {u.split('-')[0]}\n" for u in sorted(texts))
    build_vocabulary(list(texts.values()), "char").save(root / "data/lang")
    noise = root / "noise"
    (noise / "sub").mkdir(parents=True, exist_ok=True)
    sf.write(noise / "hum.wav", (0.1 * np.sin(2 * np.pi * 50 * np.arange(SR) / SR)).astype(np.float32), SR)
    sf.write(noise / "sub/hiss.flac", (0.05 * rng.standard_normal(SR // 2)).astype(np.float32), SR)
    return {"train": d, "lang": root / "data/lang", "noise": noise}


AUGMENT = [{"type": "speed", "factors": [0.9, 1.0, 1.1]},
           {"type": "white_noise", "min_db": -60, "max_db": -40}]


def config(root: Path, corpus: dict, **over) -> Path:
    conf = {
        "task": "asr", "train_data": str(corpus["train"]), "token_list": str(corpus["lang"]),
        "frontend_conf": {"type": "fbank", "num_mel_bins": 20}, "cmvn": "utterance",
        "encoder": "jasper", "encoder_conf": {"blocks": [{"filters": 16, "kernel": 5, "dropout": 0.1, "norm": "none"}]},
        "optim": "adam", "optim_conf": {"lr": 0.003}, "batch_frames": 200, "max_epochs": 2, "seed": 5,
        "noise_conf": AUGMENT, "log_every_steps": 2,
    }
    conf.update(over)
    path = root / f"train_{len(list(root.glob('train_*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(conf))
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("aug")
    return root, make_audio_corpus(root)


def test_speed_perturbation_changes_duration_by_its_factor():
    x = np.sin(2 * np.pi * 440 * np.arange(SR) / SR).astype(np.float32)
    for f in (0.9, 1.1):
        y = SpeedPerturb(factors=[f])(x, SR)
        assert abs(len(y) - len(x) / f) <= 2
        # pitch moves with the speed: the tone's peak bin scales by f
        peak = np.argmax(np.abs(np.fft.rfft(y[: SR // 2])))
        assert abs(peak * 2 - 440 * f) < 5
    assert len(SpeedPerturb(factors=[1.0])(x, SR)) == len(x)


@pytest.mark.parametrize("conf,msg", [
    ({"type": "speed", "factors": [0.9, 0, 1.1]}, "speed factors must be > 0"),
    ({"type": "speed", "min_factor": 1.2, "max_factor": 0.8}, "min_factor (1.2) must be <= max_factor"),
    ({"type": "background_noise", "noise_dir": "/nonexistent", "snr_min": 20, "snr_max": 5},
     "snr_min (20) must be <= snr_max (5); swap them"),
])
def test_bad_augmentation_settings_are_refused_with_the_key(conf, msg):
    with pytest.raises(S2SError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        build_augment(conf, context="noise_conf")


def test_noise_from_a_directory_of_files_and_an_unreadable_one_named(corpus, tmp_path):
    _, c = corpus
    aug = build_augment({"type": "background_noise", "noise_dir": str(c["noise"]), "snr_min": 5, "snr_max": 5})
    assert sorted(Path(s).name for s in aug.specs) == ["hiss.flac", "hum.wav"]
    x = np.sin(2 * np.pi * 440 * np.arange(SR) / SR).astype(np.float32)
    y = aug(x, SR)
    snr = 10 * np.log10(np.mean(x ** 2) / np.mean((y - x) ** 2))
    assert abs(snr - 5) < 0.01
    bad = tmp_path / "noise"
    bad.mkdir()
    (bad / "ok.wav").write_bytes((c["noise"] / "hum.wav").read_bytes())
    (bad / "broken.wav").write_bytes(b"RIFF\x00\x00not audio at all")
    with pytest.raises(S2SError, match=r"broken.wav \(in noise_dir .*\) cannot be used as noise"):
        build_augment({"type": "background_noise", "noise_dir": str(bad)})


def test_draws_depend_on_seed_epoch_and_utterance_only(corpus):
    """The same item of the same epoch is augmented the same whatever was loaded before it
    (as in another worker, or after a resume); another epoch draws anew."""
    from s2s.tasks.base import TASKS
    from s2s.tasks.launch import resolve_config

    root, c = corpus
    conf = resolve_config(config(root, c), [])
    ds = TASKS.get("asr")(conf).dataset("train")
    assert ds.wave_augment is not None
    ds.set_epoch(0)
    a = ds[3]["feats"]
    _ = ds[7], ds[1]
    assert torch.equal(ds[3]["feats"], a)
    ds.set_epoch(1)
    assert not torch.equal(ds[3]["feats"], a)
    ds.set_epoch(0)
    assert torch.equal(ds[3]["feats"], a)
    with draws_from(torch.Generator().manual_seed(0)):  # an outer override does not leak into items
        assert torch.equal(ds[3]["feats"], a)
    big = TASKS.get("asr")(dict(conf, seed=2**31 - 1)).dataset("train")  # large seeds do not overflow
    big.set_epoch(7)
    assert big[3]["feats"].shape[1] == a.shape[1]


def test_resume_is_exact_with_augmentation_and_dataloader_workers(corpus):
    root, c = corpus
    cfg = config(root, c, max_epochs=2, ckpt_every_steps=2, num_workers=2, specaug_conf={"time_masks": 1,
                                                                                         "time_width": 5})
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", S2S_NO_PROGRESS="1")
    full = subprocess.run([sys.executable, "-m", "s2s.bin.train", "--config", str(cfg), "--exp-dir", "exp/full"],
                          cwd=root, env=env, capture_output=True, text=True)
    assert full.returncode == 0, full.stderr[-3000:]
    killed = subprocess.run([sys.executable, "-m", "s2s.bin.train", "--config", str(cfg), "--exp-dir", "exp/killed"],
                            cwd=root, env=dict(env, S2S_TEST_KILL_AT_STEP="2"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert killed.returncode == -signal.SIGKILL
    resumed = subprocess.run([sys.executable, "-m", "s2s.bin.train", "--config", str(cfg), "--exp-dir", "exp/killed",
                              "--resume"], cwd=root, env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from" in resumed.stderr
    a = torch.load(root / "exp/full/checkpoints/last.pt", weights_only=False)
    b = torch.load(root / "exp/killed/checkpoints/last.pt", weights_only=False)
    assert a["train_state"]["step"] == b["train_state"]["step"] > 2
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
