"""Speech synthesis: ``get_synthesizer(backend or checkpoint).synthesize(texts, speaker)``.

Backends: the Debian engines flite, espeak-ng and festival (s2s.synth.engines) and s2s's own TTS
models, Tacotron 2 or Centaur (``get_synthesizer("exp/<tts>/model.pt", vocoder=...)``,
s2s.synth.tacotron), with Griffin-Lim or a trained vocoder (s2s.synth.vocoders).
"""

from s2s.synth.engines import BACKENDS, Speaker, Synthesizer, parse_speaker, resample, save_wav, synthesize_to_files
from s2s.synth.tacotron import get_synthesizer

__all__ = ["BACKENDS", "Speaker", "Synthesizer", "get_synthesizer", "parse_speaker", "resample",
           "save_wav", "synthesize_to_files"]
