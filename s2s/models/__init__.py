"""Models: front ends inside models, encoders, heads, classifiers, LMs, Tacotron 2,
Centaur and FastSpeech (TTS), vocoders (WaveNet, iSTFT), image classifiers (ResNet); registries in
``s2s.models.registry``; checkpoints and ``load_model`` in ``s2s.models.checkpoint``."""

# Importing the model modules registers their encoders and models.
from s2s.models import (  # noqa: F401
    asr,
    centaur,
    classifiers,
    conv,
    deepspeech2,
    fastspeech,
    image,
    istft_vocoder,
    lm,
    seq2seq,
    tacotron2,
    tts,
    wavenet,
)
