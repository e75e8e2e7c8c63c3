"""Where outputs go: every entry point that writes names a place it cannot write (an existing
directory where a file is wanted, a file where a directory is wanted, a read-only file system)
with ``prog: error: PATH: reason; fix``, exits 1, prints no traceback and writes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from s2s.errors import S2SError, run_main
from s2s.io import atomic_open, atomic_path, check_output_dir, check_output_file

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def read_only(tmp_path):
    """A directory on a read-only file system (a read-only bind mount; as a user without root,
    a directory without write permission). Yields (dir, the reason the OS gives)."""
    d = tmp_path / "ro"
    d.mkdir()
    (d / "sub").mkdir()
    if os.geteuid() != 0:
        d.chmod(0o555)
        (d / "sub").chmod(0o555)
        yield d, "Permission denied"
        d.chmod(0o755)
        (d / "sub").chmod(0o755)
        return
    ok = subprocess.run(["mount", "--bind", str(d), str(d)], capture_output=True).returncode == 0 and \
        subprocess.run(["mount", "-o", "remount,bind,ro", str(d)], capture_output=True).returncode == 0
    if not ok:
        subprocess.run(["umount", str(d)], capture_output=True)
        pytest.skip("cannot make a read-only bind mount here (no mount privilege)")
    try:
        yield d, "Read-only file system"
    finally:
        subprocess.run(["umount", str(d)], check=True)


def cli(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", f"s2s.bin.{module}", *args], cwd=cwd, env=env, capture_output=True,
                          text=True)


def assert_clean_error(proc, prog: str, path: str, *fragments: str) -> None:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith(f"{prog}: error: {path}: "), proc.stderr
    for f in fragments:
        assert f in proc.stderr, proc.stderr


# ------------------------------------------------------------------ the five reported cases

def test_export_to_an_existing_directory(tmp_path):
    (tmp_path / "out").mkdir()
    proc = cli("export", "model.pt", "--format", "onnx", "out", cwd=tmp_path)
    assert_clean_error(proc, "s2s-export", "out", "is a directory; give a file name, e.g. out/")
    assert list((tmp_path / "out").iterdir()) == []


def test_export_to_a_read_only_place(tmp_path, read_only):
    d, reason = read_only
    proc = cli("export", "model.pt", "--format", "onnx", str(d / "model.onnx"), cwd=tmp_path)
    assert_clean_error(proc, "s2s-export", str(d / "model.onnx"), reason, "choose")
    assert sorted(p.name for p in d.iterdir()) == ["sub"]


def test_transcribe_out_dir_naming_an_existing_file(tmp_path):
    (tmp_path / "subs").write_text("keep me\n")
    proc = cli("transcribe", "model.pt", "a.wav", "--out-dir", "subs", cwd=tmp_path)
    assert_clean_error(proc, "s2s-transcribe", "subs", "exists and is not a directory")
    assert (tmp_path / "subs").read_text() == "keep me\n"


@pytest.mark.parametrize("where", ["new/subs", "sub"])
def test_transcribe_out_dir_in_a_read_only_place(tmp_path, read_only, where):
    d, reason = read_only  # a directory to create there, and an existing one to write in
    proc = cli("transcribe", "model.pt", "a.wav", "--out-dir", str(d / where), cwd=tmp_path)
    assert_clean_error(proc, "s2s-transcribe", str(d / where), reason)


# ------------------------------------------------------------------ every other writer

@pytest.mark.parametrize("module, prog, args", [
    ("train", "s2s.bin.train", ["--config", "c.yaml", "--exp-dir", "{ro}/exp"]),
    ("decode", "s2s.bin.decode", ["--model", "m.pt", "--data", "d", "--out", "{ro}/decode"]),
    ("translate", "s2s-translate", ["m.pt", "in.txt", "--output", "{ro}/out.txt"]),
    ("score", "score", ["--ref", "ref", "--hyp", "hyp", "--results", "{ro}/RESULTS.md", "--tag", "x"]),
    ("synthesize", "s2s-synthesize", ["flite", "hello", "--out", "{ro}/x.wav"]),
    ("synthesize", "s2s-synthesize", ["flite", "--text", "t", "--out-dir", "{ro}/syn"]),
    ("average_checkpoints", "s2s.bin.average_checkpoints", ["--exp-dir", "exp", "--out", "{ro}/avg.pt"]),
    ("prepare_tokens", "prepare_tokens", ["--text", "t", "--kind", "char", "--out", "{ro}/lang"]),
    ("rescore", "s2s.bin.rescore", ["--nbest", "n", "--lm", "l", "--out", "{ro}/r"]),
    ("compute_feats", "compute_feats", ["--conf", "c.yaml", "--data", "d", "--out-dir", "{ro}/fbank"]),
    ("tts_durations", "s2s.bin.tts_durations", ["m.pt", "--data", "d", "--out", "{ro}/durations"]),
])
def test_other_writers_name_a_read_only_output(tmp_path, read_only, module, prog, args):
    d, reason = read_only
    args = [a.replace("{ro}", str(d)) for a in args]
    out = next(a for a in args if a.startswith(str(d)))
    proc = cli(module, *args, cwd=tmp_path)
    assert_clean_error(proc, prog, out, reason)


@pytest.mark.parametrize("module, prog, args, out", [
    ("train", "s2s.bin.train", ["--config", "c.yaml", "--exp-dir", "taken"], "taken"),
    ("decode", "s2s.bin.decode", ["--model", "m.pt", "--data", "d", "--out", "taken"], "taken"),
    ("translate", "s2s-translate", ["m.pt", "in.txt", "--output", "adir"], "adir"),
    ("score", "score", ["--ref", "ref", "--hyp", "hyp", "--results", "adir", "--tag", "x"], "adir"),
    ("score", "score", ["--ref", "ref", "--hyp", "hyp", "--out-dir", "taken/reports"], "taken/reports"),
    ("tts_durations", "s2s.bin.tts_durations", ["m.pt", "--data", "d", "--out", "adir"], "adir"),
])
def test_other_writers_name_a_file_or_directory_in_the_way(tmp_path, module, prog, args, out):
    (tmp_path / "taken").write_text("keep me\n")
    (tmp_path / "adir").mkdir()
    proc = cli(module, *args, cwd=tmp_path)
    assert_clean_error(proc, prog, out)
    assert (tmp_path / "taken").read_text() == "keep me\n" and list((tmp_path / "adir").iterdir()) == []


# ------------------------------------------------------------------ the library underneath

def test_checks_leave_nothing_behind(tmp_path):
    assert check_output_dir(tmp_path / "a/b") == tmp_path / "a/b"
    assert check_output_file(tmp_path / "c/d.txt") == tmp_path / "c/d.txt"
    (tmp_path / "e").mkdir()
    assert check_output_dir(tmp_path / "e") == tmp_path / "e"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e"] and list((tmp_path / "e").iterdir()) == []
    (tmp_path / "f").write_text("x")
    with pytest.raises(S2SError, match="f is a file, not a directory"):
        check_output_file(tmp_path / "f/out.txt")


def test_atomic_writers_name_the_path_when_the_place_is_read_only(read_only):
    d, reason = read_only
    with pytest.raises(S2SError, match=f"{d}/x.txt: {reason}"):
        with atomic_open(d / "x.txt") as f:
            f.write("never")
    with pytest.raises(S2SError, match=f"{d}/y.pt: {reason}"):
        with atomic_path(d / "y.pt"):
            pass


def test_run_main_prints_an_os_error_that_escapes_as_a_clean_message(capsys):
    def disk_full():
        raise OSError(28, "No space left on device", "exp/model.pt")

    assert run_main("prog", disk_full) == 1
    err = capsys.readouterr().err
    assert err == "prog: error: exp/model.pt: No space left on device; the disk is full; free some space or " \
                  "choose another disk\n"
