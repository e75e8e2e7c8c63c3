"""Decode a Kaldi data dir (or a dump of its log-probabilities) into text and n-best lists.

``decode_data_dir`` is what ``python -m s2s.bin.decode`` runs: the network runs once
(``Recognizer``), optionally dumping its log-probabilities (kaldiio ark/scp) so beam
search and alpha/beta tuning can run again without it; then greedy or beam search;
OUT/text (Kaldi format) and, for beam search, OUT/nbest.jsonl. With ``job`` J of
``nj`` only that share of the sorted utterances is decoded, into OUT/text.J etc.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from s2s.data.tokens import Vocabulary
from s2s.decode.ctc import greedy_search
from s2s.decode.inference import Recognizer, data_dir_inputs, job_share
from s2s.errors import S2SError
from s2s.io import atomic_open


def network_logprobs(model: str, data: str, nj: int, job: int, device: str, batch_seconds: float):
    """``(vocab, keys, log-probs)`` of this job's utterances of ``data`` under ``model``."""
    rec = Recognizer.load(model, device)
    keys, load = data_dir_inputs(data, rec)
    keys = job_share(keys, nj, job) if job else keys
    return rec.vocab, keys, rec.logprobs([load(k) for k in keys], batch_seconds)


def attention_nbest(model: str, data: str, nj: int, job: int, device: str, batch_seconds: float, args):
    """``(vocab, keys, n-best)`` of this job's utterances by the model's attention decoder: batched beam
    search, joint with the CTC head's prefix scores when ``args.ctc_weight`` > 0, fused with the LM
    ``args.lm`` (a neural LM checkpoint or a KenLM word n-gram) at ``args.lm_weight``."""
    import torch

    from s2s.decode.seq2seq import beam_search

    rec = Recognizer.load(model, device)
    if not rec.attention:
        raise S2SError(f"{model}: a CTC model without an attention decoder; decode it with --decoder greedy or beam")
    keys, load = data_dir_inputs(data, rec)
    keys = job_share(keys, nj, job) if job else keys
    inputs = [load(k) for k in keys]
    has_ctc = rec.model.ctc is not None
    if rec.device.type == "cpu":
        from s2s.models.seq2seq import pack_linears

        pack_linears(rec.model)  # oneDNN's prepacked matrix products for the many decoder steps
    ctc_weight = getattr(args, "ctc_weight", None)
    ctc_weight = (0.3 if has_ctc else 0.0) if ctc_weight is None else ctc_weight
    if ctc_weight > 0 and not has_ctc:
        raise S2SError(f"{model}: --ctc-weight {ctc_weight} needs a CTC head; this model was trained without one "
                       f"(ctc_weight 0); use --ctc-weight 0")
    v = rec.vocab
    fusion = []
    if getattr(args, "lm", None):
        from s2s.decode.fusion import load_fusion

        fusion.append(load_fusion(args.lm, v, args.lm_weight, getattr(args, "word_score", 0.0),
                                  getattr(args, "unk_score", float("-inf")), device))
    out: dict = {}
    for group in rec.batches(inputs, batch_seconds):
        tensors = [torch.as_tensor(np.asarray(inputs[i], dtype=np.float32)) for i in group]
        lens = torch.tensor([t.shape[0] for t in tensors], dtype=torch.long, device=rec.device)
        x = torch.nn.utils.rnn.pad_sequence(tensors, batch_first=True).to(rec.device)
        res = beam_search(rec.model, x, lens, v.bos_id, v.eos_id, beam=getattr(args, "att_beam", 10),
                          lenpen=getattr(args, "lenpen", 0.0), max_len_a=getattr(args, "max_len_ratio", 1.0),
                          max_len_b=0, nbest=max(1, getattr(args, "nbest", 1)), ctc_weight=ctc_weight,
                          blank=v.blank_id, fusion=fusion, ctc_candidates=getattr(args, "ctc_candidates", 0))
        for i, nb in zip(group, res):
            out[keys[i]] = nb
    return v, keys, out


