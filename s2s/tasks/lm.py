"""Language modelling on text with the shared trainer: task ``lm``, perplexity on dev.

Tokens: the LM reads text in the **ASR vocabulary** (``token_list: data/lang``,
characters or SentencePiece pieces), not in a word vocabulary. Rescoring scores
whatever the beam decoder wrote, and a lexicon-free decoder writes words no
vocabulary has seen; over the ASR tokens every hypothesis gets a proper
probability instead of a shared ``<unk>`` one, the text is normalised exactly as
the acoustic model's (the vocabulary's lower-casing), and on LibriSpeech the
output layer has the few thousand BPE pieces rather than ~900k words. A
sentence ``w`` is modelled as ``P(w_1 .. w_n, </s> | <s>)`` with the vocabulary's
``<s>`` and ``</s>``; batches are padded with ``<pad>``.

Data (``train_data``, ``valid_data``: one path or a list):
- a Kaldi data dir (its ``text``) or a file named ``text``: a Kaldi table, the
  first field (utterance id) is dropped;
- any other file: plain text, one sentence per line (an LM corpus; ``.gz`` read
  as gzip).

Word-level language modelling (WikiText, Merity et al. 2016) uses ``token_list``
of ``token_type: word`` (``prepare_tokens --kind word``) and ``bptt: N``: the text
is then one stream, every line ended by ``</s>`` (WikiText's ``<eos>``; the empty
lines of a plain text file too, as the usual WikiText readers count them), cut into
pieces of ``N`` predicted tokens; each piece starts from a zero state, as
OpenSeq2Seq's WKTDataLayer does, and in training the cut points move by a random
offset in ``[0, N)`` every epoch (its ``rand_start``) so that no token is always
the first of a piece. Validation cuts at fixed points and predicts every token
but the first once; ``ppl`` is then per word (``</s>`` counted as a word, as the
field reports WikiText perplexity).

Batches come from the trainer's length buckets (``batch_frames`` counts tokens
here). ``forward_loss`` returns the summed token NLL and the number of predicted
tokens, so the trainer's loss is the per-token cross-entropy; validation
reports ``loss`` (nats per token) and ``ppl`` = exp(loss).
"""

from __future__ import annotations

import gzip
import logging
import math
from array import array
from pathlib import Path

import torch

from s2s.data.tokens import Vocabulary
from s2s.errors import S2SError
from s2s.models.lm import pad_sentences, sequence_nll
from s2s.tasks.base import TASKS, Task, as_list

log = logging.getLogger("s2s.lm")


