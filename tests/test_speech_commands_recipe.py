"""egs/speech_commands/run.sh end to end on synthesized Speech-Commands-shaped corpora served on 127.0.0.1.

The recipe runs in a directory of symlinks to the real recipe files, so its data/,
exp/ and RESULTS.md land in tmp_path. ``test_recipe_end_to_end_on_a_tiny_corpus``
checks every stage's outputs with a tiny model; the e2e-marked test measures the
default small model on a corpus of 30 synthetic voices, scored on voices never
heard in training.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from s2s.data.datadir import DataDir
from tests.corpora import COMMANDS_V1_12, make_speech_commands, serve_directory, sha256sum, synthesize

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "egs" / "speech_commands"
UNKNOWN_WORDS = ("bed", "cat", "dog")


def recipe_copy(tmp_path: Path) -> Path:
    """A working directory whose recipe files link to the real ones."""
    work = tmp_path / "recipe"
    work.mkdir()
    for name in ("run.sh", "cmd.sh", "path.sh", "conf", "local", "utils"):
        (work / name).symlink_to(RECIPE / name)
    return work


def run_recipe(work: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", S2S_NO_PROGRESS="1")
    proc = subprocess.run(["bash", "run.sh", *args], cwd=work, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        logs = "\n".join(f"== {p}\n{p.read_text()[-3000:]}" for p in sorted(work.glob("exp/**/log/*.log")))
        raise AssertionError(f"run.sh failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}\n{logs}")
    return proc


TINY_TRAIN = ("--max_epochs 3 --batch_frames 1616 --model_conf.channels 16 --scheduler_conf.total_epochs 3 "
              "--cache_audio true")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """13 words x 4 voices: speaker 0 dev, 1 test, 2-3 train."""
    return make_speech_commands(tmp_path_factory.mktemp("sc"), words=COMMANDS_V1_12 + UNKNOWN_WORDS, speakers=4)


def test_recipe_end_to_end_on_a_tiny_corpus(tiny, tmp_path):
    corpus = tiny
    work = recipe_copy(tmp_path)
    with serve_directory(corpus["mirror"]) as server:
        proc = run_recipe(work, "--base-url", server.url, "--sha256-file", str(corpus["sha256_file"]),
                          "--nj", "1", "--train-args", TINY_TRAIN)
        assert server.gets("speech_commands_v0.01.tar.gz"), "the archive was not fetched from --base-url"
    data = work / "data" / "v1-12"
    assert (data / "labels.txt").read_text().split() == ["_silence_", "_unknown_", *COMMANDS_V1_12]
    assert set(DataDir(data / "test").utt2spk().values()) >= {corpus["speakers"][1]}
    fdata = data / "logmel64"
    for split in ("train", "dev", "test"):
        assert (fdata / split / "feats.scp").is_file()
    assert (fdata / "train" / "cmvn.ark").is_file()
    exp = work / "exp" / "v1-12_train_matchboxnet_small"
    assert (exp / "checkpoints" / "last.pt").is_file() and (exp / "config.yaml").is_file()
    for split in ("dev", "test"):
        out = exp / f"eval_{split}"
        hyp = DataDir(out).table("hyp")
        assert set(hyp) == set(DataDir(fdata / split).text())
        report = (out / "classification.txt").read_text()
        assert report.startswith("%ACC") and "confusion" in report and "_silence_" in report
        assert (out / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    results = (work / "RESULTS.md").read_text()
    assert re.search(r"\| v1-12_train_matchboxnet_small \| v1-12/test \| \d+\.\d\d \|", results), results
    assert "stage 4 (evaluate): done" in proc.stdout

    # A second run finds every stage complete and redoes nothing.
    again = run_recipe(work, "--base-url", server.url, "--sha256-file", str(corpus["sha256_file"]),
                       "--nj", "1", "--train-args", TINY_TRAIN)
    assert again.stdout.count("skipped") == 5, again.stdout


def test_archive_without_a_list_file_stops_the_recipe_with_its_name(tiny, tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    archive = mirror / "speech_commands_v0.01.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        for entry in sorted(tiny["corpus"].iterdir()):
            if entry.name != "testing_list.txt":
                tf.add(entry, arcname=entry.name)
    sums = tmp_path / "sha256.txt"
    sums.write_text(f"{archive.name} {sha256sum(archive)}\n")
    work = recipe_copy(tmp_path)
    with serve_directory(mirror) as server:
        proc = run_recipe(work, "--base-url", server.url, "--sha256-file", str(sums), check=False)
    assert proc.returncode != 0
    assert "testing_list.txt" in proc.stderr and "stage 0 (download): FAILED" in proc.stderr
    assert not (work / "data").exists()


def test_task_and_version_mismatch_is_an_error(tmp_path):
    work = recipe_copy(tmp_path)
    proc = run_recipe(work, "--task", "v2-35", "--version", "1", check=False)
    assert proc.returncode == 1
    assert "--task v2-35 does not go with --version 1" in proc.stderr


def test_help_lists_the_stages_and_options(tmp_path):
    proc = run_recipe(recipe_copy(tmp_path), "--help")
    assert "4 evaluate" in proc.stdout and "--train-config" in proc.stdout and "--base-url" in proc.stdout


# ---------------------------------------------------------------------------- accuracy on unseen voices

# 30 distinct voices: flite's recorded speakers and espeak-ng accents x voice variants. The last
# four (test) include a flite speaker, so the test is not only unseen espeak-ng parameter sets.
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029",
           "en-us-nyc")
VARIANTS = ("", "+m3", "+f2", "+f4")
MANY_VOICES = [("flite", v) for v in ("kal", "rms", "slt")] + \
    [("espeak-ng", a + v) for v in VARIANTS for a in ACCENTS][:26] + [("flite", "awb")]


def make_many_voice_corpus(root: Path, voices, dev_voices: int = 3, test_voices: int = 4,
                           words=COMMANDS_V1_12 + UNKNOWN_WORDS) -> dict:
    """Speech-Commands layout with one speaker hash per voice; the last ``test_voices`` voices are the
    test speakers and the ``dev_voices`` before them the dev speakers, so neither is heard in training."""
    corpus, mirror = root / "corpus", root / "mirror"
    mirror.mkdir(parents=True, exist_ok=True)
    n = len(voices)
    split_of = ["train"] * (n - dev_voices - test_voices) + ["dev"] * dev_voices + ["test"] * test_voices
    lists = {"dev": [], "test": []}
    hashes = []
    for i, voice in enumerate(voices):
        spk = hashlib.sha1(f"voice{i}".encode()).hexdigest()[:8]
        hashes.append(spk)
        for word in words:
            rel = f"{word}/{spk}_nohash_0.wav"
            synthesize(word, corpus / rel, voice=voice, extra_sox=("pad", "0.1", "1", "trim", "0", "1"))
            if split_of[i] != "train":
                lists[split_of[i]].append(rel)
    noise = corpus / "_background_noise_"
    noise.mkdir()
    for name, kind in (("white_noise.wav", "whitenoise"), ("pink_noise.wav", "pinknoise")):
        subprocess.run(["sox", "-R", "-n", "-r", "16000", "-c", "1", "-b", "16", str(noise / name), "synth", "30",
                        kind, "vol", "0.3"], check=True)
    (corpus / "validation_list.txt").write_text("".join(r + "\n" for r in sorted(lists["dev"])))
    (corpus / "testing_list.txt").write_text("".join(r + "\n" for r in sorted(lists["test"])))
    archive = mirror / "speech_commands_v0.01.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        for entry in sorted(corpus.iterdir()):
            tf.add(entry, arcname=entry.name)
    sha_file = root / "sha256.txt"
    sha_file.write_text(f"{archive.name} {sha256sum(archive)}\n")
    return {"mirror": mirror, "sha256_file": sha_file, "speakers": hashes, "split_of": split_of}


@pytest.mark.e2e
def test_default_small_model_recognises_unseen_voices(tmp_path):
    corpus = make_many_voice_corpus(tmp_path / "sc", MANY_VOICES)
    work = recipe_copy(tmp_path)
    with serve_directory(corpus["mirror"]) as server:
        run_recipe(work, "--base-url", server.url, "--sha256-file", str(corpus["sha256_file"]),
                   "--train-args", "--cache_audio true")
    test_spk = {s for s, split in zip(corpus["speakers"], corpus["split_of"]) if split == "test"}
    train_spk = set(DataDir(work / "data/v1-12/train").utt2spk().values())
    assert not test_spk & train_spk
    line = (work / "exp/v1-12_train_matchboxnet_small/eval_test/classification.txt").read_text().splitlines()[0]
    accuracy = float(line.split()[1])
    print(f"unseen-voice test accuracy: {line}")
    # 48 clips: one clip is 2.08 points. Seeds 1-6 on one machine gave 93.75-100 (1.5 errors on
    # average) and the same seed differs between machines (egs/speech_commands/RESULTS.md), so
    # the bar allows 5 errors (89.58); chance is 8.3 %, and no augmentation gave 87.50.
    assert accuracy >= 89.5, line
