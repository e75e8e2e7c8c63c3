"""CTC best path, forced alignment and word timings: the one CTC collapse of s2s (numpy only).

- ``collapse`` turns a frame-level path into tokens (merge repeats, drop blanks);
  ``greedy_search`` does it for the argmax path of a batch (or one utterance) of
  log-probabilities. The beam decoder, validation during training and inference all use it.
- ``forced_align`` finds the most probable frame path that collapses to given tokens
  (Viterbi over the CTC topology), so any transcript -- greedy, beam search, rescored --
  gets token times; ``word_timings`` groups them into words with start/end times and a
  confidence from the posteriors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def collapse(frame_ids, blank: int = 0) -> list[int]:
    """CTC collapse of a frame-level path: merge repeated tokens, then drop blanks."""
    out, prev = [], None
    for t in frame_ids:
        t = int(t)
        if t != prev and t != blank:
            out.append(t)
        prev = t
    return out


def greedy_search(log_probs, lengths=None, blank: int = 0) -> list[list[int]]:
    """Best-path token ids per utterance of ``log_probs`` (B, T, V) with valid ``lengths`` (B,),
    or of one utterance (T, V) (then a one-element list). Accepts numpy arrays or torch tensors."""
    if not isinstance(log_probs, np.ndarray):
        log_probs = log_probs.detach().float().cpu().numpy()
    if log_probs.ndim == 2:
        log_probs = log_probs[None]
        lengths = [log_probs.shape[1]]
    best = log_probs.argmax(-1)
    if lengths is None:
        lengths = [best.shape[1]] * best.shape[0]
    return [collapse(best[b, : int(n)], blank) for b, n in enumerate(lengths)]


def forced_align(log_probs: np.ndarray, tokens: list[int], blank: int = 0) -> np.ndarray:
    """The frame-level path (T,) of highest probability that collapses to ``tokens``.

    Viterbi over the usual CTC states (blank, token_1, blank, ..., token_L, blank): a
    state may repeat, advance by one, or skip a blank between two different tokens.
    Raises ValueError when ``tokens`` need more frames than there are.
    """
    lp = np.asarray(log_probs, dtype=np.float64)
    n_frames = lp.shape[0]
    states = [blank]
    for tok in tokens:
        states += [int(tok), blank]
    s = len(states)
    need = len(tokens) + sum(1 for a, b in zip(tokens, tokens[1:]) if a == b)
    if need > n_frames:
        raise ValueError(f"{len(tokens)} tokens need at least {need} frames, got {n_frames}")
    states_arr = np.asarray(states)
    emit = lp[:, states_arr]  # (T, S)
    # a skip from s-2 to s is allowed into a token that differs from the token two states back
    can_skip = np.zeros(s, dtype=bool)
    can_skip[3::2] = states_arr[3::2] != states_arr[1:-2:2]
    neg = -np.inf
    score = np.full(s, neg)
    score[0] = emit[0, 0]
    if s > 1:
        score[1] = emit[0, 1]
    back = np.zeros((n_frames, s), dtype=np.int8)  # 0: stay, 1: from s-1, 2: from s-2
    for t in range(1, n_frames):
        stay = score
        step = np.concatenate([[neg], score[:-1]])
        skip = np.where(can_skip, np.concatenate([[neg, neg], score[:-2]]), neg)
        choice = np.argmax(np.stack([stay, step, skip]), axis=0)
        score = np.maximum(np.maximum(stay, step), skip) + emit[t]
        back[t] = choice
    # end in the last token or the final blank
    end = s - 1 if s == 1 or score[s - 1] >= score[s - 2] else s - 2
    path = np.empty(n_frames, dtype=np.int64)
    state = end
    for t in range(n_frames - 1, -1, -1):
        path[t] = states[state]
        state -= int(back[t, state])
    return path


@dataclass
class Word:
    """A recognised word: ``start``/``end`` in seconds, ``conf`` in [0, 1]."""

    word: str
    start: float
    end: float
    conf: float

    def to_dict(self) -> dict:
        return {"word": self.word, "start": round(self.start, 3), "end": round(self.end, 3),
                "conf": round(self.conf, 3)}


def word_timings(log_probs: np.ndarray, tokens: list[int], vocab, frame_shift: float,
                 offset: float = 0.0) -> list[Word]:
    """Words of ``tokens`` with times from their forced alignment to ``log_probs``.

    A token occupies the frames of its run in the path; a word starts at the first
    frame of its first token and ends after the last frame of its last token
    (``frame_shift`` seconds per frame, plus ``offset``). Its confidence is the
    geometric mean, over its tokens, of each token's highest posterior within its run.
    """
    if not tokens:
        return []
    path = forced_align(log_probs, tokens, vocab.blank_id)
    runs: list[tuple[int, int, int]] = []  # (token, first frame, last frame) per emitted token
    prev = None
    for t, tok in enumerate(path.tolist()):
        if tok != vocab.blank_id and tok != prev:
            runs.append((tok, t, t))
        elif tok != vocab.blank_id and tok == prev:
            runs[-1] = (tok, runs[-1][1], t)
        prev = tok
    texts = vocab.token_texts([r[0] for r in runs], unk="<unk>")
    words: list[Word] = []
    current: list[tuple[str, int, int, float]] = []

    def close():
        if current:
            text = "".join(c[0] for c in current)
            conf = float(np.exp(np.mean([c[3] for c in current])))
            words.append(Word(text, offset + current[0][1] * frame_shift, offset + (current[-1][2] + 1) * frame_shift,
                              conf))
            current.clear()

    for (tok, first, last), text in zip(runs, texts):
        peak = float(np.max(log_probs[first:last + 1, tok]))
        if text.startswith(" "):  # a word boundary (<space>) or a piece that starts a word (▁)
            close()
            text = text.strip()
        if text:
            current.append((text, first, last, peak))
    close()
    return words


def refine_word_times(words: list[Word], audio: np.ndarray, sample_rate: int, offset: float = 0.0,
                      floor_db: float = 35.0, max_gap: float = 0.15) -> list[Word]:
    """Move each word's start and end to where its sound starts and ends.

    A CTC model marks a token with a spike somewhere inside it, so a word's first and last
    token frames can miss a quiet onset (a nasal) or a lasting end (a final "s"). In 10 ms
    frames, "sound" is within ``floor_db`` of the loudest frame of ``audio`` and 15 dB above
    its noise floor (its quietest tenth of frames); a word's end
    moves forward over sound (and quiet dips shorter than ``max_gap``) until the next word,
    or back to its last sound when it ends in quiet; its start likewise backward, not before
    the previous word's end. ``audio`` starts at ``offset`` seconds.
    """
    if not words or len(audio) < sample_rate // 100:
        return words
    hop = sample_rate // 100
    n = len(audio) // hop
    energy = np.square(audio[: n * hop].reshape(n, hop).astype(np.float64)).mean(1)
    level = 10 * np.log10(np.maximum(energy, 1e-12))
    # Sound: within floor_db of the loudest frame, and 15 dB above the noise floor (the quietest tenth).
    loud = level >= max(level.max() - floor_db, np.percentile(level, 10) + 15.0)
    gap = max(1, int(round(max_gap * 100)))

    def frame(t: float) -> int:
        return min(n, max(0, int(round((t - offset) * 100))))

    def edge(begin: int, stop: int, step: int) -> int | None:
        """The last sounding frame met walking from ``begin`` towards ``stop`` before a pause of ``gap``."""
        last, quiet, f = None, 0, begin
        while f != stop:
            if loud[f]:
                last, quiet = f, 0
            else:
                quiet += 1
                if quiet >= gap:
                    break
            f += step
        return last

    def nearest(begin: int, stop: int, step: int) -> int | None:
        """The first sounding frame met walking from ``begin`` towards ``stop``."""
        for f in range(begin, stop, step):
            if loud[f]:
                return f
        return None

    for i, w in enumerate(words):
        first, last = frame(w.start), max(frame(w.start) + 1, frame(w.end))
        nxt = frame(words[i + 1].start) if i + 1 < len(words) else n
        prev = frame(words[i - 1].end) if i > 0 else 0
        end = edge(last - 1, max(nxt, last), 1) if last - 1 < n else None
        if end is None:  # the last token fell in quiet: back to the word's last sound
            end = nearest(min(last, n) - 1, first - 1, -1)
        start = edge(first, min(prev, first) - 1, -1) if first < n else None
        if start is None:  # the first token fell in quiet: on to the word's first sound
            start = nearest(first, min(last, n), 1)
        if start is not None and end is not None and end >= start:
            w.start, w.end = offset + start / 100, offset + (end + 1) / 100
    return words
