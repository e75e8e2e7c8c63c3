"""Text to text with attention encoder-decoders: task ``mt`` (translation; also toy tasks).

Parallel data (``train_data``, ``valid_data``: one source or a list):

- a data dir with ``text`` (the source side, ``id sentence``) and ``text.<tgt_lang>``
  (the target side with the same ids in the same order);
- a mapping ``{src: FILE, tgt: FILE}``: two plain text files aligned line by line
  (``.gz`` read as gzip).

One vocabulary (``token_list``: a lang dir, joint SentencePiece over both sides as
``s2s.bin.prepare_tokens --text SRC TGT`` builds it) serves source and target. Batches
come from the trainer's length buckets with ``batch_frames`` counting tokens (the longer
side of each pair). The loss is label-smoothed cross-entropy over the target tokens
(``</s>`` included) with teacher forcing; validation reports the per-token loss,
perplexity, token accuracy and, with ``valid_bleu``, greedy BLEU by sacrebleu.
"""

from __future__ import annotations

import gzip
import logging
import math
from array import array
from pathlib import Path

import torch
import torch.nn.functional as F

from s2s.data.tokens import Vocabulary
from s2s.errors import S2SError
from s2s.io import utf8_lines
from s2s.tasks.base import TASKS, Task

log = logging.getLogger("s2s.mt")


# ---------------------------------------------------------------------------- data
def _read_lines(path: Path, kaldi: bool) -> tuple[list[str], list[str]]:
    """(ids, sentences) of a Kaldi table or plain text file; S2SError naming file:line for bad lines."""
    if not path.is_file():
        raise S2SError(f"{path}: parallel text not found; check train_data/valid_data")
    opener = gzip.open if path.suffix == ".gz" else open
    ids, out = [], []
    with opener(path, "rb") as f:
        for lineno, line in utf8_lines(f, path):
            if kaldi:
                parts = line.split(maxsplit=1)
                key, line = (parts[0], parts[1] if len(parts) > 1 else "") if parts else ("", "")
            else:
                key = str(lineno)
            if not line.strip():
                raise S2SError(f"{path}:{lineno}: empty sentence; remove the pair from both sides of the corpus")
            ids.append(key)
            out.append(" ".join(line.split()))
    return ids, out


def read_parallel(source, tgt_lang: str) -> tuple[list[str], list[str], list[str], str]:
    """(ids, source sentences, target sentences, description) of one parallel source."""
    if isinstance(source, dict):
        unknown = set(source) - {"src", "tgt"}
        if unknown or not {"src", "tgt"} <= set(source):
            raise S2SError(f"parallel data {source!r}: give {{src: FILE, tgt: FILE}}")
        sp, tp = Path(source["src"]), Path(source["tgt"])
        sid, src = _read_lines(sp, kaldi=False)
        _, tgt = _read_lines(tp, kaldi=False)
        if len(src) != len(tgt):
            raise S2SError(f"{sp} has {len(src)} lines but {tp} has {len(tgt)}; the two sides of a parallel "
                           f"corpus must be aligned line by line")
        return [f"{sp.name}-{i}" for i in sid], src, tgt, f"{sp} + {tp}"
    d = Path(source)
    if not d.is_dir():
        raise S2SError(f"{d}: not a data dir; give a dir with text and text.{tgt_lang}, or {{src: FILE, tgt: FILE}}")
    sp, tp = d / "text", d / f"text.{tgt_lang}"
    sid, src = _read_lines(sp, kaldi=True)
    tid, tgt = _read_lines(tp, kaldi=True)
    if sid != tid:
        if len(sid) != len(tid):
            raise S2SError(f"{sp} has {len(sid)} lines but {tp} has {len(tid)}; both must hold the same ids in the "
                           f"same order")
        k = next(i for i, (a, b) in enumerate(zip(sid, tid)) if a != b)
        raise S2SError(f"{tp}:{k + 1}: id {tid[k]!r} where {sp}:{k + 1} has {sid[k]!r}; both must hold the same ids "
                       f"in the same order (sort both with LC_ALL=C)")
    return sid, src, tgt, str(d)


