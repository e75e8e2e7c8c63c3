"""Fetch and unpack corpus archives: resumable, verified, safe, and skipped when already done.

Used by every recipe's ``local/download.sh`` through ``python -m s2s.bin.download``.
Standard library only, so a recipe can download before the virtual environment exists.

- ``download(url, dest, md5=..., sha256=...)`` streams into ``dest.part``; an interrupted
  transfer is resumed with an HTTP ``Range`` request (restarted from zero when the server
  ignores the range), the result is checked against the published checksum, a corrupted file
  is deleted and fetched once more, and ``dest.done`` records the verified sums.
- ``safe_extract(archive, target_dir)`` checks every tar member before writing anything
  (no absolute names, no ``..``, no links leaving the target, no device files), then extracts
  with tarfile's ``data`` filter (on Pythons without it, the same member checks and mode
  clean-up done here) and writes a marker in ``target_dir``.
- ``fetch_and_extract(...)`` combines both and skips a part whose extraction marker matches.

A ``.done`` marker holds ``key value`` lines (``md5``, ``sha256``, ``size``, ``source``).
Markers are what make a re-run cheap: a 6 GB archive is not hashed again to decide a skip.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import stat
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from s2s.errors import S2SError

CHUNK = 1 << 20
USER_AGENT = "s2s-download/1"


# --------------------------------------------------------------------------- markers

def marker_path(dest) -> Path:
    """The completion marker of a downloaded file: ``<dest>.done`` beside it."""
    dest = Path(dest)
    return dest.with_name(dest.name + ".done")


def read_marker(path) -> dict[str, str]:
    """``key value`` lines of a marker, or ``{}`` when it is missing or unreadable."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return {}
    out = {}
    for line in lines:
        key, _, value = line.partition(" ")
        if key:
            out[key] = value.strip()
    return out


