"""The inference core for CTC models: load a checkpoint, batch inputs by length, log-probabilities.

``Recognizer.load(path)`` gives the model (front end inside), its vocabulary and
its metadata. ``recognizer.logprobs(inputs)`` runs the network over a list of
inputs, each a waveform (1-D, at the model's sample rate) or a dumped feature
matrix (T, D), in batches of about ``batch_seconds`` of padded audio, and returns
one ``(T', V)`` float32 array of CTC log-probabilities per input, in input order.
The models are padding-invariant, so batching does not change any result.
``data_dir_inputs`` reads a Kaldi data dir the way the model expects. An input too
short to give one output frame (``min_samples``) gets an empty ``(0, V)`` array.

``s2s.decode.runtime.OnnxRecognizer`` offers the same interface for an exported model
without PyTorch.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from s2s.data.tokens import Vocabulary
from s2s.errors import S2SError

FEATURE_SHIFT_FALLBACK = 0.01  # seconds per feature frame of a model without a front end


@dataclass
class Recognizer:
    """A trained CTC model ready for inference."""

    model: torch.nn.Module
    vocab: Vocabulary
    meta: dict
    device: torch.device
    decoding: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path, device: str = "cpu") -> "Recognizer":
        from s2s.decode.settings import read_decoding
        from s2s.models.checkpoint import load_model

        model, meta = load_model(path, device, task="asr")
        vocab = Vocabulary.from_dict(meta["vocab"], source=f"{path} (vocabulary)")
        return cls(model, vocab, meta, torch.device(device), read_decoding(Path(path)))

    @property
    def attention(self) -> bool:
        """True for an attention encoder-decoder (LAS, joint CTC-attention), decoded autoregressively."""
        return self.meta["model"]["name"] == "seq2seq"

    def require_ctc(self) -> None:
        if self.attention:
            raise S2SError("an attention encoder-decoder model: decode it with python -m s2s.bin.decode --decoder "
                           "attention (utils/decode.sh ... --decoder attention); CTC decoding, transcription and "
                           "export take CTC models")

    @functools.cached_property
    def min_samples(self) -> int:
        """The shortest waveform (in samples) that gives at least one output frame."""
        self.require_ctc()
        fe = self.model.frontend.feature_extractor
        if fe is None:
            return 0
        n = 1
        while fe.num_frames(n) < 1 or self._out_frames(n) < 1:
            n = n * 2 if fe.num_frames(n) < 1 else n + max(1, n // 8)
            if n > 60 * fe.sample_rate:
                raise S2SError("the model gives no output frames for a minute of audio; it is broken")
        lo = n // 2
        while lo + 1 < n:  # the smallest length that still gives a frame
            mid = (lo + n) // 2
            if fe.num_frames(mid) >= 1 and self._out_frames(mid) >= 1:
                n = mid
            else:
                lo = mid
        return n

    @torch.no_grad()
    def _out_frames(self, n: int) -> int:
        x = torch.zeros(1, n, device=self.device)
        return int(self.model(x, torch.tensor([n], device=self.device))[1][0])

    @property
    def sample_rate(self) -> int | None:
        return self.model.sample_rate

    @property
    def frame_shift(self) -> float:
        """Seconds per output frame of the network."""
        shift = self.model.frame_shift
        return shift if shift is not None else FEATURE_SHIFT_FALLBACK * self.model.encoder.stride

    def seconds(self, x) -> float:
        """Duration of one input: samples over the rate, or frames times the feature shift."""
        if x.ndim == 1:
            return len(x) / float(self.sample_rate)
        shift = self.model.frontend.frame_shift or FEATURE_SHIFT_FALLBACK
        return x.shape[0] * shift

    def too_short(self, x) -> bool:
        return (len(x) < self.min_samples) if np.ndim(x) == 1 else len(x) == 0

    @torch.no_grad()
    def logprobs(self, inputs: list, batch_seconds: float = 400.0) -> list[np.ndarray]:
        """CTC log-probabilities ``(T', V)`` per input (waveforms and feature matrices may be mixed);
        ``(0, V)`` for an input too short to give an output frame."""
        self.require_ctc()
        out: list = [np.zeros((0, len(self.vocab)), dtype=np.float32)] * len(inputs)
        runnable = [i for i, x in enumerate(inputs) if not self.too_short(x)]
        for group in self.batches([inputs[i] for i in runnable], batch_seconds):
            idx = [runnable[i] for i in group]
            for k, lp in zip(idx, self.run_batch([inputs[k] for k in idx])):
                out[k] = lp
        return out

    def batches(self, inputs: list, batch_seconds: float) -> list[list[int]]:
        """Indices of ``inputs`` grouped by kind (waveform or features) into length-sorted batches of at
        most ``batch_seconds`` padded seconds (a longer input goes alone)."""
        from s2s.decode.settings import length_batches

        out = []
        for kind in (1, 2):
            idx = [i for i, x in enumerate(inputs) if np.ndim(x) == kind]
            out += [[idx[j] for j in b] for b in length_batches([self.seconds(inputs[i]) for i in idx], batch_seconds)]
        return out

    def run_batch(self, items: list) -> list[np.ndarray]:
        """Log-probabilities of inputs of one kind, run as one padded batch."""
        tensors = [torch.as_tensor(np.asarray(x, dtype=np.float32)) for x in items]
        lens = torch.tensor([t.shape[0] for t in tensors], dtype=torch.long, device=self.device)
        x = torch.nn.utils.rnn.pad_sequence(tensors, batch_first=True).to(self.device)
        logp, out_lens = self.model(x, lens)
        logp = logp.cpu().numpy()
        return [logp[b, : int(out_lens[b])] for b in range(len(items))]

    def greedy_text(self, logp: np.ndarray) -> str:
        from s2s.decode.ctc import greedy_search

        return self.vocab.decode(greedy_search(logp, blank=self.vocab.blank_id)[0])


def data_dir_inputs(data_dir, recognizer: Recognizer):
    """``(keys, load)`` for a Kaldi data dir: its sorted utterance ids and a function giving each one's
    model input: dumped features (feats.scp, checked to come from the model's front end) or the
    waveform at the model's rate (wav.scp, segments honoured, resampled when needed), which the
    model's own front end turns into features."""
    from s2s.data.datadir import DataDir
    from s2s.data.sources import FeatureSource

    dd = DataDir(data_dir)
    source = FeatureSource(recognizer.model.frontend.feature_extractor, resample=True)
    src, _ = source.sources(dd)

    def load(utt: str):
        if src[utt][0] == "wav":
            return source.load_wave(src[utt])
        feats = source.load(src[utt])
        if feats.shape[1] != recognizer.model.frontend.dim:
            raise S2SError(f"{dd.file('feats.scp')}: {utt!r} has {feats.shape[1]}-dim features, the model "
                           f"reads {recognizer.model.frontend.dim}; recompute them with the model's front end")
        return feats.numpy()

    return sorted(src), load


def job_share(keys: list[str], nj: int, job: int) -> list[str]:
    """Contiguous share ``job`` (1-based) of ``nj`` of the sorted keys."""
    if not 1 <= job <= nj:
        raise S2SError(f"--job {job} is outside 1..{nj}")
    keys = sorted(keys)
    n = len(keys)
    return keys[(job - 1) * n // nj: job * n // nj]
