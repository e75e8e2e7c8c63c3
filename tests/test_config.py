"""s2s.config: YAML <- overrides, dotted entries merge, whole *_conf mappings replace."""

from __future__ import annotations

import pytest
import yaml

from s2s.config import parse_overrides, resolve, write_config
from s2s.errors import S2SError

DEFAULTS = {"optim": "adam", "optim_conf": {}, "max_epochs": 10, "lr_floor": 0.0,
            "data": {"batch": 4, "shuffle": True}}


@pytest.fixture
def cfg(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump({"optim": "novograd", "optim_conf": {"lr": 0.01, "betas": [0.95, 0.5]},
                                    "data": {"batch": 8}}))
    return path


def test_file_then_dotted_override_keeps_the_other_entries(cfg):
    conf = resolve(DEFAULTS, cfg, ["--optim_conf.lr", "0.002", "max_epochs=3"])
    assert conf["optim_conf"] == {"lr": 0.002, "betas": [0.95, 0.5]}
    assert conf["max_epochs"] == 3 and conf["data"] == {"batch": 8, "shuffle": True}


def test_a_whole_conf_mapping_replaces_the_files(cfg, tmp_path):
    conf = resolve(DEFAULTS, cfg, ["--optim", "adamw", "--optim_conf", "{lr: 0.002, weight_decay: 0.001}"])
    assert conf["optim"] == "adamw"
    assert conf["optim_conf"] == {"lr": 0.002, "weight_decay": 0.001}
    assert resolve(DEFAULTS, cfg, ["--optim_conf", "{}"])["optim_conf"] == {}
    # a later dotted entry adds to the replacement
    conf = resolve(DEFAULTS, cfg, ["--optim_conf", "{lr: 1}", "--optim_conf.eps", "1e-6"])
    assert conf["optim_conf"] == {"lr": 1, "eps": 1e-6}
    # the resolved config is plain data that writes as YAML
    write_config(conf, tmp_path / "out.yaml")
    assert yaml.safe_load((tmp_path / "out.yaml").read_text())["optim_conf"] == {"lr": 1, "eps": 1e-6}


def test_a_checked_mapping_still_merges(cfg):
    # keys without the _conf suffix have a schema: a partial mapping keeps the other defaults
    assert resolve(DEFAULTS, cfg, ["--data", "{batch: 2}"])["data"] == {"batch": 2, "shuffle": True}


def test_exponent_floats_are_numbers_in_files_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("optim_conf: {lr: 1e-3, eps: -2E+1, name: 1e}\nlr_floor: 5e-5\n")
    conf = resolve(DEFAULTS, path, ["--optim_conf.wd", "1e-6"])
    assert conf["optim_conf"] == {"lr": 0.001, "eps": -20.0, "name": "1e", "wd": 1e-6}
    assert conf["lr_floor"] == 5e-5
    assert parse_overrides(["x=10", "y=.5", "z=1_000"]) == {"x": 10, "y": 0.5, "z": 1000}


def test_override_errors_name_the_key():
    with pytest.raises(S2SError, match="no value"):
        parse_overrides(["--max_epochs"])
    with pytest.raises(S2SError, match="unknown config key 'max_epoch'"):
        resolve(DEFAULTS, None, ["--max_epoch", "3"])
    with pytest.raises(S2SError, match="'max_epochs' should be int"):
        resolve(DEFAULTS, None, ["--max_epochs", "three"])
