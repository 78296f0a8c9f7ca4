"""Reading an embeddings table into memory: the one loader behind the pipeline, the query
commands and the Python API.

A source is a Spark SQL table's name, a table's path, or a run directory (whose
``embeddings/`` table is read). Whatever the source, the same things are checked: the table is
complete (``_SUCCESS``), its files match the checksums it was published with, it has the
embeddings columns with their types, and its vectors are all present and of one length.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession

from w2v_spark.errors import CorruptError, IncompleteTableError, InputError, SchemaError
from w2v_spark.io import storage
from w2v_spark.io.layout import RECORD
from w2v_spark.io.schemas import EMBEDDINGS, EMBEDDINGS_SCHEMA, SUCCESS_MARKER, check_columns
from w2v_spark.vectors.similarity import Embeddings

#: The columns the loader reads.
COLUMNS = ("word", "word_id", "count", "vector")


def is_table_name(source: str) -> bool:
    """Whether ``source`` can only be a Spark SQL table's name (it is no path: no ``/``, no
    ``:`` and no path separator)."""
    return not any(mark in source for mark in ("/", ":", os.sep))


def table_path(source: str, exists: Any) -> str:
    """The table a path ``source`` names: its ``embeddings/`` table when ``source`` is a run
    directory (it holds a run record or that table), else ``source`` itself (``exists`` tells
    whether a path exists)."""
    nested = storage.join(source, EMBEDDINGS)
    return nested if exists(nested) or exists(storage.join(source, RECORD)) else source


def _corrupt(path: str, problems: list[str]) -> CorruptError:
    return CorruptError(
        f"the embeddings table {path} differs from what was written: " + "; ".join(problems)
        + "; write it again with `w2v-spark export --overwrite`"
    )


def embeddings_frame(spark: SparkSession, source: str) -> tuple[DataFrame, str]:
    """The embeddings table ``source`` names as a DataFrame, and a description of where it
    is for messages.

    Raises:
        InputError: no such table or path. IncompleteTableError: the table has no
            ``_SUCCESS``. CorruptError: a file differs from its checksum. SchemaError: a
            column is missing or of another type.
    """
    if is_table_name(source) and spark.catalog.tableExists(source):
        frame = spark.table(source)
        where = f"the table {source}"
        check_columns(frame.schema, EMBEDDINGS_SCHEMA, where)
        return frame, where
    path = table_path(source, lambda p: storage.exists(spark, p))
    frame = storage.read_table(spark, path, "embeddings", EMBEDDINGS_SCHEMA)
    problems = storage.checksum_problems(spark, path)
    if problems:
        raise _corrupt(path, problems)
    return frame, f"the embeddings table {path}"


def load_embeddings(spark: SparkSession, source: str) -> Embeddings:
    """The embeddings table ``source`` names, in memory (see :func:`embeddings_frame` for the
    errors; a table with null vectors or vectors of different lengths is a SchemaError)."""
    frame, where = embeddings_frame(spark, source)
    return to_embeddings(frame.select(*COLUMNS).toArrow(), where)


def load_local_embeddings(source: str) -> Embeddings:
    """The same as :func:`load_embeddings` for a table on this machine's disk, read with
    pyarrow: no Spark session is started."""
    path = table_path(source, lambda p: Path(p).exists())
    local = Path(path)
    if not local.exists():
        raise InputError(f"the embeddings table {path} does not exist")
    if not local.is_dir():
        raise InputError(f"the embeddings table {path} is a file, not a table directory")
    if not (local / SUCCESS_MARKER).is_file():
        raise IncompleteTableError(
            f"the embeddings table {path} is incomplete (no {SUCCESS_MARKER} marker): the run "
            "that wrote it did not finish"
        )
    problems = local_checksum_problems(local)
    if problems:
        raise _corrupt(path, problems)
    import pyarrow.parquet as pq
    from pyspark.sql.pandas.types import from_arrow_schema

    where = f"the embeddings table {path}"
    try:
        table = pq.read_table(path)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise InputError(f"{path} is not an embeddings table: {exc}") from None
    check_columns(from_arrow_schema(table.schema), EMBEDDINGS_SCHEMA, where)
    return to_embeddings(table.select(list(COLUMNS)), where)


def local_checksum_problems(table: Path) -> list[str]:
    """:func:`w2v_spark.io.storage.checksum_problems` for a table on this machine's disk."""
    record = table / storage.CHECKSUMS
    present = [p.name for p in table.iterdir()
               if p.is_file() and not storage.is_hidden_name(p.name)]
    return storage.compare_checksums(
        str(table), record.read_text(encoding="utf-8") if record.is_file() else None, present,
        size=lambda path: Path(path).stat().st_size, digest=storage.file_sha256,
    )


def to_embeddings(table: pa.Table, where: str) -> Embeddings:
    """In-memory embeddings from the embeddings columns of an Arrow table, refusing null
    vectors and vectors of different lengths."""
    vectors = table.column("vector")
    lengths = pc.list_value_length(vectors)
    bounds = pc.min_max(lengths).as_py() if len(table) else {"min": 0, "max": 0}
    if vectors.null_count or bounds["min"] != bounds["max"]:
        raise SchemaError(f"{where} has null vectors or vectors of different lengths")
    return Embeddings.from_arrow(table)
