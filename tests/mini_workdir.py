"""A temporary egs/mini working copy for recipe tests: the recipe's scripts linked, conf/fbank.yaml copied."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

MINI = Path(__file__).resolve().parents[1] / "egs" / "mini"


def mini_workdir(tmp_path_factory, name: str) -> tuple[Path, dict]:
    """``(work, env)``: run.sh, cmd.sh, path.sh, local/ and utils/ linked into a fresh directory
    (so a run leaves the checkout untouched) and an environment with this Python first on PATH,
    one thread per process and no progress bars. Skips when the speech engines are missing."""
    if shutil.which("espeak-ng") is None or shutil.which("flite") is None:
        pytest.skip("espeak-ng and flite are needed (tools/setup.sh installs them)")
    work = tmp_path_factory.mktemp(name)
    for item in ("run.sh", "cmd.sh", "path.sh", "local", "utils"):
        (work / item).symlink_to(MINI / item)
    (work / "conf").mkdir()
    shutil.copy(MINI / "conf" / "fbank.yaml", work / "conf" / "fbank.yaml")
    env = dict(os.environ, OMP_NUM_THREADS="1", S2S_NO_PROGRESS="1",
               PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    return work, env
