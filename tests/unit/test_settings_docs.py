"""Each setting is declared once: conf/default.toml and docs/settings.md are generated from it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from w2v_spark import settings_docs
from w2v_spark.config import Config
from w2v_spark.config_loading import load_config
from w2v_spark.errors import ConfigError


@pytest.mark.parametrize("rel", sorted(settings_docs.rendered(), key=str))
def test_generated_files_match_the_declarations(rel: Path) -> None:
    on_disk = (settings_docs.ROOT / rel).read_text(encoding="utf-8")
    assert on_disk == settings_docs.rendered()[rel], (
        f"{rel} differs from the settings declared in w2v_spark/config.py; run "
        "`python -m w2v_spark.settings_docs` to regenerate it"
    )


def test_the_generated_defaults_load_as_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "default.toml"
    path.write_text(settings_docs.default_toml(), encoding="utf-8")
    assert load_config([path]) == Config()


def _settings() -> list[tuple[str, dataclasses.Field[object]]]:
    defaults = Config()
    return [(section.name, f) for section in dataclasses.fields(Config)
            for f in dataclasses.fields(getattr(defaults, section.name))]


@pytest.mark.parametrize(("section", "key"), [(s, f.name) for s, f in _settings()])
def test_every_setting_is_documented(section: str, key: str) -> None:
    page = settings_docs.settings_markdown()
    toml = settings_docs.default_toml()
    line = next(line for line in page.splitlines() if line.startswith(f"| `{key}` |"))
    assert line.count("|") >= 6 and line.rstrip(" |").split("|")[-1].strip()
    assert f"\n{key} = " in toml or f"[{section}.{key}]" in toml


@pytest.mark.parametrize(("section", "key"), [
    (s, f.name) for s, f in _settings() if f.metadata.get("bounds") is not None
])
def test_every_declared_bound_is_enforced(section: str, key: str) -> None:
    f = next(f for s, f in _settings() if (s, f.name) == (section, key))
    bounds = f.metadata["bounds"]
    below = bounds.low if bounds.low_open else bounds.low - 1
    value = int(below) if f.type == "int" else float(below)
    with pytest.raises(ConfigError, match=rf"^\[{section}\] {key} = .* is invalid: must be"):
        load_config(overrides=[f"{section}.{key}={value}"])
    if bounds.high is not None:
        above = bounds.high if bounds.high_open else bounds.high + 1
        value = int(above) if f.type == "int" else float(above)
        with pytest.raises(ConfigError, match=rf"^\[{section}\] {key} = .* is invalid"):
            load_config(overrides=[f"{section}.{key}={value}"])


def test_a_setting_no_table_depends_on_is_marked_so() -> None:
    assert settings_docs.recorded_by("train", "keep_checkpoints") == "no"
    assert settings_docs.recorded_by("vocab", "min_count") == "vocab"
    assert settings_docs.recorded_by("train", "epochs") == "pairs"
