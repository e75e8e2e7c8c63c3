"""Vocoders: log-mel frames -> waveform, trained on the audio of Kaldi data dirs.

``vocoder: wavenet`` (s2s.models.wavenet: mu-law cross-entropy, teacher forced) or
``vocoder: istft_vocoder`` (s2s.models.istft_vocoder: multi-resolution STFT loss + L1
log-mel loss). The mel is the TTS model's ``logmel`` front end (``frontend_conf``, or
DATA/frontend.yaml of the first training dir), computed from the audio, so a vocoder
trained here turns what the Tacotron 2 of the same front end predicts into speech.

Each utterance gives one segment of ``segment_frames`` mel frames (and the
``segment_frames x hop`` samples they describe) per epoch, at an offset drawn from
(seed, epoch, utterance); validation uses the middle of each utterance. Utterances
shorter than a segment are padded with silence. Validation reports the loss and, for
every vocoder, ``mel_l1``: the L1 distance between the log-mel of the vocoder's
output and the input log-mel (the WaveNet's output generated sample by sample, so only
``valid_generate`` utterances are used for it).
"""

from __future__ import annotations

import random

import numpy as np
import torch
import torch.nn.functional as F

from s2s.data.datadir import DataDir
from s2s.data.features import build_frontend
from s2s.data.sources import FeatureSource, dumped_frontend_conf
from s2s.errors import S2SError
from s2s.models.wavenet import mulaw_encode
from s2s.tasks.base import TASKS, Task, as_list, unwrap

VOCODERS = ("wavenet", "istft_vocoder")


class VocoderDataset:
    """(waveform segment, its log-mel frames) per utterance; ``lengths`` are mel frames."""

    def __init__(self, data_dirs: list[str], features: FeatureSource, segment_frames: int, seed: int,
                 random_offsets: bool):
        self.features, self.segment_frames = features, segment_frames
        self.hop = features.frontend.hop
        self.seed, self.epoch, self.random_offsets = int(seed), 0, random_offsets
        self.ids, self._src = [], []
        for d in data_dirs:
            src, _ = features.sources(DataDir(d), prefer_feats=False)
            for u in sorted(src):
                self.ids.append(u)
                self._src.append(src[u])
        if not self.ids:
            raise S2SError(f"{', '.join(data_dirs)}: no utterances to use")
        # Batches are fixed groups of indices (the bucket sampler, equal lengths): index i reads
        # a shuffled utterance so that a batch mixes speakers instead of one speaker's files.
        self.order = list(range(len(self.ids)))
        random.Random(self.seed).shuffle(self.order)
        self.lengths = [segment_frames] * len(self.ids)
        self.floor = float(np.log(features.frontend.conf["log_guard"]))

    def __len__(self) -> int:
        return len(self.ids)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __getitem__(self, i: int) -> dict:
        u = self.order[i]
        wav = torch.from_numpy(np.ascontiguousarray(self.features.load_wave(self._src[u]), dtype=np.float32))
        fe = self.features.frontend
        mel = fe.extract(wav.numpy(), fe.sample_rate)
        n, f = mel.shape[0], self.segment_frames
        if self.random_offsets:
            gen = random.Random(((self.seed * 1_000_003 + self.epoch) * 10_000_019 + i) % 2**63)
            start = gen.randint(0, max(n - f, 0))
        else:
            start = max(n - f, 0) // 2
        seg_mel = mel[start:start + f]
        seg_wav = wav[start * self.hop:(start + f) * self.hop]
        if seg_mel.shape[0] < f:  # short utterance: silence after it
            seg_mel = torch.cat([seg_mel, seg_mel.new_full((f - seg_mel.shape[0], seg_mel.shape[1]), self.floor)])
        if seg_wav.shape[0] < f * self.hop:
            seg_wav = F.pad(seg_wav, (0, f * self.hop - seg_wav.shape[0]))
        return {"id": self.ids[u], "mel": seg_mel, "wav": seg_wav}


def collate_vocoder(items: list[dict]) -> dict:
    return {"ids": [it["id"] for it in items], "mels": torch.stack([it["mel"] for it in items]),
            "wavs": torch.stack([it["wav"] for it in items])}


def stft_magnitude(x: torch.Tensor, n_fft: int, hop: int, win: int) -> torch.Tensor:
    window = torch.hann_window(win, device=x.device)
    spec = torch.stft(x.float(), n_fft, hop, win, window=window, center=True, return_complex=True)
    return spec.abs().clamp_min(1e-7)


