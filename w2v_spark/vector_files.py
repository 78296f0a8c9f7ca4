"""Vectors files in and out of embeddings tables, with Spark.

**Import** (:func:`import_vectors`): one Spark task reads the file sequentially with
:class:`~w2v_spark.formats.VectorReader` and streams Arrow batches of a few MB into Spark's
Parquet writer, so neither the driver nor the task ever holds the whole file (a 3.4 GB
GoogleNews binary passes through in chunks). One sequential reader is the right shape here:
gzip streams and word2vec binary records cannot be split without reading what comes before
them, the word ids are the positions in the file, and the header's count can only be checked
at the end. The batches go to a staging table first, with an ``error`` column that the reader
fills (in a last row) when the file turns out to be malformed or truncated; only when the
staging table holds no error and no duplicate word is the embeddings table written, and only
then does it get its ``_SUCCESS`` marker. The file must be readable from the executors (a local
path in local mode, or an ``hdfs:``/``s3:`` URI that pyarrow can open).

The files hold no corpus counts. The imported ``count`` is ``V - word_id`` (``V`` for the first
word down to 1 for the last), as gensim's ``load_word2vec_format`` does: it keeps the file's
frequency order meaningful for everything that ranks by count, and is never mistaken for a real
count of 0.

**Export** (:func:`export_vectors`): the table, sorted by ``word_id``, is formatted in parallel
by the executors (one byte chunk per Arrow batch); the driver fetches one partition at a time
(``toLocalIterator``) and appends the chunks to ``path + ".tmp"``, which is renamed to ``path``
when everything is written.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    FloatType,
    IntegerType,
    StringType,
    StructField,
    StructType,
)

from w2v_spark import storage
from w2v_spark.errors import InputError, OutputError, SchemaError, VectorFormatError
from w2v_spark.formats import (
    UNICODE_ERRORS,
    VectorReader,
    check_format,
    format_records,
    header_bytes,
    open_input,
    open_output,
)
from w2v_spark.schemas import EMBEDDINGS
from w2v_spark.similarity import Embeddings

__all__ = ["export_vectors", "import_vectors", "load_embeddings", "vectors_frame"]

#: What the reading task produces: the vectors in file order, or one last row with an error.
STAGING_SCHEMA = StructType(
    [
        StructField("word", StringType(), True),
        StructField("word_id", IntegerType(), True),
        StructField("dim", IntegerType(), True),
        StructField("vector", ArrayType(FloatType(), False), True),
        StructField("error", StringType(), True),
    ]
)
_STAGING_ARROW = pa.schema(
    [
        pa.field("word", pa.string()),
        pa.field("word_id", pa.int32()),
        pa.field("dim", pa.int32()),
        pa.field("vector", pa.list_(pa.field("element", pa.float32(), nullable=False))),
        pa.field("error", pa.string()),
    ]
)
_CHUNK_SCHEMA = StructType([StructField("chunk", BinaryType(), False)])
_ROWS_PER_BATCH = 8192


# ---------------------------------------------------------------------------------------------
# import


def _staging_batch(words: list[str] | None, vectors: np.ndarray | None, start: int, dim: int,
                   error: str | None = None) -> pa.RecordBatch:
    if error is not None:
        return pa.RecordBatch.from_pylist(
            [{"word": None, "word_id": None, "dim": dim, "vector": None, "error": error}],
            schema=_STAGING_ARROW,
        )
    assert words is not None and vectors is not None
    n = len(words)
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
    offsets = pa.array(np.arange(0, (n + 1) * dim, dim, dtype=np.int32))
    return pa.RecordBatch.from_arrays(
        [
            pa.array(words, pa.string()),
            pa.array(np.arange(start, start + n, dtype=np.int32)),
            pa.array(np.full(n, dim, dtype=np.int32)),
            pa.ListArray.from_arrays(offsets, flat).cast(_STAGING_ARROW.field("vector").type),
            pa.nulls(n, pa.string()),
        ],
        schema=_STAGING_ARROW,
    )


def _read_task(batches: Iterator[pa.RecordBatch], path: str, fmt: str, unicode_errors: str,
               chunk_bytes: int) -> Iterator[pa.RecordBatch]:
    """mapInArrow body of the single reading task: the file's vectors as staging batches,
    ending with an error row if the file is malformed."""
    for _ in batches:
        pass
    dim = 0
    try:
        with open_input(path) as stream:
            reader = VectorReader(stream, fmt, unicode_errors, chunk_bytes=chunk_bytes)
            dim = reader.dim
            for batch in reader.batches():
                for lo in range(0, len(batch.words), _ROWS_PER_BATCH):
                    hi = lo + _ROWS_PER_BATCH
                    yield _staging_batch(batch.words[lo:hi], batch.vectors[lo:hi],
                                         batch.start + lo, dim)
    except VectorFormatError as exc:
        yield _staging_batch(None, None, 0, dim, error=str(exc))
    except OSError as exc:
        yield _staging_batch(None, None, 0, dim, error=f"reading failed: {exc}")


def vectors_frame(spark: SparkSession, path: str, fmt: str, unicode_errors: str = "strict",
                  chunk_bytes: int = 8 << 20) -> DataFrame:
    """The vectors of a file as a staging DataFrame, read by one task in chunks.

    Returns:
        :data:`STAGING_SCHEMA` rows ``(word, word_id, dim, vector, error=null)`` in file order
        (``word_id`` 0..V-1), or, when the file is malformed, the rows before the problem and a
        last row with only ``error`` set.
    """
    check_format(fmt)
    if unicode_errors not in UNICODE_ERRORS:
        raise ValueError(f"unicode_errors must be one of {', '.join(UNICODE_ERRORS)}")
    body = partial(_read_task, path=path, fmt=fmt, unicode_errors=unicode_errors,
                   chunk_bytes=chunk_bytes)
    return spark.range(1, numPartitions=1).mapInArrow(body, STAGING_SCHEMA)


def _check_staging(staging: DataFrame, path: str) -> tuple[int, int]:
    """Raise the reader's error or a duplicate word; return ``(V, d)``."""
    error = staging.filter(F.col("error").isNotNull()).select("error").first()
    if error is not None:
        raise VectorFormatError(f"{path}: {error['error']}")
    summary = staging.agg(F.count(F.lit(1)).alias("n"), F.max("dim").alias("dim")).first()
    assert summary is not None
    if summary["n"] == 0:
        raise VectorFormatError(f"{path}: the file holds no vectors")
    dup = (
        staging.groupBy("word")
        .agg(F.count(F.lit(1)).alias("n"), F.sort_array(F.collect_list("word_id")).alias("ids"))
        .filter(F.col("n") > 1)
        .orderBy(F.col("ids")[0])
        .first()
    )
    if dup is not None:
        places = ", ".join(str(i + 1) for i in dup["ids"][:5])
        raise VectorFormatError(
            f"{path}: the word {dup['word']!r} appears {dup['n']} times (vectors {places}); "
            "each word must have one vector"
        )
    return int(summary["n"]), int(summary["dim"])


