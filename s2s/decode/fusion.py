"""Shallow fusion for attention decoders: a neural LM or a word n-gram adds its scores to the beam search.

``beam_search(..., fusion=[...])`` (s2s.decode.seq2seq) takes any number of these scorers:

- ``NeuralLmFusion(model, weight)``: a trained LM of task ``lm`` over the same vocabulary;
  every continuation gets ``weight * log p_lm(token | prefix)`` (Gulcehre et al. 2015's
  shallow fusion; ESPnet's ``--lm_weight``). It scores the whole vocabulary at once. s2s's LMs
  are fed one token per hypothesis and step (their keys/values or LSTM states carried and
  reordered with the beams, as the decoder's); other LM modules are rerun over the prefixes.
  ``initial(n, device)`` gives its state, ``scores(state, tokens)`` the scores and next state,
  ``select(state, index)`` the state of the hypotheses that continue.
- ``WordNgramFusion(kenlm_model, vocab, weight, word_score, unk_score, words)``: a word
  n-gram (KenLM, the ARPA/binary ``utils/train_ngram.sh`` writes for CTC beam search) over
  token decoders of characters or SentencePiece pieces. A word is scored when it is
  complete: on the token that ends it (``<space>``, a piece that starts the next word with
  ``▁``, or ``</s>``, which also adds the sentence-end probability), with
  ``weight * ln P(word | history) + word_score``. While a word is being spelled, the
  partial word is checked against the LM's words: the first token that makes it a prefix of
  none adds ``unk_score`` (``-inf``, the default, keeps hypotheses to words the LM knows,
  as flashlight's lexicon decoder does; a finite value lets out-of-vocabulary words pay it
  plus the LM's ``<unk>`` probability). It scores only the candidates the search proposes
  (ESPnet's partial scorers), so it is cheap beside the decoder.

``load_fusion(path, vocab, weight, word_score, unk_score)`` picks one from the file: an s2s
checkpoint (``.pt``) is a neural LM, anything else a KenLM model.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import Tensor

from s2s.data.tokens import SP_SPACE, SPECIALS, Vocabulary
from s2s.errors import S2SError

LN10 = math.log(10.0)
NEG_INF = float("-inf")


class NeuralLmFusion:
    """``weight * log p_lm`` of every next token. An LM with incremental state (s2s's Transformer
    and LSTM LMs: ``init_state``/``step``) is fed one token per hypothesis and step, its state
    reordered with the beams; any other module mapping ids (B, L) to logits (B, L, V) is run over
    each hypothesis's whole prefix at every step."""

    full = True

    def __init__(self, model, weight: float):
        self.model = model.eval()
        self.weight = float(weight)
        self.incremental = hasattr(model, "step") and hasattr(model, "init_state")

    def initial(self, n: int, device=None):
        """The state of ``n`` empty hypotheses (None: the LM is rerun over the prefixes)."""
        return self.model.init_state(n, device) if self.incremental else None

    def scores(self, state, tokens: Tensor) -> tuple[Tensor, object]:
        """(N, V) weighted log-probabilities of the token after each row of ``tokens`` (``<s>``
        first), and the state after them; ``state`` holds every token of ``tokens`` but the last."""
        if self.incremental:
            logits, state = self.model.step(tokens[:, -1], state)
        else:
            logits = self.model(tokens)[:, -1]
        return self.weight * torch.log_softmax(logits.float(), -1), state

    def select(self, state, index: Tensor):
        """The state of the hypotheses ``index`` continue."""
        from s2s.models.seq2seq import reorder_state

        return None if state is None else reorder_state(state, index)


class _Row:
    """A hypothesis's n-gram state: the LM state after its complete words, the word being spelled,
    and whether that word has left the LM's vocabulary."""

    __slots__ = ("state", "word", "oov")

    def __init__(self, state, word: str = "", oov: bool = False):
        self.state, self.word, self.oov = state, word, oov


