"""The classify task and its models: shapes and published sizes, fixed-length clips, bad input,
training with the shared trainer, and evaluate_classifier's reports."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from s2s.data.datadir import DataDir, write_table
from s2s.errors import S2SError
from s2s.models.classifiers import CLASSIFIERS, build_classifier
from s2s.tasks import TASKS
from s2s.tasks.classify import fix_frames, fix_length

ROOT = Path(__file__).resolve().parents[1]
SR = 16000
FRONTEND = {"type": "logmel", "num_mel_bins": 32, "window_size": 0.025, "window_stride": 0.01}
# Each class is a tone pattern: easy to learn, real audio through the real pipeline.
CLASSES = {"low": (300.0,), "high": (2400.0,), "chord": (600.0, 1500.0)}


def tone(freqs, seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    start = rng.uniform(0, 0.1)
    env = ((t > start) & (t < start + 0.6)).astype(np.float32)
    x = sum(np.sin(2 * np.pi * f * rng.uniform(0.95, 1.05) * t) for f in freqs) * env
    return (0.3 * x / len(freqs) + rng.normal(0, 0.01, t.size)).astype(np.float32)


def make_split(root: Path, name: str, per_class: int, seed: int, seconds: float = 1.0) -> Path:
    d = root / "data" / name
    wav_dir = root / "wav" / name
    wav_dir.mkdir(parents=True, exist_ok=True)
    wav_scp, text, utt2spk = {}, {}, {}
    for c, (label, freqs) in enumerate(CLASSES.items()):
        for i in range(per_class):
            utt = f"spk{i}-{label}-{name}"
            path = wav_dir / f"{utt}.wav"
            sf.write(path, tone(freqs, seconds, seed * 1000 + c * 100 + i), SR, subtype="PCM_16")
            wav_scp[utt], text[utt], utt2spk[utt] = str(path), label, f"spk{i}"
    write_table(d / "wav.scp", wav_scp)
    write_table(d / "text", text)
    write_table(d / "utt2spk", utt2spk)
    return d


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("tones")
    train = make_split(root, "train", 8, seed=1)
    valid = make_split(root, "valid", 3, seed=2, seconds=0.8)  # shorter clips: padded to 1 s
    (root / "data" / "labels.txt").write_text("".join(f"{c}\n" for c in CLASSES))
    noise = root / "noise.wav"
    sf.write(noise, np.random.default_rng(0).normal(0, 0.1, 3 * SR).astype(np.float32), SR)
    return {"root": root, "train": train, "valid": valid, "noise": noise}


def task_conf(corpus, **over) -> dict:
    from s2s.tasks.launch import full_defaults

    conf = full_defaults("classify")
    conf.update(task="classify", train_data=str(corpus["train"]), valid_data=str(corpus["valid"]),
                frontend_conf=dict(FRONTEND), cmvn="utterance", model="matchboxnet",
                model_conf={"num_blocks": 2, "repeat": 1, "channels": 16})
    conf.update(over)
    return conf


# ---------------------------------------------------------------------------- models

@pytest.mark.parametrize("name,conf", [("matchboxnet", {}), ("jasper_commands", {"blocks": [
    {"filters": 16, "kernel": 5, "stride": 2}, {"filters": 16, "kernel": 5, "repeat": 2, "residual": True}]}),
    ("resnet", {"preset": "resnet8"}), ("resnet", {"preset": "resnet8", "block": "bottleneck", "width": 8})])
def test_each_classifier_maps_clips_to_one_logit_vector(name, conf):
    model = build_classifier(name, conf, input_dim=40, num_classes=12, num_frames=101)
    model.eval()
    y = model(torch.randn(3, 101, 40), torch.full((3,), 101))
    assert y.shape == (3, 12) and torch.isfinite(y).all()
    assert name in CLASSIFIERS


def test_published_sizes():
    def count(name, conf, dim, frames):
        return sum(p.numel() for p in build_classifier(name, conf, dim, 12, frames).parameters())

    # MatchboxNet paper: 3x1x64 77k, 3x2x64 93k parameters (NeMo's exact layers differ a little).
    assert 70_000 < count("matchboxnet", {"repeat": 1}, 64, 101) < 80_000
    assert 85_000 < count("matchboxnet", {"repeat": 2}, 64, 101) < 95_000
    # ResNet-50 (He et al.): 23.5M parameters without the ImageNet classifier.
    assert 23_400_000 < count("resnet", {"preset": "resnet50"}, 120, 121) < 23_700_000


def test_flatten_head_rejects_clips_of_another_length():
    model = build_classifier("jasper_commands", {"blocks": [{"filters": 8, "kernel": 3}]}, 16, 4, 50)
    with pytest.raises(S2SError, match="exactly 50 frames"):
        model(torch.randn(1, 60, 16), torch.tensor([60]))


def test_unknown_model_key_is_a_config_error():
    with pytest.raises(S2SError, match="unknown key 'layers'"):
        build_classifier("matchboxnet", {"layers": 3}, 16, 4, 50)


# ---------------------------------------------------------------------------- fixed length

def test_clips_are_padded_or_cut_to_a_fixed_length():
    assert fix_length(np.ones(10, np.float32), 16).tolist() == [1.0] * 10 + [0.0] * 6
    assert fix_length(np.arange(20, dtype=np.float32), 16).tolist() == list(range(16))
    pad = torch.full((3,), -5.0)
    out = fix_frames(torch.zeros(4, 3), 6, pad)
    assert out.shape == (6, 3) and torch.equal(out[4:], pad.expand(2, 3))
    assert fix_frames(torch.zeros(9, 3), 6, pad).shape == (6, 3)


def test_every_item_has_the_clip_length_and_dumped_features_match_audio(corpus, tmp_path):
    import kaldiio

    task = TASKS.get("classify")(task_conf(corpus))
    ds = task.dataset("valid")  # 0.8 s clips
    assert set(ds.lengths) == {101} and all(ds[i]["feats"].shape == (101, 32) for i in range(len(ds)))
    # The same clips through a feats.scp dump: identical features for full-length clips.
    dump = tmp_path / "train"
    dump.mkdir()
    for f in ("wav.scp", "text", "utt2spk"):
        (dump / f).write_text((corpus["train"] / f).read_text())
    audio = task.dataset("train")
    with kaldiio.WriteHelper(f"ark,scp:{dump}/feats.ark,{dump}/feats.scp") as w:
        for u in sorted(audio.ids):
            w(u, task.shape.frontend.extract(fix_length(sf.read(DataDir(dump).wav_scp()[u], dtype="float32")[0],
                                                        SR), SR).numpy())
    dumped = TASKS.get("classify")(task_conf(corpus, train_data=str(dump))).dataset("train")
    assert dumped._src[0][0] == "scp" and audio._src[0][0] == "wav"
    for i in range(len(audio)):
        j = dumped.ids.index(audio.ids[i])
        assert torch.allclose(audio[i]["feats"], dumped[j]["feats"], atol=1e-4)


# ---------------------------------------------------------------------------- bad input

def copy_dir(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    for f in ("wav.scp", "text", "utt2spk"):
        (dst / f).write_text((src / f).read_text())
    return dst


def test_clip_not_16k_mono_is_an_error_naming_it_or_a_counted_skip(corpus, tmp_path, caplog):
    d = copy_dir(corpus["train"], tmp_path / "train")
    bad8k, stereo = tmp_path / "bad8k.wav", tmp_path / "stereo.wav"
    sf.write(bad8k, np.zeros(8000, np.float32), 8000)
    sf.write(stereo, np.zeros((SR, 2), np.float32), SR)
    wav = DataDir(d).wav_scp()
    u1, u2 = sorted(wav)[:2]
    wav[u1], wav[u2] = str(bad8k), str(stereo)
    write_table(d / "wav.scp", wav)
    with pytest.raises(S2SError) as e:
        TASKS.get("classify")(task_conf(corpus, train_data=str(d))).dataset("train")
    assert "2 clip(s) are not 16000 Hz mono" in str(e.value)
    assert f"{bad8k} (8000 Hz, 1 channel(s))" in str(e.value) and f"{stereo} (16000 Hz, 2 channel(s))" in str(e.value)
    with caplog.at_level(logging.WARNING, logger="s2s.classify"):
        ds = TASKS.get("classify")(task_conf(corpus, train_data=str(d), skip_bad_audio=True)).dataset("train")
    assert len(ds) == 22 and u1 not in ds.ids
    assert "2 clip(s) are not 16000 Hz mono" in caplog.text and "skipped" in caplog.text


def test_label_outside_the_labels_file_names_file_and_line(corpus, tmp_path):
    d = copy_dir(corpus["train"], tmp_path / "train")
    text = DataDir(d).text()
    first = sorted(text)[0]
    text[first] = "lwo"
    write_table(d / "text", text)
    with pytest.raises(S2SError, match=rf"{d}/text:1: label 'lwo' of '{first}' is not one of the 3 labels"):
        TASKS.get("classify")(task_conf(corpus, train_data=str(d), labels=str(corpus["root"] / "data/labels.txt"))
                              ).dataset("train")


def test_class_without_training_clips_is_an_error(corpus, tmp_path):
    d = copy_dir(corpus["train"], tmp_path / "train")
    for name in ("wav.scp", "text", "utt2spk"):
        table = DataDir(d).table(name)
        write_table(d / name, {u: v for u, v in table.items() if "-chord-" not in u})
    with pytest.raises(S2SError, match="no examples of class\\(es\\) chord"):
        TASKS.get("classify")(task_conf(corpus, train_data=str(d), labels=str(corpus["root"] / "data/labels.txt"))
                              ).dataset("train")


def test_missing_labels_file_is_an_error(corpus):
    with pytest.raises(S2SError, match="nowhere/labels.txt: labels file not found"):
        TASKS.get("classify")(task_conf(corpus, labels="nowhere/labels.txt"))


# ---------------------------------------------------------------------------- training + evaluation

def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", S2S_NO_PROGRESS="1")
    return subprocess.run([sys.executable, "-m", *cmd], cwd=cwd, env=env, capture_output=True, text=True)


def test_training_with_augmentation_learns_and_evaluation_writes_reports(corpus, tmp_path):
    # cmvn none: per-utterance CMVN maps a stationary tone to all zeros (each dimension is
    # constant over time), leaving nothing to classify unless augmentation adds silence.
    conf = task_conf(corpus, max_epochs=12, batch_frames=808, optim_conf={"lr": 0.01}, seed=2, cache_audio=True,
                     cmvn="none",
                     noise_conf=[{"type": "time_shift", "max_shift_s": 0.05},
                                 {"type": "background_noise", "noise_files": [str(corpus["noise"])],
                                  "snr_min": 10.0, "snr_max": 30.0, "prob": 0.5}],
                     specaug_conf={"freq_masks": 1, "freq_width": 4, "time_masks": 1, "time_width": 10})
    cfg = tmp_path / "train.yaml"
    cfg.write_text(yaml.safe_dump(conf))
    p = run(["s2s.bin.train", "--config", str(cfg), "--exp-dir", "exp/tones"], tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    log = (tmp_path / "exp/tones/train.log").read_text()
    accs = [float(line.split("accuracy ")[1].split()[0]) for line in log.splitlines() if "validation:" in line]
    assert accs[-1] == 100.0, accs

    p = run(["s2s.bin.evaluate_classifier", "--model", "exp/tones/checkpoints/last.pt", "--data",
             str(corpus["valid"]), "--out", "exp/tones/eval_valid", "--results", "RESULTS.md", "--tag", "tones",
             "--set", "valid"], tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("%ACC 100.00 [ 9 / 9, 0 err ]")
    out = tmp_path / "exp/tones/eval_valid"
    assert DataDir(out).table("hyp") == DataDir(corpus["valid"]).text()
    assert (out / "labels.txt").read_text().split() == list(CLASSES)
    posts = [list(map(float, line.split()[1:])) for line in (out / "posteriors.txt").read_text().splitlines()]
    assert len(posts) == 9 and all(abs(sum(p) - 1) < 1e-3 for p in posts)
    report = (out / "classification.txt").read_text()
    assert "chord" in report and "recall" in report and "ref\\hyp" in report
    assert (out / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert "| tones | valid | 100.00 | 100.00 | 0 | 9 |" in (tmp_path / "RESULTS.md").read_text()

    # Without reference labels: predictions only.
    unlabelled = tmp_path / "unlabelled"
    unlabelled.mkdir()
    (unlabelled / "wav.scp").write_text((corpus["valid"] / "wav.scp").read_text())
    p = run(["s2s.bin.evaluate_classifier", "--model", "exp/tones/checkpoints/last.pt", "--data", str(unlabelled),
             "--out", "exp/tones/eval_unlabelled"], tmp_path)
    assert p.returncode == 0, p.stderr
    assert DataDir(tmp_path / "exp/tones/eval_unlabelled").table("hyp") == DataDir(corpus["valid"]).text()
    assert not (tmp_path / "exp/tones/eval_unlabelled/classification.txt").exists()


def test_evaluating_an_asr_checkpoint_is_a_clear_error(corpus, tmp_path):
    from s2s.models.checkpoint import CHECKPOINT_FORMAT, save_checkpoint

    save_checkpoint(tmp_path / "asr.pt", {}, {"format": CHECKPOINT_FORMAT, "task": "asr", "model": {}})
    p = run(["s2s.bin.evaluate_classifier", "--model", str(tmp_path / "asr.pt"), "--data", str(corpus["valid"]),
             "--out", str(tmp_path / "out")], tmp_path)
    assert p.returncode == 1
    assert p.stderr.startswith("evaluate_classifier: error:")
