"""Tasks plug a kind of model and data into the shared trainer (asr, classify, lm, tts)."""

from s2s.registry import Registry

TASKS = Registry("task")

# Registration happens on import of each task module.
from s2s.tasks import asr  # noqa: E402,F401

for _optional in ("classify", "lm", "tts"):
    try:
        __import__(f"s2s.tasks.{_optional}")
    except ModuleNotFoundError as _e:  # a task module not written yet
        if _e.name != f"s2s.tasks.{_optional}":
            raise
