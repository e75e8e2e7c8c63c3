"""Export a trained CTC model to TorchScript, ONNX or a sherpa-onnx model directory.

``export_model(checkpoint, fmt, out)`` (``s2s-export``):

- ``torchscript`` / ``onnx``: the whole model, front end and normalisation inside:
  waveforms ``(B, N)`` float32 at the model's rate + lengths ``(B,)`` int64 ->
  CTC log-probs ``(B, T', V)`` + output lengths ``(B,)``, batch and time dynamic.
  The vocabulary and decoding settings travel inside (see ``s2s.decode.runtime``).
  Both come from tracing (``torch.jit.trace``; ``torch.onnx.export``'s TorchScript-based
  exporter, opset 17): the front end frames with a convolution and a DFT matmul, so
  batch and time stay dynamic.
- ``sherpa-onnx``: a directory sherpa-onnx loads as an offline CTC model of its
  ``fire-red-asr-2-ctc`` type: ``model.onnx`` maps sherpa's own Kaldi fbank features
  ``(N, T, C)`` + lengths to log-probs + lengths (the model's CMVN in sherpa's metadata,
  or inside the graph for per-utterance CMVN), ``tokens.txt`` (``<space>`` written as
  ``▁``, which sherpa prints as a space) and ``sherpa.json`` (feature dim and rate). sherpa
  computes the features in C++, so only models whose front end is Kaldi fbank with the
  settings sherpa hard-codes for this type can be exported this way (see README).

Every export is checked: the exported model runs on inputs of another batch size and
length than it was traced with, and its log-probs must equal PyTorch's within 1e-3.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from s2s.decode.inference import Recognizer
from s2s.decode.runtime import EXPORT_FORMAT, encode_vocab
from s2s.errors import S2SError
from s2s.io import atomic_path

FORMATS = ("torchscript", "onnx", "sherpa-onnx")
OPSET = 17
TOLERANCE = 1e-3
# sherpa-onnx's fire-red-asr-2-ctc features (offline-recognizer-ctc-impl.h): Kaldi fbank with these settings.
SHERPA_FBANK = {"type": "fbank", "frame_length_ms": 25.0, "frame_shift_ms": 10.0, "dither": 0.0,
                "preemphasis_coefficient": 0.97, "remove_dc_offset": True, "window_type": "povey",
                "round_to_power_of_two": True, "snip_edges": True, "low_freq": 20.0, "high_freq": 0.0,
                "use_energy": False, "use_log_fbank": True, "use_power": True}


class WaveformModel(nn.Module):
    """The exported graph: waveforms + lengths -> log-probs + output lengths (int64)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor):
        logp, out_lengths = self.model(waveforms, lengths)
        return logp, out_lengths.to(torch.int64)


