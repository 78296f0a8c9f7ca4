"""Top-k by dot product of every query against every candidate, in Spark, block by block.

The search behind :func:`~w2v_spark.stages.neighbors.nearest_neighbors` and
:func:`~w2v_spark.stages.recommend.recommendations`. Neither side is ever held whole by one
task. The caller deals the rows of each side into blocks (a ``block`` column);
:func:`pack_blocks` turns each block into one row (:data:`VECTOR_BLOCKS_SCHEMA`) holding its ids
(sorted), their unit vectors as raw float32 bytes and, on the query side, the candidate ids each
query must not get. :func:`search_blocks` cross-joins query blocks with candidate blocks; a task
scores each (query block, candidate block) row with one matrix product
(:func:`score_block`), keeps per query the best ``k`` it has seen
(:func:`~w2v_spark.core.ranking.merge_top_k`) and emits them; a window over each query's (few)
partial lists keeps its best ``k``.

Work and memory, with ``Vq`` queries, ``Vc`` candidates, ``d`` dimensions, blocks of ``b`` rows
and ``c`` candidate blocks per partition of the candidate side:

* every query is scored against every candidate once: ``Vq * Vc * d`` multiply-adds;
* a task scores one pair of blocks at a time: two ``(b, d)`` blocks of vectors and a ``(b, b)``
  score matrix, besides the best ``k`` of each query of its query blocks;
* the partial lists hold at most ``k`` rows per query per task: about ``Vq * k * Vc / (b * c)``.

Equal scores go to the lower candidate id everywhere: within a block (whose ids are sorted, so
the lower column), in the merges and in the final window, so the result depends only on the
input rows, not on how Spark partitioned them.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from w2v_spark.core.ranking import exclusion_mask, merge_top_k, top_k, unit_rows
from w2v_spark.io.schemas import (
    VECTOR_BLOCKS_ARROW,
    VECTOR_BLOCKS_SCHEMA,
    arrow_schema,
    vector_matrix,
)

__all__ = ["hashed_block", "pack_blocks", "score_block", "search_blocks"]

_BLOCK_COLUMNS = ("rows", "dim", "units")


def hashed_block(key: Column, n_blocks: int) -> Column:
    """The block of each row: a hash of ``key`` modulo ``n_blocks``, an int column."""
    return F.pmod(F.xxhash64(key), F.lit(n_blocks)).cast("int")


# ---------------------------------------------------------------------------------------------
# executor functions (shipped with functools.partial)


def _serialize(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _deserialize(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(data).read_all()


def _numpy_ids(ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """(n,) ids as a NumPy array: strings as ``str_``, numbers as their own dtype."""
    if pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type):
        return np.asarray(ids.to_pylist(), dtype=np.str_)
    return np.asarray(ids.to_numpy())


def _pack(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: the ``id, vector, block[, excluded]`` rows of a partition to one
    :data:`VECTOR_BLOCKS_SCHEMA` row per block, ids sorted, vectors scaled to unit length."""
    kept = [batch for batch in batches if batch.num_rows]
    if not kept:
        return
    table = pa.Table.from_batches(kept)
    table = table.take(
        pc.sort_indices(table, sort_keys=[("block", "ascending"), ("id", "ascending")])
    )
    blocks = table.column("block").to_numpy()
    starts = np.flatnonzero(np.r_[True, blocks[1:] != blocks[:-1]])
    ends = np.r_[starts[1:], blocks.size]
    rows = [name for name in ("id", "excluded") if name in table.column_names]
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        part = table.slice(start, end - start)
        units = unit_rows(vector_matrix(part.column("vector")))
        yield pa.RecordBatch.from_pylist(
            [{"block": int(blocks[start]), "rows": _serialize(part.select(rows)),
              "dim": units.shape[1], "units": units.tobytes()}],
            schema=VECTOR_BLOCKS_ARROW,
        )


def score_block(
    q_units: np.ndarray,
    c_units: np.ndarray,
    c_ids: np.ndarray,
    offsets: np.ndarray,
    excluded: np.ndarray,
    k: int,
    dtype: type[np.floating],
) -> tuple[np.ndarray, np.ndarray]:
    """The best ``k`` candidates of one candidate block for each query of a query block.

    Scores are the dot products of the unit vectors in ``dtype``; the excluded candidates of
    a query are never chosen; equal scores go to the lower column (the lower id).

    Args:
        q_units: shape ``(m, d)`` float32 unit vectors of the queries.
        c_units: shape ``(n, d)`` float32 unit vectors of the candidates.
        c_ids: shape ``(n,)`` candidate ids, sorted ascending, distinct.
        offsets: shape ``(m + 1,)``: query ``i`` excludes ``excluded[offsets[i]:offsets[i+1]]``.
        excluded: the excluded candidate ids of every query, back to back.
        k: how many per query, ``>= 1``.
        dtype: the float type the scores are computed in.

    Returns:
        ``(scores, ids)``, each of shape ``(m, min(k, n))``, best first; ``-inf`` scores where
        fewer candidates are left.
    """
    scores = q_units.astype(dtype, copy=False) @ c_units.astype(dtype, copy=False).T
    scores[exclusion_mask(scores.shape, c_ids, offsets, excluded)] = -np.inf
    top, cols = top_k(scores, k)
    return top, c_ids[cols]


