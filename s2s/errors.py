"""The one exception type that entry points turn into a clean message and exit 1."""

from __future__ import annotations


class S2SError(Exception):
    """A user-facing error: the message names the file (and line) and the fix."""


def where(path, lineno: int | None = None) -> str:
    """Format a location as ``path`` or ``path:line`` for error messages."""
    return f"{path}:{lineno}" if lineno is not None else str(path)
