"""The configuration loaded from TOML files and ``section.key=value`` overrides: defaults, then
each file in order, then each override, every key and value validated (unknown sections or keys
and wrong types raise :class:`~w2v_spark.errors.ConfigError` naming what is valid).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, get_type_hints

import tomllib

from w2v_spark.config import Config
from w2v_spark.config_fields import show_value
from w2v_spark.errors import ConfigError

_SECTION_TYPES: dict[str, type] = get_type_hints(Config)


def _coerce(section: str, key: str, value: Any, expected: Any) -> Any:
    """Check a TOML value against a field's declared type, allowing int for float."""
    expected_name = getattr(expected, "__name__", str(expected))
    if expected is bool:
        ok = isinstance(value, bool)
    elif expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif expected is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok:
            try:
                value = float(value)
            except OverflowError:
                raise ConfigError(
                    f"[{section}] {key} = {show_value(value)} is invalid: too large a number "
                    "(a float setting must be finite)"
                ) from None
    elif expected is str:
        ok = isinstance(value, str)
    else:  # Mapping[str, str]
        expected_name = "table of strings"
        ok = isinstance(value, Mapping) and all(
            isinstance(k, str) and isinstance(v, str | int | float | bool)
            for k, v in value.items()
        )
        if ok:
            value = {
                k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in value.items()
            }
    if not ok:
        raise ConfigError(
            f"[{section}] {key} = {value!r} has the wrong type: expected {expected_name}, "
            f"got {type(value).__name__}"
        )
    return value


def _build_section(section: str, values: Mapping[str, Any]) -> Any:
    cls = _SECTION_TYPES[section]
    hints = get_type_hints(cls)
    valid = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(valid))
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(unknown)} in [{section}]; valid keys: {', '.join(valid)}"
        )
    kwargs = {k: _coerce(section, k, v, hints[k]) for k, v in values.items()}
    return cls(**kwargs)


def config_from_dict(data: Mapping[str, Any]) -> Config:
    """Build a :class:`Config` from a nested mapping, validating every key and value."""
    unknown = sorted(set(data) - set(_SECTION_TYPES))
    if unknown:
        raise ConfigError(
            f"unknown section(s) {', '.join(unknown)}; valid sections: "
            f"{', '.join(_SECTION_TYPES)}"
        )
    sections = {}
    for name, values in data.items():
        if not isinstance(values, Mapping):
            raise ConfigError(f"[{name}] must be a table of key = value settings")
        sections[name] = _build_section(name, values)
    return Config(**sections)


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: dict(v) if isinstance(v, Mapping) else v for k, v in base.items()}
    for section, values in extra.items():
        if isinstance(values, Mapping) and isinstance(out.get(section), dict):
            merged = out[section]
            for key, value in values.items():
                if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
                    merged[key] = {**merged[key], **value}
                else:
                    merged[key] = value
        else:
            out[section] = values
    return out


def parse_override(text: str) -> dict[str, Any]:
    """Parse ``section.key=value`` into ``{section: {key: value}}``.

    The value is read as a TOML value (``5``, ``1e-3``, ``true``, ``"text"``); anything that is
    not valid TOML is taken as a plain string, so ``spark.master=local[2]`` works unquoted.
    ``spark.conf.spark.x.y=v`` sets one entry of the ``[spark.conf]`` table.
    """
    key, sep, raw = text.partition("=")
    parts = key.strip().split(".")
    if not sep or len(parts) < 2 or not all(parts):
        raise ConfigError(f"override {text!r} must look like section.key=value")
    section, name = parts[0], parts[1]
    try:
        value: Any = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    except ValueError:  # an integer of more digits than Python converts to int
        raise ConfigError(
            f"[{section}] {name} = {show_value(raw.strip())} is invalid: too many digits for "
            "a number"
        ) from None
    if section == "spark" and name == "conf" and len(parts) > 2:
        return {"spark": {"conf": {".".join(parts[2:]): str(value)}}}
    if len(parts) != 2:
        raise ConfigError(f"override {text!r} must look like section.key=value")
    return {section: {name: value}}


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read one TOML config file, with a clear error when it is missing or malformed."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {str(p)!r} does not exist")
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except ValueError as exc:  # TOMLDecodeError, or an integer of too many digits
        raise ConfigError(f"config file {str(p)!r} is not valid TOML: {exc}") from None


def load_config(
    paths: Iterable[str | os.PathLike[str]] = (), overrides: Iterable[str] = ()
) -> Config:
    """Defaults, then each TOML file in order, then each ``section.key=value`` override."""
    data: dict[str, Any] = {}
    for path in paths:
        data = _merge(data, read_toml(path))
    for text in overrides:
        data = _merge(data, parse_override(text))
    return config_from_dict(data)


def with_overrides(cfg: Config, overrides: Iterable[str]) -> Config:
    """``cfg`` with each ``section.key=value`` override applied, validated again."""
    data: dict[str, Any] = cfg.to_dict()
    for text in overrides:
        data = _merge(data, parse_override(text))
    return config_from_dict(data)
