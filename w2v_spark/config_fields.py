"""How a setting is declared and checked: :func:`setting` (its default, one-line help and
:class:`Bounds` or choices), :func:`help_of`, and the checks that raise
:class:`~w2v_spark.errors.ConfigError` naming the section, the key, the value and what is valid.

The settings themselves are declared in :mod:`w2v_spark.config`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from w2v_spark.errors import ConfigError


def show_value(value: object) -> str:
    """``repr(value)``, shortened in the middle when it is long (a 20-digit number stays)."""
    text = repr(value)
    if len(text) <= 60:
        return text
    return f"{text[:24]}...{text[-12:]} ({len(str(value))} characters)"


def check(condition: bool, section: str, key: str, message: str, value: object) -> None:
    """Unless ``condition``, raise ``[section] key = value is invalid: message``."""
    if not condition:
        raise ConfigError(f"[{section}] {key} = {show_value(value)} is invalid: {message}")


def _check_int(section: str, key: str, value: int, low: int, high: int, note: str = "") -> None:
    """``low <= value <= high``, with the range (and ``note``, e.g. "(0 = none)") in the error."""
    suffix = f" {note}" if note else ""
    check(low <= value <= high, section, key, f"must be in [{low}, {high}]{suffix}", value)


def _check_float(
    section: str, key: str, value: float, low: float, high: float | None = None, *,
    low_open: bool = False, high_open: bool = False, note: str = "",
) -> None:
    """A finite ``value`` within ``low`` and ``high`` (``None``: no upper bound other than
    being finite); ``low_open`` / ``high_open`` exclude the bound itself."""
    above = value > low if low_open else value >= low
    below = high is None or (value < high if high_open else value <= high)
    ok = math.isfinite(value) and above and below
    if high is None:
        message = f"must be a finite number {'>' if low_open else '>='} {low:g}"
    else:
        message = (f"must be in {'(' if low_open else '['}{low:g}, {high:g}"
                   f"{')' if high_open else ']'}")
    check(ok, section, key, f"{message} {note}" if note else message, value)


@dataclass(frozen=True)
class Bounds:
    """The range a number setting must lie in (``high = None``: any finite number above
    ``low``); ``note`` says what a special value means, e.g. "(0 = none)"."""

    low: float
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    note: str = ""

    def text(self) -> str:
        """The range as the docs write it."""
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {_number(self.low)}"
        return (f"{'(' if self.low_open else '['}{_number(self.low)}, {_number(self.high)}"
                f"{')' if self.high_open else ']'}")


def _number(value: float) -> str:
    """A bound as written in the docs: whole numbers in full, others as ``%g``."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def setting(default: Any, help: str, *, bounds: Bounds | None = None,
            choices: tuple[str, ...] | None = None, accepts: str | None = None) -> Any:
    """A config field with its one-line ``help`` (what ``conf/default.toml`` and
    ``docs/settings.md`` say of it, see :mod:`w2v_spark.settings_docs`) and the ``bounds`` or
    ``choices`` it is checked against; ``accepts`` is what the docs say it accepts when a check
    in ``__post_init__`` depends on other settings."""
    metadata = {"help": help, "bounds": bounds, "choices": choices, "accepts": accepts}
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def check_fields(section: str, obj: Any) -> None:
    """Check every field of a section against the ``bounds`` or ``choices`` it declares."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        choices = f.metadata.get("choices")
        bounds = f.metadata.get("bounds")
        if choices is not None:
            check(value in choices, section, f.name, f"must be one of {', '.join(choices)}",
                   value)
        elif bounds is not None and f.type == "int":
            assert bounds.high is not None
            _check_int(section, f.name, value, int(bounds.low), int(bounds.high), bounds.note)
        elif bounds is not None:
            _check_float(section, f.name, value, bounds.low, bounds.high,
                         low_open=bounds.low_open, high_open=bounds.high_open, note=bounds.note)


def help_of(cls: type, key: str) -> str:
    """The help of setting ``key`` of section class ``cls``."""
    return str(next(f for f in dataclasses.fields(cls) if f.name == key).metadata["help"])
