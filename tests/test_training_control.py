"""Control of long runs: epoch checkpoints kept within a limit, a finished run trained longer,
settings changed mid-run, fine-tuning from another model (init_from, frozen modules, a new
vocabulary), and --ngpu auto resolved where training runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from toy_asr import make_toy_corpus, run_train, toy_config

ROOT = Path(__file__).resolve().parents[1]


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("control")
    return root, make_toy_corpus(root, n_train=24, n_valid=4)


def test_only_the_newest_epoch_checkpoints_are_kept(toy):
    root, corpus = toy
    cfg = toy_config(root, corpus, max_epochs=4, keep_epoch_checkpoints=2)
    run_train(root, "--config", str(cfg), "--exp-dir", "exp/keep")
    names = sorted(p.name for p in (root / "exp/keep/checkpoints").glob("*.pt"))
    assert names == ["epoch3.pt", "epoch4.pt", "last.pt"]


def test_averaging_more_checkpoints_than_were_kept_names_the_key(toy):
    root, _ = toy
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "s2s.bin.average_checkpoints", "--exp-dir", "exp/keep", "--num", "3",
                           "--out", "exp/keep/model.pt"], cwd=root, env=env, capture_output=True, text=True)
    assert proc.returncode == 1
    assert "kept only 2" in proc.stderr and "keep_epoch_checkpoints" in proc.stderr
    assert not (root / "exp/keep/model.pt").exists()


def test_raising_max_epochs_continues_the_run_exactly(toy):
    """2 epochs, then --max_epochs 3 with --resume: the same parameters as 3 epochs in one go
    (constant learning rate), and the log says what changed."""
    root, corpus = toy
    cfg = toy_config(root, corpus, max_epochs=2)
    run_train(root, "--config", str(cfg), "--exp-dir", "exp/short")
    proc = run_train(root, "--config", str(cfg), "--exp-dir", "exp/short", "--resume", "--max_epochs", "3")
    assert "continuing with a changed config: max_epochs: 2 -> 3" in proc.stderr
    assert not list((root / "exp").glob("short/checkpoints.prev-*"))
    cfg3 = toy_config(root, corpus, max_epochs=3)
    run_train(root, "--config", str(cfg3), "--exp-dir", "exp/long")
    a = load(root / "exp/short/checkpoints/last.pt")
    b = load(root / "exp/long/checkpoints/last.pt")
    assert a["train_state"]["epoch"] == b["train_state"]["epoch"] == 3
    for k in b["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k


def test_a_changed_learning_rate_continues_and_takes_effect(toy):
    root, corpus = toy
    cfg = toy_config(root, corpus, max_epochs=1)
    run_train(root, "--config", str(cfg), "--exp-dir", "exp/lr")
    proc = run_train(root, "--config", str(cfg), "--exp-dir", "exp/lr", "--resume", "--max_epochs", "2",
                     "--optim_conf.lr", "0.0005")
    assert "optim_conf.lr: 0.003 -> 0.0005" in proc.stderr
    st = load(root / "exp/lr/checkpoints/last.pt")["train_state"]
    assert st["epoch"] == 2
    assert st["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.0005)
    assert not list((root / "exp").glob("lr/checkpoints.prev-*"))


def test_another_model_shape_starts_afresh_and_keeps_the_old_checkpoints(toy):
    root, corpus = toy
    cfg = toy_config(root, corpus, max_epochs=1)
    run_train(root, "--config", str(cfg), "--exp-dir", "exp/shape")
    proc = run_train(root, "--config", str(cfg), "--exp-dir", "exp/shape", "--resume",
                     "--encoder_conf", "{blocks: [{filters: 16, kernel: 5, norm: none}]}")
    assert "the model's shape differs" in proc.stderr and "starting afresh" in proc.stderr
    assert list((root / "exp").glob("shape/checkpoints.prev-*/epoch1.pt"))


def test_fine_tuning_copies_weights_and_freezes_modules(toy):
    root, corpus = toy
    cfg = toy_config(root, corpus, max_epochs=2)
    run_train(root, "--config", str(cfg), "--exp-dir", "exp/base")
    base = load(root / "exp/base/checkpoints/last.pt")["model"]
    ft = toy_config(root, corpus, max_epochs=1, init_from=str(root / "exp/base/checkpoints/last.pt"),
                    init_conf={"freeze": ["encoder."]})
    proc = run_train(root, "--config", str(ft), "--exp-dir", "exp/ft")
    assert f"init_from {root / 'exp/base/checkpoints/last.pt'}: " in proc.stderr
    assert "parameters frozen (encoder.)" in proc.stderr
    tuned = load(root / "exp/ft/checkpoints/last.pt")["model"]
    enc = [k for k in tuned if k.startswith("encoder.") and tuned[k].is_floating_point()]
    assert enc and all(torch.equal(tuned[k], base[k]) for k in enc)
    assert not torch.equal(tuned["head.weight"], base["head.weight"])  # trained on from the base's head
    # the fine-tuned run is its own: resuming it does not initialise again
    again = run_train(root, "--config", str(ft), "--exp-dir", "exp/ft", "--resume")
    assert "resumed from" in again.stderr and "tensors copied" not in again.stderr


def test_a_new_vocabulary_reinitialises_the_output_layer(toy):
    """Same number of tokens but other symbols: the head is not copied, everything else is."""
    from s2s.data.tokens import Vocabulary, build_vocabulary
    from s2s.models.registry import build_model
    from s2s.train.init import init_from_checkpoint

    root, _ = toy
    ck = load(root / "exp/base/checkpoints/last.pt")
    meta = ck["meta"]
    old = Vocabulary.from_dict(meta["vocab"])
    new = build_vocabulary(["zb cd"], "char")  # a, b, c, d -> z, b, c, d: same size, other symbols
    assert len(new) == len(old)
    model = build_model(meta["model"]["name"], meta["model"]["args"])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    report = init_from_checkpoint(model, root / "exp/base/checkpoints/last.pt", {}, ["head."],
                                  {"vocab": new.to_dict()})
    state = model.state_dict()
    assert sorted(report["vocab"]) == ["head.bias", "head.weight"]
    assert torch.equal(state["head.weight"], before["head.weight"])
    assert all(torch.equal(state[k], ck["model"][k]) for k in report["copied"])
    assert len(report["copied"]) == len(state) - 2
    # the same vocabulary: the head is copied too
    model = build_model(meta["model"]["name"], meta["model"]["args"])
    report = init_from_checkpoint(model, root / "exp/base/checkpoints/last.pt", {}, ["head."],
                                  {"vocab": meta["vocab"]})
    assert not report["vocab"] and "head.weight" in report["copied"]


def test_init_conf_errors_name_the_key(toy):
    root, corpus = toy
    bad = toy_config(root, corpus, init_from=str(root / "exp/base/checkpoints/last.pt"),
                     init_conf={"freeze": ["decoder."]})
    proc = run_train(root, "--config", str(bad), "--exp-dir", "exp/bad", check=False)
    assert proc.returncode == 1 and f"{bad}:" in proc.stderr and "init_conf: key 'freeze'" in proc.stderr
    assert "'decoder.'" in proc.stderr
    bad = toy_config(root, corpus, init_from=str(root / "nope.pt"))
    proc = run_train(root, "--config", str(bad), "--exp-dir", "exp/bad2", check=False)
    assert proc.returncode == 1 and f"{bad}:" in proc.stderr and "init_from: " in proc.stderr
    assert "nope.pt: checkpoint not found" in proc.stderr
    bad = toy_config(root, corpus, keep_epoch_checkpoints=-1)
    proc = run_train(root, "--config", str(bad), "--exp-dir", "exp/bad3", check=False)
    assert proc.returncode == 1 and f"{bad}:" in proc.stderr and "keep_epoch_checkpoints: must be >= 0" in proc.stderr


def _fake_bin(tmp: Path, name: str, body: str) -> Path:
    d = tmp / "bin"
    d.mkdir(exist_ok=True)
    (d / name).write_text(f"#!/bin/sh\n{body}\n")
    (d / name).chmod(0o755)
    return d


def test_ngpu_auto_is_counted_on_the_training_node_and_falls_back_to_cpu_fp32(toy, tmp_path):
    root, corpus = toy
    cfg = toy_config(root, corpus, max_epochs=1, precision="bf16")
    fake = _fake_bin(tmp_path, "nvidia-smi", "exit 9")  # a node without a GPU driver
    env = dict(os.environ, PATH=f"{fake}:{ROOT / '.venv/bin'}:{os.environ['PATH']}", PYTHONPATH=str(ROOT),
               OMP_NUM_THREADS="1", S2S_NO_PROGRESS="1")
    exp = tmp_path / "exp/auto"
    proc = subprocess.run(["bash", "utils/train.sh", "--ngpu", "auto", str(exp), "--", "--config", str(cfg)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = (exp / "log/train.log").read_text()
    assert "--ngpu auto found no GPU" in log and "training on the CPU in fp32" in log
    assert "precision: fp32" in (exp / "config.yaml").read_text()
    assert (exp / "model.pt").is_file()


def test_ngpu_auto_on_a_cluster_runner_asks_for_a_number(tmp_path):
    proc = subprocess.run(["bash", "utils/train.sh", "--cmd", "utils/slurm.pl", "--ngpu", "auto", str(tmp_path / "x"),
                           "--", "--config", "x.yaml"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 1
    assert "--ngpu auto cannot be resolved before a cluster job starts" in proc.stderr and "--ngpu 8" in proc.stderr
    assert not (tmp_path / "x").exists()


def test_a_gpu_precision_on_the_cpu_is_warned_about(toy):
    root, corpus = toy
    cfg = toy_config(root, corpus, max_epochs=1, precision="bf16")
    proc = run_train(root, "--config", str(cfg), "--exp-dir", "exp/bf16", "--device", "cpu")
    assert "precision bf16 on the CPU of" in proc.stderr and "no GPU is visible" in proc.stderr


def test_a_restarted_fine_tuning_run_is_initialised_again(toy):
    """Changing what is frozen makes --resume start afresh; the fresh start still begins from init_from."""
    root, corpus = toy
    base = root / "exp/base/checkpoints/last.pt"
    if not base.exists():
        run_train(root, "--config", str(toy_config(root, corpus, max_epochs=2)), "--exp-dir", "exp/base")
    ft = toy_config(root, corpus, max_epochs=1, init_from=str(base), init_conf={"freeze": ["encoder."]})
    run_train(root, "--config", str(ft), "--exp-dir", "exp/ft2")
    proc = run_train(root, "--config", str(ft), "--exp-dir", "exp/ft2", "--resume", "--init_conf", "{}")
    assert "starting afresh" in proc.stderr and "tensors copied" in proc.stderr


def test_a_continued_run_with_another_batch_size_recounts_its_schedule(toy):
    root, corpus = toy
    cfg = toy_config(root, corpus, max_epochs=1, scheduler="cosine", scheduler_conf={"warmup_steps": 1})
    run_train(root, "--config", str(cfg), "--exp-dir", "exp/sched")
    proc = run_train(root, "--config", str(cfg), "--exp-dir", "exp/sched", "--resume", "--max_epochs", "3",
                     "--batch_frames", "800")
    assert "optimizer steps per epoch now" in proc.stderr
    st = load(root / "exp/sched/checkpoints/last.pt")["train_state"]
    assert st["epoch"] == 3
    # the rest of the cosine decays over the two new epochs: the lr in epoch 2 is still well above
    # its minimum (counted at the old rate, the schedule would already be over), and it ends low
    import re

    log = (root / "exp/sched/train.log").read_text()
    epoch2 = [float(x) for x in re.findall(r"epoch 2 step \d+: loss [\d.]+ lr ([\d.e+-]+)", log)]
    assert epoch2 and max(epoch2) > 5e-4, epoch2
    assert st["optimizer"]["param_groups"][0]["lr"] < 1e-4
