"""Speech Commands: download.sh against a local mirror, and data_prep.py splits and labels."""

from __future__ import annotations

import io
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from s2s.data.datadir import DataDir
from tests.corpora import COMMANDS_V1_12, make_speech_commands, serve_directory

ROOT = Path(__file__).resolve().parents[1]
LOCAL = ROOT / "egs" / "speech_commands" / "local"
UNKNOWN_WORDS = ("bed", "cat", "dog")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """13 words (the 10 commands + 3 others) x 4 speakers: speaker 0 dev, 1 test, 2-3 train."""
    return make_speech_commands(tmp_path_factory.mktemp("sc"), words=COMMANDS_V1_12 + UNKNOWN_WORDS, speakers=4)


@pytest.fixture
def corpus_copy(corpus, tmp_path):
    """A private copy of the extracted corpus that a test may damage."""
    return Path(shutil.copytree(corpus["corpus"], tmp_path / "speech_commands_v0.01"))


def data_prep(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(LOCAL / "data_prep.py"), *args], capture_output=True, text=True)


def labels_of(datadir: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for label in DataDir(datadir).text().values():
        counts[label] = counts.get(label, 0) + 1
    return counts


def test_download_extracts_without_a_top_level_folder(corpus, tmp_path):
    with serve_directory(corpus["mirror"]) as server:
        r = subprocess.run(["bash", str(LOCAL / "download.sh"), "--version", "1", "--base-url", server.url,
                            "--sha256-file", str(corpus["sha256_file"]), str(tmp_path / "dl")],
                           capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "S2S_PYTHON": sys.executable})
    assert r.returncode == 0, r.stderr
    out = tmp_path / "dl" / "speech_commands_v0.01"
    assert (out / "yes" / f"{corpus['speakers'][0]}_nohash_0.wav").is_file()
    assert (out / "_background_noise_" / "white_noise.wav").is_file()
    assert (out / "validation_list.txt").read_text() == (corpus["corpus"] / "validation_list.txt").read_text()
    assert (tmp_path / "dl" / "speech_commands_v0.01.tar.gz.done").read_text().split()[3] == corpus["sha256"]


