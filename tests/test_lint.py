"""The code stays honest: import layers (import-linter), ruff, shellcheck, thin entry points."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = shutil.which(name, path=f"{BIN}:{shutil.os.environ.get('PATH', '')}")
    if path is None:
        pytest.fail(f"{name} is not installed; run tools/setup.sh (make test does)")
    return path


def run(cmd: list[str], cwd=ROOT, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, **kw)


def shell_scripts() -> list[str]:
    """utils/*.sh, tools/*.sh, benchmarks/*.sh and every recipe's scripts (not again through the
    recipes' utils -> ../../utils links)."""
    found = [p for d in ("utils", "tools", "benchmarks") for p in (ROOT / d).glob("*.sh")]
    found += [p for p in (ROOT / "egs").rglob("*.sh") if p.relative_to(ROOT / "egs").parts[1] != "utils"]
    return sorted(str(p.relative_to(ROOT)) for p in found)


def test_import_layers_hold():
    proc = run([tool("lint-imports")])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken." in proc.stdout


def test_the_layer_contract_catches_an_upward_import(tmp_path):
    shutil.copytree(ROOT / "s2s", tmp_path / "s2s", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    (tmp_path / "s2s" / "data" / "leak.py").write_text("import s2s.tasks.asr  # noqa: F401\n")
    (tmp_path / "s2s" / "bin" / "leak.py").write_text("from s2s.bin import train  # noqa: F401\n")
    proc = run([tool("lint-imports"), "--no-cache"], cwd=tmp_path,
               env={**shutil.os.environ, "PYTHONPATH": str(tmp_path)})
    assert proc.returncode != 0
    assert "s2s.data.leak -> s2s.tasks.asr" in proc.stdout and "s2s.bin.leak -> s2s.bin.train" in proc.stdout


def test_ruff_is_clean():
    proc = run([tool("ruff"), "check", "--no-cache", "s2s", "tests", "benchmarks", "egs"])
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_shellcheck_is_clean():
    scripts = shell_scripts()
    assert "egs/mini/run.sh" in scripts and "utils/make_feats.sh" in scripts
    proc = run([tool("shellcheck"), "-x", *scripts])
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_entry_points_are_thin():
    """Every s2s/bin module parses arguments and calls the library: no function over 40 lines."""
    long = []
    for path in sorted((ROOT / "s2s" / "bin").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno + 1 > 40:
                long.append(f"{path.name}:{node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long, long
