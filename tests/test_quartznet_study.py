"""egs/mini/local/quartznet_study.py --report-only: plateau epochs and the RESULTS.md block from train logs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "egs" / "mini" / "local" / "quartznet_study.py"


def write_log(root: Path, name: str, wers: list[float], losses: dict[int, float]) -> None:
    d = root / "exp" / "qz_study" / name
    d.mkdir(parents=True)
    lines = [f"2026-01-01 00:00:00 INFO s2s.train: epoch 1 step {s}: loss {v:.4f} lr 0.01  90.0 audio-s/s"
             for s, v in losses.items()]
    lines += [f"2026-01-01 00:00:00 INFO s2s.train: epoch {i} validation: loss {80 - i:.4f}  wer {w:.4f}"
              for i, w in enumerate(wers, 1)]
    (d / "train.log").write_text("\n".join(lines) + "\n")


def report(root: Path, *variants: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--report-only", "--epochs", "3", "--variants", *variants],
                          cwd=root, capture_output=True, text=True)


def test_report_counts_plateau_epochs_and_replaces_its_block(tmp_path):
    (tmp_path / "RESULTS.md").write_text("# Results\n\nkept text\n")
    write_log(tmp_path, "paper", [100.0, 99.0, 97.0, 40.0], {200: 81.0, 225: 79.4})
    write_log(tmp_path, "batch_4000", [100.0, 93.0, 80.0], {225: 60.0})
    proc = report(tmp_path, "paper", "batch_4000", "kaiming")
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "RESULTS.md").read_text()
    assert "kept text" in text
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ") for line in text.splitlines()
            if line.startswith("| ") and " | " in line}
    # only the first --epochs validations count; WER >= 95 % is the plateau
    assert rows["paper"][2:5] == ["3", "100 99 97", "79"]
    assert rows["paper"][6].rstrip(" |") == "97.00"
    assert rows["batch_4000"][2:5] == ["1", "100 93 80", "60"]
    assert "not run" in rows["kaiming"][3]
    # a second report replaces the block instead of adding another
    assert report(tmp_path, "paper").returncode == 0
    text = (tmp_path / "RESULTS.md").read_text()
    assert text.count("quartznet-study: begin") == 1 and "batch_4000" not in text and "kept text" in text


def test_unknown_variant_is_refused_with_the_valid_names(tmp_path):
    proc = report(tmp_path, "no_such_variant")
    assert proc.returncode != 0 and "paper" in proc.stderr
