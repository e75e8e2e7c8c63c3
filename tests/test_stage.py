"""utils/stage.sh: stage selection, skipping on unchanged inputs, re-running on changes,
and failure handling (set -e inside a stage, no stamp left behind)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = r"""
set -euo pipefail
stage=${STAGE:-0}; stop_stage=${STOP:-9}; force=false
. "$ROOT/utils/stage.sh"
make_out() { cat in.txt > out.txt; echo ran >> runs.txt; }
fails_midway() { false; echo "after false" > after.txt; }
stage 1 copy make_out --args "${ARGS:-a}" --in "in.txt" --out "out.txt"
[ "${FAIL:-0}" = 1 ] && stage 2 broken fails_midway --in "in.txt" --out "never.txt"
echo finished
"""


def run(tmp_path: Path, **env) -> subprocess.CompletedProcess:
    (tmp_path / "s.sh").write_text(SCRIPT)
    e = dict(os.environ, ROOT=str(ROOT), PYTHONPATH=str(ROOT), **env)
    return subprocess.run(["bash", "s.sh"], cwd=tmp_path, env=e, capture_output=True, text=True)


def runs(tmp_path: Path) -> int:
    f = tmp_path / "runs.txt"
    return len(f.read_text().splitlines()) if f.exists() else 0


def test_a_stage_runs_once_and_is_skipped_while_inputs_and_args_are_unchanged(tmp_path):
    (tmp_path / "in.txt").write_text("x\n")
    assert run(tmp_path).returncode == 0 and runs(tmp_path) == 1
    p = run(tmp_path)
    assert "skipped" in p.stdout and runs(tmp_path) == 1


def test_changed_input_changed_argument_or_missing_output_reruns(tmp_path):
    (tmp_path / "in.txt").write_text("x\n")
    run(tmp_path)
    (tmp_path / "in.txt").write_text("y\n")
    run(tmp_path)
    assert runs(tmp_path) == 2 and (tmp_path / "out.txt").read_text() == "y\n"
    run(tmp_path, ARGS="b")
    assert runs(tmp_path) == 3
    (tmp_path / "out.txt").unlink()
    run(tmp_path, ARGS="b")
    assert runs(tmp_path) == 4


def test_stages_outside_the_selected_range_do_not_run(tmp_path):
    (tmp_path / "in.txt").write_text("x\n")
    assert run(tmp_path, STAGE="2").returncode == 0 and runs(tmp_path) == 0


def test_a_failing_command_fails_the_stage_and_leaves_no_stamp(tmp_path):
    (tmp_path / "in.txt").write_text("x\n")
    p = run(tmp_path, FAIL="1")
    assert p.returncode != 0 and "stage 2 (broken): FAILED" in p.stderr
    assert not (tmp_path / "after.txt").exists(), "set -e must hold inside a stage function"
    assert "finished" not in p.stdout
    assert not (tmp_path / "exp/.stamps/stage2.broken").exists()


def test_an_scp_input_is_stale_when_its_ark_is_rewritten_in_place(tmp_path):
    import time

    from s2s.recipe.stamp import key

    ark = tmp_path / "x.ark"
    ark.write_bytes(b"a" * 100)
    scp = tmp_path / "x.scp"
    scp.write_text(f"u1 {ark}:5\n")
    before = key("args", [str(scp)])
    time.sleep(0.01)
    ark.write_bytes(b"b" * 100)  # same size, same scp text
    assert key("args", [str(scp)]) != before


GUARDED = r"""
set -euo pipefail
stage=${STAGE:-0}; stop_stage=${STOP:-3}; force=false
. "$ROOT/utils/stage.sh"
check_stages 0 3
echo ran-something > ran.txt
"""


@pytest.mark.parametrize("start,stop,message", [
    ("two", "3", "--stage must be a stage number from 0 to 3, got 'two'"),
    ("1.5", "3", "--stage must be a stage number from 0 to 3, got '1.5'"),
    ("-1", "3", "--stage must be a stage number from 0 to 3, got '-1'"),
    ("0", "12", "--stop-stage 12 is not a stage of this recipe: stages are 0 to 3"),
    ("3", "1", "--stage 3 comes after --stop-stage 1: nothing would run"),
])
def test_bad_stage_arguments_fail_before_anything_runs(tmp_path, start, stop, message):
    (tmp_path / "s.sh").write_text(GUARDED)
    p = subprocess.run(["bash", "s.sh"], cwd=tmp_path, capture_output=True, text=True,
                       env=dict(os.environ, ROOT=str(ROOT), STAGE=start, STOP=stop))
    assert p.returncode == 2 and message in p.stderr, p.stderr
    assert not (tmp_path / "ran.txt").exists()


def test_stamps_of_one_experiment_do_not_touch_anothers(tmp_path):
    """A failed run with another --train-config must not invalidate the good experiment's stamp."""
    script = r"""
set -euo pipefail
stage=0; stop_stage=0; force=false
. "$ROOT/utils/stage.sh"
train() { [ "$TAG" != bad ] || exit 1; echo "$TAG" > "model.$TAG"; echo "$TAG" >> runs.txt; }
stage 0 train train --key "$TAG" --args "$TAG" --out "model.$TAG"
"""
    (tmp_path / "s.sh").write_text(script)

    def run_tag(tag):
        return subprocess.run(["bash", "s.sh"], cwd=tmp_path, capture_output=True, text=True,
                              env=dict(os.environ, ROOT=str(ROOT), PYTHONPATH=str(ROOT), TAG=tag))

    assert run_tag("good").returncode == 0
    assert run_tag("bad").returncode != 0
    again = run_tag("good")
    assert again.returncode == 0 and "skipped" in again.stdout
    assert (tmp_path / "runs.txt").read_text().split() == ["good"]
    assert (tmp_path / "exp/.stamps/good/stage0.train").is_file()
