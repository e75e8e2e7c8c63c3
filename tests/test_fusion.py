"""Shallow fusion in the attention beam search: the LM decides between spellings the decoder finds
equally likely, its scores add up to the hypothesis's total, and bad LMs are named."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_beam import ARPA  # noqa: E402 (a hand-written bigram: "the cat", "baby cot")

from s2s.data.tokens import character_vocabulary  # noqa: E402
from s2s.decode.fusion import NeuralLmFusion, WordNgramFusion, load_fusion  # noqa: E402
from s2s.decode.seq2seq import beam_search  # noqa: E402
from s2s.errors import S2SError  # noqa: E402

VOCAB = character_vocabulary(list("abcdefghijklmnopqrstuvwxyz'"))


class ScriptedDecoder:
    """An 'attention model' whose step t gives the distribution ``script[t]`` ({token: prob}, the
    rest sharing 1 %), whatever the prefix; ``</s>`` after the script."""

    ctc = None

    def __init__(self, script):
        self.script = script
        self.vocab_size = len(VOCAB)
        self.logps = []
        for probs in [*script, {"</s>": 0.99}]:
            p = torch.full((len(VOCAB),), 0.01 / len(VOCAB))
            for tok, v in probs.items():
                p[VOCAB.tokens.index(tok)] += v
            self.logps.append(torch.log(p / p.sum()))

    def encode(self, src, lengths):
        return torch.zeros(src.size(0), 4, 2), lengths

    def init_state(self, memory, lengths):
        return {}

    def step(self, tokens, state, memory, lengths, use_cache=True):
        t = min(tokens.size(1) - 1, len(self.logps) - 1)
        return self.logps[t].expand(tokens.size(0), -1).clone(), state


def script(text, word, options):
    """``text`` spelled one character a step, the second letter of word ``word`` split between
    ``options`` ({letter: prob}, the first slightly ahead)."""
    out = []
    for k, w in enumerate(text.split()):
        if k:
            out.append({"<space>": 0.9})
        for i, ch in enumerate(w):
            out.append(dict(options) if (k == word and i == 1) else {ch: 0.9})
    return out


def decode(model, fusion=(), beam=8):
    src = torch.zeros(1, 4, dtype=torch.long)
    (best, *_), = beam_search(model, src, torch.tensor([4]), VOCAB.bos_id, VOCAB.eos_id, beam=beam, lenpen=0.0,
                              max_len_a=0.0, max_len_b=40, fusion=fusion, nbest=beam)
    return best


def attention_logprob(model, ids):
    return sum(float(model.logps[min(t, len(model.logps) - 1)][tok]) for t, tok in enumerate([*ids, VOCAB.eos_id]))


def bigram_lm(tmp_path) -> Path:
    (tmp_path / "lm.arpa").write_text(ARPA)
    return tmp_path / "lm.arpa"


def test_word_ngram_chooses_the_spelling_its_context_predicts(tmp_path):
    ngram = bigram_lm(tmp_path)
    fuse = load_fusion(ngram, VOCAB, weight=1.0, word_score=0.5)
    assert isinstance(fuse, WordNgramFusion)
    # "o" is slightly ahead in both sentences: alone, the decoder spells "cot" in both.
    the = ScriptedDecoder(script("the cat sat", 1, {"o": 0.46, "a": 0.44}))
    baby = ScriptedDecoder(script("baby cot slept", 1, {"o": 0.46, "a": 0.44}))
    assert VOCAB.decode(decode(the).tokens) == "the cot sat"
    # With the bigram ("the cat", "baby cot"), the context decides.
    best = decode(the, [fuse])
    assert VOCAB.decode(best.tokens) == "the cat sat"
    assert VOCAB.decode(decode(baby, [fuse]).tokens) == "baby cot slept"
    # The total is the decoder's log-probability plus the n-gram's: weight * ln P(sentence) + 0.5 per word.
    import kenlm

    lm_ln = kenlm.Model(str(ngram)).score("the cat sat", bos=True, eos=True) * math.log(10)
    assert fuse.sentence_score(best.tokens) == pytest.approx(lm_ln + 3 * 0.5, abs=1e-4)
    assert best.logprob == pytest.approx(attention_logprob(the, best.tokens) + lm_ln + 1.5, abs=1e-3)


def test_word_ngram_keeps_to_its_words_unless_unknown_words_are_scored(tmp_path):
    ngram = bigram_lm(tmp_path)
    fuse = load_fusion(ngram, VOCAB, weight=1.0)
    ids = VOCAB.encode("the dog sat")
    assert fuse.sentence_score(ids) == float("-inf")       # "dog" is not a word of the LM
    assert fuse.sentence_score(VOCAB.encode("the cat")) > float("-inf")
    lenient = load_fusion(ngram, VOCAB, weight=1.0, unk_score=-5.0)
    import kenlm

    lm_ln = kenlm.Model(str(ngram)).score("the dog sat", bos=True, eos=True) * math.log(10)  # <unk> for "dog"
    assert lenient.sentence_score(ids) == pytest.approx(lm_ln - 5.0, abs=1e-4)
    # A decoder that spells an unknown word confidently keeps it only when unknown words are allowed.
    dog = ScriptedDecoder(script("the dog sat", 1, {"o": 0.9}))
    assert VOCAB.decode(decode(dog, [lenient]).tokens) == "the dog sat"
    assert "dog" not in VOCAB.decode(decode(dog, [fuse]).tokens)


class FixedLM(torch.nn.Module):
    """A 'neural LM' that always prefers ``favour``: logits (N, T, V)."""

    def __init__(self, favour: str):
        super().__init__()
        self.logits = torch.zeros(len(VOCAB))
        self.logits[VOCAB.tokens.index(favour)] = 3.0

    def forward(self, tokens):
        return self.logits.expand(tokens.size(0), tokens.size(1), -1)


def test_neural_lm_fusion_adds_weighted_log_probabilities():
    model = ScriptedDecoder(script("the cat sat", 1, {"o": 0.44, "a": 0.46}))
    assert VOCAB.decode(decode(model).tokens) == "the cat sat"
    fuse = NeuralLmFusion(FixedLM("o"), weight=0.5)
    best = decode(model, [fuse])
    assert VOCAB.decode(best.tokens) == "the cot sat"
    lm = torch.log_softmax(FixedLM("o").logits, -1)
    expected = attention_logprob(model, best.tokens) + 0.5 * sum(float(lm[t]) for t in [*best.tokens, VOCAB.eos_id])
    assert best.logprob == pytest.approx(expected, abs=1e-3)


def test_bad_language_models_are_named(tmp_path):
    empty = tmp_path / "empty.arpa"
    empty.write_text("")
    with pytest.raises(S2SError, match="empty.arpa"):
        load_fusion(empty, VOCAB, 1.0)
    with pytest.raises(S2SError, match="missing.arpa"):
        load_fusion(tmp_path / "missing.arpa", VOCAB, 1.0)
    bad = tmp_path / "lm.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(S2SError, match="lm.pt"):
        load_fusion(bad, VOCAB, 1.0)


def lm_checkpoint(path, vocab):
    import s2s.models  # noqa: F401
    from s2s.models.checkpoint import CHECKPOINT_FORMAT, save_checkpoint
    from s2s.models.registry import build_model

    args = {"lm": "lstm", "lm_conf": {"embed_dim": 8, "hidden": 8, "num_layers": 1}, "vocab_size": len(vocab)}
    model = build_model("lm", args)
    save_checkpoint(path, model.state_dict(), {"task": "lm", "format": CHECKPOINT_FORMAT,
                                               "model": {"name": "lm", "args": args}, "vocab": vocab.to_dict()})
    return model


def test_lm_checkpoints_fuse_when_their_vocabulary_is_the_decoders(tmp_path):
    torch.manual_seed(0)
    model = lm_checkpoint(tmp_path / "lm.pt", VOCAB).eval()
    fuse = load_fusion(tmp_path / "lm.pt", VOCAB, weight=0.7)
    assert isinstance(fuse, NeuralLmFusion)
    tokens = torch.tensor([[VOCAB.bos_id, 10, 11]])
    state = fuse.initial(1)
    for t in range(1, tokens.size(1) + 1):      # the token after each prefix, fed one at a time
        got, state = fuse.scores(state, tokens[:, :t])
        assert torch.allclose(got, 0.7 * torch.log_softmax(model(tokens[:, :t])[:, -1], -1), atol=1e-5)
    other = character_vocabulary(list("abc"))
    lm_checkpoint(tmp_path / "other.pt", other)
    with pytest.raises(S2SError, match="other.pt.*vocabulary"):
        load_fusion(tmp_path / "other.pt", VOCAB, weight=0.7)


def test_incremental_lm_fusion_equals_rerunning_the_lm():
    """An LM fed one token a step with its state reordered with the beams gives the beam search
    what rerunning it over every prefix gives: same hypotheses, same scores, also when a sentence
    leaves the batch before the other (length limits 11 and 10 steps)."""
    from s2s.models.lm import build_lm

    class Rerun(torch.nn.Module):         # the same LM without init_state/step
        def __init__(self, lm):
            super().__init__()
            self.lm = lm

        def forward(self, tokens):
            return self.lm(tokens)

    model = ScriptedDecoder(script("the cat sat", 1, {"o": 0.44, "a": 0.46}))
    for name, conf in (("transformer", {"d_model": 16, "num_heads": 2, "num_layers": 2, "ff_dim": 32}),
                       ("lstm", {"embed_dim": 16, "hidden": 16, "num_layers": 1})):
        torch.manual_seed(3)
        lm = build_lm(name, conf, vocab_size=len(VOCAB)).eval()
        fast, slow = NeuralLmFusion(lm, 0.8), NeuralLmFusion(Rerun(lm), 0.8)
        assert fast.incremental and not slow.incremental
        src, lengths = torch.zeros(2, 3, dtype=torch.long), torch.tensor([3, 2])
        a = beam_search(model, src, lengths, VOCAB.bos_id, VOCAB.eos_id, beam=3, nbest=3, max_len_b=7,
                        fusion=[fast])
        b = beam_search(model, src, lengths, VOCAB.bos_id, VOCAB.eos_id, beam=3, nbest=3, max_len_b=7,
                        fusion=[slow])
        for x, y in zip(a, b, strict=True):
            assert [h.tokens for h in x] == [h.tokens for h in y]
            assert [h.score for h in x] == pytest.approx([h.score for h in y], abs=1e-4)
