"""Stage 3: skip-gram pairs for one epoch, from the tokens and the vocabulary.

Words outside the vocabulary are dropped, frequent words are subsampled, each center draws a
window in ``1..window`` (or pairs with its whole sentence when ``window = 0``), and the pairs
of every sentence go to one of ``num_shards`` shards (one per training partition per sync
round). All random draws hash
``(seed, epoch, line_id, chunk, position)``, so the pairs of a sentence are the same whatever
partition it lands in, and every epoch draws anew.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from w2v_spark.config import Config, PairsConfig
from w2v_spark.core.blocks import VocabBlocks, strata, stratum_shard, vocab_blocks
from w2v_spark.core.pairs import epoch_pairs
from w2v_spark.core.sampling import keep_probabilities
from w2v_spark.errors import ConfigError, SchemaError
from w2v_spark.io import storage
from w2v_spark.io.inputs import split_conf
from w2v_spark.io.layout import RunPaths
from w2v_spark.io.schemas import (
    PAIRS,
    PAIRS_OUT_ARROW,
    PAIRS_OUT_SCHEMA,
    PAIRS_SCHEMA,
    TOKENS,
    TOKENS_SCHEMA,
)
from w2v_spark.spark.faults import with_faults
from w2v_spark.spark.session import sql_conf
from w2v_spark.stages.vocab import Vocabulary, read_vocabulary

#: Most pairs (estimated from sentence lengths) formed at once inside one task.
_MAX_PAIRS_PER_SLICE = 4_000_000

#: Most pairs in one row of the pairs table (1 MiB of ids per column).
PAIRS_PER_BLOCK = 1 << 18

#: The file in the pairs table that holds the pairs of every (epoch, shard), written by the
#: pairs stage once the table is complete (training needs them before it starts; counting
#: them means listing every shard's files).
PAIR_COUNTS = "_pair_counts.json"

log = logging.getLogger(__name__)


def pair_blocks(
    center: np.ndarray, context: np.ndarray, shard: np.ndarray, block: int = PAIRS_PER_BLOCK
) -> pa.RecordBatch:
    """Pairs sorted by shard as rows of the pairs table (:data:`PAIRS_OUT_SCHEMA`).

    Every run of one shard is cut into rows of at most ``block`` pairs, in order. The binary
    columns share the ids' memory (no copy per row).

    Args:
        center, context: (m,) int32 word ids, grouped by shard.
        shard: (m,) int32 shard of every pair, non-decreasing.
        block: most pairs in a row.
    """
    if block < 1:
        raise ValueError(f"block must be at least 1, got {block}")
    runs = np.flatnonzero(np.diff(shard)) + 1
    starts = np.concatenate([np.arange(a, b, block) for a, b in
                             zip(np.r_[0, runs], np.r_[runs, shard.size], strict=True)])
    cuts = np.r_[starts, shard.size].astype(np.int64)
    rows = starts.size
    offsets = pa.py_buffer((cuts * 4).astype(np.int32))

    def column(ids: np.ndarray) -> pa.Array:
        data = pa.py_buffer(np.ascontiguousarray(ids, dtype="<i4"))
        return pa.Array.from_buffers(pa.binary(), rows, [None, offsets, data])

    return pa.RecordBatch.from_arrays(
        [pa.array(np.diff(cuts).astype(np.int32)), column(center), column(context),
         pa.array(shard[starts].astype(np.int32))],
        schema=PAIRS_OUT_ARROW,
    )


def block_ids(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The word ids of a ``center`` or ``context`` column of pair blocks, all rows in order.

    Returns:
        (n,) int32, a view of the column's memory where it is one chunk.

    Raises:
        SchemaError: a value whose length is not a whole number of int32 ids.
    """
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    parts = [_chunk_ids(chunk) for chunk in chunks]
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int32)


