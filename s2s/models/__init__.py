"""Models: front ends inside models, encoders, heads, classifiers, LMs, Tacotron 2 and
Centaur (TTS), vocoders (WaveNet, iSTFT); registries in
``s2s.models.registry``; checkpoints and ``load_model`` in ``s2s.models.checkpoint``."""

# Importing the model modules registers their encoders and models.
from s2s.models import asr, centaur, classifiers, conv, deepspeech2, istft_vocoder, lm, seq2seq, tacotron2, tts, wavenet  # noqa: F401