def _query_block(rows: bytes, dim: int, units: bytes
                 ) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray]:
    """A packed query block: ids, (n, dim) unit vectors, exclusion offsets and ids."""
    table = _deserialize(rows)
    excluded = table.column("excluded").combine_chunks()
    offsets = excluded.offsets.to_numpy().astype(np.int64)
    matrix = np.frombuffer(units, dtype=np.float32).reshape(table.num_rows, dim)
    return (table.column("id").combine_chunks(), matrix, offsets - offsets[0],
            _numpy_ids(pc.list_flatten(excluded)))


def _candidate_block(rows: bytes, dim: int, units: bytes) -> tuple[np.ndarray, np.ndarray]:
    """A packed candidate block: sorted ids and their (n, dim) unit vectors."""
    ids = _numpy_ids(_deserialize(rows).column("id"))
    return ids, np.frombuffer(units, dtype=np.float32).reshape(ids.size, dim)


def _search(batches: Iterator[pa.RecordBatch], *, k: int, schema: pa.Schema
            ) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: score every (query block, candidate block) row of a task and emit, per
    query, the best ``k`` candidates the task has seen as ``schema`` rows (query id,
    candidate id, score, scored in the score column's float type)."""
    dtype = schema.field(2).type.to_pandas_dtype()
    best: dict[int, tuple[pa.Array, np.ndarray, np.ndarray]] = {}
    for batch in batches:
        for i in range(batch.num_rows):  # one row's blocks in Python at a time
            row = batch.slice(i, 1).to_pylist()[0]
            q_ids, q_units, offsets, excluded = _query_block(
                row["q_rows"], row["q_dim"], row["q_units"]
            )
            c_ids, c_units = _candidate_block(row["c_rows"], row["c_dim"], row["c_units"])
            scores, ids = score_block(q_units, c_units, c_ids, offsets, excluded, k, dtype)
            if row["q_block"] in best:
                _, old_scores, old_ids = best[row["q_block"]]
                scores, ids = merge_top_k(old_scores, old_ids, scores, ids, k)
            best[row["q_block"]] = (q_ids, scores, ids)
    for block in sorted(best):
        q_ids, scores, ids = best[block]
        valid = scores > -np.inf
        yield pa.RecordBatch.from_arrays(
            [
                q_ids.take(pa.array(np.nonzero(valid)[0])).cast(schema.field(0).type),
                pa.array(ids[valid], schema.field(1).type),
                pa.array(scores[valid].astype(dtype), schema.field(2).type),
            ],
            schema=schema,
        )


# ---------------------------------------------------------------------------------------------
# driver side


def pack_blocks(rows: DataFrame, partitions: int | None) -> DataFrame:
    """One packed row per block of ``rows``.

    Args:
        rows: ``id`` (string or int, distinct), ``vector`` (array of float or double, one
            length), ``block`` (int) and, for queries, ``excluded`` (array of candidate ids).
        partitions: how many partitions the blocks are hashed into (a task of the search gets
            one partition of each side); ``None`` for ``spark.sql.shuffle.partitions``, which
            adaptive execution may coalesce.

    Returns:
        :data:`~w2v_spark.io.schemas.VECTOR_BLOCKS_SCHEMA` rows.
    """
    vectors = rows.withColumn("vector", F.col("vector").cast("array<float>"))
    shuffled = (vectors.repartition(partitions, "block") if partitions is not None
                else vectors.repartition("block"))
    return shuffled.mapInArrow(_pack, VECTOR_BLOCKS_SCHEMA)


def search_blocks(query_blocks: DataFrame, candidate_blocks: DataFrame, k: int,
                  schema: StructType) -> DataFrame:
    """The best ``k`` candidates of every query, from every pair of packed blocks.

    Args:
        query_blocks: :func:`pack_blocks` rows of the queries (with ``excluded``).
        candidate_blocks: :func:`pack_blocks` rows of the candidates.
        k: candidates per query, ``>= 1``.
        schema: the partial lists' three columns: the query id (string), the candidate id
            (of the candidates' id type) and the score (float or double: the type the scores
            are computed in).

    Returns:
        the columns of ``schema`` and ``rank`` (int): 1..k by descending score, ties by
        ascending candidate id; fewer when fewer candidates are left. Not sorted.
    """
    query, candidate, score = schema.fieldNames()
    pairs = query_blocks.select(
        F.col("block").alias("q_block"), *(F.col(c).alias(f"q_{c}") for c in _BLOCK_COLUMNS)
    ).crossJoin(candidate_blocks.select(*(F.col(c).alias(f"c_{c}") for c in _BLOCK_COLUMNS)))
    partial_lists = pairs.mapInArrow(partial(_search, k=k, schema=arrow_schema(schema)), schema)
    order = Window.partitionBy(query).orderBy(F.col(score).desc(), F.col(candidate).asc())
    ranked = partial_lists.withColumn("rank", F.row_number().over(order))
    return ranked.filter(F.col("rank") <= k)
