"""Decode a data dir with a trained CTC model.

``python -m s2s.bin.decode --model exp/NAME/model.pt --data data/test --out exp/NAME/decode_test``
writes OUT/text (Kaldi format). Features come from DATA/feats.scp when present,
else they are computed from wav.scp with the feature settings stored in the model.

Decoders: ``greedy`` (best path) and ``beam`` (CTC beam search with a KenLM n-gram
through flashlight-text; ``--lm``, ``--lexicon``, ``--beam``, ``--lm-weight``,
``--word-score``, ``--nbest`` -> OUT/nbest.jsonl). ``--dump-logprobs`` also writes
OUT/logprobs.{ark,scp} so beam search and alpha/beta tuning can run again without
the network (``--logprobs SCP`` decodes such a dump). ``--nj N --job J`` decodes
job J's share and writes OUT/text.J (and nbest.J.jsonl, logprobs.J.*); the recipe
merges them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from s2s.errors import S2SError


def add_beam_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("beam search")
    g.add_argument("--lm", help="KenLM model (ARPA or binary)")
    g.add_argument("--lexicon", help="lexicon (word spelling) for lexicon-constrained search")
    g.add_argument("--beam", type=int, default=64)
    # Pruning like pyctcdecode's defaults (beam_prune_logp -10, token_min_logp -5):
    # several times faster than no token pruning at equal WER (benchmarks/decode.py).
    g.add_argument("--beam-threshold", type=float, default=10.0)
    g.add_argument("--token-beam", type=int, default=5)
    g.add_argument("--lm-weight", type=float, default=0.5, help="alpha")
    g.add_argument("--word-score", type=float, default=0.0, help="beta, the word insertion bonus")
    g.add_argument("--unk-score", type=float, default=float("-inf"))
    g.add_argument("--nbest", type=int, default=1)


def build_beam_decoder(args, tokens: list[str]):
    from s2s.decode.beam import CtcBeamDecoder

    return CtcBeamDecoder(tokens, lm=args.lm, lexicon=args.lexicon, beam=args.beam,
                          beam_threshold=args.beam_threshold, token_beam=args.token_beam,
                          lm_weight=args.lm_weight, word_score=args.word_score, unk_score=args.unk_score,
                          nbest=args.nbest)


def job_share(keys: list[str], nj: int, job: int) -> list[str]:
    """Contiguous share ``job`` (1-based) of ``nj`` of the sorted keys."""
    if not 1 <= job <= nj:
        raise S2SError(f"--job {job} is outside 1..{nj}")
    keys = sorted(keys)
    n = len(keys)
    return keys[(job - 1) * n // nj: job * n // nj]


class Utterances:
    """Feature tensors for the utterances of a data dir, as the model was trained to see them."""

    def __init__(self, data_dir: str, meta: dict):
        from s2s.data.datadir import DataDir
        from s2s.tasks.asr import CmvnStats, FeatureSource

        self.dd = DataDir(data_dir)
        self.cmvn = CmvnStats.from_meta(meta["cmvn"])
        self.features = FeatureSource(meta.get("frontend_conf"))
        if self.dd.has("feats.scp"):
            import kaldiio

            self.scp = kaldiio.load_scp(str(self.dd.file("feats.scp")))
            self.keys = list(self.scp.keys())
        else:
            self.scp = None
            self.wav = self.dd.wav_scp()
            self.segments = self.dd.segments()
            self.keys = list(self.segments) if self.segments is not None else list(self.wav)

    def __call__(self, utt: str) -> torch.Tensor:
        if self.scp is not None:
            feats = torch.from_numpy(np.array(self.scp[utt], dtype=np.float32))
        else:
            from s2s.data.audio import load_audio

            conf = self.features.frontend.conf
            if self.segments is not None:
                rec, start, end = self.segments[utt]
                spec = self.wav[rec]
            else:
                spec, start, end = self.wav[utt], 0.0, -1
            wav, sr = load_audio(spec, target_sr=conf.get("sample_rate"), resample=conf.get("resample", False),
                                 context=f"{self.dd.file('wav.scp')} ({utt})")
            wav = wav[int(start * sr): (int(end * sr) if end > 0 else None)]
            feats = self.features.from_audio(wav, sr)
        return self.cmvn(feats)


@torch.no_grad()
def compute_logprobs(model, feats_list: list[torch.Tensor], device, batch_frames: int = 40000):
    """Log-probabilities (T', V) per input, batching by length (the models are padding-invariant)."""
    order = sorted(range(len(feats_list)), key=lambda i: feats_list[i].shape[0])
    out: list = [None] * len(feats_list)
    i = 0
    while i < len(order):
        j = i + 1
        while j < len(order) and feats_list[order[j]].shape[0] * (j - i + 1) <= batch_frames:
            j += 1
        idx = order[i:j]
        x = torch.nn.utils.rnn.pad_sequence([feats_list[k] for k in idx], batch_first=True).to(device)
        lens = torch.tensor([feats_list[k].shape[0] for k in idx], dtype=torch.long, device=device)
        logits, out_lens = model(x, lens)
        logp = torch.log_softmax(logits.float(), dim=-1).cpu().numpy()
        for b, k in enumerate(idx):
            out[k] = logp[b, : int(out_lens[b])]
        i = j
    return out


def greedy_decode(logp: np.ndarray, blank: int = 0) -> list[int]:
    best = logp.argmax(-1)
    ids, prev = [], -1
    for t in best.tolist():
        if t != prev and t != blank:
            ids.append(t)
        prev = t
    return ids


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="s2s.bin.decode", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="checkpoint (.pt) written by s2s.bin.train")
    p.add_argument("--data", help="Kaldi data dir (feats.scp, or wav.scp)")
    p.add_argument("--logprobs", help="decode a log-probability dump (scp) instead of running the model")
    p.add_argument("--tokens", help="tokens.txt (with --logprobs; else taken from the model)")
    p.add_argument("--out", required=True, help="output dir")
    p.add_argument("--decoder", choices=["greedy", "beam"], default="greedy")
    p.add_argument("--dump-logprobs", action="store_true")
    p.add_argument("--nj", type=int, default=1)
    p.add_argument("--job", type=int, default=0, help="1-based job index (0: the whole set, OUT/text)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-frames", type=int, default=40000)
    add_beam_args(p)
    args = p.parse_args(argv)
    try:
        decode(args)
    except S2SError as e:
        print(f"s2s.bin.decode: error: {e}", file=sys.stderr)
        return 1
    return 0


