"""Run exported models: ONNX with onnxruntime (no PyTorch imported), TorchScript, sherpa-onnx.

``s2s-export`` writes a model that maps waveforms ``(B, N)`` float32 at the model's
sample rate with lengths ``(B,)`` int64 to CTC log-probabilities ``(B, T', V)`` and
output lengths ``(B,)``, the front end and normalisation inside. Its metadata (ONNX
``metadata_props``; TorchScript extra file ``s2s.json``) carries what decoding needs:

==================  ==============================================================
key                 value
==================  ==============================================================
s2s.format          ``EXPORT_FORMAT``
s2s.sample_rate     the rate the model reads (inputs are resampled to it)
s2s.frame_shift     seconds per output frame (for timestamps)
s2s.min_samples     the shortest waveform that gives an output frame
s2s.vocab           JSON of the vocabulary (``Vocabulary.to_dict``; SentencePiece model base64)
s2s.decoding        JSON of the decoding settings the recipe tuned (``decode.yaml``), or {}
==================  ==============================================================

``OnnxRecognizer`` and ``TorchScriptRecognizer`` offer the interface of
``s2s.decode.inference.Recognizer`` that transcription uses (``vocab``,
``sample_rate``, ``frame_shift``, ``min_samples``, ``decoding``, ``logprobs``).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np

from s2s.data.tokens import Vocabulary
from s2s.decode.settings import length_batches
from s2s.errors import S2SError

EXPORT_FORMAT = 1
META_KEYS = ("s2s.format", "s2s.sample_rate", "s2s.frame_shift", "s2s.min_samples", "s2s.vocab", "s2s.decoding")


def encode_vocab(vocab: Vocabulary) -> str:
    d = vocab.to_dict()
    d["sp_model"] = base64.b64encode(d["sp_model"]).decode("ascii") if d["sp_model"] else None
    return json.dumps(d)


def decode_vocab(text: str, source: str) -> Vocabulary:
    d = json.loads(text)
    d["sp_model"] = base64.b64decode(d["sp_model"]) if d.get("sp_model") else None
    return Vocabulary.from_dict(d, source=f"{source} (vocabulary)")


class _Exported:
    """What ONNX and TorchScript recognizers share: metadata and length batching."""

    def _read_meta(self, meta: dict, path) -> None:
        missing = [k for k in META_KEYS if k not in meta]
        if missing:
            raise S2SError(f"{path}: no s2s metadata ({', '.join(missing)} missing); it was not written by "
                           f"s2s-export. Export the checkpoint with s2s-export MODEL.pt --format onnx OUT")
        if int(meta["s2s.format"]) != EXPORT_FORMAT:
            raise S2SError(f"{path}: s2s export format {meta['s2s.format']}, this version reads {EXPORT_FORMAT}; "
                           f"export the checkpoint again with this s2s")
        self.sample_rate = int(meta["s2s.sample_rate"])
        self.frame_shift = float(meta["s2s.frame_shift"])
        self.min_samples = int(meta["s2s.min_samples"])
        self.vocab = decode_vocab(meta["s2s.vocab"], str(path))
        self.decoding = json.loads(meta["s2s.decoding"])

    def too_short(self, x) -> bool:
        return len(x) < self.min_samples

    def logprobs(self, inputs: list, batch_seconds: float = 400.0) -> list[np.ndarray]:
        """CTC log-probabilities ``(T', V)`` per waveform; ``(0, V)`` for one too short for a frame."""
        out: list = [np.zeros((0, len(self.vocab)), dtype=np.float32)] * len(inputs)
        runnable = [i for i, x in enumerate(inputs) if not self.too_short(x)]
        durations = [len(inputs[i]) / self.sample_rate for i in runnable]
        for group in length_batches(durations, batch_seconds):
            idx = [runnable[g] for g in group]
            n = max(len(inputs[k]) for k in idx)
            x = np.zeros((len(idx), n), dtype=np.float32)
            for b, k in enumerate(idx):
                x[b, : len(inputs[k])] = inputs[k]
            lens = np.array([len(inputs[k]) for k in idx], dtype=np.int64)
            logp, out_lens = self._run(x, lens)
            for b, k in enumerate(idx):
                out[k] = np.ascontiguousarray(logp[b, : int(out_lens[b])], dtype=np.float32)
        return out


class OnnxRecognizer(_Exported):
    """An exported ONNX model run by onnxruntime; nothing here imports PyTorch."""

    def __init__(self, path, threads: int = 0):
        try:
            import onnxruntime as ort
        except ImportError:
            raise S2SError("onnxruntime is not installed; pip install onnxruntime (tools/setup.sh does)") from None
        path = Path(path)
        if not path.is_file():
            raise S2SError(f"{path}: no such ONNX file")
        opts = ort.SessionOptions()
        if threads > 0:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types for bad files
            raise S2SError(f"{path}: not a valid ONNX model ({str(e).splitlines()[0][:200]})") from None
        self._read_meta(self.session.get_modelmeta().custom_metadata_map, path)
        self._inputs = [i.name for i in self.session.get_inputs()]

    def _run(self, x: np.ndarray, lens: np.ndarray):
        logp, out_lens = self.session.run(None, {self._inputs[0]: x, self._inputs[1]: lens})
        return logp, out_lens


class TorchScriptRecognizer(_Exported):
    """An exported TorchScript model (``torch.jit.load``)."""

    def __init__(self, path, threads: int = 0):
        import torch

        path = Path(path)
        if not path.is_file():
            raise S2SError(f"{path}: no such TorchScript file")
        extra = {"s2s.json": ""}
        try:
            self.module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
        except Exception as e:
            raise S2SError(f"{path}: not a TorchScript model ({str(e).splitlines()[0][:200]})") from None
        self._read_meta(json.loads(extra["s2s.json"]) if extra["s2s.json"] else {}, path)
        if threads > 0:
            torch.set_num_threads(threads)

    def _run(self, x: np.ndarray, lens: np.ndarray):
        import torch

        with torch.no_grad():
            logp, out_lens = self.module(torch.from_numpy(x), torch.from_numpy(lens))
        return logp.numpy(), out_lens.numpy()


def load_sherpa(model_dir, threads: int = 1):
    """A ``sherpa_onnx.OfflineRecognizer`` for a model exported with ``--format sherpa-onnx`` (its feature
    dimension and rate from the export's sherpa.json: ``from_fire_red_asr_ctc`` alone assumes 80 bins)."""
    import sherpa_onnx
    from sherpa_onnx.lib._sherpa_onnx import (
        FeatureExtractorConfig,
        OfflineFireRedAsrCtcModelConfig,
        OfflineModelConfig,
        OfflineRecognizerConfig,
    )
    from sherpa_onnx.lib._sherpa_onnx import OfflineRecognizer as _Recognizer

    model_dir = Path(model_dir)
    conf_file = model_dir / "sherpa.json"
    if not conf_file.is_file():
        raise S2SError(f"{model_dir}: not a sherpa-onnx export of s2s (no sherpa.json); "
                       f"write one with s2s-export MODEL.pt --format sherpa-onnx DIR")
    conf = json.loads(conf_file.read_text())
    model = OfflineModelConfig(
        fire_red_asr_ctc=OfflineFireRedAsrCtcModelConfig(model=str(model_dir / "model.onnx")),
        tokens=str(model_dir / "tokens.txt"), num_threads=threads, provider="cpu")
    feat = FeatureExtractorConfig(sampling_rate=conf["sample_rate"], feature_dim=conf["feature_dim"])
    config = OfflineRecognizerConfig(feat_config=feat, model_config=model, decoding_method="greedy_search")
    rec = sherpa_onnx.OfflineRecognizer.__new__(sherpa_onnx.OfflineRecognizer)
    rec.recognizer = _Recognizer(config)
    rec.config = config
    return rec
