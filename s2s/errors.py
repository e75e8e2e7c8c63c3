"""The one exception type that entry points turn into a clean message and exit 1."""

from __future__ import annotations


class S2SError(Exception):
    """A user-facing error: the message names the file (and line) and the fix."""


def where(path, lineno: int | None = None) -> str:
    """Format a location as ``path`` or ``path:line`` for error messages."""
    return f"{path}:{lineno}" if lineno is not None else str(path)


def run_main(prog: str, fn, *args, **kwargs) -> int:
    """Run an entry point's library call ``fn(*args, **kwargs)`` and give its exit status: 0 when
    it returns, 1 for an S2SError (printed as ``prog: error: message``), 130 when interrupted."""
    import sys

    try:
        fn(*args, **kwargs)
    except S2SError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; re-run the same command to continue", file=sys.stderr)
        return 130
    return 0
