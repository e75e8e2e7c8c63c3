"""Speech synthesis for augmentation: ``get_synthesizer(backend).synthesize(texts, speaker)``."""

from s2s.synth.engines import BACKENDS, Speaker, Synthesizer, get_synthesizer, parse_speaker, resample
from s2s.synth.text import NormalizedText, normalize_text, number_to_words

__all__ = ["BACKENDS", "Speaker", "Synthesizer", "get_synthesizer", "parse_speaker", "resample",
           "NormalizedText", "normalize_text", "number_to_words"]
