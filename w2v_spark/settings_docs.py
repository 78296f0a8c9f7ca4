"""``conf/default.toml`` and ``docs/settings.md``, generated from the settings' declarations in
:mod:`w2v_spark.config` (each field's default, help and range), so that they cannot drift.

``python -m w2v_spark.settings_docs`` rewrites both files; a test fails when either differs
from what this module renders.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from w2v_spark.config import Config
from w2v_spark.fingerprint import NO_EFFECT, SPARK_RESULT_SETTINGS, STAGE_SETTINGS

log = logging.getLogger(__name__)

#: The repository's root (where ``conf/`` and ``docs/`` are).
ROOT = Path(__file__).resolve().parents[1]

#: Where each generated file goes, relative to :data:`ROOT`.
DEFAULT_TOML = Path("conf/default.toml")
SETTINGS_MD = Path("docs/settings.md")

#: Column of the comments in ``conf/default.toml``, and its line width.
_COMMENT_COLUMN = 32
_WIDTH = 100

_TOML_HEADER = """\
# Every setting with its default, generated from w2v_spark/config.py by
# `python -m w2v_spark.settings_docs` (do not edit by hand). Parameter names follow gensim where
# the idea is the same. Load other files on top (--config conf/local.toml) and override single
# values with --set section.key=value. docs/settings.md has the ranges.
"""

_MD_HEADER = """\
# Settings

Every setting, its default, what it accepts and what it does, generated from
`w2v_spark/config.py` by `python -m w2v_spark.settings_docs` (a test fails when this page or
`conf/default.toml` differs from it). Set them in a TOML file given with `--config` (files load
in order over the defaults) or one at a time with `--set section.key=value`; an unknown key, a
wrong type or a value out of range is an error naming the key before Spark starts.

The column *Recorded by* names the first stage whose tables depend on the setting: changing it
means running that stage and every later one again (`--resume` refuses to continue a run whose
finished stages used other values, see [operations](operations.md)). *no* means the setting
changes no table.
"""


def _sections(cfg: Config) -> list[tuple[str, Any]]:
    return [(f.name, getattr(cfg, f.name)) for f in dataclasses.fields(cfg)]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value)


def _comment_lines(head: str, help_text: str) -> list[str]:
    """``head`` followed by ``# help_text`` at the comment column, wrapped."""
    start = max(_COMMENT_COLUMN, len(head) + 2)
    width = _WIDTH - start - 2
    wrapped = textwrap.wrap(help_text, width=width) or [""]
    lines = [f"{head.ljust(start)}# {wrapped[0]}"]
    lines += [f"{' ' * _COMMENT_COLUMN}# {line}"
              for line in textwrap.wrap(" ".join(wrapped[1:]), _WIDTH - _COMMENT_COLUMN - 2)]
    return lines


def _summary(section: Any) -> str:
    doc = (type(section).__doc__ or "").strip()
    return " ".join(doc.split("\n\n")[0].split())


def default_toml(cfg: Config | None = None) -> str:
    """The text of ``conf/default.toml``: every setting with its default and help."""
    cfg = cfg or Config()
    out = [_TOML_HEADER.rstrip("\n")]
    for name, section in _sections(cfg):
        out += ["", *_comment_lines(f"[{name}]", _summary(section))]
        table: Mapping[str, str] | None = None
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            if isinstance(value, Mapping):
                table = value
                out += ["", *_comment_lines(f"[{name}.{f.name}]", f.metadata["help"])]
                continue
            out += _comment_lines(f"{f.name} = {_toml_value(value)}", f.metadata["help"])
        for key, value in (table or {}).items():
            out.append(f"{json.dumps(key)} = {json.dumps(value)}")
    return "\n".join(out) + "\n"


def _allowed(f: dataclasses.Field[Any]) -> str:
    choices = f.metadata.get("choices")
    bounds = f.metadata.get("bounds")
    if f.metadata.get("accepts"):
        return str(f.metadata["accepts"])
    if choices:
        return ", ".join(f"`{c}`" for c in choices)
    if bounds is not None:
        return f"{bounds.text()} {bounds.note}".strip()
    return {"bool": "true, false", "str": "text", "float": "number", "int": "integer"}.get(
        str(f.type), "table of `spark.*` keys")


def recorded_by(section: str, key: str) -> str:
    """The first stage whose tables depend on ``section.key``, or ``no``."""
    if section == "spark" or (section, key) in NO_EFFECT:
        return "no"
    flat = f"{section}.{key}"
    for stage, entries in STAGE_SETTINGS.items():
        if any(flat.startswith(e) if e.endswith(".") else flat == e for e in entries):
            return stage
    return "every stage"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def settings_markdown(cfg: Config | None = None) -> str:
    """The text of ``docs/settings.md``: one table per section."""
    cfg = cfg or Config()
    out = [_MD_HEADER.rstrip("\n")]
    for name, section in _sections(cfg):
        out += ["", f"## [{name}]", "", _summary(section), "",
                "| Setting | Default | Accepts | Recorded by | What it does |",
                "|---|---|---|---|---|"]
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            shown = "{}" if isinstance(value, Mapping) else _toml_value(value)
            out.append(f"| `{f.name}` | `{_cell(shown)}` | {_cell(_allowed(f))} | "
                       f"{recorded_by(name, f.name)} | {_cell(f.metadata['help'])} |")
    spark_keys = " and ".join(f"`{key}`" for key in SPARK_RESULT_SETTINGS)
    out += ["", "Spark settings that change results although they are not settings of this "
            "tool (they can come from `spark-submit --conf` too), recorded by the tokenize "
            f"stage: {spark_keys} (how the input is cut into partitions, which numbers its "
            "lines)."]
    return "\n".join(out) + "\n"


def rendered() -> dict[Path, str]:
    """Every generated file (relative to :data:`ROOT`) with the text it must hold."""
    return {DEFAULT_TOML: default_toml(), SETTINGS_MD: settings_markdown()}


def main(argv: list[str] | None = None) -> int:
    """Rewrite the generated files under ``argv[0]`` (default :data:`ROOT`)."""
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else ROOT
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for rel, text in rendered().items():
        (root / rel).write_text(text, encoding="utf-8")
        log.info("wrote %s", root / rel)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
