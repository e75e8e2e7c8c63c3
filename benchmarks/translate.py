"""Beam-search throughput: s2s's batched beam search vs Hugging Face ``transformers`` ``generate()``.

    python benchmarks/translate.py [--sentences 32] [--src-len 24] [--tgt-len 24] [--beam 4] [--threads 2]

Both models have Transformer-base dimensions (6+6 layers, d 512, 8 heads, ff 2048, a shared
32,004-token vocabulary) and random weights (nothing is downloaded): s2s's ``seq2seq`` model
from ``transformer_base`` presets, and a MarianMT model (``MarianMTModel``) from a
``MarianConfig`` of the same sizes. They get the same source token ids, in the same batches.
Output length is made identical: ``</s>`` is forbidden until ``--tgt-len`` tokens are out and
forced right after (s2s: ``min_len`` and ``max_len_b``; transformers: ``min_new_tokens`` =
``max_new_tokens``), so both run the same number of decoder steps over the same number of
hypotheses. Each runs with and without its decoder cache (s2s recomputes every prefix without
it, as does ``use_cache=False``). fp32 on CPU, ``--threads`` intra-op threads, no dropout; then
both again with their weights and activations in bfloat16 (``--dtypes``; cached decoding only),
like for like with each other, not with the fp32 rows. Batches of 1 and of 16 sentences
(``--batch``): one sentence at a time is bound by reading the weights from memory, 16 at a time
by the matrix products.

CTranslate2 (on unless ``--no-ct2``): the same s2s weights written into a CTranslate2 Transformer
(benchmarks/ct2_convert.py), the same sources, beam, forced length (``tgt_len + 1`` decoder steps,
the tokens s2s never emits suppressed) and thread count, timed in float32 and in its ``int8``
compute type, against s2s in float32 (packed, as s2s-translate) and in int8
(``s2s-translate --dtype int8``: PyTorch's dynamically quantized linear layers). CTranslate2 runs
in a process of its own (this script with ``--ct2-worker``): loaded into the same process, its
thread pool slowed s2s's beam search by about 17 % (13.5 -> 11.2 sentences per second at batch 16
on this machine), so each engine is timed alone; the worker runs before s2s, best of
``--repeats``. Output check:
greedy decoding (the same argmax at every step in both when the arithmetic agrees) compared token
by token, per precision; beam search can end differently, since CTranslate2 cannot force ``</s>``
at the last step and so ranks the beams on a last ordinary token where s2s and transformers score
``</s>``. transformers and CTranslate2 are not s2s dependencies: the script restarts itself in a
venv that benchmarks/peers.py makes for them (benchmarks/.peers/translate, which also sees the
project's .venv), installed on first use.

Prints a table and ends with ``RESULT speedup=X ...`` (s2s cached / transformers cached, in
sentences per second, fp32, the largest batch; ``_b1``: batches of one; ``_bfloat16``: both in
bfloat16; ``ct2_fp32``: s2s fp32 / CTranslate2 float32; ``ct2_int8``: s2s int8 / CTranslate2 int8;
``same_greedy_*``: share of sentences whose greedy output is identical). Like for like except the
architectures' own details: s2s's Transformer is pre-norm with a final LayerNorm (OpenSeq2Seq's
layout), Marian is post-norm; both have the same matrix shapes, so the work per step is the same
to within the norms (CTranslate2 gets s2s's exact architecture). s2s runs as
``s2s-translate`` runs it on CPU: its linear layers packed once for oneDNN
(``s2s.models.seq2seq.pack_linears``); transformers' run as ``generate()`` runs them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

VOCAB = 32004
BOS, EOS, PAD = 2, 3, 1


def s2s_model(dtype=torch.float32, pack: bool = True, int8: bool = False):
    """The model as s2s-translate runs it on CPU: in ``dtype``, its linear layers packed for oneDNN
    (``pack``; an unpacked model still has its parameters to count), or quantized to int8
    (``int8``: ``s2s-translate --dtype int8``). The weights follow torch's seed at the call."""
    import s2s.models  # noqa: F401
    from s2s.models.registry import build_model
    from s2s.models.seq2seq import pack_linears, quantize_linears

    model = build_model("seq2seq", dict(encoder="transformer", encoder_conf={"preset": "transformer_base"},
                                        decoder="transformer", decoder_conf={"preset": "transformer_base"},
                                        vocab_size=VOCAB, model_conf={"share_embeddings": True})).eval()
    model.to(dtype)
    if int8:
        quantize_linears(model)
    elif pack:
        pack_linears(model)
    return model


