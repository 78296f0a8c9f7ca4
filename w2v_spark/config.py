"""Typed, frozen configuration: one dataclass per TOML section.

Defaults follow gensim's skip-gram defaults where the idea is the same. Each setting is
declared once, with its default, its one-line help and its range
(:func:`~w2v_spark.config_fields.setting`); ``conf/default.toml`` and ``docs/settings.md`` are
generated from these declarations (:mod:`w2v_spark.settings_docs`, checked by a test). The
configuration is loaded from TOML files and ``section.key=value`` overrides by
:mod:`w2v_spark.config_loading`. Unknown sections or keys, wrong types and out-of-range values
raise :class:`ConfigError` with a message naming what is valid.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from w2v_spark.config_fields import Bounds, check, check_fields, setting
from w2v_spark.errors import ConfigError

INPUT_FORMATS = ("text", "events", "baskets")
TABLE_FORMATS = ("csv", "parquet", "table")
MERGE_MODES = ("mean", "sum", "average")
STRATEGIES = ("auto", "merge", "blocks")

#: Largest int32: word ids are int32, and the settings that count words or pairs stay within it.
INT32_MAX = 2**31 - 1

#: Seeds are hashed as uint64 and fed to ``numpy.random.SeedSequence``; keeping them within
#: uint32 leaves room in both.
SEED_MAX = 2**32 - 1

#: The forms ``[spark] master`` accepts, as listed in error messages.
#: The levels of Spark's log (``SparkContext.setLogLevel``).
SPARK_LOG_LEVELS = ("OFF", "FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE", "ALL")

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


@dataclass(frozen=True)
class InputConfig:
    """How the corpus is read: text lines, an events table, or basket lines."""

    format: str = setting(
        "text", "text: lines of text, one sentence per line (long lines are cut); events: a "
        "table of (sequence, item, ordering) rows; baskets: lines of items split by "
        "`separator`", choices=INPUT_FORMATS)
    table_format: str = setting(
        "csv", "events: csv or parquet files; any format: table, --input names a Spark SQL "
        "table (of events, or of one string column of lines for text and baskets)",
        choices=TABLE_FORMATS)
    header: bool = setting(True, "events CSV: the first line names the columns")
    csv_delimiter: str = setting(",", "events CSV: the field delimiter (one character)")
    sequence_col: str = setting("sequence_id", "events: the user, session or playlist column")
    item_col: str = setting("item", "events: the item column (items are strings in every "
                            "table)")
    order_col: str = setting("timestamp", "events: the ordering column: numbers, "
                             "timestamps/dates, or strings of either")
    separator: str = setting(" ", "baskets: between the items of a line")
    session_gap: float = setting(
        0.0, "events: split a sequence where consecutive events are further apart than this, "
        "in the ordering column's units (seconds for timestamps)",
        bounds=Bounds(0, note="(0 = no sessions)"))

    def __post_init__(self) -> None:
        check_fields("input", self)
        check(len(self.csv_delimiter) == 1, "input", "csv_delimiter",
               "must be one character", self.csv_delimiter)
        check(self.separator != "", "input", "separator", "must not be empty", self.separator)
        for key in ("sequence_col", "item_col", "order_col"):
            value = getattr(self, key)
            check(value.strip() != "", "input", key, "must name a column", value)
        names = [self.sequence_col, self.item_col, self.order_col]
        check(len(set(names)) == 3, "input", "sequence_col/item_col/order_col",
               "must be three different columns", names)

    @property
    def is_items(self) -> bool:
        """Whether the input is item sequences (events or baskets) rather than text."""
        return self.format != "text"


@dataclass(frozen=True)
class TokenizeConfig:
    """How lines become tokens and sentences."""

    lowercase: bool = setting(True, "lowercase every token")
    token_pattern: str = setting(
        r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*|\d+",
        "a Python regular expression; every match is a token")
    max_sentence_length: int = setting(
        10_000, "longer lines are cut into chunks of this many tokens",
        bounds=Bounds(2, 10_000_000))
    max_token_length: int = setting(
        100, "a longer match (a base64 blob, a run of one letter) gets no vector; it stays as "
        "an empty placeholder and is counted as long_tokens", bounds=Bounds(1, 1_000_000))
    max_invalid_share: float = setting(
        0.05, "fail when more than this share of the input lines is not valid UTF-8",
        bounds=Bounds(0, 1, note="(1 = never fail)"))

    def __post_init__(self) -> None:
        try:
            compiled = re.compile(self.token_pattern)
        except re.error as exc:
            raise ConfigError(
                f"[tokenize] token_pattern = {self.token_pattern!r} is not a valid regular "
                f"expression: {exc}"
            ) from None
        check(
            compiled.search("") is None, "tokenize", "token_pattern",
            "must not match the empty string", self.token_pattern,
        )
        check_fields("tokenize", self)


@dataclass(frozen=True)
class VocabConfig:
    """Which words get vectors."""

    min_count: int = setting(5, "drop words seen fewer times", bounds=Bounds(1, INT32_MAX))
    max_vocab_size: int = setting(
        0, "keep only the most frequent N words", bounds=Bounds(0, INT32_MAX,
                                                                note="(0 = no limit)"))

    def __post_init__(self) -> None:
        check_fields("vocab", self)


@dataclass(frozen=True)
class PairsConfig:
    """Skip-gram pairs: the window and the subsampling of frequent words."""

    window: int = setting(
        5, "maximum window half-width; 0 pairs every item of a sentence with every other "
        "(item2vec's whole-sequence window)",
        bounds=Bounds(0, 100_000, note="(0 = the whole sentence)"))
    sample: float = setting(
        1e-3, "subsampling threshold of frequent words, as in word2vec",
        bounds=Bounds(0, 1, high_open=True, note="(0 disables subsampling)"))
    shrink_windows: bool = setting(
        True, "each center draws its half-width in 1..window, as gensim does (false: every "
        "center uses window)")

    def __post_init__(self) -> None:
        check_fields("pairs", self)


#: Highest task learning rate at which the minibatch kernel trained text8 stably with shuffled
#: pairs (``benchmarks/results/partitions-shuffled.md``): the next step up diverged.
STABLE_TASK_ALPHA = 0.2

#: The same with the pairs in table order (``shuffle_window = 0``).
STABLE_TASK_ALPHA_IN_ORDER = 0.075

#: With ``block_passes = 0`` the blocks strategy makes at least this many passes per epoch,
#: and at least :data:`MIN_SUB_ROUNDS` sub-rounds. A word meets each other block once per pass;
#: between two meetings both blocks move on with the others, and with one pass per epoch
#: quality falls with K (docs/design.md).
MIN_PASSES = 4
MIN_SUB_ROUNDS = 16

#: ``strategy = "auto"`` merges up to this many partitions and trains in blocks above: merging
#: is faster and at least as good with few partitions, and loses quality and then diverges as
#: they grow, while blocks keep it (benchmarks/RESULTS.md, "Training in vocabulary blocks").
AUTO_MERGE_PARTITIONS = 4


@dataclass(frozen=True)
class TrainConfig:
    """SGNS training.

    The pairs of every epoch are split into ``num_partitions`` slices for each of
    ``syncs_per_epoch`` rounds; after every round the partitions' models are merged
    (``merge``). A minibatch step without shared negatives holds ``(batch_size, negative + 1,
    vector_size)`` float32 arrays, hence the bound on ``batch_size``.
    """

    vector_size: int = setting(100, "dimensions of a vector", bounds=Bounds(1, 10_000))
    negative: int = setting(5, "negative samples per pair", bounds=Bounds(1, 1_000))
    ns_exponent: float = setting(
        0.75, "negatives are drawn from count ** ns_exponent (0 = uniform, 1 = unigram)",
        bounds=Bounds(-2, 2))
    alpha: float = setting(0.025, "initial learning rate, decays linearly to min_alpha over "
                           "the whole run", bounds=Bounds(0, 10, low_open=True))
    min_alpha: float = setting(0.0001, "the learning rate at the end of the run",
                               accepts="[0, alpha]")
    epochs: int = setting(5, "passes over the corpus", bounds=Bounds(1, 10_000))
    seed: int = setting(1, "seed of every random draw: the same seed, input and settings give "
                        "the same tables", bounds=Bounds(0, SEED_MAX))
    num_partitions: int = setting(2, "training tasks per sync round",
                                  bounds=Bounds(1, 100_000))
    syncs_per_epoch: int = setting(4, "model merges per epoch", bounds=Bounds(1, 10_000))
    batch_size: int = setting(512, "pairs per minibatch in the NumPy kernel",
                              bounds=Bounds(1, 100_000))
    shared_negatives: int = setting(
        64, "K > 0: the pairs of a minibatch share K negatives weighted negative / K; 0: "
        "every pair draws negative of its own",
        bounds=Bounds(0, 100_000, note="(0 = negative draws per pair)"))
    negative_groups: int = setting(
        1, "with shared_negatives: cut a minibatch into this many groups of pairs, each "
        "sharing negatives of its own", accepts="[1, batch_size]")
    shuffle_window: int = setting(
        1_000_000, "a task trains its pairs in random order within windows of this many "
        "pairs", bounds=Bounds(0, INT32_MAX, note="(0 = pairs in the order they were formed)"))
    row_cap: float = setting(
        128.0, "most gradient terms one vector takes from a minibatch: the summed update of a "
        "word that occurs more often in it (as a pair's word or, weighted, as a shared "
        "negative) is scaled down to this many", bounds=Bounds(0, note="(0 = no cap)"))
    strategy: str = setting(
        "auto", "merge: every task trains a copy of the whole model on its slice and the "
        "copies are merged after each sync round; blocks: the vocabulary is cut into "
        "num_partitions blocks and an epoch is block_passes x num_partitions sub-rounds in "
        "which each task trains one (input block, output block) stratum, no task holding "
        f"more than two blocks; auto: merge up to num_partitions = {AUTO_MERGE_PARTITIONS}, "
        "blocks above",
        choices=STRATEGIES)
    block_passes: int = setting(
        0, "blocks: passes over every stratum per epoch, each training a share of the "
        "stratum's pairs, so that a word meets the blocks in turn several times per epoch",
        bounds=Bounds(0, 1024, note=f"(0 = at least {MIN_PASSES}, and at least "
                                    f"{MIN_SUB_ROUNDS} sub-rounds per epoch; 1 with one "
                                    "block)"))
    merge: str = setting(
        "mean", "how a round's partitions are merged: mean change over the partitions "
        "(tasks train at num_partitions x alpha), sum of the changes, or average of the "
        "touched rows", choices=MERGE_MODES)
    keep_checkpoints: int = setting(
        0, "keep only the newest N round checkpoints",
        bounds=Bounds(0, 1_000_000, note="(0 keeps every round)"))

    def __post_init__(self) -> None:
        check_fields("train", self)
        check(
            0 <= self.min_alpha <= self.alpha, "train", "min_alpha",
            f"must be in [0, alpha={self.alpha}]", self.min_alpha,
        )
        check(
            1 <= self.negative_groups <= self.batch_size, "train", "negative_groups",
            f"must be in [1, batch_size={self.batch_size}]", self.negative_groups,
        )

    @property
    def blocks(self) -> bool:
        """Whether training runs in vocabulary blocks: ``strategy = "blocks"``, or ``"auto"``
        with more than :data:`AUTO_MERGE_PARTITIONS` partitions."""
        if self.strategy == "auto":
            return self.num_partitions > AUTO_MERGE_PARTITIONS
        return self.strategy == "blocks"

    @property
    def resolved_strategy(self) -> str:
        """The strategy training runs: ``"merge"`` or ``"blocks"``."""
        return "blocks" if self.blocks else "merge"

    @property
    def task_lr_scale(self) -> float:
        """Factor on the learning rate inside a training task (``num_partitions`` for mean)."""
        if self.blocks:
            return 1.0
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
            f"to {limit / self.task_lr_scale:.3g}, use fewer partitions, train in blocks "
            "(strategy = \"blocks\", which scales no learning rate), or merge = \"average\" "
            "(stable, but frequent words learn more slowly)"
        )

    @property
    def num_shards(self) -> int:
        """Slices of one epoch's pairs: one per partition per round (per stratum with
        ``strategy = "blocks"``)."""
        return self.num_partitions * self.rounds_per_epoch

    @property
    def rounds_per_epoch(self) -> int:
        """Training rounds of an epoch: ``syncs_per_epoch``, or with blocks
        ``num_partitions`` sub-rounds per pass, :attr:`passes` times."""
        if self.blocks:
            return self.num_partitions * self.passes
        return self.syncs_per_epoch

    @property
    def passes(self) -> int:
        """Passes of the blocks strategy over every stratum in one epoch: ``block_passes``,
        or with 0 :data:`MIN_PASSES`, more when that makes fewer than :data:`MIN_SUB_ROUNDS`
        sub-rounds (one with one block, which has nothing to interleave)."""
        if self.block_passes:
            return self.block_passes
        if self.num_partitions == 1:
            return 1
        return max(MIN_PASSES, -(-MIN_SUB_ROUNDS // self.num_partitions))


@dataclass(frozen=True)
class ItemsConfig:
    """What an items run (input format events or baskets) adds after the embeddings."""

    neighbors: int = setting(10, "similar items per item in the neighbors table",
                             bounds=Bounds(0, 100_000, note="(0 = none)"))
    recommendations: int = setting(10, "items per user in the recommendations table",
                                   bounds=Bounds(0, 100_000, note="(0 = none)"))
    recency_half_life: float = setting(
        0.0, "a user's item n events before the latest weighs 0.5 ** (n / this) in the user's "
        "vector", bounds=Bounds(0, note="(0 = no recency weighting)"))
    block_rows: int = setting(
        2048, "vectors per block when scoring all pairs of blocks in Spark; a task holds a "
        "(block_rows, block_rows) float64 score matrix", bounds=Bounds(1, 16_384))

    def __post_init__(self) -> None:
        check_fields("items", self)


@dataclass(frozen=True)
class SparkConfig:
    """The Spark session.

    ``master`` is checked against Spark's master URLs (:data:`SPARK_MASTERS`) so that a typo is
    an error before a JVM starts.
    """

    master: str = setting("", "a Spark master URL; empty: the one spark-submit gives, else "
                          "local[*]")
    app_name: str = setting("w2v_spark", "the Spark application's name")
    driver_memory: str = setting("4g", "the driver JVM's heap (spark.driver.memory) when "
                                 "w2v-spark starts the JVM itself")
    log_level: str = setting("WARN", "the level of Spark's own log: OFF, FATAL, ERROR, "
                             "WARN, INFO, DEBUG, TRACE or ALL; when w2v-spark starts "
                             "the JVM itself it applies from the start, so ERROR also hides "
                             "the warnings Spark prints while it starts")
    conf: Mapping[str, str] = setting({}, "any further spark.* settings, passed to the "
                                      "session builder")

    def __post_init__(self) -> None:
        check(
            _MASTER_PATTERN.fullmatch(self.master) is not None, "spark", "master",
            f"must be one of: {', '.join(SPARK_MASTERS)}", self.master,
        )
        bad = [k for k in self.conf if not k.startswith("spark.")]
        check(not bad, "spark", "conf", f"keys must start with 'spark.', got {bad}", bad)
        check(self.log_level in SPARK_LOG_LEVELS, "spark", "log_level",
              f"must be one of: {', '.join(SPARK_LOG_LEVELS)}", self.log_level)
        check(
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
