"""Tables written by the driver: Parquet files of fixed names and settings, their checksums,
and the completion marker last.

pyarrow's Parquet writer with fixed settings makes the same table give the same files, byte for
byte, on every run; Spark's own writer does not, because parquet-mr lists each column's
encodings in the footer in an order that changes from one JVM to the next. The files are
copied to the output through the Hadoop FileSystem API, so any file system Spark writes works.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import SparkSession

from w2v_spark.io import storage

#: Most rows in one file of the embeddings table.
ROWS_PER_FILE = 1 << 20
#: Bytes of vectors aimed at in one row group (what a reader holds at once).
_ROW_GROUP_BYTES = 32 << 20


def write_files(table: pa.Table, directory: str, rows_per_file: int = ROWS_PER_FILE,
                row_group_rows: int | None = None, first: int = 0) -> list[str]:
    """Write ``table`` as ``part-00000.parquet``, ``part-00001.parquet``, ... (numbered from
    ``first``) of at most ``rows_per_file`` rows into a local directory, with fixed settings
    (zstd, row groups of ``row_group_rows``, by default about 32 MiB of the ``vector``
    column), so the bytes depend only on the table. Returns the file names."""
    if row_group_rows is None:
        dim = len(table.column("vector")[0]) if table.num_rows else 1
        row_group_rows = max(1, _ROW_GROUP_BYTES // (4 * dim + 32))
    names = []
    for number, start in enumerate(range(0, max(table.num_rows, 1), rows_per_file), first):
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
    (:func:`w2v_spark.io.storage.write_checksums`), and its completion marker last. ``path``
    must not exist."""
    publish_parts(spark, [table], path, rows_per_file, row_group_rows)


def publish_parts(spark: SparkSession, tables: Iterable[pa.Table], path: str,
                  rows_per_file: int = ROWS_PER_FILE, row_group_rows: int | None = None
                  ) -> None:
    """:func:`publish_table` of the concatenation of ``tables``, holding one of them at a
    time: each is written to its own files (numbered on from the last one's) and copied
    before the next is made. One table gives the files :func:`publish_table` gives."""
    sums: dict[str, dict[str, Any]] = {}
    number = 0
    for table in tables:
        with tempfile.TemporaryDirectory(prefix="w2v_spark-export-") as local:
            names = write_files(table, local, rows_per_file, row_group_rows, first=number)
            number += len(names)
            for name in names:
                sums[name] = {"size": os.path.getsize(os.path.join(local, name)),
                              "sha256": storage.file_sha256(os.path.join(local, name))}
            storage.copy_local_files(spark, local, names, path)
    storage.write_checksums(spark, path, sums)
    storage.write_marker(spark, path)