class Ct2:
    """CTranslate2 on an s2s model's weights (benchmarks/ct2_convert.py), one translator per compute type."""

    def __init__(self, model, threads: int, work: Path):
        import ctranslate2
        from ct2_convert import save_ct2_model

        w = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
        w["enc_positions"] = model.encoder.positions.table.numpy()
        w["dec_positions"] = model.decoder.positions.table.numpy()
        job = {"enc_layers": len(model.encoder.layers), "dec_layers": len(model.decoder.layers),
               "heads": model.decoder.layers[0].self_attn.h, "vocab": VOCAB, "blank": 0, "pad": PAD, "bos": BOS,
               "eos": EOS, "unk": 4}
        self.vocab = save_ct2_model(w, job, work / "ct2_model")
        self.index = {t: i for i, t in enumerate(self.vocab)}
        self.translators = {ct: ctranslate2.Translator(str(work / "ct2_model"), device="cpu", compute_type=ct,
                                                       inter_threads=1, intra_threads=threads)
                            for ct in ("float32", "int8")}

    def tokens(self, src, lengths) -> list[list[str]]:
        return [[self.vocab[i] for i in s[:n].tolist()] for s, n in zip(src, lengths.tolist())]

    def run(self, compute_type: str):
        """A benchmark function like run_s2s for this compute type (the ``model`` argument unused)."""
        from ct2_convert import ct2_decode

        def fn(_model, src, lengths, beam, tgt_len, _cache):
            hyps = ct2_decode(self.translators[compute_type], self.tokens(src, lengths), beam, tgt_len, 0.6,
                              self.index, len(src))
            return [len(h) for h in hyps]
        return fn

    def hyps(self, compute_type, src, lengths, beam, tgt_len, batch) -> list[list[int]]:
        from ct2_convert import ct2_decode

        return ct2_decode(self.translators[compute_type], self.tokens(src, lengths), beam, tgt_len, 0.6,
                          self.index, batch)


def s2s_hyps(model, src, lengths, beam, tgt_len, bs) -> list[list[int]]:
    from s2s.decode.seq2seq import beam_search

    out = []
    for i in range(0, len(src), bs):
        res = beam_search(model, src[i:i + bs], lengths[i:i + bs], BOS, EOS, beam=beam, lenpen=0.6, max_len_a=0.0,
                          max_len_b=tgt_len + 1, min_len=tgt_len)
        out += [list(nb[0].tokens[:tgt_len]) for nb in res]
    return out


def marian_model():
    from transformers import MarianConfig, MarianMTModel

    cfg = MarianConfig(vocab_size=VOCAB, d_model=512, encoder_layers=6, decoder_layers=6, encoder_attention_heads=8,
                       decoder_attention_heads=8, encoder_ffn_dim=2048, decoder_ffn_dim=2048, max_position_embeddings=512,
                       pad_token_id=PAD, eos_token_id=EOS, decoder_start_token_id=BOS, forced_eos_token_id=EOS,
                       dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, scale_embedding=True,
                       share_encoder_decoder_embeddings=True, tie_word_embeddings=True)
    return MarianMTModel(cfg).eval()


def params(m) -> int:
    return sum(p.numel() for p in m.parameters())


def run_s2s(model, src, lengths, beam, tgt_len, use_cache) -> list[int]:
    from s2s.decode.seq2seq import beam_search

    out = beam_search(model, src, lengths, BOS, EOS, beam=beam, lenpen=0.6, max_len_a=0.0, max_len_b=tgt_len + 1,
                      min_len=tgt_len, use_cache=use_cache)
    return [len(nb[0].tokens) for nb in out]


def run_hf(model, src, lengths, beam, tgt_len, use_cache) -> list[int]:
    mask = torch.arange(src.size(1))[None, :] < lengths[:, None]
    out = model.generate(input_ids=src, attention_mask=mask.long(), num_beams=beam, max_new_tokens=tgt_len + 1,
                         min_new_tokens=tgt_len + 1, length_penalty=0.6, early_stopping=True, use_cache=use_cache,
                         do_sample=False)
    # Generated ids after the start token, without </s> and padding.
    return [int(((row != PAD) & (row != EOS) & (row != BOS)).sum()) for row in out]


