"""An s2s Transformer as a CTranslate2 model, for benchmarks/translate.py (run in its peer venv).

``save_ct2_model(weights, job, model_dir)`` writes the s2s parameters (``state_dict`` arrays under
their s2s names, plus ``enc_positions``/``dec_positions``, the sinusoid tables) into a
CTranslate2 ``TransformerSpec``: pre-norm with final layer norms, shared embeddings scaled by
sqrt(d), the s2s position tables as the position encodings, q/k/v fused as CTranslate2 wants,
torch's layer-norm epsilon. The vocabulary is ``t<i>`` strings with CTranslate2's names at s2s's
special ids. ``ct2_decode`` runs a beam search as s2s's benchmark does: ``tgt_len + 1`` decoder
steps, the tokens s2s never emits suppressed. Tested against s2s's own scores (the log-probability
of a target under both models agrees to float32 rounding).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ctranslate2.specs import transformer_spec

# CTranslate2's names for the special tokens, and the job's key giving each one's id in s2s's vocabulary.
SPECIALS = {"<ctc_blank>": "blank", "<blank>": "pad", "<s>": "bos", "</s>": "eos", "<unk>": "unk"}


def _linear(spec, w, prefix):
    spec.weight = w[f"{prefix}.weight"]
    if f"{prefix}.bias" in w:
        spec.bias = w[f"{prefix}.bias"]


def _fused(spec, w, prefixes):
    spec.weight = np.concatenate([w[f"{p}.weight"] for p in prefixes])
    spec.bias = np.concatenate([w[f"{p}.bias"] for p in prefixes])


def _norm(spec, w, prefix):
    spec.gamma, spec.beta = w[f"{prefix}.weight"], w[f"{prefix}.bias"]


def build_spec(w: dict, job: dict):
    spec = transformer_spec.TransformerSpec.from_config((job["enc_layers"], job["dec_layers"]), job["heads"],
                                                         pre_norm=True)
    spec.config.layer_norm_epsilon = 1e-5  # torch's LayerNorm
    enc, dec = spec.encoder, spec.decoder
    enc.embeddings[0].weight = w["src_embed.weight"]
    enc.scale_embeddings = True
    enc.position_encodings.encodings = w["enc_positions"]
    for i, layer in enumerate(enc.layer):
        p = f"encoder.layers.{i}"
        _norm(layer.self_attention.layer_norm, w, f"{p}.sub1.norm")
        _fused(layer.self_attention.linear[0], w, [f"{p}.attn.q", f"{p}.attn.k", f"{p}.attn.v"])
        _linear(layer.self_attention.linear[1], w, f"{p}.attn.o")
        _norm(layer.ffn.layer_norm, w, f"{p}.sub2.norm")
        _linear(layer.ffn.linear_0, w, f"{p}.ff.0")
        _linear(layer.ffn.linear_1, w, f"{p}.ff.3")
    _norm(enc.layer_norm, w, "encoder.final_norm")
    dec.embeddings.weight = w["tgt_embed.weight"]
    dec.scale_embeddings = True
    dec.position_encodings.encodings = w["dec_positions"]
    for i, layer in enumerate(dec.layer):
        p = f"decoder.layers.{i}"
        _norm(layer.self_attention.layer_norm, w, f"{p}.sub1.norm")
        _fused(layer.self_attention.linear[0], w, [f"{p}.self_attn.q", f"{p}.self_attn.k", f"{p}.self_attn.v"])
        _linear(layer.self_attention.linear[1], w, f"{p}.self_attn.o")
        _norm(layer.attention.layer_norm, w, f"{p}.sub2.norm")
        _linear(layer.attention.linear[0], w, f"{p}.cross.q")
        _fused(layer.attention.linear[1], w, [f"{p}.cross.k", f"{p}.cross.v"])
        _linear(layer.attention.linear[2], w, f"{p}.cross.o")
        _norm(layer.ffn.layer_norm, w, f"{p}.sub3.norm")
        _linear(layer.ffn.linear_0, w, f"{p}.ff.0")
        _linear(layer.ffn.linear_1, w, f"{p}.ff.3")
    _norm(dec.layer_norm, w, "decoder.final_norm")
    dec.projection.weight = w["out.weight"]
    dec.projection.bias = w["out.bias"]
    vocab = [f"t{i}" for i in range(job["vocab"])]
    for name, idx in SPECIALS.items():
        vocab[job[idx]] = name
    spec.register_source_vocabulary(vocab)
    spec.register_target_vocabulary(vocab)
    return spec, vocab


def save_ct2_model(weights: dict, job: dict, model_dir) -> list[str]:
    """Write the CTranslate2 model; returns its vocabulary (index = s2s token id)."""
    spec, vocab = build_spec(weights, job)
    Path(model_dir).mkdir(parents=True, exist_ok=True)
    spec.validate()
    spec.optimize(quantization=None)
    spec.save(str(model_dir))
    return vocab


def ct2_decode(translator, sources: list[list[str]], beam: int, tgt_len: int, lenpen: float, index: dict,
               batch: int) -> list[list[int]]:
    """Best hypotheses (their first ``tgt_len`` token ids) after ``tgt_len + 1`` decoder steps, as s2s
    decodes in the benchmark; the CTC blank, padding and <s> (never emitted by s2s) suppressed."""
    hyps = []
    for i in range(0, len(sources), batch):
        res = translator.translate_batch(sources[i:i + batch], beam_size=beam, length_penalty=lenpen,
                                         min_decoding_length=tgt_len + 1, max_decoding_length=tgt_len + 1,
                                         max_input_length=0,
                                         suppress_sequences=[["<ctc_blank>"], ["<blank>"], ["<s>"]])
        hyps += [[index[t] for t in r.hypotheses[0]][:tgt_len] for r in res]
    return hyps