class FeatureModel(nn.Module):
    """The sherpa-onnx graph: sherpa's (CMVN-applied when global) features -> log-probs + lengths."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.utterance_cmvn = model.frontend.normalizer.mode == "utterance"

    def forward(self, x: torch.Tensor, x_lens: torch.Tensor):
        front = self.model.frontend
        if self.utterance_cmvn:
            x = front.normalizer(x, x_lens)
        valid = (torch.arange(x.size(1), device=x.device)[None, :] < x_lens[:, None]).to(x.dtype)
        y, out_lengths = self.model.encoder(x * valid[..., None], x_lens)
        return torch.log_softmax(self.model.head(y).float(), dim=-1), out_lengths.to(torch.int64)


def export_model(checkpoint, fmt: str, out, check: bool = True) -> dict:
    """Write the export; returns a summary (path, max |difference| to PyTorch on the check inputs)."""
    if fmt not in FORMATS:
        raise S2SError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    rec = Recognizer.load(checkpoint, "cpu")
    rec.require_ctc()
    if rec.model.frontend.feature_extractor is None:
        raise S2SError(f"{checkpoint}: the model has no front end (trained on features of unknown origin); "
                       f"only models with a frontend config export with their front end inside")
    out = Path(out)
    if fmt == "sherpa-onnx":
        return _export_sherpa(rec, checkpoint, out, check)
    meta = {"s2s.format": str(EXPORT_FORMAT), "s2s.sample_rate": str(rec.sample_rate),
            "s2s.frame_shift": repr(float(rec.frame_shift)), "s2s.min_samples": str(rec.min_samples),
            "s2s.vocab": encode_vocab(rec.vocab), "s2s.decoding": json.dumps(rec.decoding)}
    wrapper = WaveformModel(rec.model).eval()
    example = _example_waves(rec, (2.0, 1.3))
    with atomic_path(out) as tmp:
        if fmt == "torchscript":
            with torch.no_grad():
                traced = torch.jit.trace(wrapper, example, check_trace=False)
            torch.jit.save(traced, str(tmp), _extra_files={"s2s.json": json.dumps(meta)})
        else:
            _onnx_export(wrapper, example, tmp, {"waveforms": {0: "batch", 1: "samples"}, "lengths": {0: "batch"}},
                         ["waveforms", "lengths"], meta)
    result = {"path": str(out), "format": fmt}
    if check:
        result["max_abs_diff"] = check_export(rec, out, fmt)
    return result


def _example_waves(rec: Recognizer, seconds: tuple[float, ...]):
    g = torch.Generator().manual_seed(0)
    n = [int(s * rec.sample_rate) for s in seconds]
    x = torch.zeros(len(n), max(n))
    for b, k in enumerate(n):
        x[b, :k] = 0.1 * torch.randn(k, generator=g)
    return x, torch.tensor(n, dtype=torch.int64)


def _onnx_export(module, example, tmp, axes: dict, names: list[str], meta: dict) -> None:
    import warnings

    import onnx

    # The TorchScript-based exporter: it writes recurrent layers as ONNX GRU/LSTM ops; the
    # torch.export-based one (torch 2.13) fails on a GRU whose time axis is derived from the input's.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(module, example, str(tmp), input_names=names, output_names=["log_probs", "out_lengths"],
                              dynamic_axes={**axes, "log_probs": {0: "batch", 1: "frames"},
                                            "out_lengths": {0: "batch"}},
                              opset_version=OPSET, dynamo=False)
        except Exception as e:  # the exporter reports unsupported code with long traces
            raise S2SError(f"ONNX export failed: {type(e).__name__}: {str(e).splitlines()[0][:300]}") from None
    model = onnx.load(str(tmp))
    for k, v in meta.items():
        prop = model.metadata_props.add()
        prop.key, prop.value = k, v
    onnx.save(model, str(tmp))


def _runtime(path, fmt):
    from s2s.decode.runtime import OnnxRecognizer, TorchScriptRecognizer

    return (TorchScriptRecognizer if fmt == "torchscript" else OnnxRecognizer)(path)


def check_export(rec: Recognizer, path, fmt: str) -> float:
    """Max |log-prob difference| between the export and PyTorch on 3 waveforms of new lengths."""
    x, n = _example_waves(rec, (0.9, 2.7, 1.6))
    waves = [x[b, : n[b]].numpy() for b in range(len(n))]
    ref = rec.logprobs(waves, batch_seconds=1e9)
    got = _runtime(path, fmt).logprobs(waves, batch_seconds=1e9)
    diff = max(float(np.abs(a - b).max()) for a, b in zip(ref, got))
    if any(a.shape != b.shape for a, b in zip(ref, got)) or diff > TOLERANCE:
        raise S2SError(f"{path}: the exported model differs from PyTorch (max |diff| {diff:.2e}, shapes "
                       f"{[a.shape for a in ref]} vs {[b.shape for b in got]}); please report this as a bug")
    return diff


# ---------------------------------------------------------------------------- sherpa-onnx
def sherpa_incompatibility(frontend_conf: dict) -> list[str]:
    """Why a front end cannot be computed by sherpa-onnx's fire-red-asr-2-ctc features ([] if it can)."""
    probs = [f"{k}: {frontend_conf.get(k)!r} (sherpa: {v!r})" for k, v in SHERPA_FBANK.items()
             if frontend_conf.get(k) != v]
    if frontend_conf.get("sample_rate") != 16000:
        probs.append(f"sample_rate: {frontend_conf.get('sample_rate')} (sherpa: 16000)")
    return probs


