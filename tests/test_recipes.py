"""Every recipe is built the same way: one path.sh and cmd.sh, executable run.sh files, the shared
steps of utils/, and guard rails that stop a wrong stage or a wrong directory before anything runs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted(p.parent.name for p in (ROOT / "egs").glob("*/run.sh"))
STAGES = {"librispeech": 9, "mini": 10, "libritts": 5, "speech_commands": 4, "ljspeech": 4, "TEMPLATE": 6, "mini_mt": 3,
          "mini_lm": 3, "wmt16_en_de": 4, "wikitext": 4, "mini_image": 3, "imagenet": 3, "sentiment": 4}


def test_every_recipe_is_known_here():
    assert set(RECIPES) == set(STAGES)


@pytest.mark.parametrize("name", ["path.sh", "cmd.sh"])
def test_path_and_cmd_are_the_same_file_in_every_recipe(name):
    want = (ROOT / "egs" / "TEMPLATE" / name).read_bytes()
    differ = [r for r in RECIPES if (ROOT / "egs" / r / name).read_bytes() != want]
    assert not differ, f"{name} differs from egs/TEMPLATE/{name} in: {differ}"


def test_run_scripts_and_steps_are_executable_in_git():
    out = subprocess.run(["git", "ls-files", "-s", "egs/*/run.sh", "utils/*.sh", "utils/*.pl"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    modes = {line.split()[3]: line.split()[0] for line in out.splitlines()}
    assert all(f"egs/{r}/run.sh" in modes for r in RECIPES), modes
    sourced = {"utils/parse_options.sh", "utils/stage.sh"}
    not_exec = [f for f, m in modes.items() if m != "100755" and f not in sourced]
    assert not not_exec, not_exec


def test_recipes_use_the_shared_steps_not_their_own_copies():
    for r in RECIPES:
        text = (ROOT / "egs" / r / "run.sh").read_text()
        assert "check_stages 0 " in text, r
        assert "python -m s2s.bin.train " not in text, f"{r}: train through utils/train.sh"
    for old in ("train.sh", "decode.sh", "tune_lm_weights.sh", "rescore_nnlm.sh", "lm_stages.sh"):
        assert not list((ROOT / "egs").glob(f"*/local/{old}")), old


def recipe_copy(tmp_path: Path, name: str) -> Path:
    work = tmp_path / name
    work.mkdir()
    for item in (ROOT / "egs" / name).iterdir():
        if item.name in ("run.sh", "cmd.sh", "path.sh", "conf", "local", "utils"):
            (work / item.name).symlink_to(item)
    return work


@pytest.mark.parametrize("name", RECIPES)
@pytest.mark.parametrize("args,message", [
    (["--stage", "two"], "--stage must be a stage number from 0 to {last}, got 'two'"),
    (["--stage", "1.5"], "--stage must be a stage number from 0 to {last}, got '1.5'"),
    (["--stop-stage", "12"], "--stop-stage 12 is not a stage of this recipe: stages are 0 to {last}"),
    (["--stage", "3", "--stop-stage", "1"], "--stage 3 comes after --stop-stage 1"),
])
def test_bad_stage_arguments_stop_every_recipe_before_anything_runs(tmp_path, name, args, message):
    work = recipe_copy(tmp_path, name)
    p = subprocess.run(["bash", "run.sh", *args], cwd=work, capture_output=True, text=True,
                       env=dict(os.environ, S2S_NO_PROGRESS="1"))
    assert p.returncode == 2, p.stdout + p.stderr
    assert message.format(last=STAGES[name]) in p.stderr
    assert "start" not in p.stdout and not (work / "exp").exists() and not (work / "data").exists()


@pytest.mark.parametrize("name", RECIPES)
def test_a_recipe_run_from_another_directory_says_where_to_cd(tmp_path, name):
    work = recipe_copy(tmp_path, name)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    p = subprocess.run(["bash", str(work / "run.sh"), "--stage", "1"], cwd=elsewhere, capture_output=True, text=True)
    assert p.returncode == 1
    assert f"cd {work} && ./run.sh" in p.stderr, p.stderr
    assert "No such file" not in p.stderr and not list(elsewhere.iterdir())