def decode(args) -> None:
    from s2s.io import atomic_open

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sfx = f".{args.job}" if args.job else ""
    if args.logprobs:
        from s2s.data.tokens import Tokenizer
        from s2s.decode.logprobs import read_logprobs

        if not args.tokens:
            raise S2SError("--logprobs needs --tokens data/lang/tokens.txt")
        tokenizer = Tokenizer.load(args.tokens)
        table = read_logprobs(args.logprobs)
        keys = job_share(list(table), args.nj, args.job) if args.job else sorted(table)
        logps = [np.asarray(table[k], dtype=np.float32) for k in keys]
    else:
        if not args.model or not args.data:
            raise S2SError("give --model and --data (or --logprobs and --tokens)")
        from s2s.tasks.asr import tokenizer_from_meta
        from s2s.train.checkpoint import load_model

        model, meta = load_model(args.model, args.device)
        if meta["task"] != "asr":
            raise S2SError(f"{args.model}: a {meta['task']!r} model; s2s.bin.decode decodes asr models")
        tokenizer = tokenizer_from_meta(meta["tokenizer"])
        utts = Utterances(args.data, meta)
        keys = job_share(utts.keys, args.nj, args.job) if args.job else sorted(utts.keys)
        logps = compute_logprobs(model, [utts(k) for k in keys], args.device, args.batch_frames)
        if args.dump_logprobs:
            from s2s.decode.logprobs import write_logprobs

            write_logprobs(out / f"logprobs{sfx}", dict(zip(keys, logps)))

    for k, lp in zip(keys, logps):
        if lp.shape[-1] != len(tokenizer):
            raise S2SError(f"log-probabilities of {k!r} have width {lp.shape[-1]} but the token list has "
                           f"{len(tokenizer)} tokens; use the tokens.txt the model was trained with")
    if args.decoder == "greedy":
        hyps = {k: tokenizer.decode(greedy_decode(lp, tokenizer.blank_id)) for k, lp in zip(keys, logps)}
        nbest = None
    else:
        decoder = build_beam_decoder(args, tokenizer.tokens)
        hyps, nbest = {}, {}
        for k, lp in zip(keys, logps):
            res = decoder(lp)
            hyps[k] = res[0].text if res else ""
            nbest[k] = res
    with atomic_open(out / f"text{sfx}") as f:
        for k in keys:
            f.write(f"{k} {hyps[k]}".rstrip() + "\n")
    if nbest is not None:
        with atomic_open(out / f"nbest{sfx}.jsonl") as f:
            for k in keys:
                for rank, h in enumerate(nbest[k]):
                    f.write(json.dumps({"utt": k, "rank": rank + 1, "text": h.text, "score": h.score,
                                        "am_score": h.am_score, "lm_score": h.lm_score,
                                        "num_words": len(h.words)}) + "\n")
    print(f"decoded {len(keys)} utterances into {out / f'text{sfx}'}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