def _chunk_ids(array: pa.Array) -> np.ndarray:
    if not (pa.types.is_binary(array.type) or pa.types.is_large_binary(array.type)):
        raise SchemaError(f"a pairs column must be binary blocks of int32 ids, not {array.type}")
    if len(array) == 0:
        return np.empty(0, dtype=np.int32)
    if array.null_count:
        raise SchemaError("a pairs block is null")
    width = np.int64 if pa.types.is_large_binary(array.type) else np.int32
    _, offsets_buffer, data = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=width)[array.offset:array.offset + len(array) + 1]
    if np.any(offsets % 4):
        raise SchemaError("a pairs block's length is not a multiple of 4 bytes (int32 ids)")
    start, stop = int(offsets[0]), int(offsets[-1])
    ids = np.frombuffer(data, dtype="<i4", count=(stop - start) // 4, offset=start)
    return ids.astype(np.int32, copy=False)


def pair_block_order() -> list[F.Column]:
    """The sort keys that put the pair blocks of a shard in their training order: the
    SHA-256 (hex) of a block's ``center`` then ``context`` bytes, then its ``pairs``.

    Which file of a shard holds a block depends on the pairs-stage task that wrote it, which
    can change between runs of the same input; the blocks themselves do not, so ordering by
    content makes the order, and the model, the same in every run. :func:`pair_block_key` is
    the same key outside Spark."""
    return [F.sha2(F.concat("center", "context"), 256), F.col("pairs")]


def pair_block_key(center: bytes, context: bytes, pairs: int) -> tuple[str, int]:
    """The key of :func:`pair_block_order` of one pair block."""
    return hashlib.sha256(center + context).hexdigest(), pairs


def row_slices(lengths: np.ndarray, window: int, max_pairs: int) -> list[tuple[int, int]]:
    """Cut S sentences into consecutive ``(start, stop)`` row ranges of at most about
    ``max_pairs`` pairs each (at least one row per range).

    Args:
        lengths: (S,) sentence lengths.
        window: the window half-width (0 = the whole sentence).
        max_pairs: the bound on the estimated pairs of one range.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    reach = np.maximum(lengths - 1, 0)
    if window > 0:
        reach = np.minimum(reach, 2 * window)
    cumulative = np.cumsum(lengths * reach)
    out: list[tuple[int, int]] = []
    start = 0
    done = 0
    while start < lengths.size:
        stop = int(np.searchsorted(cumulative, done + max_pairs, side="right"))
        stop = max(stop, start + 1)
        out.append((start, stop))
        done = int(cumulative[stop - 1])
        start = stop
    return out


def _pairs_batches(
    batches: Iterator[pa.RecordBatch],
    *,
    words: pa.Array,
    keep_prob: np.ndarray,
    window: int,
    shrink_windows: bool,
    seed: int,
    epoch: int,
    num_shards: int,
    max_pairs: int,
    block: int,
    blocks: VocabBlocks | None = None,
) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: tokens batches to pair blocks (:data:`PAIRS_OUT_SCHEMA`) by shard.

    A batch is worked on in slices of rows of at most about ``max_pairs`` pairs, so long
    sentences with a wide window do not build all their pairs at once."""
    for batch in batches:
        tokens = batch.column(batch.schema.get_field_index("tokens"))
        lengths = np.diff(tokens.offsets.to_numpy().astype(np.int64))
        for start, stop in row_slices(lengths, window, max_pairs):
            yield from _slice_pairs(
                batch.slice(start, stop - start), words=words, keep_prob=keep_prob,
                window=window, shrink_windows=shrink_windows, seed=seed, epoch=epoch,
                num_shards=num_shards, block=block, blocks=blocks,
            )


def _slice_pairs(
    batch: pa.RecordBatch,
    *,
    words: pa.Array,
    keep_prob: np.ndarray,
    window: int,
    shrink_windows: bool,
    seed: int,
    epoch: int,
    num_shards: int,
    block: int,
    blocks: VocabBlocks | None = None,
) -> Iterator[pa.RecordBatch]:
    """The pairs of one slice of a tokens batch, ordered by shard, in blocks. With ``blocks``
    the shard of a pair is its stratum in its sentence's pass
    (:func:`w2v_spark.core.blocks.stratum_shard` of sub-round ``pass * K + s``): the context
    word's block is the task, the center word's block the output block, and the sentence's
    shard among ``num_shards / K**2`` is its pass."""
    if batch.num_rows == 0:
        return
    lookup = pc.SetLookupOptions(value_set=words)
    tokens = batch.column(batch.schema.get_field_index("tokens"))
    offsets = tokens.offsets.to_numpy().astype(np.int64)
    offsets = offsets - offsets[0]
    flat = tokens.flatten()
    ids = pc.fill_null(pc.index_in(flat, options=lookup), -1).to_numpy().astype(np.int32)
    result = epoch_pairs(
        ids,
        offsets,
        batch.column(batch.schema.get_field_index("line_id")).to_numpy(),
        batch.column(batch.schema.get_field_index("chunk")).to_numpy(),
        keep_prob,
        window=window,
        seed=seed,
        epoch=epoch,
        num_shards=num_shards if blocks is None else num_shards // blocks.num_blocks ** 2,
        shrink_windows=shrink_windows,
    )
    if result.center.size == 0:
        return
    shard = result.shard
    if blocks is not None:
        k = blocks.num_blocks
        sub_round, task = strata(blocks, result.context, result.center)
        shard = stratum_shard(result.shard * k + sub_round, task, k).astype(np.int32)
    order = np.argsort(shard, kind="stable")
    yield pair_blocks(result.center[order], result.context[order], shard[order], block)


def generate_pairs(
    tokens: DataFrame,
    vocab: Vocabulary,
    cfg: PairsConfig,
    *,
    seed: int,
    epoch: int,
    num_shards: int,
    max_pairs_per_slice: int = _MAX_PAIRS_PER_SLICE,
    pairs_per_block: int = PAIRS_PER_BLOCK,
    blocks: VocabBlocks | None = None,
) -> DataFrame:
    """The pairs of one epoch as blocks (:data:`PAIRS_OUT_SCHEMA`): ``pairs``, ``center`` and
    ``context`` (that many int32 word ids each, see :func:`block_ids`) and ``shard``. The
    blocks of a shard, in row order, hold its pairs in the order they were formed.

    Args:
        tokens: the tokens table.
        vocab: the collected vocabulary.
        cfg: window and subsampling settings.
        seed, epoch: select the random draws.
        num_shards: how many slices the epoch is split into for training (with ``blocks``,
            ``passes * K * K``: one per stratum per pass).
        max_pairs_per_slice: a task forms the pairs of at most about this many at once.
        pairs_per_block: most pairs in one row.
        blocks: the vocabulary blocks of ``train.strategy = "blocks"``: each pair goes to the
            shard of its stratum instead of its sentence's shard.
    """
    if blocks is not None and (num_shards < 1 or num_shards % blocks.num_blocks ** 2):
        raise ValueError(f"{blocks.num_blocks} blocks need a multiple of "
                         f"{blocks.num_blocks ** 2} shards, got {num_shards}")
    missing = {"line_id", "chunk", "tokens"} - set(tokens.columns)
    if missing:
        raise SchemaError(f"the tokens table lacks column(s) {sorted(missing)}")
    body = partial(
        _pairs_batches,
        words=vocab.words,
        keep_prob=keep_probabilities(vocab.counts, cfg.sample),
        window=cfg.window,
        shrink_windows=cfg.shrink_windows,
        seed=seed,
        epoch=epoch,
        num_shards=num_shards,
        max_pairs=max_pairs_per_slice,
        block=pairs_per_block,
        blocks=blocks,
    )
    return tokens.select("line_id", "chunk", "tokens").mapInArrow(
        with_faults(body, "pairs"), PAIRS_OUT_SCHEMA
    )


#: Most shards for which every pairs task keeps a file writer open per shard.
MAX_OPEN_WRITERS = 64


def write_pairs(spark: SparkSession, cfg: Config, paths: RunPaths) -> dict[str, Any]:
    """The pairs stage: every epoch's pairs, one directory per epoch and shard, and the
    stage's facts."""
    started = time.perf_counter()
    tokens = storage.read_table(spark, paths.table(TOKENS), "tokens", TOKENS_SCHEMA)
    vocab = read_vocabulary(spark, paths)
    shards = cfg.train.num_shards
    blocks = training_blocks(cfg, vocab)
    # Training orders a shard's blocks by their content, so which file holds a block does
    # not matter. With few shards every task keeps a writer open per shard; with many (the
    # K * K strata of the blocks strategy), the blocks are first shuffled by shard, so that
    # each shard is written by one task, one writer at a time, instead of every task
    # holding a writer, and writing a file, for every shard.
    spread = shards > MAX_OPEN_WRITERS
    writers = "0" if spread else str(shards + 1)
    with sql_conf(spark, "spark.sql.maxConcurrentOutputFileWriters", writers), \
            split_conf(spark):
        for epoch in range(cfg.train.epochs):
            frame = generate_pairs(
                tokens, vocab, cfg.pairs, seed=cfg.train.seed, epoch=epoch, num_shards=shards,
                blocks=blocks,
            )
            if spread:
                frame = frame.repartition(frame.rdd.getNumPartitions(), "shard")
            frame.write.mode("errorifexists").partitionBy("shard").parquet(
                paths.pairs_epoch(epoch)
            )
    storage.write_marker(spark, paths.table(PAIRS))
    counts = count_pairs(spark, paths)
    storage.write_text(spark, storage.join(paths.table(PAIRS), PAIR_COUNTS), json.dumps(
        {"shards": [[e, s, n] for (e, s), n in sorted(counts.items())]}) + "\n")
    per_epoch = [sum(counts.get((e, s), 0) for s in range(shards))
                 for e in range(cfg.train.epochs)]
    return {
        "epochs": cfg.train.epochs,
        "shards": shards,
        "pairs_per_epoch": per_epoch,
        "pairs": int(sum(per_epoch)),
        "seconds": round(time.perf_counter() - started, 3),
    }


def training_blocks(cfg: Config, vocab: Vocabulary) -> VocabBlocks | None:
    """The vocabulary blocks training uses (``train.strategy = "blocks"``; None otherwise):
    ``num_partitions`` blocks dealt by count (:func:`w2v_spark.core.blocks.vocab_blocks`).

    Raises:
        ConfigError: more blocks than words.
    """
    if not cfg.train.blocks:
        return None
    k = cfg.train.num_partitions
    if k > len(vocab):
        raise ConfigError(
            f"[train] num_partitions = {k} is more than the {len(vocab)} words of the "
            "vocabulary: with strategy = \"blocks\" every block needs a word; use at most "
            f"{len(vocab)} partitions"
        )
    return vocab_blocks(vocab.counts, k)


def pair_counts(spark: SparkSession, paths: RunPaths) -> dict[tuple[int, int], int]:
    """Number of pairs in every (epoch, shard) of a run's pairs table: what the pairs stage
    wrote in its :data:`PAIR_COUNTS` file, or counted from the table when there is none (or
    it cannot be read)."""
    record = storage.join(paths.table(PAIRS), PAIR_COUNTS)
    if storage.exists(spark, record):
        try:
            rows = json.loads(storage.read_text(spark, record))["shards"]
            return {(int(epoch), int(shard)): int(n) for epoch, shard, n in rows}
        except Exception as exc:  # a damaged file: count again rather than trust it
            log.warning("[pairs] %s cannot be read (%s); counting the pairs table", record,
                        type(exc).__name__)
    return count_pairs(spark, paths)


def count_pairs(spark: SparkSession, paths: RunPaths) -> dict[tuple[int, int], int]:
    """Number of pairs in every (epoch, shard) of a run's pairs table, counted by Spark."""
    pairs = storage.read_table(spark, paths.table(PAIRS), "pairs", PAIRS_SCHEMA)
    rows = pairs.groupBy("epoch", "shard").agg(F.sum("pairs").alias("pairs")).collect()
    return {(int(r["epoch"]), int(r["shard"])): int(r["pairs"]) for r in rows}
