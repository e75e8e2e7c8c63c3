"""egs/mini/local/make_corpus.py: a tiny synthetic corpus with held-out voices and sentences."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from s2s.data.datadir import read_table
from s2s.synth import parse_speaker

ROOT = Path(__file__).resolve().parents[1]
LOCAL = ROOT / "egs" / "mini" / "local"
TINY = ["--num-train", "40", "--num-dev", "10", "--num-test", "10", "--seed", "7"]


def _load_make_corpus():
    sys.path.insert(0, str(LOCAL))  # make_corpus imports mini_text from beside itself
    spec = importlib.util.spec_from_file_location("make_corpus", LOCAL / "make_corpus.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_corpus"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


mc = _load_make_corpus()


def _make_corpus(args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, str(LOCAL / "make_corpus.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    work = tmp_path_factory.mktemp("mini")
    res = _make_corpus([*TINY, "--nj", "2"], work)
    assert res.returncode == 0, res.stderr
    return work


def test_plan_is_deterministic_given_the_seed():
    assert mc.make_plan(40, 10, 10, seed=3) == mc.make_plan(40, 10, 10, seed=3)
    assert mc.make_plan(40, 10, 10, seed=3) != mc.make_plan(40, 10, 10, seed=4)


def test_full_size_plan_holds_out_voices_and_sentences():
    plan = mc.make_plan(3000, 300, 300, seed=1)
    assert [len(plan[s]) for s in ("train", "dev", "test")] == [3000, 300, 300]
    voices = {s: {parse_speaker(u.speaker).voice.split("+")[-1] for u in plan[s]} for s in plan}
    texts = {s: {u.text for u in plan[s]} for s in plan}
    for held_out in ("dev", "test"):
        assert not voices[held_out] & voices["train"]
        assert not texts[held_out] & texts["train"]
        pitches = {parse_speaker(u.speaker).pitch for u in plan[held_out]}
        assert all(p < 35 or p > 65 for p in pitches)  # outside the train espeak-ng range
    assert not voices["dev"] & voices["test"]
    backends = {parse_speaker(u.speaker).backend for u in plan["train"]}
    assert backends == {"flite", "espeak-ng"}
    assert len({u.speaker for u in plan["train"]}) >= 90


def test_full_size_plan_is_half_digits_half_commands():
    plan = mc.make_plan(3000, 300, 300, seed=1)
    digit_words = set(mc.mini_text.DIGITS) | {"oh"}
    n_digits = sum(set(u.text.split()) <= digit_words for u in plan["train"])
    assert 1400 <= n_digits <= 1600
    assert all(1 <= len(u.text.split()) <= 7 for u in plan["train"] if set(u.text.split()) <= digit_words)
    vocab = {w for s in plan.values() for u in s for w in u.text.split()}
    assert 150 <= len(vocab) <= 210


@pytest.mark.parametrize("subset", ["train", "dev", "test"])
def test_data_dirs_are_complete_and_sorted(corpus, subset):
    d = corpus / "data" / subset
    tables = {n: read_table(d / n, check_sorted=True) for n in ("wav.scp", "text", "utt2spk", "utt2dur")}
    keys = list(tables["utt2spk"])
    assert len(keys) == {"train": 40, "dev": 10, "test": 10}[subset]
    assert all(list(t) == keys for t in tables.values())
    spk2utt = read_table(d / "spk2utt", check_sorted=True)
    assert {u: s for s, us in spk2utt.items() for u in us.split()} == tables["utt2spk"]
    # Speaker-prefixed ids: sorted by utterance, the speakers come in contiguous sorted runs.
    spks = list(tables["utt2spk"].values())
    runs = [s for i, s in enumerate(spks) if i == 0 or s != spks[i - 1]]
    assert runs == sorted(set(runs)) and len(runs) == len(spk2utt)
    assert all(u.startswith(s + "-") for u, s in tables["utt2spk"].items())
    assert all(re.fullmatch(r"[a-z]+( [a-z]+)*", t) for t in tables["text"].values())


@pytest.mark.parametrize("subset", ["train", "dev", "test"])
def test_wavs_are_16k_mono_and_match_utt2dur(corpus, subset):
    d = corpus / "data" / subset
    utt2dur = read_table(d / "utt2dur")
    for utt, path in read_table(d / "wav.scp").items():
        assert Path(path).is_absolute() and Path(path).parent == corpus / "corpus" / subset
        info = sf.info(path)
        assert info.samplerate == 16000 and info.channels == 1
        assert abs(info.duration - float(utt2dur[utt])) < 1e-3
        assert 0.3 < info.duration < 8.0


def test_generated_corpus_keeps_test_voices_and_sentences_out_of_train(corpus):
    data = corpus / "data"
    spk = {s: set(read_table(data / s / "spk2utt")) for s in ("train", "dev", "test")}
    txt = {s: set(read_table(data / s / "text").values()) for s in ("train", "dev", "test")}
    assert not spk["test"] & spk["train"] and not spk["dev"] & spk["train"]
    assert not txt["test"] & txt["train"] and not txt["dev"] & txt["train"]


def test_jobs_then_merge_and_a_missing_job_is_named(tmp_path):
    args = ["--num-train", "6", "--num-dev", "2", "--num-test", "2", "--seed", "7", "--nj", "2"]
    assert _make_corpus([*args, "--job", "1"], tmp_path).returncode == 0
    res = _make_corpus([*args, "--merge"], tmp_path)
    assert res.returncode == 1 and "job 2 of 2 has not finished" in res.stderr
    assert _make_corpus([*args, "--job", "2"], tmp_path).returncode == 0
    res = _make_corpus([*args, "--merge"], tmp_path)
    assert res.returncode == 0, res.stderr
    assert len(read_table(tmp_path / "data" / "train" / "text")) == 6
    res = _make_corpus([*args, "--job", "1"], tmp_path)  # a re-run skips finished work
    assert "synthesized 0 utterances" in res.stderr


def test_bad_option_is_an_error_not_a_traceback(tmp_path):
    res = _make_corpus(["--num-test", "0"], tmp_path)
    assert res.returncode == 1 and res.stderr.startswith("make_corpus.py: error: --num-test")


def test_the_tts_evaluation_plan_is_rewritten_only_when_it_changes(tmp_path):
    """local/tts.sh renders an evaluation system again when the plan is newer than its rendering, so
    re-writing an unchanged plan would re-render everything; a changed plan is written."""
    spec = importlib.util.spec_from_file_location("tts_tools", LOCAL / "tts_tools.py")
    tools = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tools)
    (tmp_path / "text").write_text("".join(f"u{i} sentence number {i}\n" for i in range(6)))
    voices = tmp_path / "voices"
    voices.mkdir()
    (voices / "utt2spk").write_text("a flite_awb_f120_d100\nb flite_slt_f201_d085\nc espeak-ng_en+m1_p050_s150\n")
    plan = tmp_path / "plan"

    def make(n):
        return tools.make_plan(tools.get_parser().parse_args(
            ["plan", "--sentences", str(tmp_path / "text"), "--voices-from", str(voices), "--num-sentences", str(n),
             "--num-voices", "2", "--seed", "1", "--out", str(plan)]))

    make(4)
    assert len(plan.read_text().splitlines()) == 8
    os.utime(plan, ns=(1, 1))
    assert "unchanged" in make(4) and plan.stat().st_mtime_ns == 1
    make(5)
    assert len(plan.read_text().splitlines()) == 10 and plan.stat().st_mtime_ns > 1
