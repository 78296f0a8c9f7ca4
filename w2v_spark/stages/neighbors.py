"""Top-k nearest neighbours by cosine similarity, in Spark, block by block.

Neither side is ever held whole by one task. The rows are dealt into blocks of about
``block_rows`` keys by a hash of the key; each block becomes one row holding its keys (sorted)
and their unit vectors as raw float32 bytes. Query blocks are cross-joined with candidate
blocks; a task receives one query block and a group of up to ``_CANDIDATE_BLOCKS_PER_TASK``
candidate blocks, scores each pair of blocks with one matrix product and keeps, per query, the
best ``k`` it has seen. A final window over the (few) partial lists of each query keeps its
best ``k``.

Work and memory, with ``Vq`` queries, ``Vc`` candidates, ``d`` dimensions, ``b = block_rows``:

* every query is scored against every candidate once: ``Vq * Vc * d`` multiply-adds in total;
* a task holds at most a few blocks at a time: about ``2 * _CANDIDATE_BLOCKS_PER_TASK * b * d * 4``
  bytes of vectors plus a ``(b, b)`` score matrix;
* the partial lists hold ``Vq * k * ceil(Vc / (b * _CANDIDATE_BLOCKS_PER_TASK))`` rows.

Scores are the dot products of float32 unit vectors, accumulated in float64; a zero vector has
cosine 0 with everything. Ties are broken by the neighbour key, ascending, so that the result
depends only on the input rows (not on how Spark partitioned them).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import partial

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    DoubleType,
    IntegerType,
    StringType,
    StructField,
    StructType,
)

from w2v_spark.core.ranking import merge_top_k, top_k, unit_rows
from w2v_spark.errors import InputError, SchemaError, WordNotInVocabularyError

__all__ = ["block_top_k", "merge_top_k", "nearest_neighbors", "unit_rows"]

#: Candidate blocks scored by one task against its query block.
_CANDIDATE_BLOCKS_PER_TASK = 8

#: One packed block: ``n`` sorted keys and their ``(n, dim)`` float32 unit vectors.
_BLOCK_SCHEMA = StructType(
    [
        StructField("block", IntegerType(), False),
        StructField("keys", ArrayType(StringType(), False), False),
        StructField("dim", IntegerType(), False),
        StructField("units", BinaryType(), False),
    ]
)

_BLOCK_ARROW = pa.schema(
    [
        pa.field("block", pa.int32(), nullable=False),
        pa.field("keys", pa.list_(pa.field("element", pa.string(), nullable=False)),
                 nullable=False),
        pa.field("dim", pa.int32(), nullable=False),
        pa.field("units", pa.binary(), nullable=False),
    ]
)

_PARTIAL_SCHEMA = StructType(
    [
        StructField("key", StringType(), False),
        StructField("neighbor", StringType(), False),
        StructField("score", DoubleType(), False),
    ]
)


# ---------------------------------------------------------------------------------------------
# executor functions (shipped with functools.partial)


def _pack_blocks(
    batches: Iterator[pa.RecordBatch], key_col: str, vector_col: str
) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: the rows of a partition, grouped into one packed row per block.

    Input columns ``key_col``, ``vector_col``, ``block``; output :data:`_BLOCK_SCHEMA` rows with
    the keys sorted and the vectors in the same order, scaled to unit length.
    """
    keys: dict[int, list[str]] = {}
    vecs: dict[int, list[npt.NDArray[np.float32]]] = {}
    for batch in batches:
        if batch.num_rows == 0:
            continue
        values = batch.column(vector_col).flatten().to_numpy(zero_copy_only=False)
        matrix = values.astype(np.float32, copy=False).reshape(batch.num_rows, -1)
        for block, key, row in zip(
            batch.column("block").to_pylist(),
            batch.column(key_col).to_pylist(),
            matrix,
            strict=True,
        ):
            keys.setdefault(block, []).append(key)
            vecs.setdefault(block, []).append(row)
    for block in sorted(keys):
        order = sorted(range(len(keys[block])), key=keys[block].__getitem__)
        block_keys = [keys[block][i] for i in order]
        matrix = np.stack([vecs[block][i] for i in order])
        yield pa.RecordBatch.from_pylist(
            [
                {
                    "block": block,
                    "keys": block_keys,
                    "dim": matrix.shape[1],
                    "units": unit_rows(matrix).tobytes(),
                }
            ],
            schema=_BLOCK_ARROW,
        )


