"""Stage 1: lines of text to sentences of tokens.

Each line is decoded as UTF-8 (invalid bytes become U+FFFD, which no default token matches),
optionally lowercased, and every match of ``token_pattern`` is a token. A line with more than
``max_sentence_length`` tokens is cut into consecutive chunks of at most that many tokens, so a
single-line corpus such as text8 trains like any other. Lines without tokens produce nothing.
A match longer than ``max_token_length`` characters becomes the placeholder
:data:`~w2v_spark.io.schemas.LONG_TOKEN` (the empty string, which no token pattern may match): it
keeps its place in the sentence, the vocabulary skips and counts it, and it never gets a vector.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from w2v_spark.config import Config, TokenizeConfig
from w2v_spark.errors import EmptyCorpusError, SchemaError
from w2v_spark.io import storage
from w2v_spark.io.inputs import check_invalid_share, read_lines, reading_input, split_conf
from w2v_spark.io.layout import RunPaths
from w2v_spark.io.schemas import LONG_TOKEN, TOKENS, TOKENS_ARROW, TOKENS_SCHEMA

#: Very long lines are scanned in pieces of about this many characters, cut at whitespace.
_PIECE_CHARS = 1 << 20
_OUT_ROWS = 512
_SPACE = re.compile(r"\s")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CorpusStats:
    """What the input held, for the run report."""

    lines: int
    blank_lines: int
    invalid_utf8_lines: int
    nul_lines: int = 0


def _pieces(text: str) -> Iterator[str]:
    """Cut ``text`` into pieces of about ``_PIECE_CHARS`` characters at whitespace."""
    start = 0
    n = len(text)
    while start < n:
        end = start + _PIECE_CHARS
        if end >= n:
            yield text[start:]
            return
        space = _SPACE.search(text, end)
        cut = n if space is None else space.start()
        yield text[start:cut]
        start = cut


def tokenize_text(text: str, pattern: re.Pattern[str], lowercase: bool, max_len: int,
                  max_token_length: int | None = None) -> Iterator[list[str]]:
    """The sentences of one line: lists of at most ``max_len`` tokens, in order; a token longer
    than ``max_token_length`` characters is replaced by the placeholder ``LONG_TOKEN``."""
    if lowercase:
        text = text.lower()
    current: list[str] = []
    for piece in _pieces(text):
        found = pattern.findall(piece)
        if max_token_length is not None:
            found = [t if len(t) <= max_token_length else LONG_TOKEN for t in found]
        current.extend(found)
        while len(current) >= max_len:
            yield current[:max_len]
            current = current[max_len:]
    if current:
        yield current


def _tokenize_batches(
    batches: Iterator[pa.RecordBatch], *, pattern: str, lowercase: bool, max_len: int,
    max_token_length: int | None = None,
) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: (line_id long, value binary) batches to TOKENS_SCHEMA batches."""
    rx = re.compile(pattern)
    line_ids: list[int] = []
    chunks: list[int] = []
    sentences: list[list[str]] = []

    def flush() -> pa.RecordBatch:
        batch = pa.RecordBatch.from_arrays(
            [
                pa.array(np.asarray(line_ids, dtype=np.int64)),
                pa.array(np.asarray(chunks, dtype=np.int32)),
                pa.array(sentences, type=TOKENS_ARROW.field("tokens").type),
            ],
            schema=TOKENS_ARROW,
        )
        line_ids.clear()
        chunks.clear()
        sentences.clear()
        return batch

    for batch in batches:
        ids = batch.column(0).to_pylist()
        values = batch.column(1).to_pylist()
        for line_id, raw in zip(ids, values, strict=True):
            if raw is None:
                continue
            text = raw.decode("utf-8", errors="replace")
            sentences_of_line = tokenize_text(text, rx, lowercase, max_len, max_token_length)
            for chunk, tokens in enumerate(sentences_of_line):
                line_ids.append(line_id)
                chunks.append(chunk)
                sentences.append(tokens)
                if len(sentences) >= _OUT_ROWS:
                    yield flush()
    if sentences:
        yield flush()


def tokenize_lines(lines: DataFrame, cfg: TokenizeConfig, partitions: int,
                   spread: bool = False) -> DataFrame:
    """Tokenize a DataFrame of text lines into the tokens table.

    Args:
        lines: one row per line, with a string or binary column ``value`` (as
            ``spark.read.text`` gives).
        cfg: tokenizer settings.
        partitions: number of partitions of the result (hashed by sentence, sorted within).
        spread: hash the numbered lines over ``partitions`` before tokenizing, so that an
            input of fewer partitions (one gzip file is one) is tokenized on every core. It
            pays for the shuffle of the text only with many lines (see :func:`should_spread`).

    Returns:
        A DataFrame with :data:`~w2v_spark.io.schemas.TOKENS_SCHEMA`: ``line_id`` numbers lines in
        input order, ``chunk`` numbers the pieces of a long line.
    """
    if "value" not in lines.columns:
        raise SchemaError(f"the lines DataFrame needs a 'value' column, got {lines.columns}")
    numbered = lines.select(
        F.monotonically_increasing_id().alias("line_id"),
        F.col("value").cast("binary").alias("value"),
    )
    if spread:
        numbered = numbered.repartition(partitions, "line_id")
    body = partial(
        _tokenize_batches,
        pattern=cfg.token_pattern,
        lowercase=cfg.lowercase,
        max_len=cfg.max_sentence_length,
        max_token_length=cfg.max_token_length,
    )
    tokens = numbered.mapInArrow(body, TOKENS_SCHEMA)
    return tokens.repartition(partitions, "line_id", "chunk").sortWithinPartitions(
        "line_id", "chunk"
    )


