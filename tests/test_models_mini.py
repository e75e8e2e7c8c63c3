"""Every model family learns egs/mini speech: a few hundred steps each through the real trainer.

The data are egs/mini's own (run.sh stages 0-3 on a small synthesized corpus: real espeak-ng
and flite speech, fbank features, global CMVN, characters). Each family (DeepSpeech2,
Wav2Letter+, Jasper DR, QuartzNet), at a size that trains in well under a minute on one core,
runs 400 optimizer steps of `python -m s2s.bin.train` (QuartzNet 500, Wav2Letter+ 900). The loss must fall well below where it
stands once the output has collapsed to blanks (the CTC plateau), and greedy decoding of the
training speech must get most characters right (CER < 50 %), so a model stuck on the plateau
fails. Measured on the development machine: training CER 9 % (DS2), 25 % (Jasper DR),
26 % (QuartzNet, then at 400 steps), 40 % (Wav2Letter+); the same QuartzNet with the published kernel sizes
(33-51), which stays near the plateau longer, was at 74 % after 500 steps.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mini_workdir import mini_workdir

ROOT = Path(__file__).resolve().parents[1]
STEPS = 400
# Wav2Letter+ has no residual connections and leaves the plateau later: on the corpus with
# recorded-like silences, 600 steps left its loss at 0.55x the plateau value (seed 1), 900 below 0.4x.
# QuartzNet leaves it just in time: after the eager fbank's mel product changed (the same features
# to float32 rounding), 400 steps ended at 0.42x (39.2 against 94.2, still falling); 500 give margin.
STEPS_OF = {"wav2letter": 900, "quartznet": 500}

COMMON = {
    "task": "asr", "cmvn": "global", "optim": "adam", "optim_conf": {"lr": 0.003},
    "scheduler": "cosine", "scheduler_conf": {"warmup_steps": 30, "min_lr": 0.0003},
    "max_steps": STEPS, "max_epochs": 1000, "batch_frames": 1600, "grad_clip": 5.0,
    "log_every_steps": 20, "seed": 1,
}

# One small member of each family; every one halves (DS2: thirds) the frame rate like the
# egs/mini and LibriSpeech configs.
MODELS = {
    "ds2": {"encoder": "ds2", "encoder_conf": {
        "conv_channels": [16], "conv_kernels": [[11, 21]], "conv_strides": [[3, 2]],
        "rnn_type": "gru", "rnn_layers": 2, "rnn_hidden": 96, "merge": "sum", "rnn_batch_norm": False,
        "fc_layers": [], "lookahead": 0}},
    "wav2letter": {"encoder": "wav2letter", "encoder_conf": {"blocks": [
        {"filters": 96, "kernel": 11, "stride": 2, "activation": "clipped_relu"},
        {"filters": 96, "kernel": 11, "repeat": 3, "activation": "clipped_relu"},
        {"filters": 128, "kernel": 21, "dilation": 2, "activation": "clipped_relu"},
        {"filters": 128, "kernel": 1, "activation": "clipped_relu"}]}},
    "jasper_dr": {"encoder": "jasper", "encoder_conf": {"blocks": [
        {"filters": 96, "kernel": 11, "stride": 2},
        {"filters": 96, "kernel": 11, "repeat": 2, "dense_residual": True},
        {"filters": 96, "kernel": 15, "repeat": 2, "dense_residual": True},
        {"filters": 128, "kernel": 21, "dilation": 2},
        {"filters": 128, "kernel": 1}]}},
    # QuartzNet's published kernels (33-87) keep a small model on the CTC plateau much longer
    # on these 1-3 s utterances (egs/mini/RESULTS.md); kernels 11-21 learn.
    "quartznet": {"encoder": "quartznet", "encoder_conf": {"blocks": [
        {"filters": 96, "kernel": 11, "stride": 2, "separable": True},
        {"filters": 96, "kernel": 11, "repeat": 3, "residual": True, "separable": True},
        {"filters": 128, "kernel": 15, "repeat": 3, "residual": True, "separable": True},
        {"filters": 128, "kernel": 21, "dilation": 2, "separable": True},
        {"filters": 192, "kernel": 1}]}},
}


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    """egs/mini stages 0-3 (corpus, data dirs, features + CMVN, tokens) in a temporary copy."""
    work, env = mini_workdir(tmp_path_factory, "mini_models")
    proc = subprocess.run(["bash", "run.sh", "--stop-stage", "3", "--num-train", "240", "--num-dev", "8",
                           "--num-test", "8", "--nj", "2"], cwd=work, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return work, env


def logged_losses(log: str) -> list[tuple[int, float]]:
    return [(int(s), float(v)) for s, v in re.findall(r"step (\d+): loss ([\d.]+)", log)]


def char_error_rate(ref: dict[str, str], hyp: dict[str, str]) -> float:
    import jiwer
    keys = sorted(ref)
    return jiwer.cer([ref[k] for k in keys], [hyp.get(k, "") for k in keys])


def read_text(path: Path) -> dict[str, str]:
    rows = {}
    for line in path.read_text().splitlines():
        utt, _, text = line.partition(" ")
        rows[utt] = text.strip()
    return rows


_TRAINED: dict = {}


def train(work: Path, env: dict, family: str):
    """Train ``family`` once per test session: ``(exp dir, logged losses, steps)``."""
    if family in _TRAINED:
        return _TRAINED[family]
    conf = work / "conf" / f"{family}.yaml"
    steps = STEPS_OF.get(family, STEPS)
    conf.write_text(yaml.safe_dump({**COMMON, **MODELS[family], "max_steps": steps}))
    exp = work / "exp" / family
    proc = subprocess.run([sys.executable, "-m", "s2s.bin.train", "--config", str(conf), "--exp-dir", str(exp),
                           "--train_data", "data/train", "--valid_data", "data/dev", "--token_list", "data/lang"],
                          cwd=work, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    subprocess.run([sys.executable, "-m", "s2s.bin.average_checkpoints", "--exp-dir", str(exp), "--num", "1",
                    "--out", str(exp / "model.pt")], cwd=work, env=env, check=True, capture_output=True)
    _TRAINED[family] = exp, logged_losses((exp / "train.log").read_text()), steps
    return _TRAINED[family]


@pytest.mark.e2e
@pytest.mark.parametrize("family", sorted(MODELS))
def test_each_model_family_learns_mini_speech(mini, family):
    work, env = mini
    exp, losses, steps = train(work, env, family)
    assert losses[-1][0] == steps, losses
    # By step 40 the output has collapsed to (mostly) blanks: the plateau a stuck model stays on.
    plateau = dict(losses)[40]
    final = sum(v for _, v in losses[-3:]) / 3
    assert final < 0.4 * plateau, (family, losses)

    # Greedy decoding of the training speech gets most characters right.
    proc = subprocess.run([sys.executable, "-m", "s2s.bin.decode", "--model", str(exp / "model.pt"),
                           "--data", "data/train", "--out", str(exp / "decode_train")],
                          cwd=work, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cer = char_error_rate(read_text(work / "data/train/text"), read_text(exp / "decode_train/text"))
    assert cer < 0.5, (family, cer, losses)


@pytest.mark.e2e
def test_a_long_recording_transcribes_like_its_utterances_and_times_them(mini, tmp_path):
    """Utterances stitched into one recording with pauses (egs/mini/local/long_audio.py): cut so that
    every utterance lies whole in one segment, each found where it was put (its first and last
    words, where recognised, start and end within 0.1 s of its speech), and about the words of
    transcribing them one by one. The 400-step test model knows only the training voices (these
    are training utterances) and is sensitive to the silence around an utterance, so its long-file
    WER may be some points worse; RESULTS.md has the run on the test set with the recipe's model,
    where the issue's 1-point bound is checked."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("long_audio", ROOT / "egs/mini/local/long_audio.py")
    long_audio = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(long_audio)
    work, env = mini
    exp, _, _ = train(work, env, "ds2")
    r = long_audio.evaluate(exp / "model.pt", work / "data/train", tmp_path, max_utts=60, env=env)
    assert r["seconds"] > 120 and r["segments"] >= 50, r  # minutes of audio, cut at its pauses
    assert r["utterances_split"] == 0 and not r["missing"], r
    assert r["wer_one_by_one"] < 30 and r["wer_long"] < r["wer_one_by_one"] + 20, r
    assert r["starts_judged"] >= 30 and r["ends_judged"] >= 30, r
    assert r["max_abs_start_error"] <= 0.1 and r["max_abs_end_error"] <= 0.1, r
