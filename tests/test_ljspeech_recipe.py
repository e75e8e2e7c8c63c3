"""egs/ljspeech end to end on a tiny corpus in the LJSpeech 1.1 layout served from 127.0.0.1:
download (checksum), data prep, log-mel features, Tacotron 2 training with alignment plots,
synthesis of the test sentences; skipping on re-run; bad archives and metadata."""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

import pytest
import soundfile as sf
from corpora import serve_directory, sha256sum, synthesize

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "egs/ljspeech"

LINES = [("LJ001-0001", "Printing, in the only sense with which we are at present concerned,",
          "Printing, in the only sense with which we are at present concerned,"),
         ("LJ001-0002", "in being comparatively modern.", "in being comparatively modern."),
         ("LJ001-0003", "For although the Chinese took impressions from wood blocks",
          "For although the Chinese took impressions from wood blocks"),
         ("LJ002-0001", "In 1813 the prison", "In eighteen thirteen the prison"),
         ("LJ002-0002", "the debtors' side", "the debtors' side"),
         ("LJ003-0001", "Mr. Neild's report", "Mister Neild's report"),
         ("LJ050-0001", "a quiet night", "a quiet night"),
         ("LJ050-0002", "the end of it", "the end of it")]


def make_ljspeech(root: Path) -> tuple[Path, str]:
    """mirror/LJSpeech-1.1.tar.bz2 with metadata.csv and 22.05 kHz wavs; returns (mirror, sha256)."""
    corpus = root / "build/LJSpeech-1.1"
    for utt, _, norm in LINES:
        synthesize(norm, corpus / "wavs" / f"{utt}.wav", voice=("espeak-ng", "en-us"), sample_rate=22050)
    (corpus / "metadata.csv").write_text("".join(f"{u}|{r}|{n}\n" for u, r, n in LINES), encoding="utf-8")
    (corpus / "README").write_text("tiny LJSpeech-shaped corpus for tests\n")
    mirror = root / "mirror"
    mirror.mkdir()
    with tarfile.open(mirror / "LJSpeech-1.1.tar.bz2", "w:bz2") as tar:
        tar.add(corpus, arcname="LJSpeech-1.1")
    return mirror, sha256sum(mirror / "LJSpeech-1.1.tar.bz2")


def recipe_dir(root: Path) -> Path:
    work = root / "ljspeech"
    (work / "conf").mkdir(parents=True)
    for name in ("run.sh", "cmd.sh", "path.sh", "local", "utils"):
        os.symlink(RECIPE / name, work / name)
    (work / "conf/logmel.yaml").write_text(
        "type: logmel\nsample_rate: 22050\nnum_mel_bins: 24\nwindow_size: 0.04\nwindow_stride: 0.016\n"
        "n_fft: 1024\npreemphasis: 0.0\nlog_guard: 0.00001\n")
    (work / "conf/tiny.yaml").write_text(
        "task: tts\nmodel_conf: {reduction: 3, embed_dim: 32, encoder_channels: 32, encoder_lstm_dim: 32,\n"
        "  attention_rnn_dim: 64, attention_dim: 32, location_filters: 4, location_kernel: 9,\n"
        "  prenet_dims: [32, 32], decoder_rnn_dim: 64, postnet_channels: 32, postnet_layers: 2,\n"
        "  max_decoder_steps: 60}\n"
        "guided_attn_weight: 1.0\noptim: adam\noptim_conf: {lr: 0.002}\nbatch_frames: 600\nmax_epochs: 3\n"
        "log_every_steps: 2\n")
    return work


def run(work: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", S2S_NO_PROGRESS="1")
    proc = subprocess.run(["./run.sh", *args], cwd=work, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"run.sh failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.mark.e2e
def test_recipe_downloads_prepares_trains_and_synthesizes(tmp_path):
    mirror, sha = make_ljspeech(tmp_path)
    work = recipe_dir(tmp_path)
    opts = ["--num-dev", "1", "--num-test", "2", "--nj", "2", "--feats-config", "conf/logmel.yaml",
            "--train-config", "conf/tiny.yaml", "--griffin-lim-iters", "2", "--sha256", sha]
    with serve_directory(mirror) as server:
        run(work, "--base-url", server.url, *opts)
    data = work / "data"
    assert [len((data / s / "text").read_text().splitlines()) for s in ("train", "dev", "test")] == [5, 1, 2]
    # the normalized column is the transcript
    assert "eighteen thirteen" in (data / "train/text").read_text()
    assert (data / "train/feats.scp").is_file() and (data / "train/frontend.yaml").is_file()
    exp = work / "exp/tiny"
    assert (exp / "model.pt").is_file()
    assert list((exp / "plots").glob("alignment_*.png"))
    wavs = (exp / "synth_test/wav.scp").read_text().splitlines()
    assert [w.split()[0].split("-", 1)[1] for w in wavs] == ["LJ050-0001", "LJ050-0002"]
    for line in wavs:
        info = sf.info(line.split()[1])
        assert info.samplerate == 22050 and info.frames > 0
    # everything is up to date: a re-run needs no server (the download's marker says it is
    # extracted) and skips stages 1-4
    again = run(work, "--base-url", "http://127.0.0.1:9", *opts)
    assert "already extracted" in again.stderr
    assert again.stdout.count("skipped") == 4, again.stdout


def test_a_corrupted_archive_is_refused(tmp_path):
    mirror, _ = make_ljspeech(tmp_path)
    work = recipe_dir(tmp_path)
    with serve_directory(mirror) as server:
        proc = run(work, "--base-url", server.url, "--stop-stage", "0", "--sha256", "0" * 64, check=False)
    assert proc.returncode != 0
    assert "sha256" in (proc.stdout + proc.stderr).lower()
    assert not (work / "downloads/LJSpeech-1.1/metadata.csv").exists()


def test_data_prep_names_a_missing_wav(tmp_path):
    corpus = tmp_path / "LJSpeech-1.1"
    (corpus / "wavs").mkdir(parents=True)
    (corpus / "metadata.csv").write_text("LJ001-0001|a|a\n")
    proc = subprocess.run(["python3", str(RECIPE / "local/data_prep.py"), str(corpus), str(tmp_path / "data")],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert "metadata.csv:1" in proc.stderr and "LJ001-0001.wav" in proc.stderr
