"""Speech synthesis for augmentation: ``get_synthesizer(backend).synthesize(texts, speaker)``.

Backends: the Debian engines flite, espeak-ng and festival (s2s.synth.engines) and s2s's own
Tacotron 2 (``get_synthesizer("tacotron2", model="exp/<tts>/model.pt")``, s2s.synth.tacotron).
"""

from s2s.synth.engines import BACKENDS, Speaker, Synthesizer, parse_speaker, resample, save_wav, synthesize_to_files
from s2s.synth.tacotron import get_synthesizer

__all__ = ["BACKENDS", "Speaker", "Synthesizer", "get_synthesizer", "parse_speaker", "resample",
           "save_wav", "synthesize_to_files"]
