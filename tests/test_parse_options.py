"""utils/parse_options.sh: Kaldi-style --name value options for recipe scripts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

PARSE_OPTIONS = Path(__file__).resolve().parents[1] / "utils" / "parse_options.sh"

SCRIPT = """#!/usr/bin/env bash
# Train a tiny model.
# Usage: run.sh [options] <data-dir>

set -euo pipefail
stage=0          # first stage to run
nj=4
use_gpu=false    # train on a GPU
train_set="train clean"
{extra}
. {parse_options}
echo "stage=$stage nj=$nj use_gpu=$use_gpu train_set=$train_set args=$*"
"""


@pytest.fixture
def script(tmp_path):
    def make(extra: str = "") -> Path:
        path = tmp_path / "run.sh"
        path.write_text(SCRIPT.format(extra=extra, parse_options=PARSE_OPTIONS))
        path.chmod(0o755)
        return path
    return make


def run(path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(path), *args], capture_output=True, text=True, cwd=path.parent)


def test_option_sets_declared_variable_with_dashes_as_underscores(script):
    r = run(script(), "--stage", "3", "--train-set", "dev other")
    assert r.returncode == 0, r.stderr
    assert "stage=3 nj=4 use_gpu=false train_set=dev other args=" in r.stdout


def test_equals_form_is_accepted(script):
    assert "nj=16" in run(script(), "--nj=16").stdout


def test_positional_arguments_stay_in_args(script):
    r = run(script(), "--nj", "2", "data/train", "exp/x")
    assert "nj=2" in r.stdout and "args=data/train exp/x" in r.stdout


def test_double_dash_ends_options(script):
    assert "nj=4 " in run(script(), "--", "--nj", "2").stdout


def test_unknown_option_is_an_error_naming_it(script):
    r = run(script(), "--num-jobs", "2")
    assert r.returncode == 1
    assert "unknown option --num-jobs" in r.stderr


def test_option_without_value_is_an_error(script):
    r = run(script(), "--nj")
    assert r.returncode == 1 and "--nj needs a value" in r.stderr


def test_boolean_accepts_true_and_false_only(script):
    assert "use_gpu=true" in run(script(), "--use-gpu", "true").stdout
    r = run(script(), "--use-gpu", "yes")
    assert r.returncode == 1 and "takes true or false, got 'yes'" in r.stderr


def test_config_file_is_sourced_and_later_options_win(script, tmp_path):
    (tmp_path / "opts.conf").write_text("nj=9\nstage=2\n")
    r = run(script(), "--config", "opts.conf", "--stage", "5")
    assert "stage=5 nj=9" in r.stdout


def test_missing_config_file_is_an_error(script):
    r = run(script(), "--config", "nope.conf")
    assert r.returncode == 1 and "nope.conf not found" in r.stderr


def test_help_prints_top_comment_and_options_with_values(script):
    r = run(script(), "--nj", "8", "--help")
    assert r.returncode == 0
    assert r.stdout.startswith("Train a tiny model.\nUsage: run.sh [options] <data-dir>\n")
    lines = r.stdout.splitlines()
    assert any(line.split() == ["--stage", "0", "#", "first", "stage", "to", "run"] for line in lines)
    assert any(line.split() == ["--nj", "8"] for line in lines)
    assert any(line.split()[:2] == ["--use-gpu", "false"] for line in lines)
    assert "stage=" not in r.stdout  # the script stopped


def test_help_prefers_help_message(script):
    r = run(script('help_message="usage: run.sh <dir>"'), "-h")
    assert r.returncode == 0
    assert r.stdout.startswith("usage: run.sh <dir>\n")
    assert "--help-message" not in r.stdout