class ParallelDataset:
    """Tokenised sentence pairs in flat int32 arrays; ``lengths``: the longer side plus </s>."""

    def __init__(self, sources: list, vocab: Vocabulary, tgt_lang: str, max_len: int = 0, drop_long: bool = True):
        src_ids, tgt_ids = array("i"), array("i")
        self.src_off, self.tgt_off = array("q", [0]), array("q", [0])
        self.ids: list[str] = []
        self.lengths: list[int] = []
        self.refs: list[str] = []
        skipped = 0
        unk_before = vocab.unk_count
        for source in sources:
            ids, src, tgt, desc = read_parallel(source, tgt_lang)
            for key, s, t in zip(ids, src, tgt):
                si, ti = vocab.encode(s) + [vocab.eos_id], vocab.encode(t)
                if max_len and max(len(si), len(ti) + 1) > max_len:
                    if drop_long:
                        skipped += 1
                        continue
                src_ids.extend(si)
                tgt_ids.extend(ti)
                self.src_off.append(len(src_ids))
                self.tgt_off.append(len(tgt_ids))
                self.ids.append(key)
                self.refs.append(t)
                self.lengths.append(max(len(si), len(ti) + 1))
            if not self.ids:
                raise S2SError(f"{desc}: no sentence pairs left (all longer than max_len={max_len})")
        n_unk = vocab.unk_count - unk_before
        if n_unk:
            log.warning("%d tokens mapped to <unk> (most common: %s); the vocabulary does not cover this text",
                        n_unk, vocab.unk_symbols.most_common(5))
        if skipped:
            log.warning("skipped %d sentence pairs longer than max_len=%d tokens", skipped, max_len)
        self.src = torch.frombuffer(src_ids, dtype=torch.int32) if len(src_ids) else torch.zeros(0, dtype=torch.int32)
        self.tgt = torch.frombuffer(tgt_ids, dtype=torch.int32) if len(tgt_ids) else torch.zeros(0, dtype=torch.int32)
        self._keep = (src_ids, tgt_ids)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {"id": self.ids[i], "src": self.src[self.src_off[i]: self.src_off[i + 1]].long(),
                "tgt": self.tgt[self.tgt_off[i]: self.tgt_off[i + 1]].long(), "ref": self.refs[i]}


def collate_parallel(items: list[dict], bos: int, eos: int, pad: int) -> dict:
    pad_seq = torch.nn.utils.rnn.pad_sequence
    src = pad_seq([it["src"] for it in items], batch_first=True, padding_value=pad)
    src_lengths = torch.tensor([len(it["src"]) for it in items], dtype=torch.long)
    prev = pad_seq([torch.cat([torch.tensor([bos]), it["tgt"]]) for it in items], batch_first=True, padding_value=pad)
    gold = pad_seq([torch.cat([it["tgt"], torch.tensor([eos])]) for it in items], batch_first=True, padding_value=pad)
    return {"ids": [it["id"] for it in items], "src": src, "src_lengths": src_lengths, "prev": prev, "gold": gold,
            "refs": [it["ref"] for it in items]}


def smoothed_nll(logp: torch.Tensor, gold: torch.Tensor, pad: int, smoothing: float) -> tuple[torch.Tensor, int, int]:
    """Label-smoothed cross-entropy summed over the non-pad targets, their count, and how many are argmax-correct.

    ``(1 - ε) * nll + ε * mean_v(-log p_v)`` per token (Szegedy et al. 2016), as
    ``torch.nn.functional.cross_entropy(label_smoothing=ε)``; ε = 0 is the plain NLL.
    """
    flat, tgt = logp.reshape(-1, logp.size(-1)), gold.reshape(-1)
    loss = F.cross_entropy(flat, tgt, ignore_index=pad, reduction="sum", label_smoothing=smoothing)
    mask = tgt != pad
    correct = int((flat.argmax(-1) == tgt)[mask].sum())
    return loss, int(mask.sum()), correct