def write_marker(path, fields: dict[str, str]) -> None:
    """Write a marker atomically (temporary name, then rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(f"{k} {v}\n" for k, v in fields.items()), encoding="utf-8")
    os.replace(tmp, path)


def _marker_matches(fields: dict[str, str], md5: str | None, sha256: str | None) -> bool:
    """A marker satisfies a request when every requested sum equals the recorded one."""
    if not fields:
        return False
    if md5 and fields.get("md5", "").lower() != md5.lower():
        return False
    if sha256 and fields.get("sha256", "").lower() != sha256.lower():
        return False
    return True


# --------------------------------------------------------------------------- download

def _check_hex(name: str, value: str | None, length: int) -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    if not re.fullmatch(rf"[0-9a-f]{{{length}}}", value):
        raise S2SError(f"--{name} {value!r}: not a {name} checksum ({length} hex digits expected)")
    return value


def file_sums(path) -> dict[str, str]:
    """md5 and sha256 of a file, read once."""
    md5, sha = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            md5.update(chunk)
            sha.update(chunk)
    return {"md5": md5.hexdigest(), "sha256": sha.hexdigest()}


def _log(msg: str) -> None:
    print(f"download: {msg}", file=sys.stderr, flush=True)


class _Interrupted(Exception):
    """The connection ended before the whole body arrived; the .part file is kept."""


def _content_range_start(value: str | None) -> tuple[int | None, int | None]:
    """Parse ``bytes START-END/TOTAL`` (or ``bytes */TOTAL``) into (start, total)."""
    if not value:
        return None, None
    m = re.fullmatch(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*", value)
    if not m:
        return None, None
    start = int(m.group(1)) if m.group(1) is not None else None
    total = int(m.group(2)) if m.group(2) != "*" else None
    return start, total


def _fetch_once(url: str, part: Path, timeout: float, quiet: bool) -> None:
    """Bring ``part`` up to the full body of ``url``, resuming from its current size.

    Raises _Interrupted when the transfer stops early (the caller retries), S2SError for
    answers that retrying cannot fix (404, 403, ...).
    """
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if have:
        headers["Range"] = f"bytes={have}-"
    req = urllib.request.Request(url, headers=headers)
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:
            # Range not satisfiable: the part may already hold the whole body.
            _, total = _content_range_start(e.headers.get("Content-Range"))
            e.close()
            if total is not None and total == have:
                return
            _log(f"{url}: server refused to resume at byte {have}; starting over")
            part.unlink()
            raise _Interrupted("restart") from None
        e.close()
        if e.code >= 500 or e.code == 429:
            raise _Interrupted(f"HTTP {e.code} {e.reason}") from None
        raise S2SError(
            f"{url}: HTTP {e.code} {e.reason}; check the URL (base URL, part or file name)"
        ) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        reason = getattr(e, "reason", e)
        raise _Interrupted(f"cannot connect: {reason}") from None

    with resp:
        status = getattr(resp, "status", None) or 200
        mode = "ab"
        if have and status == 206:
            start, total = _content_range_start(resp.headers.get("Content-Range"))
            if start != have:
                _log(f"{url}: server answered the range from byte {start}, not {have}; starting over")
                part.unlink()
                raise _Interrupted("restart")
        elif have:
            # 200 to a Range request: the server ignores ranges; the body is the whole file.
            _log(f"{url}: server ignored the resume request; downloading from the start")
            have, mode = 0, "wb"
        length = resp.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        total = have + expected if expected is not None else None
        got = 0
        bar = _progress(total, have, Path(part.name[: -len(".part")]).name, quiet)
        try:
            with open(part, mode) as out:
                while True:
                    try:
                        chunk = resp.read(CHUNK)
                    except (OSError, http.client.HTTPException) as e:
                        raise _Interrupted(f"connection lost after {have + got} bytes ({e})") from None
                    if not chunk:
                        break
                    out.write(chunk)
                    got += len(chunk)
                    bar(len(chunk))
        finally:
            bar(None)
        if expected is not None and got < expected:
            raise _Interrupted(f"connection closed after {have + got} of {total} bytes")


def _progress(total: int | None, initial: int, name: str, quiet: bool):
    """A progress callback: tqdm on a terminal, silent otherwise; ``cb(None)`` closes it."""
    if quiet or not sys.stderr.isatty():
        return lambda n: None
    try:
        from tqdm import tqdm
    except ImportError:
        return lambda n: None
    bar = tqdm(total=total, initial=initial, unit="B", unit_scale=True, desc=name, leave=False)

    def cb(n):
        if n is None:
            bar.close()
        else:
            bar.update(n)

    return cb


def download(url: str, dest, md5: str | None = None, sha256: str | None = None,
             retries: int = 5, backoff: float = 2.0, timeout: float = 60.0,
             quiet: bool = False) -> Path:
    """Download ``url`` to the file ``dest`` and return its path.

    Promises:
    - skips the transfer when ``dest`` and its ``dest.done`` marker exist and the marker's
      sums equal the requested ones;
    - an interrupted transfer is kept in ``dest.part`` and resumed with an HTTP Range
      request (by this call's retries or by a later run); a server that ignores Range is
      answered by restarting the file from zero;
    - with ``md5``/``sha256`` the file is verified; a mismatch deletes it and fetches it
      again once; a second mismatch raises S2SError with both sums and the fix;
    - ``dest`` appears only complete and verified (renamed from ``dest.part``), then the
      marker is written recording md5, sha256, size and the URL.
    """
    md5 = _check_hex("md5", md5, 32)
    sha256 = _check_hex("sha256", sha256, 64)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    marker = marker_path(dest)
    done = read_marker(marker)
    if dest.is_file() and _marker_matches(done, md5, sha256) and done.get("size") == str(dest.stat().st_size):
        _log(f"{dest}: already downloaded and verified; skipping")
        return dest

    part = dest.with_name(dest.name + ".part")
    if dest.is_file() and not part.exists():
        # A complete file without (or with a stale) marker, e.g. copied in by hand:
        # verify it rather than fetch gigabytes again.
        sums = file_sums(dest)
        if (md5 or sha256) and _sums_ok(sums, md5, sha256):
            _write_done(marker, dest, sums, url)
            _log(f"{dest}: present and verified; skipping")
            return dest
        dest.unlink()

    for attempt in (1, 2):
        _transfer(url, part, retries, backoff, timeout, quiet)
        sums = file_sums(part)
        if _sums_ok(sums, md5, sha256):
            os.replace(part, dest)
            _write_done(marker, dest, sums, url)
            return dest
        bad = part.with_name(part.name + ".bad")
        os.replace(part, bad)
        if attempt == 1:
            _log(f"{url}: checksum mismatch ({_describe(sums, md5, sha256)}); deleted, fetching again")
            bad.unlink()
    bad.unlink()
    raise S2SError(
        f"{url}: checksum mismatch twice ({_describe(sums, md5, sha256)}); the downloaded file was "
        f"deleted. The server may be serving a different or damaged file: check the URL and the "
        f"published checksum, try another mirror (--base-url), or if the file has legitimately "
        f"changed, pass its new checksum"
    )


def _sums_ok(sums: dict[str, str], md5: str | None, sha256: str | None) -> bool:
    return (md5 is None or sums["md5"] == md5) and (sha256 is None or sums["sha256"] == sha256)


def _describe(sums: dict[str, str], md5: str | None, sha256: str | None) -> str:
    parts = []
    if md5 is not None:
        parts.append(f"md5 expected {md5}, got {sums['md5']}")
    if sha256 is not None:
        parts.append(f"sha256 expected {sha256}, got {sums['sha256']}")
    return "; ".join(parts)


def _write_done(marker: Path, dest: Path, sums: dict[str, str], url: str) -> None:
    write_marker(marker, {"md5": sums["md5"], "sha256": sums["sha256"],
                          "size": str(dest.stat().st_size), "source": url})


def _transfer(url: str, part: Path, retries: int, backoff: float, timeout: float, quiet: bool) -> None:
    """Call _fetch_once until the part is complete or ``retries`` further attempts failed.

    A restart from zero (the server would not resume) does not count as a failed attempt,
    but two in a row mean the server cannot serve the file consistently.
    """
    failures = restarts = 0
    while True:
        try:
            _fetch_once(url, part, timeout, quiet)
            return
        except _Interrupted as e:
            if str(e) == "restart":
                restarts += 1
                if restarts > 2:
                    raise S2SError(f"{url}: the server answers resume requests inconsistently; "
                                   f"try again later or use another mirror (--base-url)") from None
                continue
            restarts = 0
            have = part.stat().st_size if part.exists() else 0
            if failures == retries:
                raise S2SError(
                    f"{url}: download failed after {retries + 1} attempts ({e}); {have} bytes are kept "
                    f"in {part}; re-run the same command to resume"
                ) from None
            failures += 1
            _log(f"{url}: {e}; retrying from byte {have} (attempt {failures + 1} of {retries + 1})")
            if backoff:
                time.sleep(backoff * failures)


# --------------------------------------------------------------------------- extraction

def _member_error(archive: Path, member: tarfile.TarInfo, why: str) -> S2SError:
    return S2SError(
        f"{archive}: refusing to extract member {member.name!r}: {why}. The archive is damaged or "
        f"not the published one; delete it and its .done marker and download it again from the "
        f"official source"
    )


def check_members(archive, members: list[tarfile.TarInfo]) -> None:
    """Raise S2SError naming the first member that could write outside the target.

    Refused: absolute names, names with ``..``, symlinks whose target leaves the
    extraction directory, hard links to names outside it, and device or FIFO files.
    Names are resolved lexically (as POSIX paths inside the archive), so the check
    does not depend on what already exists on disk; a member whose path passes through
    an earlier symlink member is refused too, since lexical resolution cannot follow it.
    """
    archive = Path(archive)
    symlinks: set[PurePosixPath] = set()
    for m in members:
        name = m.name
        p = PurePosixPath(name)
        through = next((a for a in p.parents if a in symlinks), None)
        if through is not None:
            raise _member_error(archive, m, f"path goes through the symlink member {str(through)!r}")
        if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or p.is_absolute():
            raise _member_error(archive, m, "absolute path")
        if ".." in p.parts or ".." in PurePosixPath(name.replace("\\", "/")).parts:
            raise _member_error(archive, m, "path contains '..'")
        if m.ischr() or m.isblk():
            raise _member_error(archive, m, "device file")
        if m.isfifo():
            raise _member_error(archive, m, "FIFO (named pipe)")
        if m.issym():
            target = m.linkname
            if target.startswith("/") or _leaves_root(p.parent / target):
                raise _member_error(archive, m, f"symlink to {target!r} points outside the target directory")
            symlinks.add(PurePosixPath(*[x for x in p.parts if x != "."]))
        elif m.islnk():
            target = m.linkname
            if target.startswith("/") or _leaves_root(PurePosixPath(target)):
                raise _member_error(archive, m, f"hard link to {target!r} points outside the target directory")


def _plain_member(m: tarfile.TarInfo) -> tarfile.TarInfo:
    """What tarfile's ``data`` filter does besides the path checks: no set-uid/set-gid/sticky bits,
    no write permission for group and others, owner-readable files, and no owner from the archive."""
    m.uid, m.gid, m.uname, m.gname = os.getuid(), os.getgid(), "", ""
    if m.mode is not None:
        mode = m.mode & 0o755
        if m.isreg() or m.islnk():
            mode |= 0o600
        m.mode = mode
    return m


def _leaves_root(path: PurePosixPath) -> bool:
    """True when a relative path climbs above its root after resolving ``.`` and ``..``."""
    depth = 0
    for part in path.parts:
        if part in ("", "."):
            continue
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        else:
            depth += 1
    return False


# What a damaged archive raises while being read (gzip/bz2/xz streams cut short or corrupted).
_READ_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error)


def extract_marker_path(archive, target_dir) -> Path:
    """Extraction marker: ``<target_dir>/.<archive name>.done``."""
    return Path(target_dir) / f".{Path(archive).name}.done"


def _archive_identity(archive: Path) -> dict[str, str]:
    """What an extraction marker records: the verified sums when the download left a
    marker, else size and mtime (cheap, and enough to notice a replaced archive)."""
    fields = read_marker(marker_path(archive))
    if fields.get("md5") or fields.get("sha256"):
        return {k: fields[k] for k in ("md5", "sha256") if k in fields}
    st = archive.stat()
    return {"size": str(st.st_size), "mtime_ns": str(st.st_mtime_ns)}


def _zip_as_tar_members(archive: Path, zf: zipfile.ZipFile) -> list[tarfile.TarInfo]:
    """The entries of a zip file described as tar members, so ``check_members`` judges both kinds
    alike; an entry whose Unix mode says symlink is refused (nothing in a zip needs one)."""
    out = []
    for info in zf.infolist():
        m = tarfile.TarInfo(info.filename)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise _member_error(archive, m, "symlinks in a zip are not extracted")
        if info.is_dir():
            m.type = tarfile.DIRTYPE
        out.append(m)
    return out


def _extract_zip(archive: Path, target_dir: Path, quiet: bool) -> None:
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as e:
        raise S2SError(f"{archive}: not a readable zip archive ({e}); delete it and its .done marker and "
                       f"download it again") from None
    with zf:
        members = _zip_as_tar_members(archive, zf)
        check_members(archive, members)
        if not quiet:
            _log(f"extracting {archive} ({len(members)} members) into {target_dir}")
        target_dir.mkdir(parents=True, exist_ok=True)
        try:
            for info in zf.infolist():
                dest = target_dir / info.filename
                if info.is_dir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                tmp = dest.with_name(dest.name + ".part")
                with zf.open(info) as src, open(tmp, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
                os.replace(tmp, dest)
        except (zipfile.BadZipFile, EOFError, zlib.error) as e:
            raise S2SError(f"{archive}: truncated or corrupted archive ({e}); delete it and its .done marker "
                           f"and download it again") from None


def safe_extract(archive, target_dir, quiet: bool = False) -> Path:
    """Extract a tar / tar.gz / tar.bz2 / tar.xz or zip archive into ``target_dir`` safely.

    Every member is checked first (see ``check_members``); nothing is written when one
    is refused. Extraction then uses tarfile's ``data`` filter as a second line of
    defence. On success ``<target_dir>/.<archive name>.done`` records the archive's
    checksum; a later call with the same archive returns at once. Returns ``target_dir``.
    """
    archive, target_dir = Path(archive), Path(target_dir)
    if not archive.is_file():
        raise S2SError(f"{archive}: archive not found; download it first")
    marker = extract_marker_path(archive, target_dir)
    identity = _archive_identity(archive)
    if marker.is_file() and read_marker(marker) == identity:
        if not quiet:
            _log(f"{archive}: already extracted into {target_dir}; skipping")
        return target_dir
    if zipfile.is_zipfile(archive):
        _extract_zip(archive, target_dir, quiet)
        write_marker(marker, identity)
        return target_dir
    try:
        tf = tarfile.open(archive, "r:*")
    except _READ_ERRORS as e:
        raise S2SError(
            f"{archive}: not a readable tar archive ({e}); delete it and its .done marker and download it again"
        ) from None
    target_dir.mkdir(parents=True, exist_ok=True)
    with tf:
        try:
            members = tf.getmembers()
        except _READ_ERRORS as e:
            raise S2SError(
                f"{archive}: truncated or corrupted archive ({e}); delete it and its .done marker "
                f"and download it again"
            ) from None
        check_members(archive, members)
        if not quiet:
            _log(f"extracting {archive} ({len(members)} members) into {target_dir}")
        try:
            if hasattr(tarfile, "data_filter"):
                tf.extractall(target_dir, members=members, filter="data")
            else:  # Python before 3.11.4 / 3.10.12 (Debian 12 has 3.11.2): check_members did the checks
                tf.extractall(target_dir, members=[_plain_member(m) for m in members])
        except getattr(tarfile, "FilterError", ()) as e:
            raise S2SError(f"{archive}: refusing to extract: {e}; download the archive again") from None
        except _READ_ERRORS as e:
            raise S2SError(
                f"{archive}: extraction failed ({e}); check free disk space, or delete the archive "
                f"and its .done marker and download it again"
            ) from None
    write_marker(marker, identity)
    return target_dir


def fetch_and_extract(url: str, archive, target_dir, md5: str | None = None,
                      sha256: str | None = None, remove_archive: bool = False,
                      **download_kw) -> Path:
    """Download ``url`` to ``archive`` (verified) and extract it into ``target_dir``.

    When the extraction marker already records the requested checksum the whole part is
    skipped, even if the archive was removed after extraction (``remove_archive``).
    """
    archive = Path(archive)
    marker = extract_marker_path(archive, target_dir)
    if (md5 or sha256) and _marker_matches(read_marker(marker), md5, sha256):
        _log(f"{archive.name}: already extracted into {target_dir}; skipping")
        return Path(target_dir)
    download(url, archive, md5=md5, sha256=sha256, **download_kw)
    safe_extract(archive, target_dir)
    if remove_archive:
        archive.unlink()
    return Path(target_dir)


def url_basename(url: str) -> str:
    """The file name at the end of a URL's path (``.../12/dev-clean.tar.gz`` -> ``dev-clean.tar.gz``)."""
    name = PurePosixPath(urllib.parse.urlparse(url).path).name
    if not name:
        raise S2SError(f"{url}: the URL names no file; give --dest as a file path")
    return name



def fetch(url: str | None, dest, extract_to=None, md5: str | None = None, sha256: str | None = None,
          remove_archive: bool = False, **kw) -> None:
    """What ``python -m s2s.bin.download`` does: download ``url`` to ``dest`` (a directory or a path
    ending in / gets the URL's file name) and/or extract ``dest`` into ``extract_to``."""
    dest_s = str(dest)
    dest = Path(dest)
    if url and (dest.is_dir() or dest_s.endswith("/")):
        dest = dest / url_basename(url)
    if url is None:
        if not extract_to:
            raise S2SError("nothing to do: give --url to download, or --extract-to to extract --dest")
        safe_extract(dest, extract_to, quiet=kw.get("quiet", False))
        if remove_archive:
            dest.unlink()
    elif extract_to:
        fetch_and_extract(url, dest, extract_to, md5=md5, sha256=sha256, remove_archive=remove_archive, **kw)
    else:
        download(url, dest, md5=md5, sha256=sha256, **kw)
