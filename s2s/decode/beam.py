"""CTC beam search with a KenLM n-gram, on flashlight-text's C++ decoders.

Two searches, chosen by what the LM is:

- lexicon search (``LexiconDecoder``): a word n-gram; hypotheses are sequences
  of words from a lexicon, spelled in the tokens through a trie. The lexicon is
  the ``lexicon`` file, or else the LM's own vocabulary spelled in the tokens
  (characters letter by letter, SentencePiece with the fewest pieces).
- lexicon-free search (``LexiconFreeDecoder``): no LM (plain CTC prefix beam
  search) or a token-level n-gram (trained on text spelled in tokens by
  ``train_ngram --unit token``); any token sequence is allowed.

Scores are natural logs. For every hypothesis

    score = am_score + lm_weight * lm_score + word_score * words (+ unk_score * unknown words)

where ``am_score`` is the sum of the chosen log-probabilities and ``lm_score``
the KenLM log-probability of the word (or token) sequence including ``</s>``,
recomputed with the ``kenlm`` module. ``lm_weight`` is alpha in the natural-log
convention of DeepSpeech and pyctcdecode (KenLM's log10 is converted).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from s2s.data.tokens import LM_SPECIALS, SPACE, SPECIALS, UNK, Vocabulary
from s2s.decode.ctc import collapse
from s2s.decode.ngram import lm_vocabulary, read_lexicon, vocab_file_for
from s2s.errors import S2SError

LN10 = math.log(10.0)
# Pruning like pyctcdecode's defaults (beam_prune_logp -10, token_min_logp -5): several times
# faster than no token pruning at equal WER (benchmarks/decode.py). Decoding and alpha/beta
# tuning share these, so the tuned WER is the decoded one.
END_PENALTY = -1.0e4  # log-prob of a non-<space> token on the closing frame (see CtcBeamDecoder.__call__)
BEAM_DEFAULTS = {"beam": 64, "beam_threshold": 10.0, "token_beam": 5, "lm_weight": 0.5, "word_score": 0.0,
                 "unk_score": float("-inf"), "nbest": 1}
# An LM vocabulary with more unspellable words than this is taken as written for other tokens.
MAX_UNSPELLABLE = 0.2


@dataclass
class Hypothesis:
    """One decoding result; ``score = am_score + α·lm_score + β·len(words)`` (natural logs)."""

    text: str
    words: list[str]
    score: float
    am_score: float
    lm_score: float
    tokens: list[int] = field(default_factory=list)


def load_kenlm(path):
    """Load an ARPA or binary KenLM model with the ``kenlm`` module; S2SError naming the file when it cannot."""
    path = Path(path)
    if not path.is_file():
        raise S2SError(f"{path}: language model not found; build one with utils/train_ngram.sh "
                       f"(python -m s2s.bin.train_ngram)")
    if path.stat().st_size == 0:
        raise S2SError(f"{path}: empty language model file; rebuild it with utils/train_ngram.sh")
    import kenlm

    try:
        return kenlm.Model(str(path))
    except (OSError, RuntimeError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise S2SError(f"{path}: not a valid ARPA or KenLM binary language model ({first}); "
                       f"rebuild it with utils/train_ngram.sh") from None


class CtcBeamDecoder:
    """Beam search over CTC log-probabilities ``(T, V)``; ``decoder(log_probs)`` -> n-best, best first.

    ``vocab``: the model's vocabulary (characters use ``<space>`` as the word
    separator, SentencePiece pieces mark word starts with ``▁``). ``beam``:
    hypotheses kept per frame;
    ``beam_threshold``: drop hypotheses this far below the best;
    ``token_beam``: tokens tried per frame (the most probable ones; ``None``:
    all). Defaults: ``BEAM_DEFAULTS``, shared by decoding, tuning and transcription.
    ``lm_weight`` α, ``word_score`` β, ``unk_score``: the bonus for a word outside the lexicon (``-inf`` forbids them).
    """

    def __init__(self, vocab: Vocabulary, lm: str | None = None, lexicon: str | None = None,
                 beam: int = BEAM_DEFAULTS["beam"], beam_threshold: float = BEAM_DEFAULTS["beam_threshold"],
                 token_beam: int | None = BEAM_DEFAULTS["token_beam"], lm_weight: float = BEAM_DEFAULTS["lm_weight"],
                 word_score: float = BEAM_DEFAULTS["word_score"], unk_score: float = BEAM_DEFAULTS["unk_score"],
                 nbest: int = 1):
        from flashlight.lib.text.decoder import ZeroLM
        from flashlight.lib.text.decoder.kenlm import KenLM
        from flashlight.lib.text.dictionary import Dictionary

        if beam < 1 or nbest < 1:
            raise S2SError(f"beam ({beam}) and nbest ({nbest}) must be at least 1")
        self.vocab = vocab
        self.tokens = list(vocab.tokens)
        self.chars = vocab.kind == "char"
        self.blank_id = vocab.blank_id
        # The word boundary: <space> for characters; SentencePiece has none, so the blank
        # stands in for "between words" (it never starts or continues a word).
        self.sil_id = vocab.space_id if self.chars else self.blank_id
        self.unk_score = float(unk_score)
        self.nbest = int(nbest)
        self.lm_path = lm
        self.kenlm = load_kenlm(lm) if lm is not None else None
        token_beam = len(self.tokens) if token_beam is None else int(token_beam)
        token_dict = Dictionary(self.tokens)

        lm_kind = self._lm_kind() if lm is not None else None
        self._search = dict(beam_size=int(beam), beam_size_token=token_beam, beam_threshold=float(beam_threshold))
        if lexicon is None and lm_kind != "word":
            # Lexicon-free: no LM, or a token-level LM queried after every new token.
            self.mode = "lexicon-free"
            self._fl_lm = ZeroLM() if lm is None else KenLM(str(lm), token_dict)
            self.words = None
        else:
            self.mode = "lexicon"
            spellings, self.output_words = self._lexicon_entries(lexicon)
            self.words = list(spellings)
            if UNK not in spellings:
                self.words.append(UNK)
            self.unk_word = self.words.index(UNK)
            self._fl_lm = ZeroLM() if lm is None else KenLM(str(lm), Dictionary(self.words))
            self._trie = _build_trie(spellings, self.words, self.tokens, self.sil_id, self._fl_lm, self.chars)
        self.set_weights(lm_weight, word_score, unk_score)

    def set_weights(self, lm_weight: float, word_score: float, unk_score: float | None = None) -> None:
        """Change α, β (and the unknown-word score) without reloading the LM or rebuilding the lexicon."""
        from flashlight.lib.text.decoder import (
            CriterionType,
            LexiconDecoder,
            LexiconDecoderOptions,
            LexiconFreeDecoder,
            LexiconFreeDecoderOptions,
        )

        self.lm_weight = float(lm_weight)
        self.word_score = float(word_score)
        if unk_score is not None:
            self.unk_score = float(unk_score)
        # KenLM scores are log10; the search works in natural logs, so α is scaled by ln 10.
        if self.mode == "lexicon-free":
            # LexiconFreeDecoder has no word bonus (its sil_score counts every <space> frame,
            # not words): β enters the n-best ranking through the recomputed score only.
            opts = LexiconFreeDecoderOptions(**self._search, lm_weight=self.lm_weight * LN10, sil_score=0.0,
                                             log_add=False, criterion_type=CriterionType.CTC)
            self._decoder = LexiconFreeDecoder(opts, self._fl_lm, self.sil_id, self.blank_id, [])
        else:
            opts = LexiconDecoderOptions(**self._search, lm_weight=self.lm_weight * LN10,
                                         word_score=self.word_score, unk_score=self.unk_score, sil_score=0.0,
                                         log_add=False, criterion_type=CriterionType.CTC)
            self._decoder = LexiconDecoder(opts, self._trie, self._fl_lm, self.sil_id, self.blank_id,
                                           self.unk_word, [], False)

    # ---- set-up ----------------------------------------------------------------------

    def _lm_kind(self) -> str:
        """'token' when the LM's vocabulary is the token set, else 'word'."""
        lm_words = lm_vocabulary(self.lm_path)
        units = self.tokens[len(SPECIALS):]
        if lm_words is None:
            # A binary without its word list: ask the model whether it knows the tokens.
            known = sum(t in self.kenlm for t in units)
            return "token" if units and known >= 0.9 * len(units) else "word"
        words = [w for w in lm_words if w not in LM_SPECIALS]
        if words and all(w in set(units) for w in words) and (not self.chars or SPACE in words):
            return "token"
        return "word"

    def _lexicon_entries(self, lexicon):
        """(LM word -> spellings, LM word -> output word) from the lexicon or the LM vocabulary."""
        vocab = self.vocab
        if lexicon is not None:
            lex = read_lexicon(lexicon, vocab)
            return lex, {w: w for w in lex}
        lm_words = lm_vocabulary(self.lm_path)
        if lm_words is None:
            raise S2SError(f"{self.lm_path}: a binary LM without its word list ({vocab_file_for(self.lm_path)}); "
                           f"pass --lexicon (python -m s2s.bin.train_ngram writes lexicon.txt) or the ARPA file")
        words = [w for w in lm_words if w not in LM_SPECIALS]
        spellings, out, bad = {}, {}, []
        for w in words:
            # Spell in the tokens' case (an upper-case LM works with lower-case tokens) and
            # print words that way too, so hypotheses match references written for the tokens.
            folded = vocab.fold_case(w)
            sp = vocab.spell(folded)
            if sp is None:
                bad.append(w)
                continue
            spellings[w] = [sp]
            out[w] = folded
        if not words or len(bad) > MAX_UNSPELLABLE * len(words):
            chars = sorted({c for w in bad for c in vocab.fold_case(w) if c not in vocab.chars})
            raise S2SError(
                f"{self.lm_path}: the LM's vocabulary does not fit the token set: {len(bad)} of {len(words)} words "
                f"cannot be spelled in the tokens (e.g. {bad[:5]}; characters not in the tokens: {chars[:20]}); "
                f"train the LM on text normalised to these tokens (utils/train_ngram.sh --tokens "
                f"data/lang/tokens.txt) or pass a --lexicon")
        self.unspellable = bad
        return spellings, out

    # ---- decoding --------------------------------------------------------------------

    def __call__(self, log_probs: np.ndarray) -> list[Hypothesis]:
        """The ``nbest`` best distinct hypotheses for one utterance, best first."""
        x = np.asarray(log_probs)
        if x.ndim != 2:
            raise S2SError(f"log-probabilities must be a (T, V) matrix, got shape {x.shape}")
        if x.shape[1] != len(self.tokens):
            raise S2SError(f"log-probabilities have width {x.shape[1]} but the token list has {len(self.tokens)} "
                           f"tokens; use the tokens.txt the model was trained with")
        if not np.isfinite(x).all():
            raise S2SError("log-probabilities contain NaN or inf; the model output is broken")
        if x.shape[0] == 0:
            return [Hypothesis("", [], 0.0, 0.0, self._lm_logprob([]), [])]
        x = np.ascontiguousarray(x, dtype=np.float32)
        end = None
        if self.mode == "lexicon" and self.chars:
            # Words are spelled with a closing <space>; a final frame that is <space> (log-prob 0,
            # so no change to am_score) closes the last word. Any other token there costs
            # END_PENALTY, which is taken out of the score again: a hypothesis that must spend
            # that frame on a letter to finish its word ranks below one that need not, yet such
            # hypotheses keep their order among themselves (a penalty of -1e30 would swamp
            # float32 and make them all tie, leaving the choice to the decoder's memory order).
            end = np.full((1, x.shape[1]), END_PENALTY, dtype=np.float32)
            end[0, self.sil_id] = 0.0
            x = np.concatenate([x, end])
        n_frames = len(log_probs)
        results = self._decoder.decode(x.ctypes.data, x.shape[0], x.shape[1])
        hyps, seen = [], set()
        for r in results:
            # r.tokens has the start state first, then one token per frame, then the end state.
            path = list(r.tokens)
            toks = collapse(path[1: 1 + n_frames], self.blank_id)
            words = self._words(r, toks)
            key = tuple(words)
            if key in seen:
                continue
            seen.add(key)
            am = float(r.emittingModelScore)
            if end is not None and len(path) > 1 + n_frames:
                am -= float(end[0, path[1 + n_frames]])
            hyps.append(self._hypothesis(words, toks, am))
        hyps.sort(key=lambda h: -h.score)
        return hyps[: self.nbest]

    def _words(self, r, toks: list[int]) -> list[str]:
        if self.mode == "lexicon-free":
            return self._token_words(toks)
        ids = [w for w in r.words if w >= 0]
        words = [self.output_words.get(self.words[w], self.words[w]) if w != self.unk_word else UNK for w in ids]
        if UNK in words and self.chars:
            # Show what an unknown word sounded like: its spelling between separators.
            spelled = self._token_words(toks)
            if len(spelled) == len(words):
                words = [s if w == UNK else w for w, s in zip(words, spelled)]
        return words

    def _token_words(self, toks: list[int]) -> list[str]:
        return "".join(self.vocab.token_texts(toks)).split()

    def _lm_logprob(self, units: list[str]) -> float:
        if self.kenlm is None:
            return 0.0
        return self.kenlm.score(" ".join(units), bos=True, eos=True) * LN10

    def _hypothesis(self, words: list[str], toks: list[int], am: float) -> Hypothesis:
        if self.mode == "lexicon-free":
            lm_units = [self.tokens[t] for t in toks if t != self.blank_id]
            n_unk, n_words = 0, len(words)
        else:
            # Score what the LM saw: its own spelling of each word (case included).
            inv = self._inverse_output()
            lm_units = [inv.get(w, UNK) for w in words]
            n_unk = sum(u == UNK for u in lm_units)
            n_words = len(words) - n_unk
        lm = self._lm_logprob(lm_units)
        score = am + self.lm_weight * lm + self.word_score * n_words
        if n_unk:
            score += self.unk_score * n_unk
        return Hypothesis(" ".join(words), words, float(score), float(am), float(lm), toks)

    def _inverse_output(self) -> dict[str, str]:
        inv = getattr(self, "_inv", None)
        if inv is None:
            inv = self._inv = {o: w for w, o in self.output_words.items()}
        return inv


