"""egs/librispeech's configs reproduce their OpenSeq2Seq sources field by field: the tables in
egs/librispeech/README.md ("Configs, field by field") name the s2s key and value for each source
hyperparameter; the YAML files must agree with them, and each model has the parameter count the
README gives (the published one where there is one)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "egs" / "librispeech"
README = (RECIPE / "README.md").read_text()
SOURCES = {
    "jasper10x5_dr.yaml": "jasper10x5_LibriSpeech_nvgrad.py",
    "jasper10x5_dr_masks.yaml": "jasper10x5_LibriSpeech_nvgrad_masks.py",
    "quartznet15x5.yaml": "quartznet15x5_LibriSpeech.py",
    "jasper_mini.yaml": "jasper-Mini-for-Jetson.py",
    "w2lplus_large_8gpus.yaml": "w2lplus_large_8gpus_mp.py",
    "ds2_large_8gpus.yaml": "ds2_large_8gpus_mp.py",
}
ROW = re.compile(r"^\|[^|]*\|[^|]*\| `([^`]+)` \| `([^`]+)` \|")


def tables() -> dict[str, dict]:
    """{config: {"base": config or None, "rows": [(key, value)]}} from the README."""
    out: dict[str, dict] = {}
    current = None
    for line in README.splitlines():
        m = re.match(r"^#### `conf/(\S+\.yaml)` ← `(\S+)`", line)
        if m:
            current = out.setdefault(m.group(1), {"source": m.group(2), "base": None, "rows": []})
            continue
        if line.startswith("#"):
            current = None
        if current is None:
            continue
        m = re.match(r"^Same as `conf/(\S+\.yaml)` except:", line)
        if m:
            current["base"] = m.group(1)
        m = ROW.match(line)
        if m:
            current["rows"].append((m.group(1), yaml.safe_load(m.group(2))))
    return out


def rows_of(name: str, all_tables: dict) -> dict:
    t = all_tables[name]
    rows = rows_of(t["base"], all_tables) if t["base"] else {}
    rows.update(dict(t["rows"]))
    return rows


def lookup(config: dict, key: str):
    if ":" in key:
        file, key = key.split(":", 1)
        config = yaml.safe_load((RECIPE / "conf" / file).read_text())
    for part in key.split("."):
        config = config.get(part) if isinstance(config, dict) else None
    return config


def test_every_source_has_its_table():
    found = tables()
    assert {k: v["source"] for k, v in found.items()} == SOURCES



def problems(name: str, config: dict) -> list[str]:
    """What is wrong between conf/NAME and its README table: keys the table cites that the config no
    longer has, and values that differ; each names the file and the key."""
    out = []
    for key, value in rows_of(name, tables()).items():
        have = lookup(config, key)
        if have is None and value is not None:
            out.append(f"egs/librispeech/conf/{name}: no key {key!r}, which its table in egs/librispeech/README.md "
                       f"cites (source value {value!r}); restore the key or update the table")
        elif have != value:
            out.append(f"egs/librispeech/conf/{name}: {key} is {have!r}, its README table says {value!r}")
    return out


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_the_yaml_says_what_its_table_says(name):
    config = yaml.safe_load((RECIPE / "conf" / name).read_text())
    assert len(rows_of(name, tables())) >= 10
    assert not problems(name, config), "\n".join(problems(name, config))


def test_a_cited_key_that_no_longer_exists_is_named():
    config = yaml.safe_load((RECIPE / "conf" / "jasper10x5_dr.yaml").read_text())
    del config["optim_conf"]["lr"]
    assert problems("jasper10x5_dr.yaml", config) == [
        "egs/librispeech/conf/jasper10x5_dr.yaml: no key 'optim_conf.lr', which its table in "
        f"egs/librispeech/README.md cites (source value {rows_of('jasper10x5_dr.yaml', tables())['optim_conf.lr']!r}); "
        "restore the key or update the table"]


def test_the_check_catches_a_changed_value(tmp_path, monkeypatch):
    """The comparison is not vacuous: a config with one value changed disagrees."""
    config = yaml.safe_load((RECIPE / "conf" / "jasper10x5_dr.yaml").read_text())
    config["optim_conf"]["lr"] = 0.05
    rows = rows_of("jasper10x5_dr.yaml", tables())
    assert lookup(config, "optim_conf.lr") != rows["optim_conf.lr"]


def parameter_table() -> dict[str, tuple[str, float]]:
    out = {}
    for line in README.splitlines():
        m = re.match(r"^\| `(\S+\.yaml)` \| ([^|]+) \| ([\d.]+) M \|$", line)
        if m:
            out[m.group(1)] = (m.group(2).strip(), float(m.group(3)))
    return out


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_each_model_has_its_parameter_count(name):
    from s2s.data.features import build_frontend
    from s2s.models.registry import build_model

    published, ours = parameter_table()[name]
    config = yaml.safe_load((RECIPE / "conf" / name).read_text())
    frontend = "spectrogram160.yaml" if config["encoder"] == "ds2" else "logmel64.yaml"
    dim = build_frontend(yaml.safe_load((RECIPE / "conf" / frontend).read_text())).dim
    model = build_model("asr", {"encoder": config["encoder"], "encoder_conf": config["encoder_conf"],
                                "input_dim": dim, "vocab_size": 29, "frontend": None, "cmvn": "none",
                                "specaug": None, "model_conf": {}})
    n = sum(p.numel() for p in model.parameters()) / 1e6
    assert n == pytest.approx(ours, abs=0.005), n
    m = re.match(r"([\d.]+) M", published)
    if m and "QuartzNet 15x5" not in published:
        assert n == pytest.approx(float(m.group(1)), rel=0.01)
