"""Transcribe audio files with a trained model (what ``s2s-transcribe`` runs)."""

from __future__ import annotations

from s2s.data.audio import read_any_audio
from s2s.decode.inference import Recognizer
from s2s.errors import S2SError


def transcribe_files(model: str, audio: list[str], device: str = "cpu") -> list[tuple[str, str]]:
    """``(file, transcript)`` per file, greedy; printed as ``file<TAB>text`` (just the text for one file)."""
    rec = Recognizer.load(model, device)
    if rec.sample_rate is None:
        raise S2SError(f"{model}: the model stores no front end; it cannot read raw audio")
    inputs = [read_any_audio(a, rec.sample_rate) for a in audio]
    out = [(a, rec.greedy_text(lp)) for a, lp in zip(audio, rec.logprobs(inputs))]
    for a, text in out:
        print(text if len(audio) == 1 else f"{a}\t{text}")
    return out
