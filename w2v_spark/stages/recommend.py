"""Users from items: taste vectors and top-k recommendations, computed in Spark in blocks.

A user's vector is the weighted mean of the unit vectors of the items in the user's sequences
that have a vector; with a recency half-life ``h`` the item ``n`` events before the user's
latest weighs ``0.5 ** (n / h)``. Recommendations score every item by cosine with the user's
vector and keep the ``k`` best the user has not seen, searched by
:mod:`w2v_spark.stages.block_search`: users (by a hash) and items (by word id) are packed into
blocks of ``block_rows`` vectors and every (user block, item block) pair is one float32 matrix
product in a task, so no machine holds more than two blocks of vectors and their
``block_rows**2`` scores at once.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from w2v_spark.config import Config
from w2v_spark.core.ranking import unit_rows
from w2v_spark.errors import SchemaError
from w2v_spark.io import storage
from w2v_spark.io.layout import RunPaths
from w2v_spark.io.schemas import (
    EMBEDDINGS,
    NEIGHBORS,
    RECOMMENDATION_CANDIDATES_SCHEMA,
    RECOMMENDATIONS,
    RECOMMENDATIONS_SCHEMA,
    SEQUENCES,
    USER_VECTORS,
    USER_VECTORS_ARROW,
    USER_VECTORS_SCHEMA,
    vector_matrix,
)
from w2v_spark.spark.session import sql_conf
from w2v_spark.stages.block_search import hashed_block, pack_blocks, search_blocks


def _check_columns(frame: DataFrame, needed: set[str], what: str) -> None:
    missing = needed - set(frame.columns)
    if missing:
        raise SchemaError(f"the {what} table lacks column(s) {sorted(missing)}")


# ---------------------------------------------------------------------------------------------
# user vectors


def _mean_vector(table: pa.Table) -> pa.Table:
    """applyInArrow body: one user's items (``back``, ``item``, ``weight``, ``vector``) to the
    weighted mean of their unit vectors, summed in a fixed order (latest first)."""
    order = pc.sort_indices(table, sort_keys=[("back", "ascending"), ("item", "ascending")])
    table = table.take(order)
    weights = table.column("weight").to_numpy().astype(np.float64)
    units = unit_rows(vector_matrix(table.column("vector"))).astype(np.float64)
    mean = (weights @ units) / weights.sum()
    return pa.table(
        [
            pa.array([table.column("user")[0].as_py()], pa.string()),
            pa.array([table.num_rows], pa.int64()),
            pa.array([mean.astype(np.float32)], USER_VECTORS_ARROW.field("vector").type),
        ],
        schema=USER_VECTORS_ARROW,
    )


def user_history(sequences: DataFrame) -> DataFrame:
    """Every event of every user with ``back``, its distance from the user's latest event.

    Args:
        sequences: the sequences table (``sequence, session, items``).

    Returns:
        ``user string, item string, back int`` (0 = the latest event).
    """
    _check_columns(sequences, {"sequence", "session", "items"}, "sequences")
    events = sequences.select(
        F.col("sequence").alias("user"), "session", F.posexplode("items").alias("pos", "item")
    )
    latest_first = Window.partitionBy("user").orderBy(F.desc("session"), F.desc("pos"))
    return events.select("user", "item", (F.row_number().over(latest_first) - 1).alias("back"))


def user_vectors(history: DataFrame, embeddings: DataFrame, half_life: float = 0.0
                 ) -> DataFrame:
    """Each user's taste vector from the items of :func:`user_history` that have a vector.

    Args:
        history: ``user, item, back`` rows.
        embeddings: the embeddings table (``word``, ``vector``).
        half_life: recency half-life in events (0 = every item weighs the same).

    Returns:
        :data:`~w2v_spark.io.schemas.USER_VECTORS_SCHEMA` rows (users without any item that has a
        vector get none).
    """
    _check_columns(embeddings, {"word", "vector"}, "embeddings")
    vectors = embeddings.select(F.col("word").alias("item"), "vector")
    weight = (
        F.pow(F.lit(0.5), F.col("back") / F.lit(float(half_life))) if half_life > 0
        else F.lit(1.0)
    )
    joined = history.join(vectors, on="item", how="inner").select(
        "user", "item", "back", weight.cast("double").alias("weight"), "vector"
    )
    # applyInArrow takes a plain function (it reads the type hints), so the half-life
    # arrives as the weight column.
    return joined.groupBy("user").applyInArrow(_mean_vector, USER_VECTORS_SCHEMA)


# ---------------------------------------------------------------------------------------------
# recommendations


def item_blocks(embeddings: DataFrame, block_rows: int) -> DataFrame:
    """The items' unit vectors packed into blocks of ``block_rows`` consecutive word ids
    (:func:`~w2v_spark.stages.block_search.pack_blocks` rows)."""
    _check_columns(embeddings, {"word_id", "vector"}, "embeddings")
    rows = embeddings.select(
        F.col("word_id").alias("id"), "vector",
        F.floor(F.col("word_id") / block_rows).cast("int").alias("block"),
    )
    return pack_blocks(rows, None)


def seen_items(history: DataFrame, embeddings: DataFrame) -> DataFrame:
    """``user, seen array<int>``: the sorted distinct word ids of each user's items."""
    ids = embeddings.select(F.col("word").alias("item"), "word_id")
    return history.join(ids, on="item", how="inner").groupBy("user").agg(
        F.array_sort(F.collect_set("word_id")).alias("seen")
    )


