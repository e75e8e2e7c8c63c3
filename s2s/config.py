"""YAML experiment configs: load, apply command-line overrides, validate, write resolved.

A config is plain data. Each entry point declares its defaults as a nested dict;
``resolve`` merges a YAML file and overrides into them and rejects unknown keys
and values of the wrong type before anything runs. Keys ending in ``_conf`` are
free-form mappings checked later by the registry of the component they configure.

Overrides: ``--optim_conf.lr 0.01`` or ``optim_conf.lr=0.01``; values are parsed
as YAML (so ``true``, ``[1, 2]`` and ``null`` work). A dotted override changes one
entry and keeps the rest; a whole ``*_conf`` mapping given at once
(``--optim_conf '{lr: 0.002}'``, ``--specaug_conf '{}'``) replaces the file's mapping,
so switching ``--optim adamw`` does not inherit the file's NovoGrad betas.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from s2s.errors import S2SError, did_you_mean
from s2s.io import atomic_open


class Loader(yaml.SafeLoader):
    """YAML 1.1 safe loading, except that ``1e-3`` is a float (plain PyYAML reads it as a string)."""


Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                   |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                   |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                   |[-+]?\.(?:inf|Inf|INF)
                   |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def safe_load(text):
    """``yaml.safe_load`` with exponent floats (``1e-3``) read as numbers."""
    return yaml.load(text, Loader=Loader)


def load_yaml(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise S2SError(f"{path}: config file not found; check the --config path")
    try:
        with open(path, encoding="utf-8") as f:
            data = safe_load(f)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise S2SError(f"{path}{line}: invalid YAML ({getattr(e, 'problem', e)}); fix the syntax") from None
    except UnicodeDecodeError:
        raise S2SError(f"{path}: not UTF-8 text; save the config as UTF-8") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise S2SError(f"{path}: top level must be a mapping of keys to values, got {type(data).__name__}")
    return data


def parse_overrides(args: list[str]) -> dict:
    """Turn ``['--a.b', '1', 'c=x']`` into ``{'a': {'b': 1}, 'c': 'x'}``."""
    out: dict = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--"):
            key = arg[2:]
            if "=" in key:
                key, raw = key.split("=", 1)
            else:
                if i + 1 >= len(args):
                    raise S2SError(f"override {arg} has no value; write {arg} VALUE")
                raw = args[i + 1]
                i += 1
        elif "=" in arg:
            key, raw = arg.split("=", 1)
        else:
            raise S2SError(f"cannot parse override {arg!r}; write --key VALUE or key=VALUE")
        key = key.replace("-", "_") if "." not in key else key
        try:
            value = safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        if isinstance(value, dict) and key.split(".")[-1].endswith("_conf"):
            value = _Replace(value)
        set_dotted(out, key, value)
        i += 1
    return out


class _Replace(dict):
    """A ``*_conf`` mapping given whole on the command line: it replaces, not merges."""


def set_dotted(d: dict, key: str, value) -> None:
    parts = key.split(".")
    for p in parts[:-1]:
        d = d.setdefault(p, {})
        if not isinstance(d, dict):
            raise S2SError(f"override {key}: {p!r} is not a mapping")
    d[parts[-1]] = value


def merge(base: dict, update: dict) -> dict:
    """Deep-merge ``update`` into a copy of ``base``."""
    out = copy.deepcopy(base)
    for k, v in update.items():
        if isinstance(v, _Replace):
            out[k] = copy.deepcopy(dict(v))
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def validate(conf: dict, defaults: dict, source: str, prefix: str = "") -> None:
    """Check keys and types of ``conf`` against ``defaults`` (None defaults accept anything)."""
    for key, value in conf.items():
        dotted = f"{prefix}{key}"
        if key not in defaults:
            raise S2SError(
                f"{_at(source, dotted)}: unknown config key {dotted!r}{did_you_mean(key, defaults)} "
                f"(valid keys here: {', '.join(sorted(defaults))}; s2s-train --help explains them)"
            )
        ref = defaults[key]
        if key.endswith("_conf") or ref is None or value is None:
            continue
        if isinstance(ref, dict):
            if not isinstance(value, dict):
                raise S2SError(f"{_at(source, dotted)}: config key {dotted!r} should be a mapping, got {value!r}")
            validate(value, ref, source, dotted + ".")
        elif not _same_kind(value, ref):
            raise S2SError(
                f"{_at(source, dotted)}: config key {dotted!r} should be {type(ref).__name__} "
                f"(like the default {ref!r}), got {type(value).__name__} {value!r}"
            )


def key_line(path, dotted: str) -> int | None:
    """The 1-based line of ``dotted`` (``a.b``) in the YAML file ``path``, or None."""
    try:
        with open(path, encoding="utf-8") as f:
            node = yaml.compose(f, Loader=Loader)
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None
    line = None
    for part in dotted.split("."):
        if not isinstance(node, yaml.MappingNode):
            return line
        for k, v in node.value:
            if getattr(k, "value", None) == part:
                line, node = k.start_mark.line + 1, v
                break
        else:
            return line
    return line


def _at(source: str, dotted: str) -> str:
    """``file:line`` of a key when ``source`` is a YAML file that has it, else ``source``."""
    if source.endswith((".yaml", ".yml")) and Path(source).is_file():
        line = key_line(source, dotted)
        if line is not None:
            return f"{source}:{line}"
    return source


def config_source(config_path, overrides, message: str) -> str:
    """Where a component's error comes from, when ``message`` starts with a config key
    (``encoder_conf (encoder 'jasper'): ...``, ``encoder: unknown encoder ...``): "command-line
    override" when the key was overridden there, else ``file:line`` of the key in the YAML file;
    "" when neither holds it."""
    m = re.match(r"(\w+)", message)
    if not m:
        return ""
    key = m.group(1)
    if overrides:
        try:
            given = parse_overrides(list(overrides))
        except S2SError:
            given = {}
        if key in given:
            return "command-line override"
    if config_path and str(config_path).endswith((".yaml", ".yml")):
        inner = re.search(r"(?:unknown key|key) '(\w+)'", message)
        line = (key_line(config_path, f"{key}.{inner.group(1)}") if inner else None) or key_line(config_path, key)
        if line is not None:
            return f"{config_path}:{line}"
    return ""


def _same_kind(value: Any, ref: Any) -> bool:
    if isinstance(ref, bool):
        return isinstance(value, bool)
    if isinstance(ref, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(ref, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(ref, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(ref))


def resolve(defaults: dict, config_path=None, overrides: list[str] | None = None) -> dict:
    """defaults <- YAML file <- overrides, validated; returns the resolved config."""
    conf = copy.deepcopy(defaults)
    if config_path is not None:
        data = load_yaml(config_path)
        validate(data, defaults, str(config_path))
        conf = merge(conf, data)
    if overrides:
        ov = parse_overrides(overrides)
        validate(ov, defaults, "command-line override")
        conf = merge(conf, ov)
    return conf


def write_config(conf: dict, path) -> None:
    with atomic_open(path) as f:
        yaml.safe_dump(conf, f, sort_keys=False, default_flow_style=None, allow_unicode=True)