def sources(a) -> tuple[torch.Tensor, torch.Tensor]:
    """The benchmark's source ids (N, src_len) and lengths, the same in every process."""
    g = torch.Generator().manual_seed(1)
    lengths = torch.randint(a.src_len // 2, a.src_len + 1, (a.sentences,), generator=g)
    src = torch.randint(5, VOCAB, (a.sentences, a.src_len), generator=g)
    src[:, 0] = 5
    for i, n in enumerate(lengths.tolist()):
        src[i, n - 1] = EOS
        src[i, n:] = PAD
    return src, lengths


def ct2_worker(a, src, lengths, sizes) -> None:
    """Time CTranslate2 (float32 and int8, each batch size, best of ``--repeats`` after a warm-up) on the
    s2s weights of seed 0 in this process, and write the times and its greedy outputs to ``a.ct2_worker``."""
    import json

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as d:
        ct2 = Ct2(s2s_model(pack=False), a.threads, Path(d))
        res = {"best": {}, "greedy": {}}
        for dtype in ("float32", "int8"):
            fn = ct2.run(dtype)
            res["best"][dtype] = {}
            for bs in sizes:
                batches = [(src[i:i + bs], lengths[i:i + bs]) for i in range(0, a.sentences, bs)]
                fn(None, *batches[0], a.beam, a.tgt_len, True)  # warm-up
                best = float("inf")
                for _ in range(a.repeats):
                    t0 = time.perf_counter()
                    lens = [n for b in batches for n in fn(None, *b, a.beam, a.tgt_len, True)]
                    best = min(best, time.perf_counter() - t0)
                    assert all(n == a.tgt_len for n in lens), f"ctranslate2: lengths {sorted(set(lens))}"
                res["best"][dtype][str(bs)] = best
            res["greedy"][dtype] = ct2.hyps(dtype, src, lengths, 1, a.tgt_len, sizes[-1])
    Path(a.ct2_worker).write_text(json.dumps(res))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sentences", type=int, default=32)
    p.add_argument("--batch", default="1,16", help="sentences per batch; a comma list runs each (default 1,16)")
    p.add_argument("--src-len", type=int, default=24)
    p.add_argument("--tgt-len", type=int, default=24)
    p.add_argument("--beam", type=int, default=4)
    p.add_argument("--dtypes", default="float32,bfloat16",
                   help="weight/activation types to time (bfloat16: cached decoding only; default float32,bfloat16)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3, help="timed runs of each, in turns (the best is reported)")
    p.add_argument("--no-ct2", dest="ct2", action="store_false", help="skip CTranslate2 and the int8 rows")
    p.add_argument("--ct2-worker", metavar="JSON", default=None,
                   help=argparse.SUPPRESS)  # internal: time CTranslate2 alone in this process, write JSON
    a = p.parse_args()
    from peers import reexec_with

    # transformers and CTranslate2 live in a venv of their own that also sees s2s's (benchmarks/peers.py).
    reexec_with("translate", ["transformers==4.57.6", "sentencepiece", "ctranslate2==4.8.5"],
                ["transformers", "ctranslate2"] if a.ct2 else ["transformers"])
    torch.set_num_threads(a.threads)
    src, lengths = sources(a)
    sizes = [int(x) for x in str(a.batch).split(",")]
    if a.ct2_worker:
        ct2_worker(a, src, lengths, sizes)
        return
    ct2_res = None
    if a.ct2:  # CTranslate2 alone in a process of its own first (see the module docstring)
        import json
        import subprocess

        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "ct2.json"
            subprocess.run([sys.executable, __file__, *sys.argv[1:], "--ct2-worker", str(out)], check=True)
            ct2_res = json.loads(out.read_text())
    torch.manual_seed(0)
    hf = marian_model()
    size = params(s2s_model(pack=False))
    print(f"s2s seq2seq transformer_base: {size:,} parameters; MarianMT: {params(hf):,} parameters")
    dtypes = [x.strip() for x in a.dtypes.split(",")]
    rows = []
    results = {}
    if ct2_res is not None:
        dtypes += [] if "int8" in dtypes else ["int8"]
    for dtype in dtypes:
        torch.manual_seed(0)
        ours = s2s_model(torch.float32 if dtype == "int8" else getattr(torch, dtype), int8=dtype == "int8")
        if dtype != "int8":
            hf.to(getattr(torch, dtype))
        for bs in sizes:
            batches = [(src[i:i + bs], lengths[i:i + bs]) for i in range(0, a.sentences, bs)]
            for cache in (True, False) if dtype == "float32" else (True,):
                # s2s and transformers run in turns, so a drift of the machine's speed falls on
                # each; the best time of each is kept. CTranslate2's times come from its worker.
                impls = [("s2s", run_s2s, ours)]
                if dtype != "int8":
                    impls.append(("transformers", run_hf, hf))
                best = {name: float("inf") for name, _, _ in impls}
                with torch.inference_mode():
                    for name, fn, model in impls:
                        fn(model, *batches[0], a.beam, a.tgt_len, cache)  # warm-up
                    for _ in range(a.repeats):
                        for name, fn, model in impls:
                            t0 = time.perf_counter()
                            lens = [n for b in batches for n in fn(model, *b, a.beam, a.tgt_len, cache)]
                            best[name] = min(best[name], time.perf_counter() - t0)
                            assert all(n == a.tgt_len for n in lens), \
                                f"{name}: lengths {sorted(set(lens))} != {a.tgt_len}"
                if ct2_res is not None and cache and dtype in ("float32", "int8"):
                    impls.append(("ctranslate2", None, None))
                    best["ctranslate2"] = ct2_res["best"][dtype][str(bs)]
                for name, _, _ in impls:
                    sps, tps = a.sentences / best[name], a.sentences * a.tgt_len / best[name]
                    results[(dtype, bs, name, cache)] = sps
                    rows.append(f"| {dtype} | {bs} | {name} | {'yes' if cache else 'no'} | {best[name]:.2f} | "
                                f"{sps:.2f} | {tps:.1f} |")
    fields = []
    print(f"\n{a.sentences} sentences of {a.src_len // 2}-{a.src_len} source tokens, beam {a.beam}, {a.tgt_len} "
          f"output tokens each, {a.threads} threads, CPU")
    print("| dtype | batch | implementation | decoder cache | seconds | sentences/s | target tokens/s |\n"
          "|---|---:|---|---|---:|---:|---:|")
    print("\n".join(rows))
    if ct2_res is not None:
        with torch.inference_mode():
            for dtype in ("float32", "int8"):
                torch.manual_seed(0)
                ours = s2s_model(int8=dtype == "int8")
                mine = s2s_hyps(ours, src, lengths, 1, a.tgt_len, sizes[-1])
                theirs = ct2_res["greedy"][dtype]
                fields.append(f"same_greedy_{dtype}={np.mean([x == y for x, y in zip(mine, theirs)]):.2f}")
        for bs in sizes:
            tag = "" if bs == sizes[-1] else f"_b{bs}"
            for dtype in ("float32", "int8"):
                ratio = results[(dtype, bs, "s2s", True)] / results[(dtype, bs, "ctranslate2", True)]
                fields.append(f"ct2_{'fp32' if dtype == 'float32' else dtype}{tag}={ratio:.2f}")
    for dtype in dtypes:
        if dtype == "int8":
            continue
        for bs in sizes:
            tag = ("" if bs == sizes[-1] else f"_b{bs}") + ("" if dtype == "float32" else f"_{dtype}")
            r = {key[2:]: v for key, v in results.items() if key[:2] == (dtype, bs)}
            fields.append(f"speedup{tag}={r[('s2s', True)] / r[('transformers', True)]:.2f}")
            if ("s2s", False) in r:
                fields.append(f"speedup_nocache{tag}={r[('s2s', False)] / r[('transformers', False)]:.2f}")
            fields += [f"s2s_sent_per_s{tag}={r[('s2s', True)]:.2f}",
                       f"hf_sent_per_s{tag}={r[('transformers', True)]:.2f}"]
    print("RESULT " + " ".join(fields))


if __name__ == "__main__":
    main()