def _build_trie(spellings: dict, words: list[str], tokens: list[str], sil: int, fl_lm, close_with_sil: bool):
    """The lexicon trie over token ids, smeared with unigram LM scores (look-ahead for pruning)."""
    from flashlight.lib.text.decoder import SmearingMode, Trie

    index = {t: i for i, t in enumerate(tokens)}
    trie = Trie(len(tokens), sil)
    start = fl_lm.start(False)
    for wi, w in enumerate(words):
        for sp in spellings.get(w, ()):
            ids = [index[t] for t in sp]
            if close_with_sil:
                ids.append(sil)
            _, score = fl_lm.score(start, wi)
            trie.insert(ids, wi, score)
    trie.smear(SmearingMode.MAX)
    return trie


def add_beam_args(p, weights: bool = True) -> None:
    """The beam-search options of the entry points (decode, transcribe, tune_lm) on an argparse parser."""
    g = p.add_argument_group("beam search")
    g.add_argument("--lm", help="KenLM model (ARPA or binary)")
    g.add_argument("--lexicon", help="lexicon (word spelling); default: the LM's words spelled in the tokens")
    g.add_argument("--beam", type=int, default=BEAM_DEFAULTS["beam"])
    g.add_argument("--beam-threshold", type=float, default=BEAM_DEFAULTS["beam_threshold"])
    g.add_argument("--token-beam", type=int, default=BEAM_DEFAULTS["token_beam"])
    g.add_argument("--unk-score", type=float, default=BEAM_DEFAULTS["unk_score"])
    if weights:
        g.add_argument("--lm-weight", type=float, default=BEAM_DEFAULTS["lm_weight"], help="alpha")
        g.add_argument("--word-score", type=float, default=BEAM_DEFAULTS["word_score"],
                       help="beta, the word insertion bonus")
        g.add_argument("--nbest", type=int, default=BEAM_DEFAULTS["nbest"])


def beam_decoder_from_args(vocab: Vocabulary, args) -> CtcBeamDecoder:
    """A decoder with the options ``add_beam_args`` defined (weights default when absent)."""
    return CtcBeamDecoder(vocab, lm=args.lm, lexicon=args.lexicon, beam=args.beam,
                          beam_threshold=args.beam_threshold, token_beam=args.token_beam,
                          lm_weight=getattr(args, "lm_weight", BEAM_DEFAULTS["lm_weight"]),
                          word_score=getattr(args, "word_score", BEAM_DEFAULTS["word_score"]),
                          unk_score=args.unk_score, nbest=getattr(args, "nbest", 1))
