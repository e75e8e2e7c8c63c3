"""Acoustic models: CTC encoders chosen by name from ``s2s.models.registry.ENCODERS``, and ``AsrModel``."""

# Importing the encoder modules registers them in ENCODERS.
from s2s.models import conv, deepspeech2  # noqa: F401
