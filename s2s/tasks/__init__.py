"""Tasks plug a kind of model and data into the shared trainer: asr, classify, lm, mt, tts, vocoder."""

from s2s.tasks import asr, classify, lm, mt, tts, vocoder  # noqa: F401  (registration in TASKS)
from s2s.tasks.base import TASKS

__all__ = ["TASKS"]
