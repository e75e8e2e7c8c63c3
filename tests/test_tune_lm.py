"""tune_lm: cached log-probabilities round trip, the alpha/beta search finds the LM-helped setting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from s2s.bin.tune_lm import main as tune_main
from s2s.data.tokens import character_vocabulary
from s2s.decode.logprobs import load_all, read_logprobs, write_logprobs
from s2s.decode.tune import parse_range
from s2s.errors import S2SError

ROOT = Path(__file__).resolve().parents[1]
CHARS = list("abcdefghijklmnopqrstuvwxyz'")
VOCAB = character_vocabulary(CHARS)
TOKENS = VOCAB.tokens
ARPA = """\\data\\
ngram 1=7
ngram 2=4

\\1-grams:
-1.0\t<s>\t-0.3
-0.7\t</s>
-2.0\t<unk>
-0.8\tthe\t-0.3
-1.2\tcat\t-0.3
-1.2\tcot\t-0.3
-1.1\tsat\t-0.3

\\2-grams:
-0.2\t<s> the
-0.1\tthe cat
-2.5\tthe cot
-0.2\tcat sat

\\end\\
"""


def utterance(cot_bias: float):
    """'the c?t sat' where the acoustics lean to 'cot' by ``cot_bias``."""
    index = {t: i for i, t in enumerate(TOKENS)}
    rows = []
    items = ["t", "h", "e", "<space>", "c", {"o": 0.45 + cot_bias, "a": 0.45 - cot_bias}, "t", "<space>", "s", "a", "t"]
    for item in items:
        for probs in (item if isinstance(item, dict) else {item: 0.9}, {"<blank>": 0.9}):
            p = np.full(len(TOKENS), 1e-4)
            for t, v in probs.items():
                p[index[t]] = v
            rows.append(np.log(p / p.sum()))
    return np.asarray(rows, dtype=np.float32)


def test_logprobs_round_trip(tmp_path):
    table = {"b": np.random.randn(7, 5).astype(np.float32), "a": np.random.randn(3, 5).astype(np.float32)}
    scp = write_logprobs(tmp_path / "logprobs", table)
    assert scp == tmp_path / "logprobs.scp" and (tmp_path / "logprobs.ark").is_file()
    assert [line.split()[0] for line in scp.read_text().splitlines()] == ["a", "b"]
    back = load_all(scp)
    assert set(back) == {"a", "b"} and np.array_equal(back["b"], table["b"])
    assert not list(tmp_path.glob(".*tmp"))


def test_logprobs_errors(tmp_path):
    with pytest.raises(S2SError, match=r"none\.scp: log-probability dump not found"):
        read_logprobs(tmp_path / "none.scp")
    scp = write_logprobs(tmp_path / "lp", {"a": np.zeros((2, 3), np.float32)})
    (tmp_path / "lp.ark").unlink()
    with pytest.raises(S2SError, match=r"lp\.scp:1: .*lp\.ark not found"):
        read_logprobs(scp)


def test_parse_range():
    assert parse_range("0:1:0.25", "alpha") == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert parse_range("-1,2,0.5", "beta") == [-1.0, 0.5, 2.0]
    with pytest.raises(S2SError, match="--alpha '1:0:0.5'"):
        parse_range("1:0:0.5", "alpha")


@pytest.fixture
def setup(tmp_path):
    lang = tmp_path / "lang"
    lang.mkdir()
    (lang / "tokens.txt").write_text("".join(f"{t} {i}\n" for i, t in enumerate(TOKENS)))
    (tmp_path / "lm.arpa").write_text(ARPA)
    # Acoustics prefer "cot" slightly; the reference (and the LM) say "cat": alpha 0 loses.
    table = {f"u{i}": utterance(0.05) for i in range(4)}
    write_logprobs(tmp_path / "logprobs", table)
    (tmp_path / "text").write_text("".join(f"u{i} the cat sat\n" for i in range(4)))
    return tmp_path


@pytest.mark.parametrize("search", ["grid", "coordinate"])
def test_search_finds_lm_weight(setup, search, capsys):
    out = setup / "best.yaml"
    rc = tune_main(["--logprobs", str(setup / "logprobs.scp"), "--ref", str(setup / "text"),
                    "--tokens", str(setup / "lang/tokens.txt"), "--lm", str(setup / "lm.arpa"),
                    "--alpha", "0:1:0.5", "--beta", "0,1", "--search", search, "--nj", "2", "--beam", "16",
                    "--grid-out", str(setup / "grid.txt"), "--out", str(out)])
    assert rc == 0
    best = yaml.safe_load(out.read_text())
    assert best["lm_weight"] > 0 and best["wer"] == 0.0
    rows = [line.split() for line in (setup / "grid.txt").read_text().splitlines()]
    grid = {(float(a), float(b)): float(w) for a, b, w in rows}
    assert grid[(0.0, 0.0)] == pytest.approx(100 / 3, abs=0.01)  # "cot" for "cat": 1 of 3 words
    printed = capsys.readouterr().out
    assert "alpha 0 beta 0 WER 33.33" in printed
    if search == "grid":
        assert len(grid) == 6


def test_width_mismatch_is_named(setup, capsys):
    write_logprobs(setup / "narrow", {"u0": np.zeros((4, 5), np.float32)})
    rc = tune_main(["--logprobs", str(setup / "narrow.scp"), "--ref", str(setup / "text"),
                    "--tokens", str(setup / "lang/tokens.txt"), "--lm", str(setup / "lm.arpa"),
                    "--out", str(setup / "b.yaml")])
    err = capsys.readouterr().err
    assert rc == 1 and "s2s.bin.tune_lm: error:" in err and "narrow.scp" in err and "(4, 5)" in err
    assert not (setup / "b.yaml").exists()


def test_entry_point_missing_lm(setup):
    r = subprocess.run([sys.executable, "-m", "s2s.bin.tune_lm", "--logprobs", str(setup / "logprobs.scp"),
                        "--ref", str(setup / "text"), "--tokens", str(setup / "lang/tokens.txt"),
                        "--lm", str(setup / "no.bin"), "--out", str(setup / "b.yaml")],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 1 and "no.bin: language model not found" in r.stderr
