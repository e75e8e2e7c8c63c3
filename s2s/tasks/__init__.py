"""Tasks plug a kind of model and data into the shared trainer: asr, classify, image, lm, mt, text_classify, tts, vocoder."""

from s2s.tasks import asr, classify, image, lm, mt, text_classify, tts, vocoder  # noqa: F401  (registration)
from s2s.tasks.base import TASKS

__all__ = ["TASKS"]