#: Lines per tokenizer partition below which spreading the input is not worth its shuffle.
SPREAD_MIN_LINES_PER_PARTITION = 64


def should_spread(lines: DataFrame, line_count: int, partitions: int) -> bool:
    """Whether :func:`tokenize_lines` should spread ``lines`` (``line_count`` of them).

    Yes when the input has fewer partitions than the tokenizer (a gzip file is one partition)
    and enough lines for the hash to share them out. Timed on 2 cores, spreading made tokenizing
    and writing text8 cut into one line per article faster, and the single-line text8 slower:
    the shuffle of its one very long row cost more than it saved.
    """
    if lines.rdd.getNumPartitions() >= partitions:
        return False
    return line_count >= SPREAD_MIN_LINES_PER_PARTITION * partitions


def corpus_stats(lines: DataFrame) -> CorpusStats:
    """Count lines, blank lines (empty or only whitespace, Unicode's included), lines that are
    not valid UTF-8 and lines holding NUL bytes (one pass, in Spark)."""
    value = F.col("value").cast("binary")
    text = F.col("value").cast("string")
    row = lines.select(
        F.count(F.lit(1)).alias("lines"),
        F.sum(F.when(text.rlike(r"(?U)^\s*$"), 1).otherwise(0)).alias("blank"),
        F.sum(F.when(~F.is_valid_utf8(value), 1).otherwise(0)).alias("invalid"),
        F.sum(F.when(F.instr(text, "\u0000") > 0, 1).otherwise(0)).alias("nul"),
    ).first()
    assert row is not None
    return CorpusStats(
        int(row["lines"]), int(row["blank"] or 0), int(row["invalid"] or 0),
        int(row["nul"] or 0),
    )


def write_tokens(spark: SparkSession, cfg: Config, paths: RunPaths, input_path: str,
                 found: dict[str, Any]) -> dict[str, Any]:
    """The tokenize stage for text: read the lines at ``input_path``, write the tokens table,
    return the stage's facts (``found`` is the input's fingerprint, recorded with them).

    Raises:
        EmptyCorpusError: the input has no lines, or no tokens. InputError: a file cannot be
            read, or more than ``[tokenize] max_invalid_share`` of its lines are not UTF-8.
    """
    started = time.perf_counter()
    lines = read_lines(spark, cfg.input, input_path)
    with reading_input():
        stats = corpus_stats(lines)
    if stats.lines == 0:
        raise EmptyCorpusError(f"the input {input_path} is empty: it has no lines")
    check_invalid_share(input_path, stats.lines, stats.invalid_utf8_lines,
                         cfg.tokenize.max_invalid_share)
    partitions = max(2 * cfg.train.num_partitions, 2)
    with split_conf(spark), reading_input():
        lines = read_lines(spark, cfg.input, input_path)
        spread = should_spread(lines, stats.lines, partitions)
        tokenize_lines(lines, cfg.tokenize, partitions, spread).write.mode("errorifexists").parquet(
            paths.table(TOKENS))
    tokens = storage.read_table(spark, paths.table(TOKENS), "tokens", TOKENS_SCHEMA)
    summary = tokens.select(
        F.count(F.lit(1)).alias("sentences"),
        F.sum(F.size("tokens")).alias("tokens"),
        F.sum(F.size(F.filter("tokens", lambda t: t == LONG_TOKEN))).alias("long_tokens"),
    ).first()
    assert summary is not None
    facts = {
        "input": input_path,
        **asdict(stats),
        "sentences": int(summary["sentences"]),
        "tokens": int(summary["tokens"] or 0),
        "long_tokens": int(summary["long_tokens"] or 0),
        "seconds": round(time.perf_counter() - started, 3),
        "input_fingerprint": found,
    }
    skipped = {k: facts[k] for k in ("blank_lines", "invalid_utf8_lines", "nul_lines",
                                     "long_tokens") if facts[k]}
    if skipped:
        log.info("[tokenize] skipped or repaired (see run.json): %s",
                 ", ".join(f"{k} {v:,}" for k, v in skipped.items()))
    if facts["tokens"] == 0:
        raise EmptyCorpusError(
            f"the input {input_path} has {stats.lines} lines but no tokens: every line is blank "
            "or has no match of [tokenize] token_pattern"
        )
    return facts