def _export_sherpa(rec: Recognizer, checkpoint, out: Path, check: bool) -> dict:
    conf = rec.model.frontend.feature_extractor.conf
    probs = sherpa_incompatibility(conf)
    if probs:
        raise S2SError(f"{checkpoint}: sherpa-onnx computes its own Kaldi fbank features for an offline CTC model "
                       f"(type fire-red-asr-2-ctc), and this model's front end differs: {'; '.join(probs)}. "
                       f"Use --format onnx (front end inside, run by s2s-transcribe --engine onnx); see README")
    norm = rec.model.frontend.normalizer
    dim = rec.model.frontend.dim
    if norm.mode == "global":
        mean, inv = norm.mean.tolist(), (1.0 / norm.std).tolist()
    else:  # utterance CMVN (or none) runs inside the graph; sherpa's own CMVN is the identity
        mean, inv = [0.0] * dim, [1.0] * dim
    meta = {"model_type": "fire-red-asr-2-ctc", "cmvn_mean": ",".join(f"{v:.8g}" for v in mean),
            "cmvn_inv_stddev": ",".join(f"{v:.8g}" for v in inv), "subsampling_factor": str(rec.model.encoder.stride),
            "s2s.format": str(EXPORT_FORMAT)}
    tmp_dir = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp_dir, ignore_errors=True)
    tmp_dir.mkdir(parents=True)
    fe = rec.model.frontend.feature_extractor
    g = torch.Generator().manual_seed(0)
    feats = [fe.extract(0.1 * torch.randn(int(s * rec.sample_rate), generator=g), rec.sample_rate) for s in (2.0, 1.3)]
    x = torch.nn.utils.rnn.pad_sequence(feats, batch_first=True)
    example = (x, torch.tensor([f.shape[0] for f in feats], dtype=torch.int64))
    _onnx_export(FeatureModel(rec.model).eval(), example, tmp_dir / "model.onnx",
                 {"x": {0: "batch", 1: "frames_in"}, "x_lens": {0: "batch"}}, ["x", "x_lens"], meta)
    with open(tmp_dir / "tokens.txt", "w", encoding="utf-8") as f:
        for i, t in enumerate(rec.vocab.tokens):
            f.write(f"{chr(0x2581) if t == '<space>' else t} {i}\n")
    (tmp_dir / "sherpa.json").write_text(json.dumps({"sample_rate": rec.sample_rate, "feature_dim": dim,
                                                     "model_type": "fire-red-asr-2-ctc"}) + "\n")
    if out.exists():
        shutil.rmtree(out)
    tmp_dir.rename(out)
    result = {"path": str(out), "format": "sherpa-onnx"}
    if check:
        result["text_matches"] = check_sherpa(rec, out)
    return result


def check_sherpa(rec: Recognizer, out: Path) -> bool:
    """sherpa-onnx's greedy text equals s2s's on a few waveforms (they are random: mostly short texts)."""
    from s2s.decode.runtime import load_sherpa

    recognizer = load_sherpa(out)
    x, n = _example_waves(rec, (0.9, 2.7))
    ok = True
    for b in range(len(n)):
        wav = x[b, : n[b]].numpy()
        s = recognizer.create_stream()
        s.accept_waveform(rec.sample_rate, wav)
        recognizer.decode_stream(s)
        ours = rec.greedy_text(rec.logprobs([wav])[0])
        ok &= " ".join(s.result.text.split()) == ours
    if not ok:
        print(f"s2s-export: warning: sherpa-onnx decodes {out} differently from s2s on the check audio",
              file=sys.stderr)
    return ok
