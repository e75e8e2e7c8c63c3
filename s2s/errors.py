"""The one exception type that entry points turn into a clean message and exit 1."""

from __future__ import annotations


class S2SError(Exception):
    """A user-facing error: the message names the file (and line) and the fix."""


def did_you_mean(word: str, options) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``options`` to a misspelled ``word``, else ``""``."""
    import difflib

    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def where(path, lineno: int | None = None) -> str:
    """Format a location as ``path`` or ``path:line`` for error messages."""
    return f"{path}:{lineno}" if lineno is not None else str(path)


def run_main(prog: str, fn, *args, writes=(), **kwargs) -> int:
    """Run an entry point's library call ``fn(*args, **kwargs)`` and give its exit status: 0 when
    it returns, 1 for an S2SError (printed as ``prog: error: message``), 130 when interrupted.

    ``writes``: the outputs, ``("file", path)`` or ``("dir", path)`` pairs (None paths are
    skipped), checked before ``fn`` runs (s2s.io.check_output_file/_dir), so a place that cannot
    be written is named with the fix before any work. An OSError that still escapes (a disk
    filling up, a file vanishing) is printed as ``prog: error: PATH: reason; fix`` too."""
    import sys

    from s2s.io import check_output_dir, check_output_file, os_error_message

    try:
        for kind, path in writes:
            if path is not None:
                (check_output_dir if kind == "dir" else check_output_file)(path)
        fn(*args, **kwargs)
    except S2SError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"{prog}: error: {os_error_message(e.filename or '(unnamed file)', e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; re-run the same command to continue", file=sys.stderr)
        return 130
    return 0
