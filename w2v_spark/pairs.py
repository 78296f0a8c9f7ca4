"""Stage 3: skip-gram pairs for one epoch, from the tokens and the vocabulary.

Words outside the vocabulary are dropped, frequent words are subsampled, each center draws a
window in ``1..window`` (or pairs with its whole sentence when ``window = 0``), and the pairs
of every sentence go to one of ``num_shards`` shards (one per training partition per sync
round). All random draws hash
``(seed, epoch, line_id, chunk, position)``, so the pairs of a sentence are the same whatever
partition it lands in, and every epoch draws anew.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql.types import IntegerType, StructField, StructType

from w2v_spark.config import PairsConfig
from w2v_spark.core.pairs import epoch_pairs
from w2v_spark.core.sampling import keep_probabilities
from w2v_spark.errors import SchemaError
from w2v_spark.faults import with_faults
from w2v_spark.schemas import PAIRS_SCHEMA

PAIRS_OUT_SCHEMA = StructType([*PAIRS_SCHEMA.fields, StructField("shard", IntegerType(), False)])

#: Most pairs (estimated from sentence lengths) formed at once inside one task.
_MAX_PAIRS_PER_SLICE = 4_000_000

_ARROW_OUT = pa.schema(
    [
        pa.field("center", pa.int32(), nullable=False),
        pa.field("context", pa.int32(), nullable=False),
        pa.field("shard", pa.int32(), nullable=False),
    ]
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
) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: tokens batches to (center, context, shard) batches, grouped by shard.

    A batch is worked on in slices of rows of at most about ``max_pairs`` pairs, so long
    sentences with a wide window do not build all their pairs at once."""
    for batch in batches:
        tokens = batch.column(batch.schema.get_field_index("tokens"))
        lengths = np.diff(tokens.offsets.to_numpy().astype(np.int64))
        for start, stop in row_slices(lengths, window, max_pairs):
            yield from _slice_pairs(
                batch.slice(start, stop - start), words=words, keep_prob=keep_prob,
                window=window, shrink_windows=shrink_windows, seed=seed, epoch=epoch,
                num_shards=num_shards,
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
) -> Iterator[pa.RecordBatch]:
    """The pairs of one slice of a tokens batch, ordered by shard."""
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
        num_shards=num_shards,
        shrink_windows=shrink_windows,
    )
    if result.center.size == 0:
        return
    order = np.argsort(result.shard, kind="stable")
    yield pa.RecordBatch.from_arrays(
        [
            pa.array(result.center[order]),
            pa.array(result.context[order]),
            pa.array(result.shard[order]),
        ],
        schema=_ARROW_OUT,
    )


def generate_pairs(
    tokens: DataFrame,
    vocab: Vocabulary,
    cfg: PairsConfig,
    *,
    seed: int,
    epoch: int,
    num_shards: int,
    max_pairs_per_slice: int = _MAX_PAIRS_PER_SLICE,
) -> DataFrame:
    """The pairs of one epoch: ``center``, ``context`` (int32 word ids) and ``shard``.

    Args:
        tokens: the tokens table.
        vocab: the collected vocabulary.
        cfg: window and subsampling settings.
        seed, epoch: select the random draws.
        num_shards: how many slices the epoch is split into for training.
        max_pairs_per_slice: a task forms the pairs of at most about this many at once.
    """
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
    )
    return tokens.select("line_id", "chunk", "tokens").mapInArrow(
        with_faults(body, "pairs"), PAIRS_OUT_SCHEMA
    )
