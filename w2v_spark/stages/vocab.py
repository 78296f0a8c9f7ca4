"""Stage 2: the vocabulary, counted across the cluster."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from w2v_spark.config import VocabConfig
from w2v_spark.errors import EmptyCorpusError, EmptyVocabularyError, SchemaError
from w2v_spark.io import storage
from w2v_spark.io.layout import RunPaths
from w2v_spark.io.schemas import (
    LONG_TOKEN,
    TOKENS,
    TOKENS_SCHEMA,
    VOCAB,
    VOCAB_OFFSETS_SCHEMA,
    VOCAB_SCHEMA,
)


def _words(tokens: DataFrame) -> DataFrame:
    """One ``word`` row per token, without the placeholders of over-long tokens."""
    return tokens.select(F.explode("tokens").alias("word")).where(F.col("word") != LONG_TOKEN)


def count_vocab(tokens: DataFrame, cfg: VocabConfig) -> DataFrame:
    """Count words and keep those with at least ``min_count`` occurrences (placeholders of
    tokens longer than ``[tokenize] max_token_length`` are not words).

    Ids run from 0 by descending count, ties broken by the word, so the same tokens give the
    same table. Runs one Spark job (the number of words of each count); evaluating the result
    counts the tokens again. :func:`counted_vocab` caches the counts for the time of a block
    instead. With ``max_vocab_size > 0`` only that many of the most frequent words remain.

    Args:
        tokens: the tokens table (a ``tokens`` array<string> column).
        cfg: vocabulary settings.

    Returns:
        A DataFrame with :data:`~w2v_spark.io.schemas.VOCAB_SCHEMA`, ordered by ``word_id``.
    """
    return _numbered(_counts(tokens, cfg), cfg)


@contextmanager
def counted_vocab(tokens: DataFrame, cfg: VocabConfig) -> Iterator[DataFrame]:
    """:func:`count_vocab` with the counts (V rows) cached while the block runs, so that
    numbering the words and writing the table count the tokens once; the cache is released
    when the block ends, also on an error, and takes no memory from the later stages."""
    counts = _counts(tokens, cfg).cache()
    try:
        yield _numbered(counts, cfg)
    finally:
        counts.unpersist()


def _counts(tokens: DataFrame, cfg: VocabConfig) -> DataFrame:
    """(word, count) of the words with at least ``min_count`` occurrences."""
    return (
        _words(tokens)
        .groupBy("word")
        .agg(F.count(F.lit(1)).cast("long").alias("count"))
        .where(F.col("count") >= cfg.min_count)
    )


def _numbered(counts: DataFrame, cfg: VocabConfig) -> DataFrame:
    """The (word, count) rows with their ids, as :func:`count_vocab` describes."""
    # A word's id is the number of words with a higher count plus its rank by word among the
    # words of its own count: the first from the few distinct counts (a running sum on the
    # driver), the second from a window per count, so no window holds the whole vocabulary
    # in one partition.
    per_count = counts.groupBy("count").agg(F.count(F.lit(1)).alias("words")).collect()
    before, offsets = 0, []
    for row in sorted(per_count, key=lambda r: -int(r["count"])):
        offsets.append((int(row["count"]), before))
        before += int(row["words"])
    offset_table = counts.sparkSession.createDataFrame(offsets, VOCAB_OFFSETS_SCHEMA)
    by_word = Window.partitionBy("count").orderBy(F.col("word").asc())
    ranked = counts.join(F.broadcast(offset_table), "count").withColumn(
        "word_id", (F.col("before") + F.row_number().over(by_word) - 1).cast("int")
    )
    if cfg.max_vocab_size > 0:
        ranked = ranked.where(F.col("word_id") < cfg.max_vocab_size)
    return ranked.select(
        [F.col(f.name).cast(f.dataType).alias(f.name) for f in VOCAB_SCHEMA.fields]
    ).orderBy("word_id")


def check_vocab(tokens: DataFrame, vocab: DataFrame, cfg: VocabConfig) -> int:
    """Size of the vocabulary; raise a clear error when it (or the corpus) is empty."""
    size = vocab.count()
    if size > 0:
        return size
    stats = _words(tokens).groupBy("word").count().agg(
        F.count(F.lit(1)).alias("types"), F.max("count").alias("top")
    ).first()
    types = int(stats["types"]) if stats is not None else 0
    if stats is None or types == 0:
        raise EmptyCorpusError(
            "the corpus has no tokens that can be words: every line is empty, has no match of "
            "[tokenize] token_pattern, or only matches longer than [tokenize] max_token_length"
        )
    raise EmptyVocabularyError(
        f"no word occurs at least min_count={cfg.min_count} times: the corpus has {types} "
        f"distinct words and the most frequent occurs {int(stats['top'])} times; lower "
        "[vocab] min_count (e.g. --set vocab.min_count=1) or use a larger corpus"
    )


@dataclass(frozen=True)
class Vocabulary:
    """The vocabulary on the driver: ``words`` (V,) in id order and their ``counts`` (V,)."""

    words: pa.Array
    counts: np.ndarray

    @classmethod
    def from_table(cls, vocab: DataFrame) -> Vocabulary:
        """Collect a vocab table (small enough to broadcast by design)."""
        missing = {"word", "word_id", "count"} - set(vocab.columns)
        if missing:
            raise SchemaError(f"the vocab table lacks column(s) {sorted(missing)}")
        table = vocab.select("word", "word_id", "count").toArrow().sort_by("word_id")
        ids = table.column("word_id").to_numpy()
        if not np.array_equal(ids, np.arange(ids.size)):
            raise SchemaError("the vocab table's word_id column is not 0..V-1")
        return cls(
            words=table.column("word").combine_chunks(),
            counts=table.column("count").to_numpy().astype(np.int64),
        )

    def __len__(self) -> int:
        return int(self.counts.size)


def read_vocabulary(spark: SparkSession, paths: RunPaths) -> Vocabulary:
    """The vocab table of a run, collected (see :meth:`Vocabulary.from_table`)."""
    return Vocabulary.from_table(
        storage.read_table(spark, paths.table(VOCAB), "vocab", VOCAB_SCHEMA)
    )


def write_vocab(spark: SparkSession, cfg: VocabConfig, paths: RunPaths) -> dict[str, Any]:
    """The vocab stage: count the tokens table's words, write the vocab table, return the
    stage's facts."""
    started = time.perf_counter()
    tokens = storage.read_table(spark, paths.table(TOKENS), "tokens", TOKENS_SCHEMA)
    with counted_vocab(tokens, cfg) as vocab:
        size = check_vocab(tokens, vocab, cfg)
        vocab.coalesce(1).write.mode("errorifexists").parquet(paths.table(VOCAB))
    written = storage.read_table(spark, paths.table(VOCAB), "vocab", VOCAB_SCHEMA)
    total = written.select(F.sum("count")).first()
    return {
        "words": size,
        "retained_tokens": int(total[0]) if total and total[0] is not None else 0,
        "seconds": round(time.perf_counter() - started, 3),
    }
