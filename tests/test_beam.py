"""CtcBeamDecoder: the LM decides between acoustically equal spellings, scores add up, bad input is named."""

from __future__ import annotations

import math

import numpy as np
import pytest

from s2s.data.tokens import Vocabulary, build_vocabulary, character_vocabulary
from s2s.decode.beam import CtcBeamDecoder
from s2s.decode.ngram import find_kenlm_tool, train_ngram
from s2s.errors import S2SError

CHARS = list("abcdefghijklmnopqrstuvwxyz'")
VOCAB = character_vocabulary(CHARS)
TOKENS = VOCAB.tokens

# A hand-written bigram: "cat" follows "the", "cot" follows "baby"; unigrams alike.
ARPA = """\\data\\
ngram 1=9
ngram 2=8

\\1-grams:
-1.0\t<s>\t-0.3
-0.7\t</s>
-2.0\t<unk>
-0.8\tthe\t-0.3
-1.0\tbaby\t-0.3
-1.2\tcat\t-0.3
-1.2\tcot\t-0.3
-1.1\tsat\t-0.3
-1.1\tslept\t-0.3

\\2-grams:
-0.2\t<s> the
-0.6\t<s> baby
-0.1\tthe cat
-2.0\tthe cot
-0.1\tbaby cot
-2.0\tbaby cat
-0.2\tcat sat
-0.2\tcot slept

\\end\\
"""


def frames(spec, tokens=TOKENS, floor=1e-4):
    """Peaky CTC log-probabilities: each item is a token or a {token: prob} dict, one frame each,
    with a blank frame between items."""
    index = {t: i for i, t in enumerate(tokens)}
    rows = []

    def row(probs):
        p = np.full(len(tokens), floor)
        for t, v in probs.items():
            p[index[t]] = v
        p /= p.sum()
        rows.append(np.log(p))

    row({"<blank>": 0.9})
    for item in spec:
        row(item if isinstance(item, dict) else {item: 0.9})
        row({"<blank>": 0.9})
    return np.asarray(rows, dtype=np.float32)


def spell(text):
    out = []
    for k, w in enumerate(text.split()):
        if k:
            out.append("<space>")
        out.extend(w)
    return out


def ambiguous(text, pos_word, options):
    """``text`` spelled as frames where the vowel of word ``pos_word`` is split between ``options``."""
    items = []
    for k, w in enumerate(text.split()):
        if k:
            items.append("<space>")
        for i, ch in enumerate(w):
            items.append({o: 0.45 for o in options} if (k == pos_word and i == 1) else ch)
    return frames(items)


@pytest.fixture
def arpa(tmp_path):
    p = tmp_path / "lm.arpa"
    p.write_text(ARPA)
    return p


def test_lm_context_chooses_between_equal_spellings(arpa):
    dec = CtcBeamDecoder(VOCAB, lm=str(arpa), beam=32, lm_weight=1.0)
    assert dec.mode == "lexicon"
    assert dec(ambiguous("the cat sat", 1, "ao"))[0].text == "the cat sat"
    assert dec(ambiguous("baby cat slept", 1, "ao"))[0].text == "baby cot slept"


def test_without_lm_acoustics_decide(arpa):
    dec = CtcBeamDecoder(VOCAB, beam=16)
    assert dec.mode == "lexicon-free"
    x = frames(spell("baby cat slept"))
    assert dec(x)[0].text == "baby cat slept"


def test_nbest_scores_are_sum_of_components(arpa):
    alpha, beta = 0.8, 1.5
    dec = CtcBeamDecoder(VOCAB, lm=str(arpa), beam=32, lm_weight=alpha, word_score=beta, nbest=4)
    x = ambiguous("the cat sat", 1, "ao")
    hyps = dec(x)
    assert len(hyps) >= 2 and hyps[0].text == "the cat sat"
    import kenlm

    model = kenlm.Model(str(arpa))
    for h in hyps:
        assert h.score == pytest.approx(h.am_score + alpha * h.lm_score + beta * len(h.words), abs=1e-3)
        assert h.lm_score == pytest.approx(model.score(h.text, bos=True, eos=True) * math.log(10), abs=1e-4)
        # am_score is the path's log-probability: no better than the best path, finite.
        assert h.am_score <= float(x.max(axis=1).sum()) + 1e-3
    assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
    assert len({h.text for h in hyps}) == len(hyps)


def test_flashlight_score_matches_recomputed_score(arpa):
    # The C++ search's own total agrees with the recomputed components for the best path.
    dec = CtcBeamDecoder(VOCAB, lm=str(arpa), beam=32, lm_weight=0.7, word_score=0.5)
    x = ambiguous("baby cot slept", 1, "ao")
    best = dec(x)[0]
    # The decoder closes the last word with one certain <space> frame; do the same here.
    end = np.where(np.arange(len(TOKENS)) == TOKENS.index("<space>"), 0.0, -1e4)[None]
    xe = np.ascontiguousarray(np.concatenate([x, end]), dtype=np.float32)
    raw = dec._decoder.decode(xe.ctypes.data, xe.shape[0], xe.shape[1])[0]
    assert raw.score == pytest.approx(best.score, abs=1e-3)