def dumped_logprobs(scp: str, tokens: str | None, nj: int, job: int):
    """``(vocab, keys, log-probs)`` of this job's share of a dump written with ``--dump-logprobs``."""
    from s2s.decode.logprobs import read_logprobs

    if not tokens:
        raise S2SError("--logprobs needs --tokens data/lang/tokens.txt")
    vocab = Vocabulary.load(tokens)
    table = read_logprobs(scp)
    keys = job_share(list(table), nj, job) if job else sorted(table)
    return vocab, keys, [np.asarray(table[k], dtype=np.float32) for k in keys]


def decode_data_dir(out, model: str | None = None, data: str | None = None, logprobs: str | None = None,
                    tokens: str | None = None, decoder: str = "greedy", beam_args=None, nj: int = 1, job: int = 0,
                    device: str = "cpu", batch_seconds: float = 400.0, dump_logprobs: bool = False) -> int:
    """Decode and write OUT/text[.J] (+ nbest[.J].jsonl, logprobs[.J].{ark,scp}); return the count."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sfx = f".{job}" if job else ""
    if decoder == "attention":
        if not (model and data):
            raise S2SError("--decoder attention runs the model: give --model and --data")
        vocab, keys, att = attention_nbest(model, data, nj, job, device, batch_seconds, beam_args)
        with atomic_open(out / f"text{sfx}") as f:
            for k in keys:
                f.write(f"{k} {vocab.decode(att[k][0].tokens, unk='')}".rstrip() + "\n")
        print(f"decoded {len(keys)} utterances into {out / f'text{sfx}'}", file=sys.stderr)
        return len(keys)
    if logprobs:
        vocab, keys, logps = dumped_logprobs(logprobs, tokens, nj, job)
    elif model and data:
        vocab, keys, logps = network_logprobs(model, data, nj, job, device, batch_seconds)
        if dump_logprobs:
            from s2s.decode.logprobs import write_logprobs

            write_logprobs(out / f"logprobs{sfx}", dict(zip(keys, logps)))
    else:
        raise S2SError("give --model and --data (or --logprobs and --tokens)")
    for k, lp in zip(keys, logps):
        if lp.shape[-1] != len(vocab):
            raise S2SError(f"log-probabilities of {k!r} have width {lp.shape[-1]} but the token list has "
                           f"{len(vocab)} tokens; use the tokens.txt the model was trained with")
    nbest = None
    if decoder == "greedy":
        hyps = {k: vocab.decode(greedy_search(lp, blank=vocab.blank_id)[0]) for k, lp in zip(keys, logps)}
    else:
        from s2s.decode.beam import beam_decoder_from_args

        dec = beam_decoder_from_args(vocab, beam_args)
        nbest = {k: dec(lp) for k, lp in zip(keys, logps)}
        hyps = {k: (res[0].text if res else "") for k, res in nbest.items()}
    with atomic_open(out / f"text{sfx}") as f:
        for k in keys:
            f.write(f"{k} {hyps[k]}".rstrip() + "\n")
    if nbest is not None:
        write_nbest_jsonl(out / f"nbest{sfx}.jsonl", keys, nbest)
    print(f"decoded {len(keys)} utterances into {out / f'text{sfx}'}", file=sys.stderr)
    return len(keys)


def write_nbest_jsonl(path, keys: list[str], nbest: dict) -> None:
    """One JSON object per hypothesis (what ``s2s.decode.rescore.read_nbest`` reads)."""
    with atomic_open(path) as f:
        for k in keys:
            for rank, h in enumerate(nbest[k]):
                f.write(json.dumps({"utt": k, "rank": rank + 1, "text": h.text, "score": h.score,
                                    "am_score": h.am_score, "lm_score": h.lm_score,
                                    "num_words": len(h.words)}) + "\n")