def block_top_k(
    q_keys: npt.NDArray[np.str_],
    q_units: npt.NDArray[np.float32],
    c_keys: npt.NDArray[np.str_],
    c_units: npt.NDArray[np.float32],
    k: int,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.str_]]:
    """The best ``k`` candidates of one candidate block for each query of a query block.

    A candidate with the query's own key is never chosen. Equal scores go to the smaller key
    (the candidate keys are sorted, so that is the lower column).

    Args:
        q_keys: shape ``(m,)``.
        q_units: shape ``(m, d)`` float32 unit vectors.
        c_keys: shape ``(n,)``, sorted ascending, distinct.
        c_units: shape ``(n, d)`` float32 unit vectors.
        k: how many per query, ``>= 1``.

    Returns:
        scores, shape ``(m, kk)`` float64 with ``kk = min(k, n)``, best first (``-inf`` where
        fewer than ``kk`` candidates exist), and the keys, shape ``(m, kk)``.
    """
    n = c_units.shape[0]
    scores = q_units.astype(np.float64) @ c_units.astype(np.float64).T
    pos = np.searchsorted(c_keys, q_keys)
    found = (pos < n) & (c_keys[np.minimum(pos, n - 1)] == q_keys)
    scores[np.flatnonzero(found), pos[found]] = -np.inf
    top, cols = top_k(scores, k)
    return top, c_keys[cols]


def _unpack(keys: list[str], dim: int, units: bytes) -> tuple[npt.NDArray[np.str_],
                                                              npt.NDArray[np.float32]]:
    matrix = np.frombuffer(units, dtype=np.float32).reshape(len(keys), dim)
    return np.asarray(keys, dtype=np.str_), matrix