class WordNgramFusion:
    """Word n-gram scores of candidate tokens (see the module docstring)."""

    full = False

    def __init__(self, lm, vocab: Vocabulary, weight: float, word_score: float = 0.0, unk_score: float = NEG_INF,
                 words: list[str] | None = None):
        import kenlm

        self._kenlm = kenlm
        self.lm = lm
        self.weight = float(weight)
        self.word_score = float(word_score)
        self.unk_score = float(unk_score)
        # Every prefix of every LM word (None: the words are unknown, no spelling check).
        self.prefixes: set[str] | None = None
        if words is not None:
            self.prefixes = {w[:i] for w in words if not w.startswith("<") for i in range(1, len(w) + 1)}
        # Per token id: (does it end the word before it, the text it adds to a word).
        self.units: list[tuple[bool, str]] = []
        for i, tok in enumerate(vocab.tokens):
            if i == vocab.space_id:
                self.units.append((True, ""))
            elif i < len(SPECIALS):
                self.units.append((False, ""))
            elif tok.startswith(SP_SPACE):
                self.units.append((True, tok[len(SP_SPACE):]))
            else:
                self.units.append((False, tok))
        self.eos = vocab.eos_id
        self.unk = vocab.unk_id
        self._cache: dict = {}

    def initial(self, n: int) -> list[_Row]:
        start = self._kenlm.State()
        self.lm.BeginSentenceWrite(start)
        return [_Row(start) for _ in range(n)]

    def _word(self, state, word: str):
        """(weighted word score, the state after it); cached per step."""
        key = (id(state), word)
        hit = self._cache.get(key)
        if hit is None:
            out = self._kenlm.State()
            lp = self.lm.BaseScore(state, word, out) * LN10
            hit = self._cache[key] = (self.weight * lp + self.word_score, out)
        return hit

    def _advance(self, row: _Row, tok: int) -> tuple[float, _Row | None]:
        """The score added by token ``tok`` after ``row`` and the row after it (None: ``</s>``)."""
        if tok == self.eos:
            delta, state = 0.0, row.state
            if row.word:
                delta, state = self._word(state, row.word)
            end = self._kenlm.State()
            delta += self.weight * self.lm.BaseScore(state, "</s>", end) * LN10
            return delta, None
        if tok == self.unk:
            return self.unk_score, _Row(row.state, row.word + "\x00", True)
        ends, text = self.units[tok]
        delta, state, word, oov = 0.0, row.state, row.word, row.oov
        if ends and word:
            delta, state = self._word(state, word)
            word, oov = "", False
        if ends and not text:
            return delta, _Row(state, "", False)
        word += text
        if not oov and self.prefixes is not None and word not in self.prefixes:
            delta += self.unk_score
            oov = True
        return delta, _Row(state, word, oov)

    def score(self, rows: list[_Row], cands: Tensor) -> Tensor:
        """(N, M) scores that each row's candidate tokens ``cands`` (N, M) add."""
        self._cache.clear()
        out = [[self._advance(r, t)[0] for t in toks] for r, toks in zip(rows, cands.tolist())]
        return torch.tensor(out, dtype=torch.float32, device=cands.device)

    def select(self, rows: list[_Row], index: list[int], toks: list[int]) -> list[_Row]:
        """The rows of the chosen hypotheses: row ``index[j]`` extended by ``toks[j]``."""
        out = []
        for i, t in zip(index, toks):
            nxt = self._advance(rows[i], t)[1]
            out.append(nxt if nxt is not None else rows[i])
        return out

    def sentence_score(self, ids: list[int]) -> float:
        """The total this scorer adds to a whole hypothesis ``ids`` (without ``</s>``), ``</s>`` included."""
        (row,) = self.initial(1)
        total = 0.0
        for t in [*ids, self.eos]:
            delta, nxt = self._advance(row, t)
            total += delta
            row = nxt if nxt is not None else row
        return total


def load_fusion(path, vocab: Vocabulary, weight: float, word_score: float = 0.0, unk_score: float = NEG_INF,
                device: str = "cpu"):
    """The fusion scorer of ``path``: an s2s LM checkpoint (``.pt``) or a KenLM word n-gram."""
    path = Path(path)
    if path.suffix == ".pt":
        from s2s.models.checkpoint import load_model

        model, meta = load_model(path, device, task="lm")
        lm_vocab = Vocabulary.from_dict(meta["vocab"], source=f"{path} (vocabulary)")
        if lm_vocab.tokens != vocab.tokens:
            raise S2SError(f"{path}: the LM's vocabulary ({len(lm_vocab.tokens)} tokens) is not the decoder's "
                           f"({len(vocab.tokens)} tokens); train the LM with the model's token list "
                           f"(--token_list data/lang)")
        return NeuralLmFusion(model, weight)
    from s2s.decode.beam import load_kenlm
    from s2s.decode.ngram import lm_vocabulary

    return WordNgramFusion(load_kenlm(path), vocab, weight, word_score, unk_score, lm_vocabulary(path))