# ---------------------------------------------------------------------------- text
def read_sentences(path, keep_empty: bool = False) -> list[str]:
    """The sentences of one data source (see the module docstring for the formats); with
    ``keep_empty`` the empty lines of a plain text file too (as ``""``: WikiText's blank lines,
    each an end of line in the stream).

    Raises S2SError for a missing path, non-UTF-8 text (naming the line) and a
    source without a single sentence.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "text"
        if not path.is_file():
            raise S2SError(f"{path}: data dir has no text table; give the training transcripts or a text file")
    if not path.is_file():
        raise S2SError(f"{path}: LM text not found; give a Kaldi data dir, its text table or a plain text file")
    kaldi = path.name == "text"
    opener = gzip.open if path.suffix == ".gz" else open
    out = []
    with opener(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise S2SError(f"{path}:{lineno}: not valid UTF-8; re-encode the file as UTF-8") from None
            fields = line.split()
            if kaldi:
                fields = fields[1:]
            if fields or (keep_empty and not kaldi):
                out.append(" ".join(fields))
    if not any(out):
        raise S2SError(f"{path}: no sentences in it; check the path (an LM needs text to learn from)")
    return out


class LmDataset:
    """Tokenised sentences; ``lengths`` (tokens predicted per sentence) drive the length buckets.

    All ids sit in one flat int32 array with offsets, so a large corpus costs
    4 bytes per token rather than a tensor object per sentence.
    """

    def __init__(self, sources: list[str], vocab, max_tokens: int = 0):
        ids = array("i")
        self.offsets = array("q", [0])
        self.lengths: list[int] = []
        skipped = 0
        unk_before = vocab.unk_count
        for src in sources:
            for text in read_sentences(src):
                seq = vocab.encode_sentence(text)
                if max_tokens and len(seq) - 1 > max_tokens:
                    skipped += 1
                    continue
                ids.extend(seq)
                self.offsets.append(len(ids))
                self.lengths.append(len(seq) - 1)
        self.ids = torch.frombuffer(ids, dtype=torch.int32) if len(ids) else torch.zeros(0, dtype=torch.int32)
        self._keep = ids  # torch.frombuffer shares this memory
        if skipped:
            log.warning("skipped %d sentences longer than max_tokens=%d", skipped, max_tokens)
        n_unk = vocab.unk_count - unk_before
        if n_unk:
            log.warning("%s: %d tokens mapped to <unk> (most common: %s); the token set does not cover this text",
                        ", ".join(sources), n_unk, vocab.unk_symbols.most_common(5))
        if not self.lengths:
            raise S2SError(f"{', '.join(sources)}: no sentences left (all longer than max_tokens={max_tokens})")

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: int) -> torch.Tensor:
        """``<s> tokens </s>`` of sentence ``i`` as a LongTensor."""
        return self.ids[self.offsets[i]: self.offsets[i + 1]].long()


class LmStream:
    """The sentences of ``sources`` as one stream of ids (each line ended by ``</s>``), read as
    pieces of ``bptt + 1`` ids (``bptt`` predicted); ``random_start`` shifts the cut points by a
    per-epoch offset (``set_epoch``)."""

    def __init__(self, sources: list[str], vocab, bptt: int, random_start: bool = False, seed: int = 1):
        if bptt < 1:
            raise S2SError(f"bptt must be a positive number of tokens, got {bptt}")
        ids = array("i")
        unk_before = vocab.unk_count
        for src in sources:
            for text in read_sentences(src, keep_empty=True):
                ids.extend(vocab.encode(text))
                ids.append(vocab.eos_id)
        n_unk = vocab.unk_count - unk_before
        if n_unk:
            log.warning("%s: %d words mapped to <unk> (most common: %s); the vocabulary does not cover this text",
                        ", ".join(sources), n_unk, vocab.unk_symbols.most_common(5))
        if len(ids) < 2:
            raise S2SError(f"{', '.join(sources)}: fewer than two tokens; an LM needs text to learn from")
        self.ids = torch.frombuffer(ids, dtype=torch.int32)
        self._keep = ids
        self.bptt = bptt
        self.random_start = random_start
        self.seed = seed
        self.offset = 0
        self.num_tokens = len(ids)
        self._cut()

    def _cut(self) -> None:
        if self.random_start:
            # Full pieces only, as many as every offset allows: the trainer's batches (built once from
            # ``lengths``) stay valid when the cut points move.
            n = max(1, (self.num_tokens - self.bptt) // self.bptt)
            self.starts = [self.offset + k * self.bptt for k in range(n)]
            self.lengths = [min(self.bptt, self.num_tokens - 1 - s) for s in self.starts]
        else:
            self.starts = list(range(0, self.num_tokens - 1, self.bptt))
            self.lengths = [min(self.bptt, self.num_tokens - 1 - s) for s in self.starts]

    def set_epoch(self, epoch: int) -> None:
        if self.random_start and self.num_tokens - 1 > self.bptt:
            self.offset = int(torch.randint(self.bptt, (1,), generator=torch.Generator().manual_seed(
                self.seed * 100003 + epoch)))
            self.offset = min(self.offset, self.num_tokens - 1 - self.bptt)
            self._cut()

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int) -> torch.Tensor:
        s = self.starts[i]
        return self.ids[s: s + self.lengths[i] + 1].long()


# ---------------------------------------------------------------------------- task
@TASKS.register("lm")
class LmTask(Task):
    name = "lm"
    model_name = "lm"
    vocab_layers = ("embed.", "out.")
    cost_unit = "tokens"
    throughput_unit = "tokens"
    defaults = {
        "token_list": "data/lang",
        "lm": "transformer",
        "lm_conf": {},
        "max_tokens": 0,       # drop training sentences with more tokens (0: keep all)
        "bptt": 0,             # >0: the text as one stream in pieces of this many tokens (word LMs)
        "batch_frames": 4000,  # tokens (padded) per batch per rank
    }
    help = {
        "token_list": "the lang dir of the acoustic model whose hypotheses the LM rescores",
        "lm": "language model network",
        "lm_conf": "the network's arguments, e.g. {d_model: 256, num_layers: 4}",
        "max_tokens": "drop training sentences with more tokens (0: keep all)",
        "bptt": "0: sentence by sentence; N > 0: the text as one stream (lines ended by </s>) in pieces of N "
                "predicted tokens, cut at a random offset every epoch in training (WikiText-style word LMs)",
        "batch_frames": "tokens (padded) per batch per rank",
    }

    def __init__(self, conf: dict):
        super().__init__(conf)
        self.vocab = Vocabulary.load(conf["token_list"])

    # -- data
    def dataset(self, split: str):
        key = "train_data" if split == "train" else "valid_data"
        sources = as_list(self.conf.get(key))
        if not sources:
            return None
        if int(self.conf.get("bptt") or 0) > 0:
            return LmStream(sources, self.vocab, int(self.conf["bptt"]), random_start=split == "train",
                            seed=int(self.conf.get("seed", 1)))
        return LmDataset(sources, self.vocab, self.conf.get("max_tokens", 0) if split == "train" else 0)

    def collate(self, items):
        return pad_sentences(items, self.vocab.pad_id)

    def throughput(self, batch: dict) -> float:
        return float(batch["num_tokens"].sum())

    # -- model
    def model_args(self) -> dict:
        return {"lm": self.conf["lm"], "lm_conf": dict(self.conf.get("lm_conf") or {}),
                "vocab_size": len(self.vocab)}

    def extra_meta(self) -> dict:
        return {"vocab": self.vocab.to_dict(), "bptt": int(self.conf.get("bptt") or 0)}

    # -- loss
    def forward_loss(self, model, batch):
        nll = sequence_nll(model, batch["inputs"], batch["targets"], batch["mask"]).sum()
        n = float(batch["num_tokens"].sum())
        return nll, n, {"nll": nll.item() / max(n, 1.0)}

    @torch.no_grad()
    def evaluate(self, model, loader) -> dict:
        total, count = 0.0, 0.0
        for batch in loader:
            nll, n, _ = self.forward_loss(model, batch)
            total += nll.item()
            count += n
        loss = total / max(count, 1.0)
        return {"loss": loss, "ppl": math.exp(min(loss, 50.0))}


# ---------------------------------------------------------------------------- evaluation
def evaluate_lm(model_path, text, out=None, bptt: int | None = None, batch_tokens: int = 8000) -> dict:
    """Perplexity of the LM checkpoint ``model_path`` on ``text`` (a data dir, its ``text`` table or a
    plain text file), the way the model was validated in training: sentence by sentence, or (a word
    LM trained with ``bptt``; ``bptt`` overrides it) as one stream in pieces, per word with ``</s>``
    counted. Returns (and with ``out`` writes as JSON) loss, ppl, the tokens predicted, the ``<unk>``
    share of them and the model's parameters."""
    import json

    from s2s.io import atomic_open
    from s2s.models.checkpoint import load_model

    model, meta = load_model(model_path, task="lm")
    vocab = Vocabulary.from_dict(meta["vocab"], source=f"{model_path} vocabulary")
    n = int(meta.get("bptt", 0) if bptt is None else bptt)
    data = LmStream([str(text)], vocab, n) if n > 0 else LmDataset([str(text)], vocab)
    total, count, unk = 0.0, 0, 0
    order = sorted(range(len(data)), key=lambda i: data.lengths[i])
    batch: list[torch.Tensor] = []
    size = 0
    with torch.inference_mode():
        for k, i in enumerate(order):
            batch.append(data[i])
            size += len(batch[-1])
            if k + 1 == len(order) or size + data.lengths[order[k + 1]] + 1 > batch_tokens:
                b = pad_sentences(batch, vocab.pad_id)
                total += float(sequence_nll(model, b["inputs"], b["targets"], b["mask"]).sum())
                count += int(b["num_tokens"].sum())
                unk += int(((b["targets"] == vocab.unk_id) & b["mask"]).sum())
                batch, size = [], 0
    loss = total / max(count, 1)
    res = {"model": str(model_path), "text": str(text), "bptt": n, "loss": loss, "ppl": math.exp(min(loss, 50.0)),
           "tokens": count, "unk_share": unk / max(count, 1),
           "parameters": sum(p.numel() for p in model.parameters())}
    if out is not None:
        with atomic_open(out) as f:
            f.write(json.dumps(res) + "\n")
    return res
