"""Translate sentences with a trained ``mt`` model: batching by length, beam search, detokenisation.

``Translator.load(path)`` rebuilds the model from its checkpoint (vocabulary inside);
``translator.translate(sentences)`` returns, per input sentence and in input order, the
n-best list of ``(text, score)``. Sentences are sorted by length into batches of about
``batch_tokens`` source tokens, so padding stays small; the encoder-decoders are
padding-invariant, so batching does not change a translation. An empty input line gives
an empty translation (line alignment is kept). A source longer than the model's
positions is truncated with a warning (``long="truncate"``) or refused (``long="error"``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from s2s.data.tokens import Vocabulary
from s2s.decode.seq2seq import beam_search, greedy_search
from s2s.errors import S2SError
from s2s.io import utf8_lines

log = logging.getLogger("s2s.translate")

LONG_POLICIES = ("truncate", "error")
# int8: float32 model, linear layers dynamically quantized (CPU).
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "int8": torch.float32}


def max_source_tokens(model) -> int | None:
    """The longest source (tokens, </s> included) the encoder's positions allow, if it has a limit."""
    pos = getattr(model.encoder, "positions", None)
    return getattr(pos, "max_len", None)


@dataclass
class Translator:
    model: torch.nn.Module
    vocab: Vocabulary
    meta: dict
    device: torch.device

    @classmethod
    def load(cls, path, device: str = "cpu", dtype: str = "float32") -> "Translator":
        """The model of checkpoint ``path`` on ``device``, its weights and activations in ``dtype``
        (float32; bfloat16: faster on CPUs with bf16 instructions; int8: linear layers dynamically
        quantized, CPU only; scores stay float32)."""
        from s2s.models.checkpoint import load_model

        if dtype not in DTYPES:
            raise S2SError(f"--dtype {dtype!r}: use one of {', '.join(DTYPES)}")
        model, meta = load_model(path, device, task="mt")
        model.to(DTYPES[dtype])
        if dtype == "int8":
            from s2s.models.seq2seq import quantize_linears

            if torch.device(device).type != "cpu":
                raise S2SError("--dtype int8 runs on the CPU (PyTorch's dynamic quantization); use --device cpu, "
                               "or bfloat16 on a GPU")
            quantize_linears(model)
        elif torch.device(device).type == "cpu":
            from s2s.models.seq2seq import pack_linears

            pack_linears(model)  # oneDNN's prepacked matrix products (benchmarks/translate.py)
        vocab = Vocabulary.from_dict(meta["vocab"], source=f"{path} (vocabulary)")
        return cls(model, vocab, meta, torch.device(device))

    def encode(self, sentences: list[str], long: str = "truncate", names: list[str] | None = None) -> list[list[int]]:
        if long not in LONG_POLICIES:
            raise S2SError(f"--long {long!r}: use one of {', '.join(LONG_POLICIES)}")
        limit = max_source_tokens(self.model)
        out = []
        for k, s in enumerate(sentences):
            ids = self.vocab.encode(s) + [self.vocab.eos_id]
            if limit and len(ids) > limit:
                where = names[k] if names else f"sentence {k + 1}"
                if long == "error":
                    raise S2SError(f"{where}: {len(ids)} tokens, longer than the model's {limit} source positions; "
                                   f"split the sentence or pass --long truncate")
                log.warning("%s: %d tokens, truncated to the model's %d source positions", where, len(ids), limit)
                ids = ids[: limit - 1] + [self.vocab.eos_id]
            out.append(ids)
        return out

    def translate(self, sentences: list[str], beam: int = 4, lenpen: float = 0.6, nbest: int = 1,
                  batch_tokens: int = 4000, max_len_a: float = 1.5, max_len_b: int = 10, long: str = "truncate",
                  names: list[str] | None = None, progress=None, fusion=()) -> list[list[tuple[str, float]]]:
        """n-best ``(text, score)`` per sentence (beam 0 or 1 with nbest 1 and no ``fusion``: greedy;
        ``fusion``: shallow-fusion scorers of s2s.decode.fusion over the target vocabulary)."""
        if nbest > max(beam, 1):
            raise S2SError(f"--nbest {nbest} is larger than --beam {beam}; raise the beam")
        encoded = self.encode(sentences, long, names)
        results: list[list[tuple[str, float]]] = [[("", 0.0)] for _ in sentences]
        order = sorted((i for i, s in enumerate(sentences) if s.strip()), key=lambda i: len(encoded[i]))
        pad = self.vocab.pad_id
        batch: list[int] = []

        def run(idx: list[int]) -> None:
            seqs = [torch.tensor(encoded[i]) for i in idx]
            src = torch.nn.utils.rnn.pad_sequence(seqs, batch_first=True, padding_value=pad).to(self.device)
            lengths = torch.tensor([len(s) for s in seqs], device=self.device)
            v = self.vocab
            if beam <= 1 and not fusion:
                hyps = [[h] for h in greedy_search(self.model, src, lengths, v.bos_id, v.eos_id, max_len_a, max_len_b)]
            else:
                hyps = beam_search(self.model, src, lengths, v.bos_id, v.eos_id, beam=beam, lenpen=lenpen,
                                   max_len_a=max_len_a, max_len_b=max_len_b, nbest=nbest, fusion=fusion)
            for i, nb in zip(idx, hyps):
                results[i] = [(v.decode(h.tokens, unk=""), h.score) for h in nb]
            if progress is not None:
                progress.update(len(idx))

        for i in order:
            if batch and (len(batch) + 1) * len(encoded[i]) > batch_tokens:
                run(batch)
                batch = []
            batch.append(i)
        if batch:
            run(batch)
        return results


