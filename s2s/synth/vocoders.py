"""Vocoders for the Tacotron 2 backend: ``load_vocoder(spec, frontend_conf)`` -> log-mels to waveforms.

``spec`` is ``griffin-lim`` (s2s.synth.griffinlim: no training, phase by iteration) or the
path of a checkpoint trained by ``task: vocoder`` (a WaveNet or an iSTFT vocoder). A
trained vocoder must have been trained on the TTS model's front end: the log-mel it
inverts is the one Tacotron 2 predicts, so any difference in the front end is refused.

Every vocoder has ``generate(mels, seed=0) -> list of float32 arrays`` (the mels of one
call are vocoded together: the WaveNet runs them as one batch) and ``sample_rate``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from s2s.errors import S2SError

GRIFFIN_LIM = "griffin-lim"


class GriffinLimVocoder:
    def __init__(self, frontend_conf: dict, n_iter: int = 32):
        from s2s.synth.griffinlim import GriffinLim

        self.name = GRIFFIN_LIM
        self.impl = GriffinLim(frontend_conf, n_iter=n_iter)
        self.sample_rate = self.impl.sample_rate

    def generate(self, mels, seed: int = 0) -> list[np.ndarray]:
        return [self.impl(m.cpu()) for m in mels]


class TrainedVocoder:
    """A ``task: vocoder`` checkpoint (WaveNet or iSTFT vocoder)."""

    def __init__(self, path, frontend_conf: dict | None, device: str = "cpu"):
        from s2s.models.checkpoint import load_model

        self.path = Path(path)
        self.model, meta = load_model(path, device, task="vocoder")
        self.name = meta["model"]["name"]
        self.sample_rate = int(self.model.sample_rate)
        if frontend_conf is not None:
            check_same_frontend(meta["frontend_conf"], frontend_conf, self.path)

    def generate(self, mels, seed: int = 0) -> list[np.ndarray]:
        return self.model.generate([m.cpu() for m in mels], seed=seed)


def check_same_frontend(vocoder_conf: dict, tts_conf: dict, path) -> None:
    """S2SError naming the first differing settings when a vocoder was trained on another log-mel."""
    from s2s.data.features import build_frontend

    a, b = build_frontend(vocoder_conf).conf, build_frontend(tts_conf).conf
    diff = sorted(k for k in set(a) | set(b) if k not in ("dither", "seed", "resample") and a.get(k) != b.get(k))
    if diff:
        shown = ", ".join(f"{k}: {a.get(k)!r} vs {b.get(k)!r}" for k in diff[:4])
        raise S2SError(f"{path}: this vocoder was trained on another log-mel than the TTS model predicts ({shown}); "
                       f"train the vocoder with the TTS model's front end (frontend_conf)")


def load_vocoder(spec: str | None, frontend_conf: dict | None, device: str = "cpu", griffin_lim_iters: int = 32):
    """The vocoder ``spec`` names: ``griffin-lim`` (or None) or a vocoder checkpoint path."""
    if spec in (None, "", GRIFFIN_LIM):
        if frontend_conf is None:
            raise S2SError("griffin-lim needs the TTS model's front end")
        return GriffinLimVocoder(frontend_conf, n_iter=griffin_lim_iters)
    if not Path(spec).is_file():
        raise S2SError(f"vocoder {spec!r}: neither '{GRIFFIN_LIM}' nor a vocoder checkpoint file; train one with "
                       f"task: vocoder (egs/mini/run.sh --stage 9) or use --vocoder {GRIFFIN_LIM}")
    return TrainedVocoder(spec, frontend_conf, device)