def multi_resolution_stft_loss(pred: torch.Tensor, target: torch.Tensor,
                               resolutions: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Spectral convergence and log-magnitude L1, each averaged over the resolutions
    (Yamamoto et al., 2020, eqs. 4-6), per utterance: two (B,) tensors."""
    sc, mag = 0.0, 0.0
    for n_fft, hop, win in resolutions:
        p, t = stft_magnitude(pred, n_fft, hop, win), stft_magnitude(target, n_fft, hop, win)
        sc = sc + torch.linalg.norm((t - p).flatten(1), dim=1) / torch.linalg.norm(t.flatten(1), dim=1).clamp_min(1e-7)
        mag = mag + (t.log() - p.log()).abs().flatten(1).mean(1)
    return sc / len(resolutions), mag / len(resolutions)


@TASKS.register("vocoder")
class VocoderTask(Task):
    name = "vocoder"
    cost_unit = "mel frames"
    throughput_unit = "audio-s"
    defaults = {
        "vocoder": "istft_vocoder",  # wavenet | istft_vocoder
        "frontend_conf": None,       # the TTS model's logmel settings (default: the train dir's frontend.yaml)
        "model_conf": {},            # vocoder constructor arguments (n_mels, hop, sample_rate are filled in)
        "segment_frames": 32,        # mel frames per training segment
        "stft_resolutions": [[512, 50, 240], [1024, 120, 600], [2048, 240, 1200]],  # (n_fft, hop, win)
        "mel_loss_weight": 1.0,      # istft_vocoder: weight of the L1 log-mel loss
        "valid_generate": 4,         # wavenet: utterances generated at validation for mel_l1
    }
    help = {
        "vocoder": "the vocoder: wavenet (autoregressive, mu-law) or istft_vocoder (parallel, inverse STFT)",
        "frontend_conf": "the log-mel front end of the TTS model whose output is vocoded (default: "
                         "frontend.yaml of the first training data dir)",
        "model_conf": "vocoder arguments (n_mels, hop and sample_rate come from the front end)",
        "segment_frames": "mel frames per training segment (one segment per utterance and epoch)",
        "stft_resolutions": "istft_vocoder: (n_fft, hop, window) of each STFT of the multi-resolution loss",
        "mel_loss_weight": "istft_vocoder: weight of the L1 log-mel loss against the STFT losses",
        "valid_generate": "wavenet: validation utterances generated sample by sample to measure mel_l1",
    }

    def __init__(self, conf: dict):
        super().__init__(conf)
        self.model_name = conf.get("vocoder", "istft_vocoder")
        if self.model_name not in VOCODERS:
            raise S2SError(f"vocoder: {self.model_name!r} is not a vocoder; use one of {', '.join(VOCODERS)}")
        train_dirs = as_list(conf.get("train_data"))
        self.frontend_conf = conf.get("frontend_conf") or (dumped_frontend_conf(train_dirs[0]) if train_dirs
                                                           else None)
        if self.frontend_conf is None:
            raise S2SError("vocoder: no front end; set frontend_conf: {type: logmel, ...} (the TTS model's) or "
                           "give a training dir with frontend.yaml")
        if self.frontend_conf.get("type") != "logmel":
            raise S2SError(f"vocoder: the mel must come from a 'logmel' front end (the TTS targets), got type "
                           f"{self.frontend_conf.get('type')!r}")
        self.frontend = build_frontend(self.frontend_conf)
        self.features = FeatureSource(self.frontend)

    def dataset(self, split: str):
        dirs = as_list(self.conf.get("train_data" if split == "train" else "valid_data"))
        if not dirs:
            return None
        return VocoderDataset(dirs, self.features, int(self.conf.get("segment_frames", 32)),
                              self.conf.get("seed", 1), random_offsets=split == "train")

    def collate(self, items):
        return collate_vocoder(items)

    def throughput(self, batch: dict) -> float:
        return float(batch["wavs"].numel()) / self.frontend.sample_rate

    def model_args(self) -> dict:
        args = dict(self.conf.get("model_conf") or {})
        args.update(n_mels=int(self.frontend.conf["num_mel_bins"]), hop=int(self.frontend.hop),
                    sample_rate=int(self.frontend.sample_rate))
        return args

    def extra_meta(self) -> dict:
        return {"frontend_conf": self.frontend.conf}

    # -- loss
    def _mel_l1(self, wavs: torch.Tensor, mels: torch.Tensor) -> torch.Tensor:
        """Per-utterance mean |log-mel(wavs) - mels| over the segment's frames."""
        fe = self.frontend.to(wavs.device)
        lengths = torch.full((wavs.shape[0],), wavs.shape[1], dtype=torch.long, device=wavs.device)
        got, _ = fe(wavs.float(), lengths)
        t = min(got.shape[1], mels.shape[1])
        return (got[:, :t] - mels[:, :t].float()).abs().mean(dim=(1, 2))

    def _losses(self, model, batch) -> tuple[torch.Tensor, dict]:
        mels, wavs = batch["mels"], batch["wavs"]
        if self.model_name == "wavenet":
            classes = unwrap(model).classes
            target = mulaw_encode(wavs, classes)
            inputs = F.pad(target, (1, 0), value=classes // 2)[:, :-1]  # previous sample (silence first)
            logits = model(inputs, mels)
            ce = F.cross_entropy(logits.float(), target, reduction="none").mean(1)
            return ce, {"ce": ce}
        pred = model(mels)
        sc, mag = multi_resolution_stft_loss(pred, wavs, self.conf.get("stft_resolutions"))
        mel = self._mel_l1(pred, mels)
        loss = sc + mag + self.conf.get("mel_loss_weight", 1.0) * mel
        return loss, {"sc": sc, "log_mag": mag, "mel_l1": mel}

    def forward_loss(self, model, batch):
        loss, parts = self._losses(model, batch)
        b = float(loss.shape[0])
        return loss.sum(), b, {k: float(v.detach().sum()) / b for k, v in parts.items()}

    @torch.no_grad()
    def evaluate(self, model, loader) -> dict:
        sums: dict[str, float] = {}
        n = 0
        generated: list[tuple[torch.Tensor, torch.Tensor]] = []
        for batch in loader:
            loss, parts = self._losses(model, batch)
            for k, v in {"loss": loss, **parts}.items():
                sums[k] = sums.get(k, 0.0) + float(v.sum())
            n += loss.shape[0]
            if self.model_name == "wavenet" and len(generated) < self.conf.get("valid_generate", 4):
                for mel in batch["mels"][: self.conf.get("valid_generate", 4) - len(generated)]:
                    generated.append((mel, torch.from_numpy(model.generate([mel.cpu()], seed=len(generated))[0])))
        out = {k: v / max(n, 1) for k, v in sums.items()}
        if generated:
            wavs = torch.stack([w for _, w in generated])
            out["mel_l1"] = float(self._mel_l1(wavs, torch.stack([m.cpu() for m, _ in generated])).mean())
        return out
