"""Vectors files in and out of embeddings tables, with Spark.

**Import** (:func:`import_vectors`): one Spark task reads the file sequentially with
:class:`~w2v_spark.io.vector_reader.VectorReader` and streams Arrow batches of a few MB into Spark's
Parquet writer, so neither the driver nor the task ever holds the whole file (a 3.4 GB
GoogleNews binary passes through in chunks). One sequential reader is the right shape here:
gzip streams and word2vec binary records cannot be split without reading what comes before
them, the word ids are the positions in the file, and the header's count can only be checked
at the end. The rows go to ``dest._importing``; when the file turns out to be malformed or
truncated, the reader ends with one row whose ``word_id`` is :data:`ERROR_ID` and whose ``word``
is the error. Only when that table holds no such row and no duplicate word is it moved to
``dest`` (a rename), so a table at ``dest`` with its ``_SUCCESS`` marker is always a whole file.
The file must be readable from the executors (a local path in local mode, or an ``hdfs:``/``s3:``
URI that pyarrow can open). A GloVe file has no header, so the task counts its lines first
(one more pass of reading, no parsing).

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

from w2v_spark.errors import InputError, SchemaError, VectorFormatError
from w2v_spark.io import storage
from w2v_spark.io.formats import UNICODE_ERRORS, check_format
from w2v_spark.io.schemas import (
    EMBEDDINGS_ARROW,
    EMBEDDINGS_SCHEMA,
    VECTOR_CHUNKS_SCHEMA,
    vector_column,
)
from w2v_spark.io.vector_reader import VectorReader
from w2v_spark.io.vector_streams import open_input, open_output
from w2v_spark.io.vector_writer import format_records, header_bytes

__all__ = ["export_vectors", "import_vectors", "vectors_frame"]

_ROWS_PER_BATCH = 8192

#: ``word_id`` of the row that carries a reading error (its ``word`` is the message).
ERROR_ID = -1


# ---------------------------------------------------------------------------------------------
# import


def _rows_batch(words: list[str], vectors: np.ndarray, start: int, total: int
                ) -> pa.RecordBatch:
    """Embeddings rows ``start .. start + n - 1`` of a file of ``total`` vectors."""
    ids = np.arange(start, start + vectors.shape[0], dtype=np.int32)
    return pa.RecordBatch.from_arrays(
        [
            pa.array(words, pa.string()),
            pa.array(ids),
            pa.array(total - ids.astype(np.int64)),
            vector_column(vectors),
        ],
        schema=EMBEDDINGS_ARROW,
    )


def _error_batch(message: str) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(
        [{"word": message, "word_id": ERROR_ID, "count": -1, "vector": []}],
        schema=EMBEDDINGS_ARROW,
    )


def _read_rows(path: str, fmt: str, unicode_errors: str, chunk_bytes: int
               ) -> Iterator[pa.RecordBatch]:
    total = None
    if fmt == "glove":
        with open_input(path) as stream:
            total = VectorReader(stream, fmt, unicode_errors, chunk_bytes).count_rest()
    with open_input(path) as stream:
        reader = VectorReader(stream, fmt, unicode_errors, chunk_bytes=chunk_bytes)
        total = reader.count_rest() if total is None else total
        read = 0
        for batch in reader.batches():
            for lo in range(0, len(batch.words), _ROWS_PER_BATCH):
                hi = lo + _ROWS_PER_BATCH
                yield _rows_batch(batch.words[lo:hi], batch.vectors[lo:hi], batch.start + lo,
                                  total)
            read = batch.start + len(batch.words)
    if read != total:
        raise VectorFormatError(f"the file held {total} vectors when counted and {read} when "
                                "read: it changed while being imported")


def _read_task(batches: Iterator[pa.RecordBatch], path: str, fmt: str, unicode_errors: str,
               chunk_bytes: int) -> Iterator[pa.RecordBatch]:
    """mapInArrow body of the single reading task: the file's vectors as embeddings rows; a
    malformed file ends with one row ``word_id = ERROR_ID`` whose ``word`` is the error."""
    for _ in batches:
        pass
    try:
        yield from _read_rows(path, fmt, unicode_errors, chunk_bytes)
    except VectorFormatError as exc:
        yield _error_batch(str(exc))
    except OSError as exc:
        yield _error_batch(f"reading failed: {exc}")


def vectors_frame(spark: SparkSession, path: str, fmt: str, unicode_errors: str = "strict",
                  chunk_bytes: int = 8 << 20) -> DataFrame:
    """The vectors of a file as embeddings rows, read by one task in chunks.

    Returns:
        :data:`~w2v_spark.io.schemas.EMBEDDINGS_SCHEMA` rows in file order (``word_id`` 0..V-1,
        ``count = V - word_id``), or, when the file is malformed, the rows before the problem
        and a last row with ``word_id = ERROR_ID`` whose ``word`` is the error message.
    """
    check_format(fmt)
    if unicode_errors not in UNICODE_ERRORS:
        raise ValueError(f"unicode_errors must be one of {', '.join(UNICODE_ERRORS)}")
    body = partial(_read_task, path=path, fmt=fmt, unicode_errors=unicode_errors,
                   chunk_bytes=chunk_bytes)
    return spark.range(1, numPartitions=1).mapInArrow(body, EMBEDDINGS_SCHEMA)


def _check_staging(staging: DataFrame, path: str) -> tuple[int, int]:
    """Raise the reader's error or a duplicate word; return ``(V, d)``."""
    summary = staging.agg(
        F.count(F.lit(1)).alias("n"),
        F.min("word_id").alias("first"),
        F.max(F.size("vector")).alias("dim"),
    ).first()
    assert summary is not None
    if summary["first"] is not None and summary["first"] == ERROR_ID:
        error = staging.filter(F.col("word_id") == ERROR_ID).select("word").first()
        assert error is not None
        raise VectorFormatError(f"{path}: {error['word']}")
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

    The table is written beside ``dest`` (``dest._importing``), checked, and moved to ``dest``
    only when the file was read completely and holds no duplicate word.

    Raises:
        VectorFormatError: the file is malformed, truncated, or has a duplicate word; nothing is
            published at ``dest``.
        OutputError: ``dest`` exists and ``overwrite`` is false, or ``dest`` is not a table
            that may be replaced (:func:`w2v_spark.io.storage.check_replaceable_table`).
    """
    started = time.perf_counter()
    check_format(fmt)
    storage.check_replaceable_table(spark, dest, "embeddings", overwrite, inputs=(path,))
    staging_path = dest.rstrip("/") + "._importing"
    storage.delete(spark, staging_path)
    try:
        vectors_frame(spark, path, fmt, unicode_errors).write.parquet(staging_path)
        count, dim = _check_staging(spark.read.parquet(staging_path), path)
        storage.delete(spark, dest)
        storage.rename(spark, staging_path, dest)
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
        .mapInArrow(partial(_format_task, fmt=fmt, precision=precision), VECTOR_CHUNKS_SCHEMA)
    )
    with open_output(path) as out:
        if fmt != "glove":
            out.write(header_bytes(count, dim))
        for row in chunks.toLocalIterator():
            out.write(row["chunk"])
    return {"file": path, "format": fmt, "vectors": count, "dim": dim,
            "seconds": round(time.perf_counter() - started, 3)}
