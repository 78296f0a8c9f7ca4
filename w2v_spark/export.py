"""Stage 5: the embeddings table from the final model and the vocabulary.

The table is written by the driver, which holds the model anyway (it merges every round), with
pyarrow's Parquet writer and fixed settings into files with fixed names, and copied to the
output through the Hadoop FileSystem API. The same model and vocabulary therefore give the
same files, byte for byte, on every run; Spark's own writer does not, because parquet-mr lists
each column's encodings in the footer in an order that changes from one JVM to the next.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import SparkSession

from w2v_spark import storage
from w2v_spark.errors import SchemaError

EMBEDDINGS_ARROW = pa.schema(
    [
        pa.field("word", pa.string(), nullable=False),
        pa.field("word_id", pa.int32(), nullable=False),
        pa.field("count", pa.int64(), nullable=False),
        pa.field("vector", pa.list_(pa.field("element", pa.float32(), nullable=False)),
                 nullable=False),
    ]
)

#: Most rows in one file of the embeddings table.
ROWS_PER_FILE = 1 << 20
#: Bytes of vectors aimed at in one row group (what a reader holds at once).
_ROW_GROUP_BYTES = 32 << 20


def embeddings_arrow(words: pa.Array, counts: np.ndarray, vectors: np.ndarray) -> pa.Table:
    """The embeddings table (:data:`EMBEDDINGS_ARROW`), one row per word in id order.

    Args:
        words: (V,) strings, word ``i`` at position ``i``.
        counts: (V,) corpus counts.
        vectors: (V, d) float32 input vectors.
    """
    size = len(words)
    if counts.shape != (size,) or vectors.ndim != 2 or vectors.shape[0] != size:
        raise SchemaError(
            f"the vocabulary has {size} words and {counts.shape[0]} counts but the model has "
            f"{vectors.shape[0]} rows: they are not from the same run"
        )
    return pa.Table.from_arrays(
        [words.cast(pa.string()), pa.array(np.arange(size, dtype=np.int32)),
         pa.array(counts.astype(np.int64)), vector_column(vectors)],
        schema=EMBEDDINGS_ARROW,
    )


def vector_column(vectors: np.ndarray) -> pa.Array:
    """The ``vector`` column of the embeddings table from (n, d) vectors: n lists of d
    float32, sharing one flat buffer."""
    n, dim = vectors.shape
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
    offsets = pa.array(np.arange(0, (n + 1) * dim, dim, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, flat).cast(EMBEDDINGS_ARROW.field("vector").type)


def write_files(table: pa.Table, directory: str, rows_per_file: int = ROWS_PER_FILE,
                row_group_rows: int | None = None) -> list[str]:
    """Write ``table`` as ``part-00000.parquet``, ``part-00001.parquet``, ... of at most
    ``rows_per_file`` rows into a local directory, with fixed settings (zstd, row groups of
    ``row_group_rows``, by default about 32 MiB of the ``vector`` column), so the bytes depend
    only on the table. Returns the file names."""
    if row_group_rows is None:
        dim = len(table.column("vector")[0]) if table.num_rows else 1
        row_group_rows = max(1, _ROW_GROUP_BYTES // (4 * dim + 32))
    names = []
    for number, start in enumerate(range(0, max(table.num_rows, 1), rows_per_file)):
        name = f"part-{number:05d}.parquet"
        pq.write_table(
            table.slice(start, rows_per_file), os.path.join(directory, name),
            row_group_size=row_group_rows, compression="zstd", use_dictionary=False,
            write_statistics=True,
        )
        names.append(name)
    return names


def publish_table(spark: SparkSession, table: pa.Table, path: str,
                  rows_per_file: int = ROWS_PER_FILE, row_group_rows: int | None = None
                  ) -> None:
    """Write ``table`` as a Parquet table at ``path`` (any file system Spark can write) with
    :func:`write_files`, then the size and SHA-256 of every file
    (:func:`w2v_spark.storage.write_checksums`), and its completion marker last. ``path``
    must not exist."""
    with tempfile.TemporaryDirectory(prefix="w2v_spark-export-") as local:
        names = write_files(table, local, rows_per_file, row_group_rows)
        sums = {
            name: {"size": os.path.getsize(os.path.join(local, name)),
                   "sha256": storage.file_sha256(os.path.join(local, name))}
            for name in names
        }
        storage.copy_local_files(spark, local, names, path)
    storage.write_checksums(spark, path, sums)
    storage.write_marker(spark, path)
