"""Typed, frozen configuration loaded from TOML files and ``section.key=value`` overrides.

Defaults follow gensim's skip-gram defaults where the idea is the same. ``conf/default.toml``
spells every default out; a test checks that it matches the dataclasses below.
Unknown sections or keys, wrong types and out-of-range values raise :class:`ConfigError`
with a message naming what is valid.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

import tomllib

from w2v_spark.errors import ConfigError

INPUT_FORMATS = ("text", "events", "baskets")
TABLE_FORMATS = ("csv", "parquet", "table")
MERGE_MODES = ("mean", "sum", "average")

#: Largest int32: word ids are int32, and the settings that count words or pairs stay within it.
INT32_MAX = 2**31 - 1

#: Seeds are hashed as uint64 and fed to ``numpy.random.SeedSequence``; keeping them within
#: uint32 leaves room in both.
SEED_MAX = 2**32 - 1

#: The forms ``[spark] master`` accepts, as listed in error messages.
SPARK_MASTERS = (
    '"" (spark-submit\'s master, else local[*])', "local", "local[N]", "local[*]",
    "local[N,F]", "local[*,F]", "local-cluster[N,C,M]",
    "spark://HOST:PORT (comma-separated HOST:PORT for standby masters)", "yarn", "k8s://URL",
    "mesos://URL",
)

_HOST_PORT = r"(?:[^\s,/:\[\]]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}"
_MASTER_PATTERN = re.compile(
    r"|local(?:\[(?:\*|[1-9]\d*)(?:\s*,\s*\d+)?\])?"
    r"|local-cluster\[\s*[1-9]\d*\s*,\s*[1-9]\d*\s*,\s*[1-9]\d*\s*\]"
    rf"|spark://{_HOST_PORT}(?:,{_HOST_PORT})*"
    r"|yarn|k8s://\S+|mesos://\S+"
)


def _show(value: object) -> str:
    """``repr(value)``, shortened in the middle when it is long (a 20-digit number stays)."""
    text = repr(value)
    if len(text) <= 60:
        return text
    return f"{text[:24]}...{text[-12:]} ({len(str(value))} characters)"


def _check(condition: bool, section: str, key: str, message: str, value: object) -> None:
    if not condition:
        raise ConfigError(f"[{section}] {key} = {_show(value)} is invalid: {message}")


def _check_int(section: str, key: str, value: int, low: int, high: int, note: str = "") -> None:
    """``low <= value <= high``, with the range (and ``note``, e.g. "(0 = none)") in the error."""
    suffix = f" {note}" if note else ""
    _check(low <= value <= high, section, key, f"must be in [{low}, {high}]{suffix}", value)


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
    _check(ok, section, key, f"{message} {note}" if note else message, value)


@dataclass(frozen=True)
class InputConfig:
    """How the corpus is read.

    ``format``: ``text`` (lines of text), ``events`` (a table with a sequence id, an item and an
    ordering column; ``table_format`` says whether ``--input`` is CSV, Parquet or the name of a
    Spark SQL table) or ``baskets`` (text lines of items split by ``separator``). With
    ``session_gap > 0`` an events sequence is split where consecutive events are further apart
    than that (in the ordering column's units: seconds for timestamps).
    """

    format: str = "text"
    table_format: str = "csv"
    header: bool = True
    csv_delimiter: str = ","
    sequence_col: str = "sequence_id"
    item_col: str = "item"
    order_col: str = "timestamp"
    separator: str = " "
    session_gap: float = 0.0

    def __post_init__(self) -> None:
        _check(
            self.format in INPUT_FORMATS, "input", "format",
            f"must be one of {', '.join(INPUT_FORMATS)}", self.format,
        )
        _check(
            self.table_format in TABLE_FORMATS, "input", "table_format",
            f"must be one of {', '.join(TABLE_FORMATS)}", self.table_format,
        )
        _check(len(self.csv_delimiter) == 1, "input", "csv_delimiter",
               "must be one character", self.csv_delimiter)
        _check(self.separator != "", "input", "separator", "must not be empty", self.separator)
        for key in ("sequence_col", "item_col", "order_col"):
            value = getattr(self, key)
            _check(value.strip() != "", "input", key, "must name a column", value)
        names = [self.sequence_col, self.item_col, self.order_col]
        _check(len(set(names)) == 3, "input", "sequence_col/item_col/order_col",
               "must be three different columns", names)
        _check_float("input", "session_gap", self.session_gap, 0, note="(0 = no sessions)")

    @property
    def is_items(self) -> bool:
        """Whether the input is item sequences (events or baskets) rather than text."""
        return self.format != "text"


@dataclass(frozen=True)
class TokenizeConfig:
    """How lines become tokens and sentences.

    ``token_pattern`` is a Python regular expression; every match is a token.
    Lines longer than ``max_sentence_length`` tokens are cut into chunks of that length.
    A match longer than ``max_token_length`` characters is not a word (a base64 blob, a run of
    one letter): it stays in the tokens table as an empty-string placeholder, gets no vector,
    and is counted as ``long_tokens`` in the run report.
    The tokenize stage fails when more than ``max_invalid_share`` of the input lines are not
    valid UTF-8 (1 = never fail).
    """

    lowercase: bool = True
    token_pattern: str = r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*|\d+"
    max_sentence_length: int = 10_000
    max_token_length: int = 100
    max_invalid_share: float = 0.05

    def __post_init__(self) -> None:
        try:
            compiled = re.compile(self.token_pattern)
        except re.error as exc:
            raise ConfigError(
                f"[tokenize] token_pattern = {self.token_pattern!r} is not a valid regular "
                f"expression: {exc}"
            ) from None
        _check(
            compiled.search("") is None, "tokenize", "token_pattern",
            "must not match the empty string", self.token_pattern,
        )
        _check_int("tokenize", "max_sentence_length", self.max_sentence_length, 2, 10_000_000)
        _check_int("tokenize", "max_token_length", self.max_token_length, 1, 1_000_000)
        _check_float("tokenize", "max_invalid_share", self.max_invalid_share, 0, 1,
                     note="(1 = never fail)")


@dataclass(frozen=True)
class VocabConfig:
    """Which words get vectors: at least ``min_count`` occurrences, the
    ``max_vocab_size`` most frequent of those (0 means no limit)."""

    min_count: int = 5
    max_vocab_size: int = 0

    def __post_init__(self) -> None:
        _check_int("vocab", "min_count", self.min_count, 1, INT32_MAX)
        _check_int("vocab", "max_vocab_size", self.max_vocab_size, 0, INT32_MAX,
                   "(0 = no limit)")


@dataclass(frozen=True)
class PairsConfig:
    """Skip-gram pair generation: maximum window half-width and subsampling threshold.

    ``window = 0`` pairs every item of a sentence with every other (item2vec's whole-sequence
    window). With ``shrink_windows`` (as in gensim) each center draws its half-width in
    ``1..window``; without, every center uses ``window``.
    """

    window: int = 5
    sample: float = 1e-3
    shrink_windows: bool = True

    def __post_init__(self) -> None:
        _check_int("pairs", "window", self.window, 0, 100_000, "(0 = the whole sentence)")
        _check_float("pairs", "sample", self.sample, 0, 1, high_open=True,
                     note="(0 disables subsampling)")


#: Highest task learning rate at which the minibatch kernel trained text8 stably with shuffled
#: pairs (benchmarks/RESULTS.md, sections ``partitions-shuffled`` and
#: ``partitions-text8-shuffled``): 0.2 (8 partitions with ``mean``) held, 0.4 (16) diverged.
STABLE_TASK_ALPHA = 0.2

#: The same with the pairs in table order (``shuffle_window = 0``): 0.07 held, 0.1 diverged.
STABLE_TASK_ALPHA_IN_ORDER = 0.075


@dataclass(frozen=True)
class TrainConfig:
    """SGNS training.

    The pairs of every epoch are split into ``num_partitions`` slices for each of
    ``syncs_per_epoch`` rounds; after every round the partitions' models are merged
    (``merge``: ``mean`` change over all partitions, each partition training at
    ``num_partitions`` times the learning rate; ``sum`` of the changes; or ``average`` of the
    touched rows). With ``shared_negatives = K > 0`` the pairs of a minibatch are cut into
    ``negative_groups`` groups, each sharing K negative draws weighted ``negative / K``; 0 draws
    ``negative`` per pair. A task trains its pairs in a random order within consecutive windows
    of ``shuffle_window`` pairs (0 = in the order they were formed, sentence by sentence).

    Every number has a finite range. ``batch_size`` is at most 100000: a minibatch step
    without shared negatives holds ``(batch_size, negative + 1, vector_size)`` float32 arrays,
    240 MB each at the largest batch with the default ``negative`` and ``vector_size``.
    """

    vector_size: int = 100
    negative: int = 5
    ns_exponent: float = 0.75
    alpha: float = 0.025
    min_alpha: float = 0.0001
    epochs: int = 5
    seed: int = 1
    num_partitions: int = 2
    syncs_per_epoch: int = 4
    batch_size: int = 512
    shared_negatives: int = 64
    negative_groups: int = 1
    shuffle_window: int = 1_000_000
    merge: str = "mean"
    keep_checkpoints: int = 0

    def __post_init__(self) -> None:
        _check_int("train", "vector_size", self.vector_size, 1, 10_000)
        _check_int("train", "negative", self.negative, 1, 1_000)
        _check_float("train", "ns_exponent", self.ns_exponent, -2, 2)
        _check_float("train", "alpha", self.alpha, 0, 10, low_open=True)
        _check(
            0 <= self.min_alpha <= self.alpha, "train", "min_alpha",
            f"must be in [0, alpha={self.alpha}]", self.min_alpha,
        )
        _check_int("train", "epochs", self.epochs, 1, 10_000)
        _check_int("train", "seed", self.seed, 0, SEED_MAX)
        _check_int("train", "num_partitions", self.num_partitions, 1, 100_000)
        _check_int("train", "syncs_per_epoch", self.syncs_per_epoch, 1, 10_000)
        _check_int("train", "batch_size", self.batch_size, 1, 100_000)
        _check_int("train", "shared_negatives", self.shared_negatives, 0, 100_000,
                   "(0 = negative draws per pair)")
        _check(
            1 <= self.negative_groups <= self.batch_size, "train", "negative_groups",
            f"must be in [1, batch_size={self.batch_size}]", self.negative_groups,
        )
        _check_int("train", "shuffle_window", self.shuffle_window, 0, INT32_MAX,
                   "(0 = pairs in the order they were formed)")
        _check(
            self.merge in MERGE_MODES, "train", "merge",
            f"must be one of {', '.join(MERGE_MODES)}", self.merge,
        )
        _check_int("train", "keep_checkpoints", self.keep_checkpoints, 0, 1_000_000,
                   "(0 keeps every round)")

    @property
    def task_lr_scale(self) -> float:
        """Factor on the learning rate inside a training task (``num_partitions`` for mean)."""
        return float(self.num_partitions) if self.merge == "mean" else 1.0

    def stability_warning(self) -> str | None:
        """Why these settings are likely to diverge, or None: a task learning rate
        (``alpha`` x :attr:`task_lr_scale`) above :data:`STABLE_TASK_ALPHA`, or above
        :data:`STABLE_TASK_ALPHA_IN_ORDER` when the pairs are not shuffled."""
        task_alpha = self.alpha * self.task_lr_scale
        limit = STABLE_TASK_ALPHA if self.shuffle_window else STABLE_TASK_ALPHA_IN_ORDER
        if task_alpha <= limit:
            return None
        shuffle = "" if self.shuffle_window else ", with the pairs in table order,"
        return (
            f"a training task starts at learning rate {task_alpha:g} (alpha={self.alpha:g} x "
            f"num_partitions={self.num_partitions} with merge = \"{self.merge}\"); above "
            f"{limit:g}{shuffle} training diverged in our measurements. Lower train.alpha "
            f"to {limit / self.task_lr_scale:.3g}, use fewer partitions, or "
            "merge = \"average\" (stable, but frequent words learn more slowly)"
        )

    @property
    def num_shards(self) -> int:
        """Slices of one epoch's pairs: one per partition per sync round."""
        return self.num_partitions * self.syncs_per_epoch


@dataclass(frozen=True)
class ItemsConfig:
    """What an items run (``[input] format = events | baskets``) adds after the embeddings.

    ``neighbors``: similar items per item in the neighbors table (0 = no table).
    ``recommendations``: items per user in the recommendations table (0 = no user tables).
    ``recency_half_life``: a user's item ``n`` events before the latest weighs ``0.5 ** (n /
    recency_half_life)`` in the user's vector (0 = every item weighs the same).
    ``block_rows``: vectors per block when scoring all pairs of blocks in Spark; a task holds a
    ``(block_rows, block_rows)`` float64 score matrix, 2 GiB at the largest allowed, 16384.
    """

    neighbors: int = 10
    recommendations: int = 10
    recency_half_life: float = 0.0
    block_rows: int = 2048

    def __post_init__(self) -> None:
        _check_int("items", "neighbors", self.neighbors, 0, 100_000, "(0 = none)")
        _check_int("items", "recommendations", self.recommendations, 0, 100_000, "(0 = none)")
        _check_float("items", "recency_half_life", self.recency_half_life, 0,
                     note="(0 = no recency weighting)")
        _check_int("items", "block_rows", self.block_rows, 1, 16_384)


@dataclass(frozen=True)
class SparkConfig:
    """The Spark session. An empty ``master`` means: the one spark-submit gives, else
    ``local[*]``; otherwise it is one of Spark's master URLs (:data:`SPARK_MASTERS`), checked
    here so that a typo is an error before a JVM starts. ``conf`` holds any further
    ``spark.*`` settings."""

    master: str = ""
    app_name: str = "w2v_spark"
    driver_memory: str = "4g"
    conf: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check(
            _MASTER_PATTERN.fullmatch(self.master) is not None, "spark", "master",
            f"must be one of: {', '.join(SPARK_MASTERS)}", self.master,
        )
        bad = [k for k in self.conf if not k.startswith("spark.")]
        _check(not bad, "spark", "conf", f"keys must start with 'spark.', got {bad}", bad)
        _check(
            re.fullmatch(r"\d+[kmgt]?", self.driver_memory.lower()) is not None,
            "spark", "driver_memory", "must look like '4g' or '512m'", self.driver_memory,
        )


@dataclass(frozen=True)
class Config:
    """The whole configuration, one frozen dataclass per TOML section."""

    input: InputConfig = field(default_factory=InputConfig)
    tokenize: TokenizeConfig = field(default_factory=TokenizeConfig)
    vocab: VocabConfig = field(default_factory=VocabConfig)
    pairs: PairsConfig = field(default_factory=PairsConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    items: ItemsConfig = field(default_factory=ItemsConfig)
    spark: SparkConfig = field(default_factory=SparkConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain nested dict (section -> key -> value), as in the TOML files."""
        out = dataclasses.asdict(self)
        out["spark"]["conf"] = dict(self.spark.conf)
        return out


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
                    f"[{section}] {key} = {_show(value)} is invalid: too large a number "
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
            f"[{section}] {name} = {_show(raw.strip())} is invalid: too many digits for a number"
        ) from None
    if section == "spark" and name == "conf" and len(parts) > 2:
        return {"spark": {"conf": {".".join(parts[2:]): str(value)}}}
    if len(parts) != 2:
        raise ConfigError(f"override {text!r} must look like section.key=value")
    return {section: {name: value}}


def read_toml(path: str | Path) -> dict[str, Any]:
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
    paths: Iterable[str | Path] = (), overrides: Iterable[str] = ()
) -> Config:
    """Defaults, then each TOML file in order, then each ``section.key=value`` override."""
    data: dict[str, Any] = {}
    for path in paths:
        data = _merge(data, read_toml(path))
    for text in overrides:
        data = _merge(data, parse_override(text))
    return config_from_dict(data)
