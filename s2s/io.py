"""Atomic file writing: outputs appear complete under their final name or not at all; and the
checks every entry point runs on where its outputs go, before any work."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

# What to do when writing fails, by errno (the reason itself is the OS's strerror).
_FIXES = {
    errno.EROFS: "the file system is read-only; choose a writable place (e.g. under exp/ or your home)",
    errno.EACCES: "no permission to write there; choose a place you can write to, or fix its permissions",
    errno.EPERM: "no permission to write there; choose a place you can write to, or fix its permissions",
    errno.ENOSPC: "the disk is full; free some space or choose another disk",
    errno.EDQUOT: "the disk quota is exceeded; free some space or choose another disk",
    errno.EISDIR: "it is a directory; give a file name",
    errno.ENOTDIR: "a component of the path is a file, not a directory; choose another path",
    errno.EEXIST: "a file of that name is in the way; remove it or choose another path",
    errno.ENAMETOOLONG: "the name is too long; choose a shorter path",
}


def os_error_message(path, err: OSError) -> str:
    """``PATH: reason; fix`` for an OSError met while writing ``path``."""
    reason = err.strerror or str(err)
    fix = _FIXES.get(err.errno, "check the path and the disk, or choose another place")
    return f"{path}: {reason}; {fix}"


def _writable_dir(d: Path, target: Path) -> None:
    """Check that files can be made in ``d`` (or, when it does not exist yet, in its nearest
    existing ancestor, where it would be created): S2SError naming ``target`` otherwise.
    Nothing is created or left behind."""
    from s2s.errors import S2SError

    existing = next((a for a in [d, *d.parents] if a.exists()), Path("."))
    if not existing.is_dir():
        raise S2SError(f"{target}: {existing} is a file, not a directory; choose another path, or move the file away")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".s2s-write-check.", dir=existing)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise S2SError(os_error_message(target, e)) from None


def check_output_file(path, example: str = "out") -> Path:
    """Check, before any work, that the file ``path`` can be written: S2SError ``PATH: reason; fix``
    when it is a directory or its place is not writable. Nothing is created."""
    from s2s.errors import S2SError

    p = Path(path)
    if p.is_dir():
        raise S2SError(f"{p}: is a directory; give a file name, e.g. {p / example}")
    _writable_dir(p.parent if str(p.parent) else Path("."), p)
    return p


def check_output_dir(path) -> Path:
    """Check, before any work, that ``path`` is (or can be made) a directory that can be written
    in: S2SError ``PATH: reason; fix`` otherwise (e.g. an existing file). Nothing is created."""
    from s2s.errors import S2SError

    p = Path(path)
    if p.exists() and not p.is_dir():
        raise S2SError(f"{p}: exists and is not a directory; give a directory name, or move the file away")
    _writable_dir(p, p)
    return p


def _umask_mode() -> int:
    """The mode a plain ``open(path, "w")`` would create (mkstemp's 0600 is too strict)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_open(path, mode: str = "w", encoding: str | None = "utf-8"):
    """Open a temporary file beside ``path``; rename it over ``path`` on success.

    On an exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    tmp = _temp_beside(path)
    os.chmod(tmp, _umask_mode())
    try:
        kwargs = {} if "b" in mode else {"encoding": encoding}
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        _replace(Path(tmp), path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _temp_beside(path: Path) -> str:
    """A new empty temporary file in ``path``'s directory (created); S2SError naming ``path``."""
    from s2s.errors import S2SError

    if path.is_dir():
        raise S2SError(f"{path}: is a directory; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise S2SError(os_error_message(path, e)) from None
    os.close(fd)
    return tmp


def _replace(tmp: Path, path: Path) -> None:
    from s2s.errors import S2SError

    try:
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise S2SError(os_error_message(path, e)) from None


def atomic_path(path):
    """Return a context manager yielding a temporary path renamed to ``path`` on success.

    For writers that need a file name rather than a file object (torch.save, kaldiio).
    """
    return _AtomicPath(Path(path))


class _AtomicPath:
    def __init__(self, path: Path):
        self.path = path
        self.tmp: Path | None = None

    def __enter__(self) -> Path:
        self.tmp = Path(_temp_beside(self.path))
        os.chmod(self.tmp, _umask_mode())
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        assert self.tmp is not None
        if exc_type is None:
            _replace(self.tmp, self.path)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.tmp)
        return False


def utf8_lines(stream, label, fix: str = "re-encode the file as UTF-8"):
    """``(lineno, line)`` for each line of a binary ``stream`` (line ending removed); S2SError
    ``LABEL:LINE: not valid UTF-8; FIX`` at the first line that does not decode."""
    from s2s.errors import S2SError

    for lineno, raw in enumerate(stream, 1):
        try:
            yield lineno, raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise S2SError(f"{label}:{lineno}: not valid UTF-8; {fix}") from None
