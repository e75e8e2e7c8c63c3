"""Downloads resume, verify and skip; archives extract only inside their target."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from s2s.data.download import download, extract_marker_path, fetch_and_extract, marker_path, read_marker, safe_extract
from s2s.errors import S2SError
from tests.corpora import md5sum, serve_directory, sha256sum

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def mirror(tmp_path):
    """A served directory with a 300 kB file of pseudo-random bytes and a small tar.gz."""
    d = tmp_path / "mirror"
    d.mkdir()
    (d / "blob.bin").write_bytes(os.urandom(300_000))
    src = tmp_path / "src"
    (src / "corpus" / "a").mkdir(parents=True)
    (src / "corpus" / "a" / "x.txt").write_text("hello\n")
    (src / "corpus" / "b.txt").write_text("world\n")
    with tarfile.open(d / "corpus.tar.gz", "w:gz") as tf:
        tf.add(src / "corpus", arcname="corpus")
    with serve_directory(d) as server:
        yield server


def _tar_with(path: Path, *members: tuple[tarfile.TarInfo, bytes | None]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _info(name: str, type_=tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = type_
    info.linkname = linkname
    info.mode = 0o644
    return info


# ----------------------------------------------------------------------------- download

def test_dropped_connection_is_resumed_with_a_range_request(mirror, tmp_path):
    src = mirror.directory / "blob.bin"
    mirror.drop_once("blob.bin", after_bytes=100_000)
    out = download(f"{mirror.url}/blob.bin", tmp_path / "dl" / "blob.bin", md5=md5sum(src), backoff=0, quiet=True)
    assert out.read_bytes() == src.read_bytes()
    gets = mirror.gets("blob.bin")
    assert [g["status"] for g in gets] == [200, 206]
    assert gets[1]["range"] == "bytes=100000-"
    assert not (tmp_path / "dl" / "blob.bin.part").exists()


def test_interrupted_run_keeps_the_part_and_the_next_run_resumes(mirror, tmp_path):
    src = mirror.directory / "blob.bin"
    dest = tmp_path / "dl" / "blob.bin"
    mirror.drop_once("blob.bin", after_bytes=123_456)
    with pytest.raises(S2SError, match="re-run the same command to resume"):
        download(f"{mirror.url}/blob.bin", dest, sha256=sha256sum(src), retries=0, quiet=True)
    assert (tmp_path / "dl" / "blob.bin.part").stat().st_size == 123_456
    assert not dest.exists()
    download(f"{mirror.url}/blob.bin", dest, sha256=sha256sum(src), quiet=True)
    assert dest.read_bytes() == src.read_bytes()
    assert mirror.gets("blob.bin")[-1]["range"] == "bytes=123456-"


def test_complete_part_left_by_a_crash_is_verified_not_refetched(mirror, tmp_path):
    src = mirror.directory / "blob.bin"
    (tmp_path / "blob.bin.part").write_bytes(src.read_bytes())  # crash between last byte and rename
    out = download(f"{mirror.url}/blob.bin", tmp_path / "blob.bin", md5=md5sum(src), quiet=True)
    assert out.read_bytes() == src.read_bytes()
    assert [g["status"] for g in mirror.gets("blob.bin")] == [416]


def test_server_ignoring_range_restarts_the_file_cleanly(mirror, tmp_path):
    src = mirror.directory / "blob.bin"
    mirror.ignore_range = True
    mirror.drop_once("blob.bin", after_bytes=50_000)
    out = download(f"{mirror.url}/blob.bin", tmp_path / "blob.bin", md5=md5sum(src), backoff=0, quiet=True)
    # The second answer was the whole file again (200), not appended to the first 50 kB.
    assert [g["status"] for g in mirror.gets("blob.bin")] == [200, 200]
    assert out.read_bytes() == src.read_bytes()


def test_corrupted_transfer_is_detected_deleted_and_fetched_again(mirror, tmp_path):
    src = mirror.directory / "blob.bin"
    mirror.corrupt_once("blob.bin")
    out = download(f"{mirror.url}/blob.bin", tmp_path / "blob.bin", md5=md5sum(src), quiet=True)
    assert out.read_bytes() == src.read_bytes()
    assert len(mirror.gets("blob.bin")) == 2
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("blob")) == ["blob.bin", "blob.bin.done"]


def test_checksum_mismatch_twice_reports_both_sums_and_leaves_nothing(mirror, tmp_path):
    actual = md5sum(mirror.directory / "blob.bin")
    wrong = "0" * 32
    with pytest.raises(S2SError) as e:
        download(f"{mirror.url}/blob.bin", tmp_path / "blob.bin", md5=wrong, quiet=True)
    msg = str(e.value)
    assert wrong in msg and actual in msg and "checksum" in msg and "--base-url" in msg
    assert not any(p.name.startswith("blob") for p in tmp_path.iterdir())


def test_completion_marker_skips_a_finished_download(mirror, tmp_path):
    src = mirror.directory / "blob.bin"
    dest = tmp_path / "blob.bin"
    download(f"{mirror.url}/blob.bin", dest, md5=md5sum(src), quiet=True)
    marker = read_marker(marker_path(dest))
    assert marker["md5"] == md5sum(src) and marker["sha256"] == sha256sum(src)
    assert marker["size"] == str(src.stat().st_size)
    download(f"{mirror.url}/blob.bin", dest, md5=md5sum(src), quiet=True)
    assert len(mirror.gets("blob.bin")) == 1


def test_marker_for_another_checksum_is_not_trusted(mirror, tmp_path):
    src = mirror.directory / "blob.bin"
    dest = tmp_path / "blob.bin"
    dest.write_bytes(b"an older version")
    marker_path(dest).write_text(f"md5 {'1' * 32}\nsize 16\n")
    download(f"{mirror.url}/blob.bin", dest, md5=md5sum(src), quiet=True)
    assert dest.read_bytes() == src.read_bytes()


def test_missing_file_is_a_clear_error(mirror, tmp_path):
    with pytest.raises(S2SError, match=r"nothing\.bin: HTTP 404"):
        download(f"{mirror.url}/nothing.bin", tmp_path / "nothing.bin", quiet=True)


def test_malformed_checksum_is_rejected_before_downloading(mirror, tmp_path):
    with pytest.raises(S2SError, match="32 hex digits"):
        download(f"{mirror.url}/blob.bin", tmp_path / "blob.bin", md5="abc", quiet=True)
    assert mirror.requests == []


# ----------------------------------------------------------------------------- extraction

def test_safe_extract_extracts_and_marks_completion(mirror, tmp_path):
    arc = mirror.directory / "corpus.tar.gz"
    out = tmp_path / "out"
    safe_extract(arc, out, quiet=True)
    assert (out / "corpus" / "a" / "x.txt").read_text() == "hello\n"
    assert extract_marker_path(arc, out).is_file()
    # A second call trusts the marker: a file removed since is not brought back.
    (out / "corpus" / "b.txt").unlink()
    safe_extract(arc, out, quiet=True)
    assert not (out / "corpus" / "b.txt").exists()


def test_dotdot_member_is_refused_and_nothing_is_written(tmp_path):
    arc = _tar_with(tmp_path / "evil.tar.gz", (_info("ok.txt"), b"fine"), (_info("sub/../../evil.txt"), b"x"))
    with pytest.raises(S2SError, match=r"member 'sub/\.\./\.\./evil\.txt'.*'\.\.'"):
        safe_extract(arc, tmp_path / "out", quiet=True)
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "out" / "ok.txt").exists()


def test_absolute_member_is_refused(tmp_path):
    arc = _tar_with(tmp_path / "abs.tar.gz", (_info(str(tmp_path / "abs.txt")), b"x"))
    with pytest.raises(S2SError, match="absolute path"):
        safe_extract(arc, tmp_path / "out", quiet=True)
    assert not (tmp_path / "abs.txt").exists()


def test_symlink_pointing_outside_is_refused(tmp_path):
    arc = _tar_with(tmp_path / "link.tar.gz",
                    (_info("data/passwd", tarfile.SYMTYPE, "../../../etc/passwd"), None))
    with pytest.raises(S2SError, match=r"member 'data/passwd'.*symlink to '\.\./\.\./\.\./etc/passwd'"):
        safe_extract(arc, tmp_path / "out", quiet=True)
    abs_arc = _tar_with(tmp_path / "abslink.tar.gz", (_info("passwd", tarfile.SYMTYPE, "/etc/passwd"), None))
    with pytest.raises(S2SError, match="symlink"):
        safe_extract(abs_arc, tmp_path / "out2", quiet=True)


def test_member_written_through_a_symlink_member_is_refused(tmp_path):
    # "p" -> "." is harmless alone, but "p/q" -> "../x" would then land outside.
    arc = _tar_with(tmp_path / "chain.tar.gz", (_info("p", tarfile.SYMTYPE, "."), None),
                    (_info("p/q", tarfile.SYMTYPE, "../x"), None))
    with pytest.raises(S2SError, match="member 'p/q': path goes through the symlink member 'p'"):
        safe_extract(arc, tmp_path / "out", quiet=True)


def test_symlink_inside_the_target_is_extracted(tmp_path):
    arc = _tar_with(tmp_path / "ok.tar.gz", (_info("d/real.txt"), b"data"),
                    (_info("d/sub/alias.txt", tarfile.SYMTYPE, "../real.txt"), None))
    safe_extract(arc, tmp_path / "out", quiet=True)
    assert (tmp_path / "out" / "d" / "sub" / "alias.txt").read_text() == "data"


def test_hardlink_pointing_outside_is_refused(tmp_path):
    arc = _tar_with(tmp_path / "hard.tar.gz", (_info("h", tarfile.LNKTYPE, "../outside.txt"), None))
    with pytest.raises(S2SError, match="hard link"):
        safe_extract(arc, tmp_path / "out", quiet=True)


def test_device_file_is_refused(tmp_path):
    arc = _tar_with(tmp_path / "dev.tar.gz", (_info("dev/null", tarfile.CHRTYPE), None))
    with pytest.raises(S2SError, match="member 'dev/null': device file"):
        safe_extract(arc, tmp_path / "out", quiet=True)


def test_truncated_archive_is_a_clear_error(mirror, tmp_path):
    arc = tmp_path / "cut.tar.gz"
    arc.write_bytes((mirror.directory / "corpus.tar.gz").read_bytes()[:60])
    with pytest.raises(S2SError, match="download it again"):
        safe_extract(arc, tmp_path / "out", quiet=True)


def test_fetch_and_extract_skips_a_part_whose_archive_was_removed(mirror, tmp_path):
    md5 = md5sum(mirror.directory / "corpus.tar.gz")
    arc = tmp_path / "dl" / "corpus.tar.gz"
    fetch_and_extract(f"{mirror.url}/corpus.tar.gz", arc, tmp_path / "dl", md5=md5, remove_archive=True, quiet=True)
    assert not arc.exists() and (tmp_path / "dl" / "corpus" / "b.txt").is_file()
    fetch_and_extract(f"{mirror.url}/corpus.tar.gz", arc, tmp_path / "dl", md5=md5, quiet=True)
    assert len(mirror.gets("corpus.tar.gz")) == 1


# ----------------------------------------------------------------------------- command line

def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "s2s.bin.download", *args], cwd=ROOT,
                          capture_output=True, text=True)


def test_cli_downloads_verifies_and_extracts(mirror, tmp_path):
    md5 = md5sum(mirror.directory / "corpus.tar.gz")
    (tmp_path / "dl").mkdir()
    r = _cli("--url", f"{mirror.url}/corpus.tar.gz", "--dest", str(tmp_path / "dl"), "--md5", md5,
             "--extract-to", str(tmp_path / "x"), "--quiet")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "dl" / "corpus.tar.gz.done").is_file()
    assert (tmp_path / "x" / "corpus" / "a" / "x.txt").is_file()


def test_cli_reports_a_checksum_failure_and_exits_1(mirror, tmp_path):
    r = _cli("--url", f"{mirror.url}/blob.bin", "--dest", str(tmp_path / "blob.bin"), "--md5", "f" * 32, "--quiet")
    assert r.returncode == 1
    assert "python -m s2s.bin.download: error:" in r.stderr and "checksum mismatch twice" in r.stderr
    assert "Traceback" not in r.stderr


def test_extraction_without_tarfiles_data_filter_checks_members_and_cleans_modes(tmp_path, monkeypatch):
    """Debian 12's Python 3.11.2 predates tarfile's extraction filters (3.11.4)."""
    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    monkeypatch.delattr(tarfile, "FilterError", raising=False)
    suid = _info("bin/tool")
    suid.mode = 0o4777
    arc = _tar_with(tmp_path / "ok.tar.gz", (suid, b"#!/bin/sh\n"), (_info("d/a.txt"), b"data"),
                    (_info("d/alias.txt", tarfile.SYMTYPE, "a.txt"), None))
    safe_extract(arc, tmp_path / "out", quiet=True)
    assert (tmp_path / "out" / "d" / "alias.txt").read_text() == "data"
    assert (tmp_path / "out" / "bin" / "tool").stat().st_mode & 0o7777 == 0o755
    evil = _tar_with(tmp_path / "evil.tar.gz", (_info("sub/../../evil.txt"), b"x"))
    with pytest.raises(S2SError, match=r"'\.\.'"):
        safe_extract(evil, tmp_path / "out2", quiet=True)
    assert not (tmp_path / "evil.txt").exists()