def _pairs_top_k(batches: Iterator[pa.RecordBatch], k: int) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: score every (query block, candidate block) row of a task and emit, per
    query, the best ``k`` candidates the task has seen (``key, neighbor, score`` rows)."""
    best: dict[int, tuple[npt.NDArray[np.str_], npt.NDArray[np.float64], npt.NDArray[np.str_]]]
    best = {}
    for batch in batches:
        for row in batch.to_pylist():
            q_keys, q_units = _unpack(row["q_keys"], row["q_dim"], row["q_units"])
            c_keys, c_units = _unpack(row["c_keys"], row["c_dim"], row["c_units"])
            scores, keys = block_top_k(q_keys, q_units, c_keys, c_units, k)
            if row["q_block"] in best:
                _, old_scores, old_keys = best[row["q_block"]]
                scores, keys = merge_top_k(old_scores, old_keys, scores, keys, k)
            best[row["q_block"]] = (q_keys, scores, keys)
    for block in sorted(best):
        q_keys, scores, keys = best[block]
        valid = scores > -np.inf
        yield pa.RecordBatch.from_arrays(
            [
                pa.array(np.broadcast_to(q_keys[:, None], scores.shape)[valid], pa.string()),
                pa.array(keys[valid], pa.string()),
                pa.array(scores[valid], pa.float64()),
            ],
            names=["key", "neighbor", "score"],
        )


# ---------------------------------------------------------------------------------------------
# driver side


def _check_embeddings(embeddings: DataFrame, key_col: str, vector_col: str) -> int:
    """Validate the key and vector columns in one Spark job; return the number of rows."""
    fields = {f.name: f.dataType for f in embeddings.schema.fields}
    for name in (key_col, vector_col):
        if name not in fields:
            raise SchemaError(
                f"the embeddings have no column {name!r} (columns: {sorted(fields)})"
            )
    if not isinstance(fields[key_col], StringType):
        raise SchemaError(
            f"the key column {key_col!r} must be a string, it is {fields[key_col].simpleString()}"
        )
    vtype = fields[vector_col]
    if not isinstance(vtype, ArrayType) or vtype.elementType.typeName() not in ("float", "double"):
        raise SchemaError(
            f"the vector column {vector_col!r} must be array<float> or array<double>, it is "
            f"{vtype.simpleString()}"
        )
    key, vec = F.col(key_col), F.col(vector_col)
    bad_value = F.exists(vec, lambda x: x.isNull() | F.isnan(x) | (F.abs(x) == float("inf")))
    row = embeddings.agg(
        F.count(F.lit(1)).alias("rows"),
        F.count_distinct(key).alias("keys"),
        F.sum(F.when(key.isNull() | vec.isNull(), 1).otherwise(0)).alias("nulls"),
        F.sum(F.when(bad_value, 1).otherwise(0)).alias("bad"),
        F.min(F.size(vec)).alias("min_dim"),
        F.max(F.size(vec)).alias("max_dim"),
    ).first()
    assert row is not None
    if row["rows"] == 0:
        raise InputError("the embeddings are empty: there is nothing to search")
    if row["nulls"]:
        raise SchemaError(f"{row['nulls']} embeddings rows have a null {key_col} or {vector_col}")
    if row["keys"] != row["rows"]:
        raise SchemaError(
            f"the {key_col} column has duplicates: {row['rows']} rows but {row['keys']} distinct "
            "keys; neighbours need one vector per key"
        )
    if row["min_dim"] != row["max_dim"] or row["min_dim"] < 1:
        raise SchemaError(
            f"the vectors must all have one length >= 1; found lengths {row['min_dim']} to "
            f"{row['max_dim']}"
        )
    if row["bad"]:
        raise SchemaError(f"{row['bad']} vectors hold NaN, infinite or null values")
    return int(row["rows"])


def _check_queries(queries: DataFrame, candidates: DataFrame, key_col: str) -> DataFrame:
    """The distinct query keys joined with their vectors; unknown keys are an error."""
    if key_col not in queries.columns:
        raise SchemaError(f"the queries have no column {key_col!r} (columns: {queries.columns})")
    keys = queries.select(F.col(key_col).cast("string").alias(key_col)).distinct()
    if keys.filter(F.col(key_col).isNull()).limit(1).count():
        raise SchemaError(f"the queries hold a null {key_col}")
    unknown = [
        r[0] for r in keys.join(candidates.select(key_col), key_col, "left_anti")
        .orderBy(key_col).limit(6).collect()
    ]
    if unknown:
        more = f" (and {len(unknown) - 5} more)" if len(unknown) > 5 else ""
        raise WordNotInVocabularyError(
            unknown[0],
            detail=f"unknown query keys: {', '.join(map(repr, unknown[:5]))}{more}",
        )
    return keys.join(candidates, key_col, "inner")


def _blocks(rows: DataFrame, key_col: str, vector_col: str, n_rows: int, block_rows: int,
            blocks_per_partition: int) -> tuple[DataFrame, int]:
    """Pack ``rows`` into blocks; return the block frame and its number of partitions."""
    n_blocks = max(1, math.ceil(n_rows / block_rows))
    partitions = max(1, math.ceil(n_blocks / blocks_per_partition))
    block = F.pmod(F.xxhash64(F.col(key_col)), F.lit(n_blocks)).cast("int")
    packed = (
        rows.select(key_col, F.col(vector_col).cast("array<float>").alias(vector_col),
                    block.alias("block"))
        .repartition(partitions, "block")
        .mapInArrow(partial(_pack_blocks, key_col=key_col, vector_col=vector_col),
                    _BLOCK_SCHEMA)
    )
    return packed, partitions


def nearest_neighbors(
    embeddings: DataFrame,
    k: int = 10,
    queries: DataFrame | None = None,
    *,
    key_col: str = "word",
    vector_col: str = "vector",
    block_rows: int = 2048,
) -> DataFrame:
    """The ``k`` nearest neighbours by cosine of every query key, itself excluded.

    Args:
        embeddings: one row per key: ``key_col`` string, ``vector_col`` array of float or
            double, all of one length ``d``; other columns are ignored.
        k: neighbours per query, ``>= 1``; fewer when there are fewer other keys.
        queries: a DataFrame with a ``key_col`` column of keys to search for (duplicates are
            searched once); ``None`` for every key of ``embeddings``.
        key_col: the key column of both DataFrames.
        vector_col: the vector column of ``embeddings``.
        block_rows: keys per block (about); a task scores one query block against a few
            candidate blocks.

    Returns:
        ``(key_col string, neighbor string, score double, rank int)``: ``rank`` 1..k by
        descending cosine ``score``, ties by ascending ``neighbor``. Not sorted.

    Raises:
        SchemaError: missing or mistyped columns, null or duplicate keys, vectors of different
            lengths or with NaN/infinite values.
        InputError: ``embeddings`` is empty.
        WordNotInVocabularyError: a query key is not in ``embeddings`` (the message names it).
        ValueError: ``k < 1`` or ``block_rows < 1``.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if block_rows < 1:
        raise ValueError(f"block_rows must be >= 1, got {block_rows}")
    n_rows = _check_embeddings(embeddings, key_col, vector_col)
    candidates = embeddings.select(key_col, vector_col)
    if queries is None:
        query_rows, n_queries = candidates, n_rows
    else:
        query_rows = _check_queries(queries, candidates, key_col)
        n_queries = query_rows.count()
    q_blocks, _ = _blocks(query_rows, key_col, vector_col, n_queries, block_rows, 1)
    c_blocks, _ = _blocks(candidates, key_col, vector_col, n_rows, block_rows,
                          _CANDIDATE_BLOCKS_PER_TASK)
    pairs = q_blocks.select(
        F.col("block").alias("q_block"), F.col("keys").alias("q_keys"),
        F.col("dim").alias("q_dim"), F.col("units").alias("q_units"),
    ).crossJoin(c_blocks.select(
        F.col("keys").alias("c_keys"), F.col("dim").alias("c_dim"),
        F.col("units").alias("c_units"),
    ))
    partial_lists = pairs.mapInArrow(partial(_pairs_top_k, k=k), _PARTIAL_SCHEMA)
    order = Window.partitionBy("key").orderBy(F.col("score").desc(), F.col("neighbor").asc())
    ranked = partial_lists.withColumn("rank", F.row_number().over(order))
    return ranked.filter(F.col("rank") <= k).select(
        F.col("key").alias(key_col),
        "neighbor",
        "score",
        F.col("rank").cast("int").alias("rank"),
    )
