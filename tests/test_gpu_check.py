"""benchmarks/gpu_check.sh, the one script a lent GPU machine runs, works: its CPU dry path runs
every step (training throughput, egs/mini's recipe path, the input pipeline) and reports them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_gpu_check_dry_run_runs_every_step(tmp_path):
    if shutil.which("espeak-ng") is None or shutil.which("flite") is None:
        pytest.skip("espeak-ng and flite are needed (tools/setup.sh installs them)")
    env = dict(os.environ, OMP_NUM_THREADS="1", S2S_NO_PROGRESS="1")
    proc = subprocess.run(["bash", str(ROOT / "benchmarks/gpu_check.sh"), "--dry-run", "--out", str(tmp_path / "out")],
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[-1].startswith("RESULT gpu_check=ok device=cpu dry_run=true")
    summary = "\n".join(lines)
    assert re.search(r"train_mini \(\d+ s\): RESULT device=cpu fp32_audio_s_per_s=[\d.]+ bf16_audio_s_per_s", summary)
    assert re.search(r"mini_recipe \(\d+ s\): RESULT mini_test_wer=[\d.]+", summary)
    assert re.search(r"data_pipeline \(\d+ s\): RESULT audio_s_per_s_per_core=\d+ flac_audio_s_per_s_per_core=\d+ "
                     r"headroom=[\d.]+ flac_headroom=[\d.]+", summary)
    assert (tmp_path / "out" / "mini_recipe.log").is_file()


def test_without_a_gpu_the_real_check_says_how_to_dry_run():
    if __import__("torch").cuda.is_available():
        pytest.skip("a GPU is visible")
    proc = subprocess.run(["bash", str(ROOT / "benchmarks/gpu_check.sh")], capture_output=True, text=True)
    assert proc.returncode == 1 and "--dry-run" in proc.stderr


def test_bad_option_is_refused():
    proc = subprocess.run(["bash", str(ROOT / "benchmarks/gpu_check.sh"), "--fast"], capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown option '--fast'" in proc.stderr