def import_vectors(spark: SparkSession, path: str, fmt: str, dest: str, overwrite: bool = False,
                   unicode_errors: str = "strict") -> dict[str, Any]:
    """Import a word2vec text/binary or GloVe file into an embeddings table at ``dest``.

    Raises:
        VectorFormatError: the file is malformed, truncated, or has a duplicate word; nothing is
            published at ``dest``.
        OutputError: ``dest`` exists and ``overwrite`` is false.
    """
    started = time.perf_counter()
    check_format(fmt)
    if storage.exists(spark, dest):
        if not overwrite:
            raise OutputError(f"{dest} exists already; pass --overwrite to replace it")
        storage.delete(spark, dest)
    staging_path = dest.rstrip("/") + "._importing"
    storage.delete(spark, staging_path)
    try:
        vectors_frame(spark, path, fmt, unicode_errors).write.parquet(staging_path)
        staging = spark.read.parquet(staging_path)
        count, dim = _check_staging(staging, path)
        table = staging.select(
            F.col("word").cast("string").alias("word"),
            F.col("word_id").cast("int").alias("word_id"),
            (F.lit(count) - F.col("word_id")).cast("long").alias("count"),
            "vector",
        )
        table.write.parquet(dest)
    finally:
        storage.delete(spark, staging_path)
    return {"input": path, "format": fmt, "table": dest, "vectors": count, "dim": dim,
            "seconds": round(time.perf_counter() - started, 3)}