# ---------------------------------------------------------------------------- task
@TASKS.register("mt")
class MtTask(Task):
    name = "mt"
    model_name = "seq2seq"
    vocab_layers = ("tgt_embed.", "src_embed.", "out.")
    cost_unit = "tokens"
    throughput_unit = "target tokens"
    defaults = {
        "token_list": "data/lang",
        "src_lang": "en",
        "tgt_lang": "de",
        "encoder": "transformer",
        "encoder_conf": {},
        "decoder": "transformer",
        "decoder_conf": {},
        "model_conf": {},
        "label_smoothing": 0.1,
        "max_len": 256,          # drop training pairs with a side longer than this many tokens (0: keep all)
        "valid_bleu": True,
        "batch_frames": 4096,    # tokens per batch per rank
    }
    help = {
        "token_list": "the lang dir of the joint vocabulary (s2s.bin.prepare_tokens --text SRC TGT --kind bpe)",
        "src_lang": "source language code (for the records)",
        "tgt_lang": "target language code: data dirs hold the target side in text.<tgt_lang>",
        "encoder": "encoder: transformer, rnn (GNMT-like) or convs2s (or a speech encoder)",
        "encoder_conf": "encoder options, e.g. {preset: transformer_base} or {hidden: 1024, num_layers: 8}",
        "decoder": "decoder: transformer, rnn (LSTM with attention) or convs2s",
        "decoder_conf": "decoder options, e.g. {preset: transformer_base} or {hidden: 1024, attention: gnmt_normed}",
        "model_conf": "embeddings and output: embed_dim, share_embeddings (source = target), tie_embeddings "
                      "(output layer = target embedding), scale_embeddings (by sqrt(embed_dim)), dropout",
        "label_smoothing": "label smoothing ε of the cross-entropy (0: plain cross-entropy)",
        "max_len": "drop training pairs with a side longer than this many tokens (0: keep all)",
        "valid_bleu": "greedy-decode the validation set each validation and report BLEU (sacrebleu)",
        "batch_frames": "tokens (the longer side of each pair, padded) per batch per rank",
    }

    def __init__(self, conf: dict):
        super().__init__(conf)
        self.vocab = Vocabulary.load(conf["token_list"])

    def _sources(self, key: str) -> list:
        v = self.conf.get(key)
        if v is None:
            return []
        return list(v) if isinstance(v, list) else [v]

    def dataset(self, split: str):
        sources = self._sources("train_data" if split == "train" else "valid_data")
        if not sources:
            return None
        return ParallelDataset(sources, self.vocab, self.conf["tgt_lang"],
                               max_len=int(self.conf.get("max_len") or 0) if split == "train" else 0)

    def collate(self, items):
        v = self.vocab
        return collate_parallel(items, v.bos_id, v.eos_id, v.pad_id)

    def throughput(self, batch: dict) -> float:
        return float((batch["gold"] != self.vocab.pad_id).sum())

    def model_args(self) -> dict:
        return {"encoder": self.conf["encoder"], "encoder_conf": dict(self.conf.get("encoder_conf") or {}),
                "decoder": self.conf["decoder"], "decoder_conf": dict(self.conf.get("decoder_conf") or {}),
                "vocab_size": len(self.vocab), "model_conf": dict(self.conf.get("model_conf") or {}),
                "pad_id": self.vocab.pad_id}

    def extra_meta(self) -> dict:
        return {"vocab": self.vocab.to_dict(), "src_lang": self.conf["src_lang"], "tgt_lang": self.conf["tgt_lang"]}

    def forward_loss(self, model, batch):
        logp, _ = model(batch["src"], batch["src_lengths"], batch["prev"])
        loss, n, correct = smoothed_nll(logp, batch["gold"], self.vocab.pad_id, float(self.conf["label_smoothing"]))
        return loss, float(n), {"acc": correct / max(n, 1)}

    @torch.no_grad()
    def evaluate(self, model, loader) -> dict:
        from s2s.decode.seq2seq import greedy_search

        total, count, correct = 0.0, 0, 0
        refs, hyps = [], []
        for batch in loader:
            logp, _ = model(batch["src"], batch["src_lengths"], batch["prev"])
            loss, n, c = smoothed_nll(logp, batch["gold"], self.vocab.pad_id, 0.0)
            total += loss.item()
            count += n
            correct += c
            if self.conf.get("valid_bleu"):
                for h in greedy_search(model, batch["src"], batch["src_lengths"], self.vocab.bos_id,
                                       self.vocab.eos_id):
                    hyps.append(self.vocab.decode(h.tokens, unk=""))
                refs += batch["refs"]
        loss = total / max(count, 1)
        out = {"loss": loss, "ppl": math.exp(min(loss, 50.0)), "acc": correct / max(count, 1)}
        if hyps:
            from s2s.score.bleu import corpus_scores

            out["bleu"] = corpus_scores(hyps, refs).bleu
        return out