def read_inputs(inputs: list[str], table: bool) -> tuple[list[str], list[str], list[str]]:
    """(keys, sentences, where) of the input files (``-`` or none: stdin); Kaldi tables with ``table``."""
    import contextlib
    import sys

    keys, sents, where = [], [], []
    for name in inputs or ["-"]:
        label = "<stdin>" if name == "-" else name
        try:
            stream = contextlib.nullcontext(sys.stdin.buffer) if name == "-" else open(name, "rb")
        except OSError as e:
            raise S2SError(f"{name}: cannot read ({e.strerror}); check the path") from None
        with stream as f:
            for lineno, line in utf8_lines(f, label, "re-encode the input as UTF-8"):
                if table:
                    parts = line.split(maxsplit=1)
                    if not parts:
                        raise S2SError(f"{label}:{lineno}: empty line in a table; every line is 'id sentence'")
                    keys.append(parts[0])
                    line = parts[1] if len(parts) > 1 else ""
                sents.append(" ".join(line.split()))
                where.append(f"{label}:{lineno}")
    return keys, sents, where


def translate_files(model: str, inputs: list[str], output: str | None = None, table: bool = False,
                    device: str = "cpu", threads: int = 0, dtype: str = "float32", lm: str | None = None,
                    lm_weight: float = 0.3, word_score: float = 0.0, unk_score: float = float("-inf"),
                    **search) -> None:
    """Translate the lines of ``inputs`` (stdin when empty) into ``output`` (stdout when None).

    One translation per line in input order; ``table``: inputs and output are Kaldi-style
    ``id sentence`` tables. With ``nbest`` > 1 every hypothesis is a line ``index ||| text ||| score``
    (Moses' n-best format; ``index`` the 0-based input line, or the id with ``table``).
    The output file is written under a temporary name and renamed when complete. ``lm``: a target
    language model fused into the beam search (s2s.decode.fusion.load_fusion).
    """
    import sys

    from s2s.io import atomic_open

    if threads:
        torch.set_num_threads(threads)
    tr = Translator.load(model, device, dtype)
    if lm:
        from s2s.decode.fusion import load_fusion

        search["fusion"] = [load_fusion(lm, tr.vocab, lm_weight, word_score, unk_score, device)]
    keys, sents, where = read_inputs(inputs, table)
    results = tr.translate(sents, names=where, **search)
    nbest = search.get("nbest", 1)
    lines = []
    for k, nb in enumerate(results):
        key = keys[k] if table else str(k)
        if nbest > 1:
            lines += [f"{key} ||| {text} ||| {score:.4f}" for text, score in nb]
        else:
            lines.append(f"{key} {nb[0][0]}".rstrip() if table else nb[0][0])
    text = "".join(line + "\n" for line in lines)
    if output:
        with atomic_open(output) as f:
            f.write(text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
