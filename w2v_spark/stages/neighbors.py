"""Top-k nearest neighbours by cosine similarity, in Spark, block by block.

The rows are dealt into blocks of about ``block_rows`` keys by a hash of the key and searched
by :mod:`w2v_spark.stages.block_search`: every query block against every candidate block, a
task scoring one query block against a group of up to ``_CANDIDATE_BLOCKS_PER_TASK`` candidate
blocks (the module describes the work and memory). Each query excludes its own key.

Scores are the dot products of float32 unit vectors, accumulated in float64; a zero vector has
cosine 0 with everything. Ties are broken by the neighbour key, ascending, so that the result
depends only on the input rows (not on how Spark partitioned them).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType

from w2v_spark.core.ranking import merge_top_k, unit_rows
from w2v_spark.errors import InputError, SchemaError, WordNotInVocabularyError
from w2v_spark.io.schemas import NEIGHBOR_CANDIDATES_SCHEMA
from w2v_spark.stages.block_search import hashed_block, pack_blocks, score_block, search_blocks

__all__ = ["block_top_k", "merge_top_k", "nearest_neighbors", "unit_rows"]

#: Candidate blocks scored by one task against its query block.
_CANDIDATE_BLOCKS_PER_TASK = 8


def block_top_k(
    q_keys: npt.NDArray[np.str_],
    q_units: npt.NDArray[np.float32],
    c_keys: npt.NDArray[np.str_],
    c_units: npt.NDArray[np.float32],
    k: int,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.str_]]:
    """One step of :func:`nearest_neighbors`: the best ``k`` candidates of one candidate
    block for each query of a query block, the query's own key left out.

    Args:
        q_keys: shape ``(m,)``.
        q_units: shape ``(m, d)`` float32 unit vectors.
        c_keys: shape ``(n,)``, sorted ascending, distinct.
        c_units: shape ``(n, d)`` float32 unit vectors.
        k: how many per query, ``>= 1``.

    Returns:
        scores, shape ``(m, kk)`` float64 with ``kk = min(k, n)``, best first (``-inf`` where
        fewer than ``kk`` candidates exist), and the keys, shape ``(m, kk)``; equal scores go
        to the smaller key.
    """
    offsets = np.arange(len(q_keys) + 1, dtype=np.int64)
    return score_block(q_units, c_units, c_keys, offsets, q_keys, k, np.float64)


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
            blocks_per_partition: int, queries: bool) -> DataFrame:
    """``rows`` packed into blocks of about ``block_rows`` keys hashed into partitions of about
    ``blocks_per_partition`` blocks; query rows exclude their own key."""
    n_blocks = max(1, math.ceil(n_rows / block_rows))
    key = F.col(key_col)
    columns = [key.alias("id"), F.col(vector_col).alias("vector"),
               hashed_block(key, n_blocks).alias("block")]
    if queries:
        columns.append(F.array(key).alias("excluded"))
    return pack_blocks(rows.select(*columns),
                       max(1, math.ceil(n_blocks / blocks_per_partition)))


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
    q_blocks = _blocks(query_rows, key_col, vector_col, n_queries, block_rows, 1, True)
    c_blocks = _blocks(candidates, key_col, vector_col, n_rows, block_rows,
                       _CANDIDATE_BLOCKS_PER_TASK, False)
    ranked = search_blocks(q_blocks, c_blocks, k, NEIGHBOR_CANDIDATES_SCHEMA)
    return ranked.select(
        F.col("key").alias(key_col),
        "neighbor",
        "score",
        F.col("rank").cast("int").alias("rank"),
    )
