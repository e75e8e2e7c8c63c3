"""Autoregressive decoding of attention encoder-decoders: greedy and batched beam search.

``beam_search(model, src, src_lengths, ...)`` decodes a batch of sources at once with
``beam`` hypotheses each (batch x beam rows through the decoder), carrying the decoder's
incremental state (the Transformer's key/value cache, the RNN's cells, ConvS2S's
convolution windows) and reordering it as beams are chosen. Each step takes the best
``2 * beam`` continuations of every sentence; an ``</s>`` among the best ``beam`` of them
finishes a hypothesis, and the best ``beam`` others continue (so beam 1 is greedy
search exactly). A sentence is done when it has ``beam`` finished hypotheses or reaches
its maximum length ``max_len_a * source_length + max_len_b`` (where ``</s>`` is forced);
it then leaves the batch, so the decoder only runs for sentences still searched. The first
step, the same for every beam of a sentence, runs once per sentence.

``min_len`` forbids ``</s>`` until that many tokens are out (fairseq's min_len).
Finished hypotheses are ranked by GNMT's length penalty (Wu et al. 2016):
``score / ((5 + |Y|) / 6) ** lenpen`` with ``|Y|`` the output tokens including ``</s>``
(``lenpen`` 0: raw log-probability).

Scores added to the decoder's log-probability ``log p_att``:

- joint CTC-attention (Watanabe et al. 2017, ESPnet's hybrid decoding): with
  ``ctc_weight`` λ > 0 and a model with a CTC head, each continuation is scored
  ``(1 - λ) log p_att + λ log p_ctc`` where ``log p_ctc`` is the CTC prefix score of the
  extended hypothesis minus that of the hypothesis, computed for the best
  ``ctc_candidates`` tokens by attention (the others are dropped);
- shallow fusion (``fusion``, s2s.decode.fusion): a neural LM adds ``weight log p_lm`` to every
  token; a word n-gram adds its weighted word scores to the candidates (the best
  ``ctc_candidates`` by attention and neural LM, as the CTC prefix score does).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from s2s.data.tokens import Vocabulary
from s2s.models.seq2seq import reorder_state

NEG_INF = float("-inf")
# Ids a decoder never outputs: the CTC blank, padding and <s>.
NEVER = [Vocabulary.blank_id, Vocabulary.pad_id, Vocabulary.bos_id]


@dataclass
class Hyp:
    tokens: list[int]      # output ids, </s> excluded
    score: float           # the ranking score (length-normalised)
    logprob: float         # the summed log-probability (joint scores included)
    steps: int = 0         # output length including </s>
    extra: dict = field(default_factory=dict)


def length_penalty(length: int, alpha: float) -> float:
    return ((5.0 + length) / 6.0) ** alpha if alpha else 1.0


def max_lengths(mem_lengths: Tensor, max_len_a: float, max_len_b: int, cap: int) -> list[int]:
    return [max(1, min(cap, int(max_len_a * int(n) + max_len_b))) for n in mem_lengths]


@torch.no_grad()
def greedy_search(model, src: Tensor, src_lengths: Tensor, bos: int, eos: int, max_len_a: float = 1.5,
                  max_len_b: int = 10, max_len: int = 1024) -> list[Hyp]:
    """The most probable token at every step, for a batch; stops at ``</s>`` or the maximum length."""
    memory, mem_lengths = model.encode(src, src_lengths)
    limits = max_lengths(mem_lengths, max_len_a, max_len_b, max_len)
    state = model.init_state(memory, mem_lengths)
    n = src.size(0)
    tokens = torch.full((n, 1), bos, dtype=torch.long, device=memory.device)
    out = [Hyp([], 0.0, 0.0) for _ in range(n)]
    done = [False] * n
    for t in range(1, max(limits) + 1):
        logp, state = model.step(tokens, state, memory, mem_lengths)
        logp[:, NEVER] = NEG_INF
        for i, lim in enumerate(limits):
            if t >= lim:
                logp[i, :eos] = NEG_INF
                logp[i, eos + 1:] = NEG_INF
        best, ids = logp.max(-1)
        for i in range(n):
            if done[i]:
                continue
            out[i].logprob += float(best[i])
            out[i].steps = t
            if int(ids[i]) == eos:
                done[i] = True
            else:
                out[i].tokens.append(int(ids[i]))
        if all(done):
            break
        tokens = torch.cat([tokens, ids[:, None]], 1)
    for h in out:
        h.score = h.logprob
    return out


class CtcPrefixScorer:
    """CTC prefix scores (Watanabe et al. 2017, Algorithm 2) of hypotheses extended by candidate tokens.

    ``x``: CTC log-probs (N, T, V) per hypothesis row, ``lengths`` (N,) valid frames.
    The state of a hypothesis ``g`` is ``r`` (N, T, 2): log forward probabilities of ``g``
    ending in a non-blank (0) or blank (1) at frame t, and ``psi`` (N,) its prefix score.
    """

    def __init__(self, x: Tensor, lengths: Tensor, blank: int, eos: int):
        self.x = x
        self.lengths = lengths
        self.blank = blank
        self.eos = eos
        self.T = x.size(1)
        self.valid = torch.arange(self.T, device=x.device)[None, :] < lengths[:, None]  # (N, T)

    def select(self, index: Tensor) -> "CtcPrefixScorer":
        """The scorer of rows ``index`` (when hypotheses leave the batch)."""
        return CtcPrefixScorer(self.x.index_select(0, index), self.lengths.index_select(0, index), self.blank,
                               self.eos)

    def initial(self) -> dict:
        n = self.x.size(0)
        r = torch.full((n, self.T, 2), NEG_INF, device=self.x.device)
        r[:, :, 1] = torch.cumsum(self.x[:, :, self.blank], 1)
        return {"r": r, "psi": torch.zeros(n, device=self.x.device), "last": torch.full((n,), -1, dtype=torch.long,
                                                                                          device=self.x.device)}

    def score(self, st: dict, cands: Tensor, first: bool) -> tuple[Tensor, Tensor]:
        """Prefix scores ``psi`` (N, M) of every hypothesis extended by each of its ``cands`` (N, M),
        and the new forward variables (N, M, T, 2)."""
        n, m = cands.shape
        r_prev = st["r"]                                        # (N, T, 2)
        xc = torch.gather(self.x, 2, cands[:, None, :].expand(n, self.T, m))  # (N, T, M)
        xb = self.x[:, :, self.blank]                           # (N, T)
        both = torch.logaddexp(r_prev[:, :, 0], r_prev[:, :, 1])  # (N, T)
        same = cands == st["last"][:, None]                     # (N, M)
        phi = torch.where(same[:, None, :], r_prev[:, :, 1:2].expand(n, self.T, m), both[:, :, None].expand(n, self.T, m))
        rn = torch.full((n, self.T, m), NEG_INF, device=self.x.device)
        rb = torch.full((n, self.T, m), NEG_INF, device=self.x.device)
        if first:
            rn[:, 0] = xc[:, 0]
        psi = rn[:, 0].clone()
        for t in range(1, self.T):
            rn[:, t] = torch.logaddexp(rn[:, t - 1], phi[:, t - 1]) + xc[:, t]
            rb[:, t] = torch.logaddexp(rn[:, t - 1], rb[:, t - 1]) + xb[:, t, None]
            add = phi[:, t - 1] + xc[:, t]
            psi = torch.where(self.valid[:, t, None], torch.logaddexp(psi, add), psi)
        # </s>: the whole utterance is explained by g.
        last = (self.lengths - 1).clamp(min=0)
        end = both.gather(1, last[:, None])                     # (N, 1)
        psi = torch.where(cands == self.eos, end.expand(n, m), psi)
        return psi, torch.stack([rn, rb], -1).transpose(1, 2)    # (N, M, T, 2)


@torch.no_grad()
def beam_search(model, src: Tensor, src_lengths: Tensor, bos: int, eos: int, beam: int = 4, lenpen: float = 0.6,
                max_len_a: float = 1.5, max_len_b: int = 10, max_len: int = 1024, nbest: int = 1,
                use_cache: bool = True, ctc_weight: float = 0.0, ctc_candidates: int = 0, blank: int = 0,
                fusion=(), min_len: int = 0) -> list[list[Hyp]]:
    """The ``nbest`` best hypotheses of every source in the batch, best first (see the module docstring).

    A sentence that is done leaves the batch: the decoder runs on the beams of the sentences
    still being searched only."""
    memory, mem_lengths = model.encode(src, src_lengths)
    b, k = src.size(0), beam
    dev = memory.device
    limits = max_lengths(mem_lengths, max_len_a, max_len_b, max_len)
    if ctc_weight > 0 and getattr(model, "ctc", None) is None:
        from s2s.errors import S2SError

        raise S2SError("ctc_weight > 0 needs a model with a CTC head (trained with ctc_weight > 0)")
    # The first step is the same for the k beams of a sentence: it runs once per sentence (and the
    # memory-derived state, e.g. the cross-attention keys/values, is computed once per sentence),
    # then everything is copied to the k beams.
    state = model.init_state(memory, mem_lengths)
    tokens = torch.full((b, 1), bos, dtype=torch.long, device=dev)
    first, state = model.step(tokens, state, memory, mem_lengths, use_cache=use_cache)
    rows = torch.arange(b, device=dev).repeat_interleave(k)
    ctc = None
    if ctc_weight > 0:
        ctc = CtcPrefixScorer(model.ctc_logprobs(memory).index_select(0, rows), mem_lengths.index_select(0, rows),
                              blank, eos)
        ctc_state = ctc.initial()
    memory, mem_lengths = memory.index_select(0, rows), mem_lengths.index_select(0, rows)
    # A decoder that reads its memory-derived state per sentence keeps it so (its k beams share it).
    per_sentence = getattr(getattr(model, "decoder", None), "per_sentence_state", False) and use_cache
    state = reorder_state(state, rows, within_sentence=per_sentence)
    first, tokens = first.index_select(0, rows), tokens.index_select(0, rows)
    scores = torch.full((b, k), NEG_INF, device=dev)
    scores[:, 0] = 0.0
    finished: list[list[Hyp]] = [[] for _ in range(b)]
    alive = list(range(b))            # the sentences in the batch, in row order (k rows each)
    full = [f for f in fusion if f.full]
    partial = [f for f in fusion if not f.full]
    part_states = [f.initial(b * k) for f in partial]
    full_states = [f.initial(b * k, dev) for f in full]
    ncand = min(ctc_candidates or max(int(1.5 * k), k + 1), model.vocab_size)
    for t in range(1, max(limits) + 1):
        if t == 1:
            logp = first
        else:
            logp, state = model.step(tokens, state, memory, mem_lengths, use_cache=use_cache)
        logp[:, NEVER] = NEG_INF
        if t <= min_len:
            logp[:, eos] = NEG_INF
        if ctc is not None:
            logp = (1 - ctc_weight) * logp
        for j, f in enumerate(full):
            extra, full_states[j] = f.scores(full_states[j], tokens)
            logp = logp + extra
        if ctc is not None or partial:
            cands = logp.topk(ncand, -1).indices                          # (N, M) by attention (+ LM)
            joint = logp.gather(1, cands)
            if ctc is not None:
                psi, r_new = ctc.score(ctc_state, cands, first=t == 1)
                joint = joint + ctc_weight * (psi - ctc_state["psi"][:, None])
            for f, st in zip(partial, part_states):
                joint = joint + f.score(st, cands)
            logp = torch.full_like(logp, NEG_INF).scatter(1, cands, joint)
        for p, i in enumerate(alive):
            if t >= limits[i]:
                logp[p * k:(p + 1) * k, :eos] = NEG_INF
                logp[p * k:(p + 1) * k, eos + 1:] = NEG_INF
        vocab = logp.size(1)
        # The 2k best (hypothesis, token) pairs of each sentence are among each hypothesis's 2k best
        # tokens: a top-k per row, then over the k * 2k survivors (the same pairs as a top-k over all
        # k * vocab sums, without computing them).
        m = min(2 * k, vocab)
        row_top, row_tok = logp.topk(m, -1)
        top, pos = (scores.view(-1, 1) + row_top).view(len(alive), k * m).topk(min(2 * k, k * m), -1)
        idx = torch.div(pos, m, rounding_mode="floor") * vocab + row_tok.view(len(alive), k * m).gather(1, pos)
        top_l, idx_l = top.tolist(), idx.tolist()
        pick_rows, pick_tok, pick_scores, still = [], [], [], []
        for p, i in enumerate(alive):
            new_rows, new_tok, new_sc = [], [], []
            for rank, (s, j) in enumerate(zip(top_l[p], idx_l[p])):
                if s == NEG_INF:
                    break
                row, tok = p * k + j // vocab, j % vocab
                if tok == eos:
                    if rank < k:
                        finished[i].append(Hyp(tokens[row, 1:].tolist(), s / length_penalty(t, lenpen), s, t))
                    continue
                if len(new_rows) < k:
                    new_rows.append(row)
                    new_tok.append(tok)
                    new_sc.append(s)
            if len(finished[i]) >= k or t >= limits[i] or not new_rows:
                continue                  # done: the sentence leaves the batch
            while len(new_rows) < k:
                new_rows.append(new_rows[0])
                new_tok.append(new_tok[0])
                new_sc.append(NEG_INF)
            still.append(i)
            pick_rows += new_rows
            pick_tok += new_tok
            pick_scores.append(new_sc)
        if not still:
            break
        index = torch.tensor(pick_rows, device=dev)
        new_tok_t = torch.tensor(pick_tok, device=dev)
        shrink = len(still) < len(alive)
        if ctc is not None:
            # The forward variables of the chosen (hypothesis, candidate) pairs.
            pos = (cands.index_select(0, index) == new_tok_t[:, None]).float().argmax(1)
            r_sel = r_new.index_select(0, index)[torch.arange(len(pick_rows)), pos]
            psi_sel = psi.index_select(0, index)[torch.arange(len(pick_rows)), pos]
            ctc_state = {"r": r_sel, "psi": psi_sel, "last": new_tok_t}
            if shrink:
                ctc = ctc.select(index)
        part_states = [f.select(st, pick_rows, pick_tok) for f, st in zip(partial, part_states)]
        full_states = [f.select(st, index) for f, st in zip(full, full_states)]
        # Beams never leave their sentence: the memory-derived state only changes when sentences leave.
        kept = torch.tensor([alive.index(i) for i in still], device=dev) if shrink and per_sentence else None
        state = reorder_state(state, index, within_sentence=not shrink, sentences=kept)
        if shrink:
            memory, mem_lengths = memory.index_select(0, index), mem_lengths.index_select(0, index)
        tokens = torch.cat([tokens.index_select(0, index), new_tok_t[:, None]], 1)
        scores = torch.tensor(pick_scores, device=dev)
        alive = still
    out = []
    for i in range(b):
        hyps = sorted(finished[i], key=lambda h: -h.score)[:nbest]
        out.append(hyps or [Hyp([], NEG_INF, NEG_INF, 0)])
    return out


def sequence_accuracy(hyps: list[list[int]], refs: list[list[int]]) -> float:
    """Share of hypotheses equal to their reference."""
    return sum(h == r for h, r in zip(hyps, refs)) / max(1, len(refs))


