"""Virtual environments for the peer toolkits a benchmark compares s2s with (never s2s's dependencies).

``peer_python(name, requirements)`` returns the Python of ``benchmarks/.peers/<name>/`` (git-ignored),
creating the venv and ``pip install``-ing ``requirements`` there the first time, or when the list
changes, so s2s's environment stays as tools/setup.sh made it. With ``inherit`` the venv also sees
the packages of the environment that made it (a ``.pth`` file: torch and s2s's dependencies are
not installed twice), so a benchmark can run s2s and the peer in one process and time them in
turns. ``reexec_with(name, requirements, modules)`` restarts the running script under that Python
unless ``modules`` already import. Set ``S2S_PEERS_DIR`` to keep the venvs elsewhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

HERE = Path(__file__).resolve().parent


def peer_python(name: str, requirements: list[str], inherit: bool = False) -> Path:
    root = Path(os.environ.get("S2S_PEERS_DIR", HERE / ".peers")) / name
    python = root / "bin" / "python"
    stamp = root / "requirements.done"
    base = sysconfig.get_paths()["purelib"]
    want = "\n".join(requirements + ([f"inherit {base}"] if inherit else [])) + "\n"
    if python.is_file() and stamp.is_file() and stamp.read_text() == want:
        return python
    print(f"peers: setting up {root} ({' '.join(requirements)}); once", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True)
    if inherit:
        site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              check=True, capture_output=True, text=True).stdout.strip()
        # addsitedir, not a bare path: the base's own .pth files (s2s's editable install) count too.
        Path(site, "_s2s_inherit.pth").write_text(f"import site; site.addsitedir({base!r})\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements],
                   check=True)
    stamp.write_text(want)
    return python


def reexec_with(name: str, requirements: list[str], modules: list[str]) -> None:
    """Run this script again under the peer venv ``name`` (made with ``inherit``) unless every one of
    ``modules`` imports here already; returns only when they do."""
    import importlib.util

    if all(importlib.util.find_spec(m) is not None for m in modules):
        return
    python = peer_python(name, requirements, inherit=True)
    os.execv(str(python), [str(python), *sys.argv])
