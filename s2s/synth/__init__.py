"""Speech synthesis for augmentation: ``get_synthesizer(backend).synthesize(texts, speaker)``."""

from s2s.synth.engines import (BACKENDS, Speaker, Synthesizer, get_synthesizer, parse_speaker, resample,
                                save_wav, synthesize_to_files)
from s2s.synth.text import NormalizedText, normalize_text, number_to_words

__all__ = ["BACKENDS", "Speaker", "Synthesizer", "get_synthesizer", "parse_speaker", "resample",
           "save_wav", "synthesize_to_files", "NormalizedText", "normalize_text", "number_to_words"]
