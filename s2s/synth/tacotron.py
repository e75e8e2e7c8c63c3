"""The ``tacotron2`` synthesis backend: a TTS checkpoint trained by s2s (Tacotron 2, Centaur or
FastSpeech, all with the same ``infer``) + a vocoder.

It offers the interface of the Debian engines (``speakers()``, ``synthesize(texts,
speaker, sample_rate)``) so augmentation can use it the same way. Speaker ids are
``tacotron2_<training speaker>`` (the names of the training utt2spk, which hold no
spaces). Text is normalised like the engines' (numbers spelled out, punctuation and
non-ASCII removed) so any input string can be spoken; nothing in it raises.
The vocoder is Griffin-Lim or a trained one (s2s.synth.vocoders); a model with style
tokens speaks in the speaker's mean training style, or in the style of a reference
recording (``style_ref``), or of explicit token weights (``style_weights``).

``get_synthesizer(backend, model=None)`` returns this backend for ``tacotron2`` or a
checkpoint path (a checkpoint is then required) and the Debian engines otherwise.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from s2s.errors import S2SError

BACKEND = "tacotron2"


class TacotronSynthesizer:
    """Speech from an s2s TTS checkpoint (``exp/<tag>/model.pt`` or any checkpoints/*.pt)."""

    backend = BACKEND

    def __init__(self, checkpoint, device: str = "cpu", griffin_lim_iters: int = 32, max_decoder_steps: int = 0,
                 seed: int = 0, min_seconds_per_symbol: float = 0.03, vocoder: str | None = None,
                 style_ref: str | None = None, style_weights: list[float] | None = None):
        from s2s.data.features import build_frontend
        from s2s.data.tokens import Vocabulary
        from s2s.models.checkpoint import load_model
        from s2s.synth.vocoders import load_vocoder

        self.checkpoint = Path(checkpoint)
        model, meta = load_model(checkpoint, device, task="tts")
        self.model, self.meta = model, meta
        self.vocab = Vocabulary.from_dict(meta["vocab"], source=f"{checkpoint} (vocabulary)")
        self.device = torch.device(device)
        self.frontend = build_frontend(meta["frontend_conf"])
        self.vocoder = load_vocoder(vocoder, meta["frontend_conf"], device, griffin_lim_iters)
        self.model_sample_rate = self.vocoder.sample_rate
        self.frame_shift = self.frontend.hop / self.frontend.sample_rate
        self.style = self._style(style_ref, style_weights)
        self.max_decoder_steps = max_decoder_steps
        self.seed = seed
        # Floor on the length of what is spoken. Fast read speech runs at about 15-20 characters
        # a second; 0.03 s a symbol (33 a second) is faster than anyone talks, so the floor only
        # stops a stop token that fires before the text can have been read.
        self.min_seconds_per_symbol = min_seconds_per_symbol

    def _style(self, ref, weights) -> torch.Tensor | None:
        """The style embedding asked for (None: each speaker's mean training style)."""
        if ref is None and weights is None:
            return None
        if self.model.gst is None:
            raise S2SError(f"{self.checkpoint}: this model has no style tokens (gst_tokens: 0), so it takes no "
                           f"style reference or token weights; drop --style-ref/--style-weights")
        if weights is not None:
            n = self.model.gst.tokens.shape[0]
            if len(weights) != n:
                raise S2SError(f"--style-weights: {len(weights)} values given; {self.checkpoint} has {n} style tokens")
            return self.model.style(token_weights=torch.tensor([weights], dtype=torch.float32, device=self.device))[0]
        from s2s.data.audio import load_audio

        wav, sr = load_audio(str(ref), target_sr=self.frontend.sample_rate, resample=True, context=str(ref))
        mel = self.frontend.extract(wav, sr)
        if mel.shape[0] < 16:
            raise S2SError(f"{ref}: too short for a style reference ({len(wav) / sr:.2f} s); give at least a second "
                           f"of speech")
        return self.model.reference_style(mel[None].to(self.device))[0]

    def speakers(self) -> list[str]:
        """Speaker ids, one per training speaker, sorted."""
        return sorted(f"{BACKEND}_{s}" for s in self.meta["speakers"])

    def speaker(self, speaker_id: str) -> int:
        """The model's index of ``speaker_id``; S2SError naming the valid ids otherwise."""
        prefix = f"{BACKEND}_"
        name = speaker_id[len(prefix):] if speaker_id.startswith(prefix) else None
        if name not in self.meta["speakers"]:
            raise S2SError(f"speaker {speaker_id!r}: not a speaker of {self.checkpoint}; "
                           f"its speakers are {' '.join(self.speakers())}")
        return self.meta["speakers"].index(name)

    def mel(self, text: str, speaker: str) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """Log-mel (T, n_mels), attention (steps, N) and whether the stop token fired."""
        from s2s.data.text import text_to_ids

        # Cap the loop in case the stop token never fires: 20 s, or 25 frames a character.
        ids = torch.tensor(text_to_ids(text, self.vocab), dtype=torch.long, device=self.device)
        steps = self.max_decoder_steps or max(int(20.0 / self.frame_shift / self.model.r),
                                              25 * len(ids) // self.model.r)
        min_steps = int(math.ceil(self.min_seconds_per_symbol * len(ids) / self.frame_shift / self.model.r))
        return self.model.infer(ids, self.speaker(speaker), max_steps=steps, min_steps=min(min_steps, steps),
                                style=self.style)

    def synthesize(self, texts: list[str], speaker: str, sample_rate: int = 16000) -> list[np.ndarray]:
        """Speak each text; float32 mono arrays at ``sample_rate``. An empty text gives an empty array."""
        from s2s.data.text import normalize_text
        from s2s.synth.engines import resample

        self.speaker(speaker)  # fail before any work on a bad id
        torch.manual_seed(self.seed)  # prenet dropout is on at inference: fix it for reproducible audio
        out = [np.zeros(0, dtype=np.float32)] * len(texts)
        mels, nonempty = [], []
        self.unstopped = 0
        for i, text in enumerate(texts):
            if normalize_text(text).text:
                mel, _, stopped = self.mel(text, speaker)
                self.unstopped += not stopped
                mels.append(mel)
                nonempty.append(i)
        for i, wav in zip(nonempty, self.vocoder.generate(mels, seed=self.seed)):
            out[i] = wav
        for i, wav in zip(nonempty, resample([out[i] for i in nonempty], self.model_sample_rate, sample_rate)):
            out[i] = wav
        return out


def get_synthesizer(backend: str, model: str | None = None, device: str = "cpu", **options):
    """A synthesizer by backend name: ``tacotron2`` needs ``model`` (a checkpoint path), and a
    path to a checkpoint file is taken as ``tacotron2`` with that model; flite, espeak-ng and
    festival come from s2s.synth.engines. ``options`` go to TacotronSynthesizer (vocoder, style_ref, ...)."""
    from s2s.synth.engines import BACKENDS
    from s2s.synth.engines import get_synthesizer as get_engine

    if backend not in (BACKEND, *BACKENDS) and model is None:
        if not Path(backend).is_file():
            raise S2SError(f"{backend}: neither a synthesizer ({', '.join((*BACKENDS, BACKEND))}) nor a TTS model "
                           f"file; give exp/<tts tag>/model.pt or an engine name")
        backend, model = BACKEND, backend
    if backend == BACKEND:
        if not model:
            raise S2SError("backend tacotron2 needs a trained model: pass --model exp/<tts tag>/model.pt "
                           "(train one with egs/mini/run.sh --stage 8, or egs/libritts, egs/ljspeech)")
        return TacotronSynthesizer(model, device=device, **options)
    return get_engine(backend)
