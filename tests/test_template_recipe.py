"""Your own data: utils/new_recipe.sh copies egs/TEMPLATE, and its run.sh goes from a folder of
audio files with transcripts beside them to a trained, decoded and scored model.

The folder is what a user brings: six speakers in sub-directories, WAV and FLAC files, a
.txt or .lab transcript beside each, written with capitals, punctuation and digits.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from corpora import VOICES, synthesize

ROOT = Path(__file__).resolve().parents[1]

SENTENCES = ["Turn on the lights!", "What time is it?", "Play 2 songs, please.", "Open the door",
             "Close the window.", "Set an alarm for 7", "Call my mother", "Stop the music!"]

TINY_MODEL = {
    "task": "asr", "encoder": "ds2",
    "encoder_conf": {"conv_channels": [8], "conv_kernels": [[5, 11]], "conv_strides": [[2, 2]],
                     "rnn_layers": 1, "rnn_hidden": 48, "bidirectional": True, "fc_layers": [],
                     "rnn_batch_norm": False, "lookahead": 0},
    "cmvn": "global", "optim": "adam", "optim_conf": {"lr": 0.003}, "max_epochs": 3, "batch_frames": 3000,
    "log_every_steps": 2,
}


def env() -> dict:
    if shutil.which("espeak-ng") is None or shutil.which("flite") is None:
        pytest.skip("espeak-ng and flite are needed (tools/setup.sh installs them)")
    return dict(os.environ, OMP_NUM_THREADS="1", S2S_NO_PROGRESS="1",
                PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")


def make_folder(root: Path) -> Path:
    """Six speakers x five utterances, as a user's recordings might be laid out."""
    for i, voice in enumerate(VOICES[:6]):
        for j in range(5):
            text = SENTENCES[(i + j) % len(SENTENCES)]
            ext = ".flac" if j % 2 else ".wav"
            audio = synthesize(text, root / f"speaker{i}" / f"take {j}{ext}", voice=voice)
            audio.with_suffix(".lab" if j == 4 else ".txt").write_text(text + "\n")
    (root / "speaker0" / "no transcript.wav").write_bytes((root / "speaker0" / "take 0.wav").read_bytes())
    return root


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    e = env()
    tmp = tmp_path_factory.mktemp("template")
    folder = make_folder(tmp / "my recordings")
    work = tmp / "mycorpus"
    made = subprocess.run([str(ROOT / "utils/new_recipe.sh"), str(work)], env=e, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    with open(work / "conf" / "tiny.yaml", "w") as f:
        yaml.safe_dump(TINY_MODEL, f)
    proc = subprocess.run(["./run.sh", "--audio-dir", str(folder), "--train-config", "conf/tiny.yaml", "--nj", "2",
                           "--alphas", "0,1", "--betas", "0,1", "--beam", "8"],
                          cwd=work, env=e, capture_output=True, text=True)
    return work, folder, e, proc


def test_new_recipe_copies_the_template(recipe):
    work, _, _, _ = recipe
    for name in ("run.sh", "cmd.sh", "conf/train.yaml", "conf/fbank.yaml", "README.md"):
        assert (work / name).is_file(), name
    assert os.access(work / "run.sh", os.X_OK)
    assert (work / "utils" / "decode.sh").is_file()  # the shared steps, through the link
    again = subprocess.run([str(ROOT / "utils/new_recipe.sh"), str(work)], capture_output=True, text=True)
    assert again.returncode == 1 and "already exists" in again.stderr


def test_a_folder_of_recordings_becomes_a_scored_model(recipe):
    work, folder, e, proc = recipe
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for n in range(6):
        assert re.search(rf"stage {n} \(\w+\): done", proc.stdout), f"stage {n} did not finish"
    assert "1 audio file(s) without a transcript left out" in proc.stderr
    # Held-out speakers: no speaker in two sets; text normalised (lower case, numbers spelled out).
    spk = {s: {line.split()[1] for line in (work / f"data/{s}/utt2spk").read_text().splitlines()}
           for s in ("train", "dev", "test")}
    assert spk["train"] and spk["dev"] and spk["test"]
    assert not (spk["train"] & spk["dev"]) and not (spk["train"] & spk["test"]) and not (spk["dev"] & spk["test"])
    texts = " ".join(line.split(" ", 1)[1] for s in spk for line in (work / f"data/{s}/text").read_text().splitlines())
    assert "play two songs please" in texts and not re.search(r"[A-Z0-9!?,.]", texts)
    results = (work / "RESULTS.md").read_text()
    for s in ("dev", "test"):
        for mode in ("greedy", "beam"):
            assert re.search(rf"\| tiny {mode} \| {s} \| \d+\.\d\d \|", results), results
    assert yaml.safe_load((work / "exp/tiny/decode.yaml").read_text())["decoder"] == "beam"
    # The trained model transcribes a file of the folder with the tuned n-gram by default.
    files = [str(folder / "speaker1" / "take 0.wav"), str(folder / "speaker2" / "take 1.flac")]
    t = subprocess.run([sys.executable, "-m", "s2s.bin.transcribe", str(work / "exp/tiny/model.pt"), *files],
                       cwd=work, env=e, capture_output=True, text=True)
    assert t.returncode == 0, t.stderr
    assert [line.split("\t")[0] for line in t.stdout.splitlines()] == files


def test_own_set_names_and_a_missing_set_is_refused_before_anything_runs(recipe):
    work, _, e, _ = recipe
    shutil.copytree(work / "data/dev", work / "data/valid")
    (work / "data/valid/feats.scp").unlink()
    ok = subprocess.run(["./run.sh", "--stage", "1", "--stop-stage", "1", "--dev-set", "valid", "--test-sets", "test",
                         "--nj", "1"], cwd=work, env=e, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert (work / "data/valid/feats.scp").is_file()
    bad = subprocess.run(["./run.sh", "--stage", "1", "--dev-set", "nosuch", "--tag", "never"], cwd=work, env=e,
                         capture_output=True, text=True)
    assert bad.returncode == 1
    assert "data/nosuch/wav.scp not found" in bad.stderr and "--dev-set" in bad.stderr
    assert "start" not in bad.stdout and not (work / "exp/never").exists()