def recommendations(
    users: DataFrame,
    seen: DataFrame,
    embeddings: DataFrame,
    k: int,
    block_rows: int = 2048,
) -> DataFrame:
    """Each user's ``k`` items of highest cosine with the user's vector, seen items left out.

    Args:
        users: ``user``, ``vector`` rows (:data:`~w2v_spark.io.schemas.USER_VECTORS_SCHEMA`).
        seen: ``user``, ``seen`` (array of word ids) rows from :func:`seen_items`.
        embeddings: the embeddings table (``word``, ``word_id``, ``vector``).
        k: items per user.
        block_rows: vectors per block on either side.

    Returns:
        :data:`~w2v_spark.io.schemas.RECOMMENDATIONS_SCHEMA` rows, rank 1 first; ties in score go
        to the lower ``word_id`` (the more frequent item).
    """
    _check_columns(users, {"user", "vector"}, "user vectors")
    _check_columns(embeddings, {"word", "word_id", "vector"}, "embeddings")
    user_count = users.count()
    user_blocks = max(1, math.ceil(user_count / block_rows))
    with_seen = users.select("user", "vector").join(seen, on="user", how="left").select(
        F.col("user").alias("id"), "vector",
        hashed_block(F.col("user"), user_blocks).alias("block"),
        F.coalesce("seen", F.array().cast("array<int>")).alias("excluded"),
    )
    ranked = search_blocks(pack_blocks(with_seen, None), item_blocks(embeddings, block_rows), k,
                           RECOMMENDATION_CANDIDATES_SCHEMA)
    names = embeddings.select(F.col("word").alias("item"), "word_id")
    return ranked.join(names, on="word_id", how="inner").select(
        [F.col(f.name).cast(f.dataType).alias(f.name) for f in RECOMMENDATIONS_SCHEMA.fields]
    )



# ---------------------------------------------------------------------------------------------
# item neighbours


def item_neighbors(embeddings: DataFrame, k: int, block_rows: int = 2048) -> DataFrame:
    """The ``k`` most similar items of every item: ``item, neighbor, score, rank``.

    The blocked all-pairs search is :func:`w2v_spark.stages.neighbors.nearest_neighbors`.
    """
    from w2v_spark.stages.neighbors import nearest_neighbors

    _check_columns(embeddings, {"word", "vector"}, "embeddings")
    table = nearest_neighbors(embeddings, k, key_col="word", vector_col="vector",
                              block_rows=block_rows)
    return table.withColumnRenamed("word", "item")


def _write_table(frame: DataFrame, path: str) -> None:
    frame.write.mode("errorifexists").parquet(path)


def write_recommendations(spark: SparkSession, cfg: Config, paths: RunPaths) -> dict[str, Any]:
    """The recommend stage: from the embeddings of an items run, the neighbors table and for
    events the user_vectors and recommendations tables (``[items]`` says how many of each);
    returns the stage's facts."""
    started = time.perf_counter()
    icfg = cfg.items
    embeddings = storage.read_table(spark, paths.table(EMBEDDINGS), "embeddings")
    facts: dict[str, Any] = {}
    if icfg.neighbors > 0:
        _write_table(item_neighbors(embeddings, icfg.neighbors, icfg.block_rows),
               paths.table(NEIGHBORS))
        facts["neighbors"] = icfg.neighbors
    if cfg.input.format == "events" and icfg.recommendations > 0:
        sequences = storage.read_table(spark, paths.table(SEQUENCES), "sequences")
        history = user_history(sequences)
        _write_table(user_vectors(history, embeddings, icfg.recency_half_life),
               paths.table(USER_VECTORS))
        users = storage.read_table(spark, paths.table(USER_VECTORS), "user_vectors")
        with sql_conf(spark, "spark.sql.execution.arrow.maxRecordsPerBatch", "4"):
            _write_table(
                recommendations(users, seen_items(history, embeddings), embeddings,
                                icfg.recommendations, icfg.block_rows),
                paths.table(RECOMMENDATIONS),
            )
        facts["users"] = users.count()
        facts["users_without_vector"] = (
            sequences.select("sequence").distinct().count() - facts["users"]
        )
    facts["seconds"] = round(time.perf_counter() - started, 3)
    return facts
