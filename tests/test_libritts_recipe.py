"""egs/libritts end to end on a tiny corpus in the LibriTTS layout served from 127.0.0.1: download
(SHA-256), data prep (normalized transcripts, Kaldi ids, readers as speakers), 16 kHz log-mel
features from the 24 kHz audio, a multi-speaker Tacotron 2 with style tokens, a vocoder, synthesis
of test sentences in training voices; skipping on re-run; bad archives and transcript tables."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import soundfile as sf
import yaml
from corpora import make_libritts, serve_directory

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "egs/libritts"
TINY_TTS = {"task": "tts", "model_conf": {
    "reduction": 3, "embed_dim": 32, "encoder_channels": 32, "encoder_lstm_dim": 32, "speaker_dim": 8,
    "attention_rnn_dim": 64, "attention_dim": 32, "location_filters": 4, "location_kernel": 9, "prenet_dims": [32, 32],
    "decoder_rnn_dim": 64, "postnet_channels": 32, "postnet_layers": 2, "max_decoder_steps": 40, "gst_tokens": 4,
    "gst_token_dim": 16, "gst_heads": 2, "gst_ref_filters": [8, 8], "gst_ref_dim": 8, "normalize_mels": True},
    "trim_silence_db": 40, "guided_attn_weight": 1.0, "optim": "adam", "optim_conf": {"lr": 0.002},
    "batch_frames": 800, "max_epochs": 2, "log_every_steps": 2}
TINY_FASTPITCH = {"task": "tts", "model": "fastspeech", "model_conf": {
    "embed_dim": 32, "encoder_blocks": 2, "dim": 32, "decoder_blocks": 2, "duration_hidden": 32, "postnet_channels": 32,
    "postnet_layers": 2, "speaker_dim": 8, "normalize_mels": True, "pitch": True, "aligner": True, "aligner_dim": 16},
    "trim_silence_db": 40, "mel_loss": "l1", "optim": "adam", "batch_frames": 800, "max_epochs": 2,
    "log_every_steps": 2}
TINY_VOCODER = {"task": "vocoder", "vocoder": "istft_vocoder", "model_conf": {"n_fft": 800, "dim": 16, "blocks": 1},
                "segment_frames": 16, "batch_frames": 64, "max_epochs": 1, "optim": "adam", "log_every_steps": 2}


def recipe_dir(root: Path) -> Path:
    work = root / "libritts"
    (work / "conf").mkdir(parents=True)
    for name in ("run.sh", "cmd.sh", "path.sh", "local", "utils"):
        os.symlink(RECIPE / name, work / name)
    os.symlink(RECIPE / "conf/logmel.yaml", work / "conf/logmel.yaml")
    (work / "conf/tiny.yaml").write_text(yaml.safe_dump(TINY_TTS))
    (work / "conf/tiny_vocoder.yaml").write_text(yaml.safe_dump(TINY_VOCODER))
    (work / "conf/tiny_fastpitch.yaml").write_text(yaml.safe_dump(TINY_FASTPITCH))
    return work


def run(work: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", S2S_NO_PROGRESS="1")
    proc = subprocess.run(["./run.sh", *args], cwd=work, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"run.sh failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.mark.e2e
def test_recipe_downloads_prepares_trains_and_synthesizes(tmp_path):
    corpus = make_libritts(tmp_path)
    work = recipe_dir(tmp_path)
    opts = ["--nj", "2", "--num-dev", "2", "--num-test", "2", "--num-voices", "2", "--ngpu", "0",
            "--parts", "dev-clean test-clean train-clean-100",
            "--sha256-file", str(corpus["sha256_file"]), "--train-config", "conf/tiny.yaml",
            "--vocoder-config", "conf/tiny_vocoder.yaml"]
    with serve_directory(corpus["mirror"]) as server:
        run(work, "--base-url", server.url, *opts)
    data = work / "data"
    train = dict(line.split(" ", 1) for line in (data / "train/text").read_text().splitlines())
    assert train == {u: t for u, t in corpus["text"]["train-clean-100"].items()}
    assert all(u.count("-") == 3 for u in train)
    utt2spk = dict(line.split() for line in (data / "train/utt2spk").read_text().splitlines())
    assert sorted(set(utt2spk.values())) == sorted(corpus["speakers"]["train-clean-100"])
    assert len((data / "dev/text").read_text().splitlines()) == 2
    fe = yaml.safe_load((data / "train/frontend.yaml").read_text())
    assert fe["sample_rate"] == 16000 and fe["num_mel_bins"] == 80
    assert (work / "exp/tiny/model.pt").is_file() and list((work / "exp/tiny/plots").glob("*.png"))
    assert (work / "exp/tiny_vocoder/model.pt").is_file()
    wavs = (work / "exp/tiny/synth_test/wav.scp").read_text().splitlines()
    assert len(wavs) == 2
    spk = {line.split()[1] for line in (work / "exp/tiny/synth_test/utt2spk").read_text().splitlines()}
    assert spk <= {f"tacotron2_{s}" for s in corpus["speakers"]["train-clean-100"]}
    for line in wavs:
        info = sf.info(line.split()[1])
        assert info.samplerate == 16000 and info.frames > 0
    # up to date: a re-run needs no server and skips every stage after the download
    again = run(work, "--base-url", "http://127.0.0.1:9", *opts)
    assert "already extracted" in again.stderr
    assert again.stdout.count("skipped") == 5, again.stdout
    # FastPitch with its own aligner: stage 3 writes each frame's F0 first, then trains without a teacher
    assert not (data / "train/f0").exists()
    fp = run(work, "--base-url", "http://127.0.0.1:9", *opts[:-4], "--stage", "3", "--stop-stage", "3",
             "--train-config", "conf/tiny_fastpitch.yaml")
    for s in ("train", "dev"):
        f0 = dict(line.split(" ", 1) for line in (data / s / "f0").read_text().splitlines())
        frames = dict(line.split() for line in (data / s / "utt2num_frames").read_text().splitlines())
        assert {u: len(v.split()) for u, v in f0.items()} == {u: int(n) for u, n in frames.items()}, fp.stdout
    assert (work / "exp/tiny_fastpitch/model.pt").is_file()
    assert "align_loss" in (work / "exp/tiny_fastpitch/train.log").read_text()


def test_a_corrupted_archive_is_refused(tmp_path):
    corpus = make_libritts(tmp_path, parts=("train-clean-100",), speakers=1, utts_per_speaker=1)
    work = recipe_dir(tmp_path)
    bad = tmp_path / "bad.txt"
    bad.write_text(f"train-clean-100.tar.gz {'0' * 64}\n")
    with serve_directory(corpus["mirror"]) as server:
        proc = run(work, "--base-url", server.url, "--parts", "train-clean-100", "--stop-stage", "0",
                   "--sha256-file", str(bad), check=False)
    assert proc.returncode != 0
    assert "sha256" in (proc.stdout + proc.stderr).lower()
    assert not (work / "downloads/LibriTTS/train-clean-100").exists()


def test_data_prep_names_a_bad_transcript_table_and_a_missing_wav(tmp_path):
    d = tmp_path / "LibriTTS/train-clean-100/19/198"
    d.mkdir(parents=True)
    trans = d / "19_198.trans.tsv"
    trans.write_text("19_198_000000_000000\tHello.\n")
    prep = [ROOT / ".venv/bin/python", RECIPE / "local/data_prep.py", d.parents[1], tmp_path / "data"]
    proc = subprocess.run(prep, capture_output=True, text=True)
    assert proc.returncode == 1 and f"{trans}:1: expected 'id<TAB>original<TAB>normalized'" in proc.stderr
    trans.write_text("19_198_000000_000000\tHello.\tHello.\n")
    proc = subprocess.run(prep, capture_output=True, text=True)
    assert proc.returncode == 1 and "19_198_000000_000000.wav is listed but missing" in proc.stderr
