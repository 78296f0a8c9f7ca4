"""Stage 1 for items: an events table or basket lines to ordered item sequences and tokens.

An events table has a sequence id (user, session, playlist), an item and an ordering column
(numbers, timestamps or dates, or strings of either). :func:`typed_events` gives every event
the same types (``sequence`` and ``item`` as strings, ``order`` as a double: seconds for
timestamps); :func:`event_sequences` orders each sequence's items by ``(order, item)`` (the
item breaks ties, so the order never depends on partitioning) and optionally cuts a sequence
into sessions where consecutive events are more than ``session_gap`` apart. Basket lines give
one sequence per line (:func:`basket_sequences`).

The sequences table keeps every sequence; :func:`sequence_tokens` turns those of at least two
items into the tokens table of the text pipeline (cut into chunks of ``max_sentence_length``),
so vocab, pairs, train and export run unchanged. Events with a null sequence id, item or order
value are skipped and counted (:func:`event_stats`); an order value that is neither a number
nor a timestamp is an error.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DataType,
    DateType,
    MapType,
    NumericType,
    StringType,
    StructType,
    TimestampNTZType,
    TimestampType,
)

from w2v_spark.config import Config, InputConfig
from w2v_spark.errors import EmptyCorpusError, SchemaError
from w2v_spark.io import storage
from w2v_spark.io.inputs import check_input, read_lines, reading_input
from w2v_spark.io.layout import RunPaths
from w2v_spark.io.schemas import SEQUENCES, TOKENS, TOKENS_SCHEMA
from w2v_spark.stages.tokenize import corpus_stats

_ROLES = (("sequence_col", "sequence id"), ("item_col", "item"), ("order_col", "ordering"))


@dataclass(frozen=True)
class EventStats:
    """What an events table held, for the run report: the rows, those with every value
    present, and the nulls of each column (a row can count in more than one)."""

    rows: int
    valid: int
    null_sequence: int
    null_item: int
    null_order: int
    invalid_order: int
    invalid_example: str | None

    @property
    def skipped(self) -> int:
        """Rows skipped for a null sequence id, item or order value."""
        return self.rows - self.valid


def _resolve(columns: list[str], wanted: str, key: str, role: str) -> str:
    """The column named ``wanted`` (case-insensitively, as Spark resolves names)."""
    if wanted in columns:
        return wanted
    folded = [c for c in columns if c.lower() == wanted.lower()]
    if len(folded) == 1:
        return folded[0]
    raise SchemaError(
        f"the events table has no {role} column {wanted!r} ([input] {key}); its columns are "
        f"{', '.join(columns) or '(none)'}; name the right one with --set input.{key}=NAME"
        + _delimiter_hint(columns)
    )


#: Characters that separate the fields of a CSV file when the comma does not.
_OTHER_DELIMITERS = (";", "\t", "|", "\x1f")


def _delimiter_hint(columns: list[str]) -> str:
    """A hint when a CSV file was read with the wrong delimiter: its one column's name holds
    another delimiter (``user;item;ts``)."""
    if len(columns) != 1:
        return ""
    for delimiter in _OTHER_DELIMITERS:
        char = delimiter.encode().decode("unicode_escape")
        if char in columns[0]:
            return (f". The file has one column, {columns[0]!r}: its fields look separated by "
                    f"{delimiter!r}: if so, set [input] csv_delimiter = \"{delimiter}\"")
    return ""


def _is_atomic(dtype: DataType) -> bool:
    return not isinstance(dtype, ArrayType | MapType | StructType)


def _order_seconds(col: Column, dtype: DataType, name: str) -> Column:
    """The ordering column as a double: numbers as they are, timestamps and dates in seconds,
    strings parsed as a number or else as a timestamp (null when neither)."""
    if isinstance(dtype, NumericType):
        return col.cast("double")
    if isinstance(dtype, TimestampType | TimestampNTZType):
        return F.unix_micros(col.cast("timestamp")).cast("double") / 1e6
    if isinstance(dtype, DateType):
        return F.unix_date(col).cast("double") * 86400.0
    if isinstance(dtype, StringType):
        text = F.trim(col)
        stamp = F.unix_micros(text.try_cast("timestamp")).cast("double") / 1e6
        return F.coalesce(text.try_cast("double"), stamp)
    raise SchemaError(
        f"the ordering column {name!r} ([input] order_col) has type {dtype.simpleString()}; it "
        "must hold numbers (positions or epoch times), timestamps or dates, or strings of them"
    )


def typed_events(raw: DataFrame, cfg: InputConfig) -> DataFrame:
    """The events with one set of types.

    Args:
        raw: the events table as read; it must have the three columns named in ``cfg``.
        cfg: the input settings (column names).

    Returns:
        ``sequence string, item string, order double, order_text string`` (nulls kept;
        ``order`` is null where ``order_text`` is not a number or timestamp).
    """
    names = {key: _resolve(raw.columns, getattr(cfg, key), key, role) for key, role in _ROLES}
    types = {f.name: f.dataType for f in raw.schema.fields}
    for key, role in _ROLES[:2]:
        dtype = types[names[key]]
        if not _is_atomic(dtype) or isinstance(dtype, BooleanType):
            raise SchemaError(
                f"the {role} column {names[key]!r} ([input] {key}) has type "
                f"{dtype.simpleString()}; it must hold strings or numbers"
            )
    order = F.col(names["order_col"])
    return raw.select(
        F.col(names["sequence_col"]).cast("string").alias("sequence"),
        F.col(names["item_col"]).cast("string").alias("item"),
        _order_seconds(order, types[names["order_col"]], names["order_col"]).alias("order"),
        order.cast("string").alias("order_text"),
    )


def event_stats(typed: DataFrame) -> EventStats:
    """Count the rows and the rows with null or unreadable values (one pass, in Spark)."""
    bad = F.col("order").isNull() & F.col("order_text").isNotNull()
    row = typed.select(
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.col("sequence").isNull().cast("long")).alias("null_sequence"),
        F.sum(F.col("item").isNull().cast("long")).alias("null_item"),
        F.sum(F.col("order_text").isNull().cast("long")).alias("null_order"),
        F.sum(bad.cast("long")).alias("invalid"),
        F.first(F.when(bad, F.col("order_text")), ignorenulls=True).alias("example"),
        F.sum(_valid(typed).cast("long")).alias("valid"),
    ).first()
    assert row is not None
    return EventStats(
        rows=int(row["rows"]),
        valid=int(row["valid"] or 0),
        null_sequence=int(row["null_sequence"] or 0),
        null_item=int(row["null_item"] or 0),
        null_order=int(row["null_order"] or 0),
        invalid_order=int(row["invalid"] or 0),
        invalid_example=row["example"],
    )


def check_order_values(stats: EventStats, order_col: str) -> None:
    """Refuse an ordering column with values that are neither numbers nor timestamps."""
    if stats.invalid_order:
        raise SchemaError(
            f"the ordering column {order_col!r} ([input] order_col) has {stats.invalid_order} "
            f"value(s) that are neither numbers nor timestamps, e.g. {stats.invalid_example!r}; "
            "point order_col at a timestamp or position column, or clean those rows"
        )


def _valid(typed: DataFrame) -> Column:
    return (
        F.col("sequence").isNotNull() & F.col("item").isNotNull() & F.col("order").isNotNull()
    )


def event_sequences(typed: DataFrame, session_gap: float = 0.0) -> DataFrame:
    """Group valid events into ordered sequences, split into sessions at gaps.

    Args:
        typed: the output of :func:`typed_events`; rows with a null value are skipped.
        session_gap: a new session starts after a gap of more than this in ``order``
            (0 = one session per sequence).

    Returns:
        :data:`~w2v_spark.io.schemas.SEQUENCES_SCHEMA` rows: items ordered by ``(order, item)``;
        ``session`` numbers the sessions of a sequence from 0; ``line_id`` is a hash of
        ``(sequence, session)``.
    """
    events = typed.where(_valid(typed)).select("sequence", "item", "order")
    if session_gap > 0:
        by_time = Window.partitionBy("sequence").orderBy("order", "item")
        gap = F.col("order") - F.lag("order").over(by_time)
        starts = F.coalesce((gap > F.lit(float(session_gap))).cast("int"), F.lit(0))
        events = events.withColumn("starts", starts).withColumn(
            "session",
            F.sum("starts").over(by_time.rowsBetween(Window.unboundedPreceding, 0)).cast("int"),
        )
    else:
        events = events.withColumn("session", F.lit(0))
    grouped = events.groupBy("sequence", "session").agg(
        F.array_sort(F.collect_list(F.struct("order", "item"))).alias("events")
    )
    return grouped.select(
        F.col("sequence"),
        F.col("session").cast("int").alias("session"),
        F.xxhash64("sequence", "session").alias("line_id"),
        F.transform("events", lambda e: e["item"]).alias("items"),
    )


def basket_sequences(lines: DataFrame, separator: str) -> DataFrame:
    """One sequence per basket line: the items between ``separator``, trimmed, empty ones
    (from repeated or trailing separators) left out, in line order.

    Args:
        lines: one row per line with a string column ``value`` (``spark.read.text``).
        separator: the literal string between items.

    Returns:
        :data:`~w2v_spark.io.schemas.SEQUENCES_SCHEMA` rows; ``sequence`` is the basket's
        ``line_id`` as a string; lines without items give no row.
    """
    if "value" not in lines.columns:
        raise SchemaError(f"the lines DataFrame needs a 'value' column, got {lines.columns}")
    parts = F.split(F.col("value").cast("string"), re.escape(separator))
    items = F.filter(F.transform(parts, lambda x: F.trim(x)), lambda x: x != "")
    numbered = lines.select(
        F.monotonically_increasing_id().alias("line_id"), items.alias("items")
    )
    return numbered.where(F.size("items") > 0).select(
        F.col("line_id").cast("string").alias("sequence"),
        F.lit(0).cast("int").alias("session"),
        F.col("line_id"),
        F.col("items"),
    )


def sequence_tokens(sequences: DataFrame, max_len: int, partitions: int) -> DataFrame:
    """The tokens table of the sequences with at least two items, long ones cut into
    consecutive chunks of at most ``max_len`` items.

    Returns:
        :data:`~w2v_spark.io.schemas.TOKENS_SCHEMA` rows, hashed by ``(line_id, chunk)`` into
        ``partitions`` partitions and sorted within them.
    """
    usable = sequences.where(F.size("items") >= 2)
    chunks = F.explode(F.sequence(F.lit(0), F.floor((F.size("items") - 1) / max_len).cast("int")))
    exploded = usable.select("line_id", "items", chunks.alias("chunk"))
    tokens = exploded.select(
        F.col("line_id"),
        F.col("chunk").cast("int").alias("chunk"),
        F.slice("items", F.col("chunk") * max_len + 1, max_len).alias("tokens"),
    )
    ordered = tokens.select(*TOKENS_SCHEMA.fieldNames())
    return ordered.repartition(partitions, "line_id", "chunk").sortWithinPartitions(
        "line_id", "chunk"
    )


def sequence_stats(sequences: DataFrame) -> dict[str, int]:
    """Sequences, those of a single item (not trained on), and events in them."""
    row = sequences.select(
        F.count(F.lit(1)).alias("sequences"),
        F.sum((F.size("items") < 2).cast("long")).alias("single_item_sequences"),
        F.sum(F.size("items")).alias("events"),
        F.countDistinct("sequence").alias("distinct_sequences"),
    ).first()
    assert row is not None
    return {k: int(row[k] or 0) for k in
            ("sequences", "single_item_sequences", "events", "distinct_sequences")}


# ---------------------------------------------------------------------------------------------
# the tokenize stage of an items run


def read_events(spark: SparkSession, cfg: Config, input_path: str) -> DataFrame:
    """The events table at ``input_path`` (CSV, Parquet, or a Spark SQL table's name)."""
    icfg = cfg.input
    check_input(spark, icfg, input_path)
    if icfg.table_format == "table":
        return spark.table(input_path)
    if icfg.table_format == "parquet":
        return spark.read.parquet(input_path)
    return (
        spark.read.option("header", str(icfg.header).lower())
        .option("sep", icfg.csv_delimiter)
        .option("inferSchema", "false")
        .csv(input_path)
    )


def read_event_sequences(spark: SparkSession, cfg: Config, input_path: str
                     ) -> tuple[DataFrame, dict[str, Any]]:
    raw = read_events(spark, cfg, input_path)
    if not raw.columns:
        raise EmptyCorpusError(f"the input {input_path} is empty: it has no columns or rows")
    typed = typed_events(raw, cfg.input)
    stats = event_stats(typed)
    if stats.rows == 0:
        raise EmptyCorpusError(f"the input {input_path} is empty: it has no rows")
    check_order_values(stats, cfg.input.order_col)
    if stats.valid == 0:
        raise EmptyCorpusError(
            f"every one of the {stats.rows} rows of {input_path} has a null sequence id "
            f"({stats.null_sequence}), item ({stats.null_item}) or order value "
            f"({stats.null_order}); check [input] sequence_col, item_col and order_col"
        )
    facts = {
        "input": input_path,
        "rows": stats.rows,
        "skipped_null_rows": stats.skipped,
        "null_sequence_ids": stats.null_sequence,
        "null_items": stats.null_item,
        "null_order_values": stats.null_order,
    }
    return event_sequences(typed, cfg.input.session_gap), facts


def read_basket_sequences(spark: SparkSession, cfg: Config, input_path: str
                      ) -> tuple[DataFrame, dict[str, Any]]:
    check_input(spark, cfg.input, input_path)
    lines = read_lines(spark, cfg.input, input_path)
    stats = corpus_stats(lines)
    if stats.lines == 0:
        raise EmptyCorpusError(f"the input {input_path} is empty: it has no lines")
    return basket_sequences(lines, cfg.input.separator), {"input": input_path, **asdict(stats)}


def write_item_tokens(spark: SparkSession, cfg: Config, paths: RunPaths, input_path: str,
                      found: dict[str, Any]) -> dict[str, Any]:
    """The tokenize stage for items: read events or baskets, write the sequences table (every
    sequence, ordered) and the tokens table (the sequences of two or more items, in chunks),
    return the stage's facts. A Spark SQL table as input is fingerprinted by its name only."""
    started = time.perf_counter()
    with reading_input():
        if cfg.input.format == "baskets":
            sequences, facts = read_basket_sequences(spark, cfg, input_path)
        else:
            sequences, facts = read_event_sequences(spark, cfg, input_path)
        sequences.write.mode("errorifexists").parquet(paths.table(SEQUENCES))
    written = storage.read_table(spark, paths.table(SEQUENCES), "sequences")
    facts.update(sequence_stats(written))
    partitions = max(2 * cfg.train.num_partitions, 2)
    sequence_tokens(written, cfg.tokenize.max_sentence_length, partitions).write.mode(
        "errorifexists").parquet(paths.table(TOKENS))
    tokens = storage.read_table(spark, paths.table(TOKENS), "tokens")
    summary = tokens.select(
        F.count(F.lit(1)).alias("sentences"), F.sum(F.size("tokens")).alias("tokens")
    ).first()
    assert summary is not None
    facts.update(
        sentences=int(summary["sentences"]),
        tokens=int(summary["tokens"] or 0),
        seconds=round(time.perf_counter() - started, 3),
        input_fingerprint=found,
    )
    if facts["tokens"] == 0:
        raise EmptyCorpusError(
            f"no sequence of {input_path} has two or more items ({facts['sequences']} "
            "sequences of one item): there are no pairs to learn from"
            + ("; [input] session_gap may be too small" if cfg.input.session_gap else "")
        )
    return facts
