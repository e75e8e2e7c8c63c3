"""The shared trainer: dry run, learning, exact resume after SIGKILL, DDP equivalence,
mixed precision, skipped non-finite steps, checkpoint averaging, config errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import free_port
from toy_asr import make_toy_corpus, run_train, toy_config

ROOT = Path(__file__).resolve().parents[1]


def model_state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)["model"]


@pytest.fixture()
def toy(tmp_path):
    corpus = make_toy_corpus(tmp_path)
    return tmp_path, corpus


def test_dry_run_prints_parameter_count_and_writes_nothing(toy):
    root, corpus = toy
    cfg = toy_config(root, corpus)
    proc = run_train(root, "--config", str(cfg), "--exp-dir", "exp/dry", "--dry-run")
    assert "parameters" in proc.stdout
    n = int(proc.stdout.split("(")[1].split(")")[0])
    assert n > 1000
    assert not (root / "exp/dry/checkpoints").exists()


def test_training_lowers_validation_loss_and_writes_outputs(toy):
    root, corpus = toy
    cfg = toy_config(root, corpus, max_epochs=8)
    proc = run_train(root, "--config", str(cfg), "--exp-dir", "exp/a")
    log = (root / "exp/a/train.log").read_text()
    losses = [float(line.split("loss ")[1].split()[0]) for line in log.splitlines() if "validation:" in line]
    assert len(losses) == 8
    assert losses[-1] < 0.5 * losses[0], losses
    assert "final validation" in proc.stdout
    exp = root / "exp/a"
    assert (exp / "config.yaml").is_file() and (exp / "train.sh").is_file()
    assert (exp / "checkpoints/epoch8.pt").is_file() and (exp / "checkpoints/last.pt").is_file()
    assert any((exp / "tensorboard").iterdir())


def test_resume_after_sigkill_reaches_the_same_parameters(toy):
    root, corpus = toy
    # dropout makes the RNG state matter; checkpoints every 4 steps
    cfg = toy_config(root, corpus, max_epochs=3, ckpt_every_steps=4,
                     encoder_conf={"blocks": [{"filters": 32, "kernel": 5, "dropout": 0.2, "norm": "none"}]})
    run_train(root, "--config", str(cfg), "--exp-dir", "exp/full")

    # the trainer SIGKILLs itself right after writing step 4's checkpoint: no race with its speed
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", S2S_NO_PROGRESS="1", S2S_TEST_KILL_AT_STEP="4")
    proc = subprocess.run([sys.executable, "-m", "s2s.bin.train", "--config", str(cfg), "--exp-dir", "exp/killed"],
                          cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert proc.returncode == -signal.SIGKILL
    last_before = torch.load(root / "exp/killed/checkpoints/last.pt", weights_only=False)["train_state"]["step"]
    full_steps = torch.load(root / "exp/full/checkpoints/last.pt", weights_only=False)["train_state"]["step"]
    assert last_before == 4 < full_steps

    run_train(root, "--config", str(cfg), "--exp-dir", "exp/killed", "--resume")
    a = model_state(root / "exp/full/checkpoints/last.pt")
    b = model_state(root / "exp/killed/checkpoints/last.pt")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_two_gloo_processes_match_one_process_with_the_same_global_batch(toy):
    root, corpus = toy
    cfg = toy_config(root, corpus, max_epochs=1, max_steps=4, sortagrad=True)
    # one process sees the global batch of two ranks: twice the per-rank budget
    run_train(root, "--config", str(cfg), "--exp-dir", "exp/one", "--batch_frames", "800", "--max_batch_size", "512")
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", S2S_NO_PROGRESS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(free_port()),
         "-m", "s2s.bin.train", "--config", str(cfg), "--exp-dir", "exp/two", "--batch_frames", "400",
         "--max_batch_size", "256"],
        cwd=root, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    a = model_state(root / "exp/one/checkpoints/last.pt")
    b = model_state(root / "exp/two/checkpoints/last.pt")
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5, rtol=1e-4), k


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_on_cpu(toy, precision):
    root, corpus = toy
    cfg = toy_config(root, corpus, max_epochs=4, precision=precision)
    run_train(root, "--config", str(cfg), "--exp-dir", f"exp/{precision}")
    log = (root / f"exp/{precision}/train.log").read_text()
    losses = [float(line.split("loss ")[1].split()[0]) for line in log.splitlines() if "validation:" in line]
    assert losses[-1] < losses[0]
    state = torch.load(root / f"exp/{precision}/checkpoints/last.pt", weights_only=False)
    # master weights stay fp32 whatever the compute precision
    assert all(v.dtype == torch.float32 for v in state["model"].values() if v.is_floating_point())


def test_non_finite_gradients_skip_the_step_and_are_counted(toy):
    import kaldiio
    import numpy as np

    root, corpus = toy
    # poison one training utterance: its gradient is NaN, so every step containing it is skipped
    d = corpus["train"]
    feats = dict(kaldiio.load_scp(str(d / "feats.scp")))
    first = sorted(feats)[0]
    feats = {k: np.array(v) for k, v in feats.items()}
    feats[first][0, 0] = np.nan
    with kaldiio.WriteHelper(f"ark,scp:{d}/feats2.ark,{d}/feats.scp") as w:
        for k in sorted(feats):
            w(k, feats[k])
    cfg = toy_config(root, corpus, max_epochs=1, valid_data=None)
    run_train(root, "--config", str(cfg), "--exp-dir", "exp/nan")
    st = torch.load(root / "exp/nan/checkpoints/last.pt", weights_only=False)
    assert st["train_state"]["skipped_steps"] == 1
    assert all(torch.isfinite(v).all() for v in st["model"].values() if v.is_floating_point())


def test_average_checkpoints_is_the_mean_of_the_last_n(toy):
    root, corpus = toy
    cfg = toy_config(root, corpus, max_epochs=3)
    run_train(root, "--config", str(cfg), "--exp-dir", "exp/avg")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-m", "s2s.bin.average_checkpoints", "--exp-dir", "exp/avg", "--num", "2"],
                   cwd=root, env=env, check=True, capture_output=True)
    e2, e3 = model_state(root / "exp/avg/checkpoints/epoch2.pt"), model_state(root / "exp/avg/checkpoints/epoch3.pt")
    avg = model_state(root / "exp/avg/model.avg.pt")
    for k in avg:
        if avg[k].is_floating_point():
            assert torch.allclose(avg[k], (e2[k] + e3[k]) / 2, atol=1e-6), k


def test_unknown_config_key_fails_before_training_and_names_the_key(toy):
    root, corpus = toy
    cfg = toy_config(root, corpus, batch_framez=100)
    proc = run_train(root, "--config", str(cfg), "--exp-dir", "exp/bad", check=False)
    assert proc.returncode == 1
    assert "batch_framez" in proc.stderr and str(cfg) in proc.stderr
    assert not (root / "exp/bad").exists()


def test_wrong_type_config_value_names_the_key(toy):
    root, corpus = toy
    cfg = toy_config(root, corpus, max_epochs="ten")
    proc = run_train(root, "--config", str(cfg), "--exp-dir", "exp/bad", check=False)
    assert proc.returncode == 1 and "max_epochs" in proc.stderr and "int" in proc.stderr


def test_unknown_encoder_lists_valid_names(toy):
    root, corpus = toy
    cfg = toy_config(root, corpus, encoder="transformerx")
    proc = run_train(root, "--config", str(cfg), "--dry-run", check=False)
    assert proc.returncode == 1 and "transformerx" in proc.stderr and "jasper" in proc.stderr


def test_wrong_encoder_conf_key_is_reported(toy):
    root, corpus = toy
    cfg = toy_config(root, corpus, encoder="ds2", encoder_conf={"rnn_layerz": 2})
    proc = run_train(root, "--config", str(cfg), "--dry-run", check=False)
    assert proc.returncode == 1 and "rnn_layerz" in proc.stderr


def test_command_line_override_changes_the_resolved_config(toy):
    root, corpus = toy
    cfg = toy_config(root, corpus)
    proc = run_train(root, "--config", str(cfg), "--print-config", "--optim_conf.lr", "0.5", "max_epochs=2")
    assert "lr: 0.5" in proc.stdout and "max_epochs: 2" in proc.stdout


def test_resume_of_a_finished_run_with_the_same_config_trains_no_more(toy):
    root, corpus = toy
    cfg = toy_config(root, corpus, max_epochs=2)
    run_train(root, "--config", str(cfg), "--exp-dir", "exp/s")
    before = model_state(root / "exp/s/checkpoints/last.pt")
    proc = run_train(root, "--config", str(cfg), "--exp-dir", "exp/s", "--resume")
    assert "resumed from" in proc.stderr
    after = model_state(root / "exp/s/checkpoints/last.pt")
    assert all(torch.equal(before[k], after[k]) for k in before)
