"""Files of a run that Spark tasks read and write themselves, through ``pyarrow.fs``.

Block training (:mod:`w2v_spark.stages.block_train`) runs one small Spark job per sub-round
whose tasks read their two model blocks and their stratum's pair files and write the two
trained blocks directly, without a DataFrame plan: the per-job cost of planning and writing
through Spark SQL is what otherwise dominates a sub-round once there are many small ones.

The run directory must therefore be reachable from the executors by ``pyarrow.fs``: a local
or shared (NFS) path, ``s3://``, ``gs://``, or ``hdfs://`` where libhdfs is installed.
:func:`filesystem` says so on the driver before any task starts.

A file is written whole into a hidden temporary name (``.`` first, which Spark and the
completeness checks skip) and then moved to its name, so a reader sees all of it or none; its
size and SHA-256 are computed from the bytes written, for the table's checksums record.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from w2v_spark.errors import ConfigError, SchemaError
from w2v_spark.io import storage

#: One model row per Parquet row group: a reader holds one row (at most 32 MiB) at a time.
_ROWS_PER_GROUP = 1


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """The ``pyarrow`` file system of a fully qualified location and the path on it.

    Raises:
        ConfigError: ``pyarrow`` cannot open that kind of location.
    """
    local = storage.local_path(uri)
    if local is not None or "://" not in uri:
        return pafs.LocalFileSystem(), local if local is not None else uri
    try:
        fs, path = pafs.FileSystem.from_uri(uri)
    except Exception as exc:
        raise ConfigError(
            f"train.strategy = \"blocks\" needs the run directory to be reachable by pyarrow "
            f"from every executor, and pyarrow cannot open {uri} ({type(exc).__name__}: "
            f"{exc}); use a local or shared path, s3://, gs:// or hdfs:// with libhdfs, or "
            "train.strategy = \"merge\""
        ) from exc
    return fs, path


def parquet_files(fs: pafs.FileSystem, directory: str) -> list[str]:
    """The ``.parquet`` files directly in ``directory``, sorted, hidden names (``_`` or ``.``
    first) skipped; empty when it does not exist."""
    infos = fs.get_file_info(pafs.FileSelector(directory, allow_not_found=True))
    return sorted(i.path for i in infos if i.type == pafs.FileType.File
                  and i.base_name.endswith(".parquet")
                  and not storage.is_hidden_name(i.base_name))


def read_columns(fs: pafs.FileSystem, files: list[str], columns: list[str]) -> pa.Table:
    """The ``columns`` of Parquet ``files`` (at least one), one table (rows of each file in
    turn).

    Raises:
        SchemaError: a file lacks one of the columns.
    """
    tables = []
    for path in files:
        try:
            tables.append(pq.read_table(path, columns=columns, filesystem=fs))
        except (KeyError, pa.ArrowInvalid) as exc:
            raise SchemaError(f"{path} does not have the columns {', '.join(columns)} "
                              f"({type(exc).__name__}: {exc})") from exc
    return pa.concat_tables(tables)


def model_rows(fs: pafs.FileSystem, directory: str) -> Iterator[tuple[int, int, int, bytes]]:
    """The rows ``(start, rows, dim, values)`` of a model block's files, file by file and row
    group by row group, as stored."""
    columns = ["start", "rows", "dim", "values"]
    for path in parquet_files(fs, directory):
        with fs.open_input_file(path) as stream:
            parquet = pq.ParquetFile(stream)
            for group in range(parquet.num_row_groups):
                table = parquet.read_row_group(group, columns=columns)
                yield from zip(*(table.column(c).to_pylist() for c in columns), strict=True)


def write_parquet(fs: pafs.FileSystem, directory: str, name: str, table: pa.Table
                  ) -> dict[str, Any]:
    """Write ``table`` as the Parquet file ``directory/name`` (uncompressed: model values do
    not compress), whole or not at all; return its ``{"size", "sha256"}``."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="none", row_group_size=_ROWS_PER_GROUP)
    data = sink.getvalue()
    fs.create_dir(directory, recursive=True)
    temporary = f"{directory}/.{name}.{uuid.uuid4().hex}.tmp"
    with fs.open_output_stream(temporary) as out:
        out.write(data)
    fs.move(temporary, f"{directory}/{name}")
    return {"size": data.size, "sha256": hashlib.sha256(memoryview(data)).hexdigest()}