def test_hypotheses_that_pay_for_the_closing_frame_keep_their_order(arpa):
    """Where every hypothesis of an utterance spends the closing <space> frame on another token
    (seen on egs/mini dev data: all of them end in blank there), their scores differ only by their
    real parts: the penalty must neither swamp them (-1e30 did, in float32, so the winner came
    from the decoder's memory order and runs differed) nor stay in the reported am_score."""
    from types import SimpleNamespace

    from s2s.decode.beam import END_PENALTY

    dec = CtcBeamDecoder(VOCAB, lm=str(arpa), beam=32, lm_weight=0.5, nbest=3)
    x = ambiguous("the cat", 1, "ao")
    real = dec._decoder
    results = list(real.decode(*_closed(x, dec)))
    blank = TOKENS.index("<blank>")

    class Forced:
        """The real results, as if each had emitted blank on the closing frame."""

        def decode(self, *args):
            out = []
            for r in results:
                tokens = list(r.tokens)
                tokens[len(x) + 1] = blank
                out.append(SimpleNamespace(tokens=tokens, words=list(r.words),
                                           emittingModelScore=np.float32(r.emittingModelScore + END_PENALTY)))
            return out[::-1]  # the decoder's order must not matter

    dec._decoder = Forced()
    forced = dec(x)
    dec._decoder = real
    normal = dec(x)
    assert [h.text for h in forced] == [h.text for h in normal] == ["the cat", "the cot"]
    for f, n in zip(forced, normal):
        assert f.am_score == pytest.approx(n.am_score, abs=2e-3) and f.score == pytest.approx(n.score, abs=2e-3)


def _closed(x, dec):
    end = np.where(np.arange(len(TOKENS)) == dec.sil_id, 0.0, -1e4)[None]
    xe = np.ascontiguousarray(np.concatenate([x, end]), dtype=np.float32)
    _closed.keep = xe  # the decoder reads the memory: keep it alive
    return xe.ctypes.data, xe.shape[0], xe.shape[1]


def test_lexicon_restricts_words(arpa, tmp_path):
    lex = tmp_path / "lexicon.txt"
    lex.write_text("the t h e\ncot c o t\nsat s a t\n")
    dec = CtcBeamDecoder(VOCAB, lm=str(arpa), lexicon=str(lex), beam=32, lm_weight=1.0)
    # "cat" is not in this lexicon: the search must take "cot" although the LM prefers "cat".
    assert dec(ambiguous("the cat sat", 1, "ao"))[0].text == "the cot sat"


def test_upper_case_lm_with_lower_case_tokens(tmp_path):
    upper = tmp_path / "upper.arpa"
    upper.write_text(ARPA.replace("the", "THE").replace("baby", "BABY").replace("cat", "CAT")
                     .replace("cot", "COT").replace("sat", "SAT").replace("slept", "SLEPT"))
    dec = CtcBeamDecoder(VOCAB, lm=str(upper), beam=32, lm_weight=1.0)
    assert dec(ambiguous("baby cat slept", 1, "ao"))[0].text == "baby cot slept"


def test_sentencepiece_pieces(arpa):
    lines = ["the cat sat", "baby cot slept", "the cot", "baby cat"] * 30
    vocab = build_vocabulary(lines, "bpe", vocab_size=28)
    dec = CtcBeamDecoder(vocab, lm=str(arpa), beam=32, lm_weight=1.0)
    spec = [vocab.tokens[i] for i in vocab.encode("the cat sat")]
    assert dec(frames(spec, tokens=vocab.tokens))[0].text == "the cat sat"
    # Where "cat" and "cot" split into equally likely pieces, the LM's context decides.
    cat, cot = vocab.encode("baby cat slept"), vocab.encode("baby cot slept")
    diff = [k for k, (a, b) in enumerate(zip(cat, cot)) if a != b]
    assert len(cat) == len(cot) and len(diff) == 1  # "▁cat" / "▁cot" are single pieces here
    items = [vocab.tokens[i] for i in cat]
    items[diff[0]] = {vocab.tokens[cat[diff[0]]]: 0.45, vocab.tokens[cot[diff[0]]]: 0.45}
    assert dec(frames(items, tokens=vocab.tokens))[0].text == "baby cot slept"


# ---- bad input ----------------------------------------------------------------------------


def test_missing_lm_names_the_file(tmp_path):
    with pytest.raises(S2SError, match=r"nope\.arpa: language model not found"):
        CtcBeamDecoder(VOCAB, lm=str(tmp_path / "nope.arpa"))


