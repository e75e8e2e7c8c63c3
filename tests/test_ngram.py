"""n-gram training: corpus normalisation to the tokens, lmplz/build_binary outputs, lexicons, token LMs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from s2s.data.tokens import CorpusStats, character_vocabulary
from s2s.decode.ngram import (
    find_kenlm_tool,
    read_arpa_vocab,
    read_lexicon,
    train_ngram,
    write_lexicon,
)
from s2s.errors import S2SError

ROOT = Path(__file__).resolve().parents[1]
CHARS = list("abcdefghijklmnopqrstuvwxyz'")
VOCAB = character_vocabulary(CHARS)
TOKENS = VOCAB.tokens

try:
    find_kenlm_tool("lmplz")
    find_kenlm_tool("build_binary")
    HAVE_LMPLZ = True
except S2SError:
    HAVE_LMPLZ = False
needs_lmplz = pytest.mark.skipif(not HAVE_LMPLZ, reason="KenLM's lmplz/build_binary not built; run bash tools/install_kenlm.sh")


def lang(tmp_path, tokens=TOKENS, sp_model=None):
    d = tmp_path / "lang"
    d.mkdir(exist_ok=True)
    (d / "tokens.txt").write_text("".join(f"{t} {i}\n" for i, t in enumerate(tokens)))
    return d


def test_normalize_to_token_case_and_characters():
    ts = VOCAB
    stats = CorpusStats()
    assert ts.normalize_line("Hello,  WORLD! It's 5", "drop", stats) == "hello world it's"
    assert stats.dropped_chars == {",": 1, "!": 1, "5": 1}
    assert ts.normalize_line("café au lait", "skip") is None
    upper = character_vocabulary("ABC")
    assert upper.normalize_line("abc cab") == "ABC CAB"


def test_spelling_chars():
    ts = VOCAB
    assert ts.spell("cat") == ["c", "a", "t"]
    assert ts.spell("café") is None
    assert ts.spell_text("the cat") == ["t", "h", "e", "<space>", "c", "a", "t"]


def test_sentencepiece_model_spelling(tmp_path):
    from s2s.data.tokens import Vocabulary, build_vocabulary

    lines = ["the cat sat on the mat", "a cat and a hat", "the bat sat"] * 20
    tok = build_vocabulary(lines, "bpe", vocab_size=30)
    tok.save(tmp_path / "lang")
    ts = Vocabulary.load(tmp_path / "lang")
    assert ts.kind == "bpe"
    pieces = ts.spell("cat")
    assert "".join(pieces).replace("\u2581", "") == "cat" and pieces[0].startswith("\u2581")
    assert all(p in ts for p in pieces)


def test_lexicon_round_trip(tmp_path):
    ts = VOCAB
    n, bad = write_lexicon(tmp_path / "lex.txt", ["cat", "the", "naïve", "<s>"], ts)
    assert (n, bad) == (2, ["naïve"])
    assert read_lexicon(tmp_path / "lex.txt", ts) == {"cat": [["c", "a", "t"]], "the": [["t", "h", "e"]]}


def test_lexicon_errors(tmp_path):
    with pytest.raises(S2SError, match="lexicon not found"):
        read_lexicon(tmp_path / "none.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("cat c a t\ndog\n")
    with pytest.raises(S2SError, match=r"bad\.txt:2: expected 'word token token"):
        read_lexicon(bad)


def test_missing_corpus_named(tmp_path):
    with pytest.raises(S2SError, match=r"nothere\.txt: corpus not found"):
        train_ngram(tmp_path / "lm", corpora=[str(tmp_path / "nothere.txt")])


@needs_lmplz
def test_train_word_ngram_with_lexicon(tmp_path):
    text = tmp_path / "text"
    text.write_text("u1 The cat sat.\nu2 A DOG sat!\nu3 the cat ran\nu4 zebra 42 café\n")
    res = train_ngram(tmp_path / "lm", order=3, texts=[str(text)], tokens=str(lang(tmp_path) / "tokens.txt"))
    out = tmp_path / "lm"
    assert res["stats"].kept == 4 and res["stats"].dropped_chars["."] == 1
    vocab = set(read_arpa_vocab(out / "ngram.arpa"))
    assert {"the", "cat", "sat", "a", "dog", "ran", "zebra", "caf"} <= vocab
    assert "The" not in vocab and "42" not in vocab
    assert "\\3-grams:" in (out / "ngram.arpa").read_text()
    assert (out / "ngram.bin").stat().st_size > 0
    import kenlm

    assert kenlm.Model(str(out / "ngram.bin")).order == 3
    lex = read_lexicon(out / "lexicon.txt")
    assert lex["cat"] == [["c", "a", "t"]]
    assert not list(out.glob(".*tmp")) and not list(out.glob("s2s_ngram_*"))


@needs_lmplz
def test_skip_policy_counts_sentences(tmp_path):
    text = tmp_path / "text"
    text.write_text("u1 the cat\nu2 the café\nu3 a dog\n")
    res = train_ngram(tmp_path / "lm", order=2, texts=[str(text)], tokens=str(lang(tmp_path) / "tokens.txt"),
                      oov="skip", binary=False)
    assert (res["stats"].kept, res["stats"].skipped) == (2, 1)
    assert "café" not in read_arpa_vocab(res["arpa"]) and "caf" not in read_arpa_vocab(res["arpa"])


@needs_lmplz
def test_pruning_shrinks_the_model(tmp_path):
    corpus = tmp_path / "c.txt"
    rng = np.random.default_rng(0)
    words = ["w" + "abcdefghij"[i % 10] * (1 + i // 10) for i in range(60)]
    corpus.write_text("\n".join(" ".join(rng.choice(words, 8)) for _ in range(300)) + "\n")
    full = train_ngram(tmp_path / "full", order=3, corpora=[str(corpus)], binary=False)
    pruned = train_ngram(tmp_path / "pruned", order=3, corpora=[str(corpus)], prune=[0, 1, 1], binary=False)

    def count(p, n):
        for line in Path(p).read_text().splitlines():
            if line.startswith(f"ngram {n}="):
                return int(line.split("=")[1])

    assert count(pruned["arpa"], 3) < count(full["arpa"], 3)


@needs_lmplz
def test_token_ngram_for_lexicon_free_search(tmp_path):
    from s2s.decode.beam import CtcBeamDecoder

    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(["the cat sat", "the cat ran", "a cat sat on the mat"] * 10) + "\n")
    res = train_ngram(tmp_path / "lm", order=6, corpora=[str(corpus)], tokens=str(lang(tmp_path) / "tokens.txt"),
                      unit="token")
    assert "<space>" in read_arpa_vocab(res["arpa"]) and "lexicon" not in res
    dec = CtcBeamDecoder(VOCAB, lm=str(res["binary"]), beam=16, lm_weight=1.0)
    assert dec.mode == "lexicon-free"
    index = {t: i for i, t in enumerate(TOKENS)}
    rows = []
    for item in ["t", "h", "e", "<space>", "c", {"a": 0.45, "o": 0.45}, "t"]:
        for probs in (item if isinstance(item, dict) else {item: 0.9}, {"<blank>": 0.9}):
            p = np.full(len(TOKENS), 1e-4)
            for t, v in probs.items():
                p[index[t]] = v
            rows.append(np.log(p / p.sum()))
    hyp = dec(np.asarray(rows, dtype=np.float32))[0]
    assert hyp.text == "the cat"
    assert hyp.score == pytest.approx(hyp.am_score + 1.0 * hyp.lm_score, abs=1e-3)


@needs_lmplz
def test_entry_point_and_shell_wrapper(tmp_path):
    text = tmp_path / "text"
    text.write_text("u1 the cat sat\nu2 a dog ran\n")
    lang(tmp_path)
    r = subprocess.run(["bash", str(ROOT / "utils/train_ngram.sh"), "--order", "2", str(text), str(tmp_path / "lang"),
                        str(tmp_path / "lm")], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "lm" / "ngram.bin").is_file() and (tmp_path / "lm" / "lexicon.txt").is_file()
    again = subprocess.run(["bash", str(ROOT / "utils/train_ngram.sh"), "--order", "2", str(text),
                            str(tmp_path / "lang"), str(tmp_path / "lm")], cwd=ROOT, capture_output=True, text=True)
    assert "up to date" in again.stdout
    bad = subprocess.run([sys.executable, "-m", "s2s.bin.train_ngram", "--text", str(tmp_path / "missing"),
                          "--out", str(tmp_path / "x")], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 1 and "s2s.bin.train_ngram: error:" in bad.stderr and "missing" in bad.stderr


@needs_lmplz
def test_binary_without_word_list_uses_the_arpa_beside_it(tmp_path):
    from s2s.decode.beam import CtcBeamDecoder

    text = tmp_path / "text"
    text.write_text("u1 the cat sat\nu2 a dog ran\n")
    res = train_ngram(tmp_path / "lm", order=2, texts=[str(text)], tokens=str(lang(tmp_path) / "tokens.txt"))
    Path(str(res["binary"]) + ".vocab").unlink()
    assert CtcBeamDecoder(VOCAB, lm=str(res["binary"])).mode == "lexicon"
    res["arpa"].unlink()
    with pytest.raises(S2SError, match=r"ngram\.bin: a binary LM without its word list.*--lexicon"):
        CtcBeamDecoder(VOCAB, lm=str(res["binary"]))
