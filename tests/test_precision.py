"""Mixed precision and gradient accumulation, tested for what they claim: the encoder really
computes in the low precision while CTC stays fp32; an fp16 overflow skips the step and is
counted; the loss scale survives a resume; accum_grad N is one batch N times larger, also
under DDP."""

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
ENV = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", S2S_NO_PROGRESS="1")


def state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("prec")
    return root, make_toy_corpus(root, n_train=32, n_valid=4)


def test_low_precision_runs_the_encoder_while_ctc_stays_fp32(toy):
    """Inside the trainer's autocast, convolutions and linear layers produce bf16 outputs;
    the model's log-probabilities and the CTC loss are fp32."""
    from s2s.tasks.base import TASKS
    from s2s.tasks.launch import resolve_config
    from s2s.train.distributed import DistInfo
    from s2s.train.trainer import Trainer

    root, corpus = toy
    conf = resolve_config(toy_config(root, corpus, precision="bf16"), [])
    task = TASKS.get("asr")(conf)
    trainer = Trainer(conf, root / "exp/inspect", task, DistInfo())
    trainer.setup()
    seen: dict[str, set] = {"conv": set(), "linear": set()}
    hooks = []
    for m in trainer.model.modules():
        kind = "conv" if isinstance(m, torch.nn.Conv1d) else "linear" if isinstance(m, torch.nn.Linear) else None
        if kind:
            hooks.append(m.register_forward_hook(lambda mod, i, out, k=kind: seen[k].add(out.dtype)))
    batch = task.collate([trainer.train_set[i] for i in range(4)])
    with trainer._autocast():
        loss, logp, _ = task._ctc(trainer.model, batch)
    for h in hooks:
        h.remove()
    assert seen["conv"] == {torch.bfloat16} and seen["linear"] == {torch.bfloat16}
    assert logp.dtype == torch.float32 and loss.dtype == torch.float32
    # and without autocast everything is fp32
    seen = {"conv": set(), "linear": set()}
    for m in trainer.model.modules():
        if isinstance(m, torch.nn.Conv1d):
            m.register_forward_hook(lambda mod, i, out: seen["conv"].add(out.dtype))
    task._ctc(trainer.model, batch)
    assert seen["conv"] == {torch.float32}


def test_an_fp16_overflow_skips_the_step_and_counts_it(toy, tmp_path):
    """A feature of 1e6 overflows fp16 (max 65504) inside the encoder: the loss scaler finds
    inf gradients, skips that update and lowers the scale; the weights stay finite. (The first
    steps of any fp16 run may overflow too while the scale backs off from 2**16: the poisoned
    run skips more steps than the same run without the poison.)"""
    import kaldiio
    import numpy as np

    root, corpus = toy
    d = tmp_path / "train"
    d.mkdir()
    feats = {k: np.array(v) for k, v in kaldiio.load_scp(str(corpus["train"] / "feats.scp")).items()}
    longest = max(feats, key=lambda k: len(feats[k]))  # the last batch of the length-sorted first epoch
    feats[longest][3, :] = 1e6
    with kaldiio.WriteHelper(f"ark,scp:{d}/feats.ark,{d}/feats.scp") as w:
        for k in sorted(feats):
            w(k, feats[k])
    for name in ("text", "utt2spk", "utt2num_frames"):
        (d / name).write_text((corpus["train"] / name).read_text())
    cfg = toy_config(root, corpus, max_epochs=4, precision="fp16", valid_data=None, train_data=str(d))
    proc = run_train(root, "--config", str(cfg), "--exp-dir", "exp/overflow", "--device", "cpu")
    clean = toy_config(root, corpus, max_epochs=4, precision="fp16", valid_data=None)
    run_train(root, "--config", str(clean), "--exp-dir", "exp/no_overflow", "--device", "cpu")
    st = state(root / "exp/overflow/checkpoints/last.pt")
    ts = st["train_state"]
    base = state(root / "exp/no_overflow/checkpoints/last.pt")["train_state"]
    assert ts["skipped_steps"] > base["skipped_steps"], (ts["skipped_steps"], base["skipped_steps"])
    assert ts["scaler"]["scale"] < 65536.0  # halved at each overflow (GradScaler starts at 2**16)
    assert "gradients overflowed in fp16, step skipped" in proc.stderr
    assert all(torch.isfinite(v).all() for v in st["model"].values() if v.is_floating_point())


def test_the_loss_scale_survives_a_resume_and_the_run_stays_exact(toy):
    root, corpus = toy
    cfg = toy_config(root, corpus, max_epochs=2, precision="fp16", ckpt_every_steps=3)
    run_train(root, "--config", str(cfg), "--exp-dir", "exp/fp16_full", "--device", "cpu")
    killed = subprocess.run([sys.executable, "-m", "s2s.bin.train", "--config", str(cfg), "--exp-dir",
                             "exp/fp16_killed", "--device", "cpu"], cwd=root,
                            env=dict(ENV, S2S_TEST_KILL_AT_STEP="3"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    assert killed.returncode == -signal.SIGKILL
    at_kill = state(root / "exp/fp16_killed/checkpoints/last.pt")["train_state"]["scaler"]
    assert at_kill["scale"] > 0 and "_growth_tracker" in at_kill
    run_train(root, "--config", str(cfg), "--exp-dir", "exp/fp16_killed", "--device", "cpu", "--resume")
    a = state(root / "exp/fp16_full/checkpoints/last.pt")
    b = state(root / "exp/fp16_killed/checkpoints/last.pt")
    assert a["train_state"]["scaler"] == b["train_state"]["scaler"]
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k


def test_accum_grad_is_one_batch_that_many_times_larger(toy):
    """4 utterances x accum_grad 2 == 8 utterances at once (the first, length-sorted epoch)."""
    root, corpus = toy
    cfg = toy_config(root, corpus, max_epochs=1, max_steps=2, sortagrad=True, batch_frames=100000, valid_data=None)
    run_train(root, "--config", str(cfg), "--exp-dir", "exp/big", "--max_batch_size", "8")
    run_train(root, "--config", str(cfg), "--exp-dir", "exp/accum", "--max_batch_size", "4", "--accum_grad", "2")
    a, b = state(root / "exp/big/checkpoints/last.pt"), state(root / "exp/accum/checkpoints/last.pt")
    assert a["train_state"]["step"] == b["train_state"]["step"] == 2
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], atol=1e-6, rtol=1e-5)


def test_accum_grad_with_two_ddp_ranks_matches_one_process(toy):
    """2 Gloo ranks x 2 utterances x accum_grad 2 == 1 process x 8 utterances (no_sync on the
    first micro-batch, one all-reduce per step)."""
    root, corpus = toy
    cfg = toy_config(root, corpus, max_epochs=1, max_steps=2, sortagrad=True, batch_frames=100000, valid_data=None)
    run_train(root, "--config", str(cfg), "--exp-dir", "exp/one8", "--max_batch_size", "8")
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(free_port()),
         "-m", "s2s.bin.train", "--config", str(cfg), "--exp-dir", "exp/ddp_accum", "--max_batch_size", "2",
         "--accum_grad", "2"], cwd=root, env=ENV, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = state(root / "exp/one8/checkpoints/last.pt"), state(root / "exp/ddp_accum/checkpoints/last.pt")
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], atol=1e-5, rtol=1e-4)