def test_v1_12_uses_the_official_splits_and_adds_unknown_and_silence(corpus, tmp_path):
    r = data_prep("--task", "v1-12", str(corpus["corpus"]), str(tmp_path / "data"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "data" / "labels.txt").read_text().split() == ["_silence_", "_unknown_", *COMMANDS_V1_12]
    speakers = corpus["speakers"]
    for split, spks, n_spk in (("dev", [speakers[0]], 1), ("test", [speakers[1]], 1), ("train", speakers[2:], 2)):
        d = DataDir(tmp_path / "data" / split)
        n_known = 10 * n_spk
        assert labels_of(d.path) == {**{w: n_spk for w in COMMANDS_V1_12},
                                     "_unknown_": math.ceil(n_known * 0.1), "_silence_": math.ceil(n_known * 0.1)}
        utt2spk = d.table("utt2spk", check_sorted=True)
        word_spks = {s for u, s in utt2spk.items() if d.text()[u] != "_silence_"}
        assert word_spks == set(spks)
        for utt, label in d.text().items():
            wav = d.wav_scp()[utt]
            if label == "_unknown_":
                assert wav.split("/")[-2] in UNKNOWN_WORDS
            elif label != "_silence_":
                assert wav.endswith(f"/{label}/{utt2spk[utt]}_nohash_0.wav") and Path(wav).is_file()
        for name in ("wav.scp", "text", "utt2spk", "spk2utt", "utt2dur"):
            d.table(name, check_sorted=True)


def test_silence_is_a_one_second_slice_of_background_noise(corpus, tmp_path):
    r = data_prep("--silence-percentage", "50", str(corpus["corpus"]), str(tmp_path / "data"))
    assert r.returncode == 0, r.stderr
    d = DataDir(tmp_path / "data" / "train")
    silence = [u for u, label in d.text().items() if label == "_silence_"]
    assert len(silence) == 10  # 50 % of 20 known clips
    starts = []
    for utt in silence[:3]:
        cmd = d.wav_scp()[utt]
        assert cmd.startswith("sox ") and "_background_noise_" in cmd and cmd.endswith(" 1 |")
        starts.append(float(cmd.split("trim ")[1].split()[0]))
        audio = subprocess.run(cmd[:-1], shell=True, capture_output=True, check=True).stdout
        wav, sr = sf.read(io.BytesIO(audio))
        assert sr == 16000 and wav.shape == (16000,) and np.abs(wav).max() > 0.01
    # Train cuts from the first 80 % of the 12 s recordings.
    assert all(0 <= s <= 0.8 * 12 - 1 for s in starts)


def test_preparation_is_deterministic(corpus, tmp_path):
    for out in ("a", "b"):
        assert data_prep(str(corpus["corpus"]), str(tmp_path / out)).returncode == 0
    for split in ("train", "dev", "test"):
        assert (tmp_path / "a" / split / "wav.scp").read_text() == (tmp_path / "b" / split / "wav.scp").read_text()


def test_clip_that_is_not_16k_mono_is_an_error_or_a_counted_skip(corpus, corpus_copy, tmp_path):
    clip = corpus_copy / "yes" / f"{corpus['speakers'][2]}_nohash_0.wav"  # a train clip
    tmp = clip.with_suffix(".8k.wav")
    subprocess.run(["sox", str(clip), "-r", "8000", str(tmp)], check=True)
    tmp.replace(clip)
    r = data_prep(str(corpus_copy), str(tmp_path / "data"))
    assert r.returncode == 1
    assert f"1 clip(s) are not 16000 Hz mono: yes/{clip.name} (8000 Hz, 1 channel(s))" in r.stderr
    assert "--skip-bad-audio" in r.stderr

    r = data_prep("--skip-bad-audio", str(corpus_copy), str(tmp_path / "data"))
    assert r.returncode == 0 and "1 clip(s) are not 16000 Hz mono" in r.stderr
    wavs = " ".join(DataDir(tmp_path / "data" / "train").wav_scp().values())
    assert f"yes/{clip.name}" not in wavs


def test_missing_list_file_is_a_clear_error(corpus_copy, tmp_path):
    (corpus_copy / "testing_list.txt").unlink()
    r = data_prep(str(corpus_copy), str(tmp_path / "data"))
    assert r.returncode == 1
    assert f"{corpus_copy / 'testing_list.txt'}: not found" in r.stderr and "Traceback" not in r.stderr


def test_list_entry_without_a_clip_names_the_line(corpus_copy, tmp_path):
    with open(corpus_copy / "validation_list.txt", "a") as f:
        f.write("yes/ffffffff_nohash_0.wav\n")
    r = data_prep(str(corpus_copy), str(tmp_path / "data"))
    n = len((corpus_copy / "validation_list.txt").read_text().splitlines())
    assert r.returncode == 1 and f"validation_list.txt:{n}:" in r.stderr


def test_empty_class_is_an_error_naming_it(corpus, corpus_copy, tmp_path):
    for spk in corpus["speakers"][2:]:  # every train clip of "stop"
        (corpus_copy / "stop" / f"{spk}_nohash_0.wav").unlink()
    r = data_prep(str(corpus_copy), str(tmp_path / "data"))
    assert r.returncode == 1
    assert f"class(es) with no clips in the train split: stop ({corpus_copy / 'stop'}/)" in r.stderr


def test_v1_30_needs_all_thirty_words(corpus, tmp_path):
    # The tiny corpus has 13 of the 30 words: the first missing one (alphabetically) is named.
    r = data_prep("--task", "v1-30", str(corpus["corpus"]), str(tmp_path / "data"))
    assert r.returncode == 1 and "bird (" in r.stderr


@pytest.mark.parametrize("task,version", [("v1-30", 1), ("v2-35", 2)])
def test_full_word_tasks_have_one_class_per_word_in_every_split(tmp_path, task, version):
    import importlib.util

    spec = importlib.util.spec_from_file_location("sc_prep", LOCAL / "data_prep.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    words = mod.TASKS[task]
    c = make_speech_commands(tmp_path / "sc", version=version, words=words, speakers=3)
    p = data_prep("--task", task, str(c["corpus"]), str(tmp_path / "data"))
    assert p.returncode == 0, p.stderr
    for split in ("train", "dev", "test"):
        labels = labels_of(tmp_path / "data" / split)
        assert sorted(labels) == sorted(words), split  # no _unknown_ / _silence_ for the full-word tasks
        assert all(n == 1 for n in labels.values())
    assert (tmp_path / "data" / "labels.txt").read_text().split() == list(words)