# ---------------------------------------------------------------------------------------------
# export


def _format_task(batches: Iterator[pa.RecordBatch], fmt: str, precision: int | None
                 ) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: (word, vector) batches to one byte chunk each, order kept."""
    for batch in batches:
        if batch.num_rows == 0:
            continue
        words = batch.column("word").to_pylist()
        flat = batch.column("vector").flatten().to_numpy(zero_copy_only=False)
        vectors = flat.astype(np.float32, copy=False).reshape(batch.num_rows, -1)
        chunk = format_records(words, vectors, fmt, precision)
        yield pa.RecordBatch.from_arrays([pa.array([chunk], pa.binary())], names=["chunk"])


def _check_table(table: DataFrame) -> tuple[int, int]:
    """Validate an embeddings table for export in one job; return ``(V, d)``."""
    missing = {"word", "word_id", "vector"} - set(table.columns)
    if missing:
        raise SchemaError(f"the embeddings table lacks column(s) {sorted(missing)}")
    bad_word = F.col("word").isNull() | (F.col("word") == "") | F.col("word").rlike(
        "[ \\t\\n\\r\\x0B\\f]"
    )
    row = table.agg(
        F.count(F.lit(1)).alias("n"),
        F.min(F.size("vector")).alias("lo"),
        F.max(F.size("vector")).alias("hi"),
        F.min(F.when(bad_word, F.struct("word_id", "word"))).alias("bad"),
    ).first()
    assert row is not None
    if row["n"] == 0:
        raise InputError("the embeddings table is empty: there is nothing to export")
    if row["bad"] is not None:
        raise SchemaError(
            f"the word {row['bad']['word']!r} (word_id {row['bad']['word_id']}) cannot be "
            "written to a word2vec file: words must be non-empty and hold no whitespace"
        )
    if row["lo"] != row["hi"] or row["lo"] is None or row["lo"] < 1:
        raise SchemaError(
            f"the vectors must all have one length >= 1; found {row['lo']} to {row['hi']}"
        )
    return int(row["n"]), int(row["lo"])


def export_vectors(table: DataFrame, path: str, fmt: str, precision: int | None = None
                   ) -> dict[str, Any]:
    """Write an embeddings table to a word2vec text/binary (or GloVe) file, in ``word_id``
    order; ``.gz`` paths are gzip-compressed. ``path`` appears only once it is complete.

    Args:
        precision: significant digits of text values; ``None`` for the shortest text that
            reads back as the same float32.
    """
    started = time.perf_counter()
    check_format(fmt)
    count, dim = _check_table(table)
    chunks = (
        table.select("word", "word_id", F.col("vector").cast("array<float>").alias("vector"))
        .orderBy("word_id")
        .select("word", "vector")
        .mapInArrow(partial(_format_task, fmt=fmt, precision=precision), _CHUNK_SCHEMA)
    )
    with open_output(path) as out:
        if fmt != "glove":
            out.write(header_bytes(count, dim))
        for row in chunks.toLocalIterator():
            out.write(row["chunk"])
    return {"file": path, "format": fmt, "vectors": count, "dim": dim,
            "seconds": round(time.perf_counter() - started, 3)}


# ---------------------------------------------------------------------------------------------
# loading into memory


def load_embeddings(spark: SparkSession, source: str) -> Embeddings:
    """An embeddings table in memory: a Spark table name, a table path, or a run directory
    (whose ``embeddings/`` table is read)."""
    if "/" not in source and ":" not in source and spark.catalog.tableExists(source):
        table = spark.table(source)
        where = f"the table {source}"
    else:
        path = source
        nested = storage.join(source, EMBEDDINGS)
        if not storage.is_complete(spark, source) and storage.exists(spark, nested):
            path = nested
        table = storage.read_table(spark, path, "embeddings")
        where = f"the embeddings table {path}"
    missing = {"word", "word_id", "count", "vector"} - set(table.columns)
    if missing:
        raise SchemaError(f"{where} lacks column(s) {sorted(missing)}")
    return Embeddings.from_arrow(table.select("word", "word_id", "count", "vector").toArrow())