def test_corrupt_lm_names_the_file(tmp_path):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(S2SError, match=r"bad\.bin: not a valid ARPA or KenLM binary"):
        CtcBeamDecoder(VOCAB, lm=str(bad))


def test_lm_vocabulary_outside_tokens(tmp_path):
    greek = tmp_path / "greek.arpa"
    greek.write_text(ARPA.replace("the", "θε").replace("baby", "βαβυ").replace("cat", "κατ")
                     .replace("cot", "κοτ").replace("sat", "σατ").replace("slept", "σλεπτ"))
    with pytest.raises(S2SError, match=r"greek\.arpa: the LM's vocabulary does not fit the token set.*θ"):
        CtcBeamDecoder(VOCAB, lm=str(greek))


def test_logprob_width_mismatch(arpa):
    dec = CtcBeamDecoder(VOCAB, lm=str(arpa))
    with pytest.raises(S2SError, match=rf"width 10 but the token list has {len(TOKENS)} tokens"):
        dec(np.zeros((5, 10), dtype=np.float32))


def test_lexicon_with_unknown_tokens(arpa, tmp_path):
    lex = tmp_path / "lex.txt"
    lex.write_text("the t h e\ncat c A t\n")
    with pytest.raises(S2SError, match=r"lex\.txt:2: word 'cat' is spelled with \['A'\]"):
        CtcBeamDecoder(VOCAB, lm=str(arpa), lexicon=str(lex))


def test_a_token_list_without_the_specials_is_refused():
    with pytest.raises(S2SError, match="must start with the special symbols"):
        CtcBeamDecoder(Vocabulary(["a", "b", "<space>"]))


# ---- with KenLM's lmplz (tools/install_kenlm.sh) -------------------------------------------

try:
    find_kenlm_tool("lmplz")
    find_kenlm_tool("build_binary")
    HAVE_LMPLZ = True
except S2SError:
    HAVE_LMPLZ = False
needs_lmplz = pytest.mark.skipif(not HAVE_LMPLZ, reason="KenLM's lmplz/build_binary not built; run bash tools/install_kenlm.sh")

CORPUS = ["there is a cat", "their cat is there", "the cat is there", "is their cat there",
          "they lost their keys", "their house is there", "put it there", "over there",
          "their dog and their cat", "the dog is over there"] * 3


def _lang(tmp_path):
    lang = tmp_path / "lang"
    lang.mkdir()
    (lang / "tokens.txt").write_text("".join(f"{t} {i}\n" for i, t in enumerate(TOKENS)))
    return lang


@needs_lmplz
def test_lmplz_model_picks_their_or_there(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(CORPUS) + "\n")
    res = train_ngram(tmp_path / "lm", order=3, corpora=[str(corpus)], tokens=str(_lang(tmp_path) / "tokens.txt"))
    # "their"/"there" differ in their last two letters; make both acoustically equal there.
    def utt(words, k):
        items = []
        for i, w in enumerate(words.split()):
            if i:
                items.append("<space>")
            if i == k:
                items += ["t", "h", "e", {"i": 0.45, "r": 0.45}, {"r": 0.45, "e": 0.45}]
            else:
                items += list(w)
        return frames(items)

    for lm in (res["arpa"], res["binary"]):
        dec = CtcBeamDecoder(VOCAB, lm=str(lm), beam=32, lm_weight=1.0)
        assert dec(utt("they lost their keys", 2))[0].text == "they lost their keys"
        assert dec(utt("put it there", 2))[0].text == "put it there"


@needs_lmplz
def test_agrees_with_pyctcdecode(tmp_path):
    pyctcdecode = pytest.importorskip("pyctcdecode")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(CORPUS) + "\n")
    res = train_ngram(tmp_path / "lm", order=3, corpora=[str(corpus)], tokens=str(_lang(tmp_path) / "tokens.txt"),
                      binary=False)
    words = sorted({w for s in CORPUS for w in s.split()})
    labels = ["", "<pad>", "<s>", "</s>", "⁇", " "] + TOKENS[6:]
    ref = pyctcdecode.build_ctcdecoder(labels, kenlm_model_path=str(res["arpa"]), unigrams=words,
                                       alpha=0.5, beta=1.0)
    dec = CtcBeamDecoder(VOCAB, lm=str(res["arpa"]), beam=32, lm_weight=0.5, word_score=1.0)
    rng = np.random.default_rng(0)
    for sent in CORPUS[:10]:
        x = frames(spell(sent))
        x = np.log(np.exp(x + rng.normal(0, 0.3, x.shape)).clip(1e-6))
        x = (x - np.log(np.exp(x).sum(1, keepdims=True))).astype(np.float32)
        assert dec(x)[0].text == ref.decode(x, beam_width=32) == sent
