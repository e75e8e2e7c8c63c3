"""Models: front ends inside models, encoders, heads, classifiers, LMs, Tacotron 2; registries in
``s2s.models.registry``; checkpoints and ``load_model`` in ``s2s.models.checkpoint``."""

# Importing the model modules registers their encoders and models.
from s2s.models import asr, classifiers, conv, deepspeech2, lm, seq2seq, tacotron2  # noqa: F401
