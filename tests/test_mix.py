"""Natural/synthetic mixing (utils/mix_data.sh, s2s.recipe.mix) and the augmentation stage
(utils/synthesize_data.sh): ratios by utterances and hours, fixed totals, features, text
sources, bad input."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from s2s.errors import S2SError
from s2s.recipe.mix import mix, parse_ratio, plan_mix, text_source

ROOT = Path(__file__).resolve().parents[1]


def make_dir(d: Path, prefix: str, n: int, dur: float = 1.0, spk: str = "s") -> Path:
    d.mkdir(parents=True, exist_ok=True)
    utts = [f"{prefix}{spk}-{i:03d}" for i in range(n)]
    tables = {"wav.scp": {u: f"/w/{u}.wav" for u in utts}, "text": {u: f"words of {u}" for u in utts},
              "utt2spk": {u: f"{prefix}{spk}" for u in utts}, "utt2dur": {u: f"{dur:.2f}" for u in utts}}
    for name, t in tables.items():
        (d / name).write_text("".join(f"{k} {v}\n" for k, v in sorted(t.items())))
    (d / "spk2utt").write_text(f"{prefix}{spk} {' '.join(sorted(utts))}\n")
    return d


def info(d: Path) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in (d / "mix_info").read_text().splitlines())


def test_ratio_parsing():
    assert parse_ratio("50:50") == 0.5
    assert abs(parse_ratio("66/33") - 2 / 3) < 1e-9
    assert parse_ratio("0:100") == 0.0
    with pytest.raises(S2SError, match="natural:synthetic"):
        parse_ratio("half")


@pytest.mark.parametrize("ratio,nat,syn", [("100:0", 30, 0), ("66:33", 30, 15), ("50:50", 30, 30),
                                           ("33:66", 30, 60), ("0:100", 0, 60)])
def test_default_mix_is_the_largest_at_the_ratio_by_utterances(tmp_path, ratio, nat, syn):
    n = make_dir(tmp_path / "nat", "n", 30)
    s = make_dir(tmp_path / "syn", "y", 60)  # 30 natural, 60 synthetic: 33:66 uses both whole
    mix(n, s, tmp_path / "out", ratio)
    got = info(tmp_path / "out")
    assert (int(got["natural_utts"]), int(got["synthetic_utts"])) == (nat, syn)
    utt2spk = (tmp_path / "out/utt2spk").read_text().splitlines()
    assert len(utt2spk) == nat + syn
    assert utt2spk == sorted(utt2spk)
    assert (tmp_path / "out/spk2utt").is_file()


def test_hours_count_duration_not_utterances(tmp_path):
    n = make_dir(tmp_path / "nat", "n", 20, dur=3.0)   # 60 s
    s = make_dir(tmp_path / "syn", "y", 60, dur=1.0)   # 60 s
    mix(n, s, tmp_path / "out", "50:50", unit="hours")
    got = info(tmp_path / "out")
    assert abs(float(got["natural_hours"]) - float(got["synthetic_hours"])) < 1.5 / 3600
    assert (int(got["natural_utts"]), int(got["synthetic_utts"])) == (20, 60)


def test_fixed_total_and_seed_are_reproducible(tmp_path):
    n = make_dir(tmp_path / "nat", "n", 30)
    s = make_dir(tmp_path / "syn", "y", 30)
    mix(n, s, tmp_path / "a", "50:50", total=20, seed=3)
    mix(n, s, tmp_path / "b", "50:50", total=20, seed=3)
    assert (tmp_path / "a/utt2spk").read_text() == (tmp_path / "b/utt2spk").read_text()
    assert len((tmp_path / "a/utt2spk").read_text().splitlines()) == 20
    with pytest.raises(S2SError, match="lower --total"):
        mix(n, s, tmp_path / "c", "50:50", total=100)


def test_plan_draws_close_to_the_target():
    nat = {f"n{i}": 1.0 for i in range(10)}
    syn = {f"s{i}": 0.5 for i in range(100)}
    a, b, total = plan_mix(nat, syn, 0.5, None, 1)
    assert len(a) == 10 and len(b) == 20 and total == 20


def test_clashing_ids_and_missing_durations_are_reported(tmp_path):
    n = make_dir(tmp_path / "nat", "n", 5)
    with pytest.raises(S2SError, match="share utterance id"):
        mix(n, n, tmp_path / "out", "50:50")
    s = make_dir(tmp_path / "syn", "y", 5)
    (s / "utt2dur").unlink()
    with pytest.raises(S2SError, match="utt2dur"):
        mix(n, s, tmp_path / "out", "50:50", unit="hours")


def test_text_source_reads_kaldi_text_and_plain_corpora(tmp_path):
    (tmp_path / "text").write_text("a hello there\nb good day\n")
    text_source(tmp_path / "text", tmp_path / "k")
    assert (tmp_path / "k").read_text() == "a hello there\nb good day\n"
    (tmp_path / "lm.txt").write_text("first sentence here\n\nsecond one\nthird one\n")
    text_source(tmp_path / "lm.txt", tmp_path / "p", max_lines=2)
    lines = (tmp_path / "p").read_text().splitlines()
    assert len(lines) == 2 and all(line.startswith("line0000000") for line in lines)


@pytest.fixture()
def recipe(tmp_path):
    os.symlink(ROOT / "utils", tmp_path / "utils")
    (tmp_path / "fbank.yaml").write_text("type: fbank\nnum_mel_bins: 20\n")
    return tmp_path


def sh(cwd: Path, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{ROOT / '.venv/bin'}:{os.environ['PATH']}", OMP_NUM_THREADS="1")
    proc = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_synthesize_then_mix_gives_aug_dir_with_features(recipe):
    (recipe / "text").write_text("u1 Call me at 7:30, OK?\nu2 the cat sat\nu3 caf\u00e9 \u6771\u4eac 3rd\n")
    make_dir(recipe / "data/train", "n", 3)
    proc = sh(recipe, "utils/synthesize_data.sh", "--nj", "2", "--backend", "espeak-ng", "--num-speakers", "2",
              "--feats-conf", "fbank.yaml", "text", "data/train_syn", "exp/synth", "fbank")
    syn = recipe / "data/train_syn"
    text = (syn / "text").read_text()
    assert "seven thirty ok" in text and "cafe third" in text
    assert "numbers" in proc.stderr  # normalisation is reported
    assert len((syn / "feats.scp").read_text().splitlines()) == 3
    assert len({line.split()[1] for line in (syn / "utt2spk").read_text().splitlines()}) == 2
    # a re-run with the same inputs does not synthesize again
    again = sh(recipe, "utils/synthesize_data.sh", "--nj", "2", "--backend", "espeak-ng", "--num-speakers", "2",
               "text", "data/train_syn", "exp/synth", "fbank")
    assert "skipped" in again.stdout + again.stderr
    # natural has no features here: the mix keeps the tables and says so
    proc = sh(recipe, "utils/mix_data.sh", "0:100", "data/train", "data/train_syn", "data/train_aug")
    assert (recipe / "data/train_aug/feats.scp").is_file()
    assert (recipe / "data/train_aug/cmvn.ark").is_file()
    assert (recipe / "data/train_aug/frontend.yaml").is_file()


def test_missing_synthesizer_names_the_install_command(recipe):
    (recipe / "text").write_text("u1 hello\n")
    bindir = recipe / "bin"
    bindir.mkdir()
    for prog in ("python3", "md5sum", "cut", "sed", "grep", "cat", "wc", "dirname", "readlink", "mkdir"):
        if shutil.which(prog):
            os.symlink(shutil.which(prog), bindir / prog)
    proc = subprocess.run(["/bin/bash", "utils/synthesize_data.sh", "--backend", "festival", "text", "data/s", "exp/s",
                           "fb"], cwd=recipe, capture_output=True, text=True,
                          env=dict(os.environ, PATH=f"{ROOT / '.venv/bin'}:{bindir}"))
    assert proc.returncode != 0
    assert "apt-get install festival" in proc.stderr, proc.stderr


def test_tacotron2_backend_needs_a_model(recipe):
    (recipe / "text").write_text("u1 hello\n")
    proc = sh(recipe, "utils/synthesize_data.sh", "--backend", "tacotron2", "text", "data/s", "exp/s", "fb",
              check=False)
    assert proc.returncode != 0 and "--model" in proc.stderr
