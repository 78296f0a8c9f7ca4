"""File-system operations on any path Spark can write (local, HDFS, S3, ...), through the
Hadoop FileSystem API of the running session, and the completion checks of tables."""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame, SparkSession

from w2v_spark.errors import IncompleteTableError, InputError
from w2v_spark.schemas import SUCCESS_MARKER


def _fs_path(spark: SparkSession, path: str) -> tuple[Any, Any]:
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    fs = hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    return fs, hpath


def join(*parts: str) -> str:
    """Join path parts with '/', keeping URI schemes intact."""
    head, *rest = parts
    return "/".join([head.rstrip("/"), *(p.strip("/") for p in rest)])


def exists(spark: SparkSession, path: str) -> bool:
    """Whether a file or directory exists at ``path``."""
    fs, hpath = _fs_path(spark, path)
    return bool(fs.exists(hpath))


def is_complete(spark: SparkSession, path: str) -> bool:
    """Whether ``path`` is a table whose writer finished (its ``_SUCCESS`` marker is there)."""
    return exists(spark, join(path, SUCCESS_MARKER))


def delete(spark: SparkSession, path: str) -> None:
    """Delete a file or directory tree if it exists."""
    fs, hpath = _fs_path(spark, path)
    if fs.exists(hpath):
        fs.delete(hpath, True)


def list_dirs(spark: SparkSession, path: str) -> list[str]:
    """Names of the sub-directories of ``path`` (empty if it does not exist)."""
    fs, hpath = _fs_path(spark, path)
    if not fs.exists(hpath):
        return []
    return sorted(s.getPath().getName() for s in fs.listStatus(hpath) if s.isDirectory())


def is_nonempty_dir(spark: SparkSession, path: str) -> bool:
    """Whether ``path`` exists and is a file or a directory with anything in it."""
    fs, hpath = _fs_path(spark, path)
    if not fs.exists(hpath):
        return False
    if not fs.getFileStatus(hpath).isDirectory():
        return True
    return len(fs.listStatus(hpath)) > 0


def qualify(spark: SparkSession, path: str) -> str:
    """The fully qualified form of ``path`` (with scheme), for comparing locations."""
    fs, hpath = _fs_path(spark, path)
    return str(fs.makeQualified(hpath).toString())


def write_text(spark: SparkSession, path: str, text: str) -> None:
    """Write a small UTF-8 text file, replacing it: written aside, then renamed into place."""
    fs, hpath = _fs_path(spark, path)
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    tmp = jvm.org.apache.hadoop.fs.Path(path + ".tmp")
    stream = fs.create(tmp, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()
    if fs.exists(hpath):
        fs.delete(hpath, False)
    if not fs.rename(tmp, hpath):
        raise OSError(f"could not move {path}.tmp into place")


def rename(spark: SparkSession, source: str, target: str) -> None:
    """Move a file or directory to ``target``, which must not exist."""
    fs, src = _fs_path(spark, source)
    _, dst = _fs_path(spark, target)
    if not fs.rename(src, dst):
        raise OSError(f"could not move {source} to {target}")


def read_text(spark: SparkSession, path: str) -> str:
    """Read a small UTF-8 text file written by :func:`write_text`."""
    if not exists(spark, path):
        raise InputError(f"{path} does not exist")
    rows = spark.read.text(path, wholetext=True).collect()
    return "".join(r[0] for r in rows)


def read_table(spark: SparkSession, path: str, what: str) -> DataFrame:
    """Read a Parquet table, refusing one that is missing or was not written completely."""
    if not exists(spark, path):
        raise InputError(
            f"the {what} table {path} does not exist; run the stage that writes it first"
        )
    if not is_complete(spark, path):
        raise IncompleteTableError(
            f"the {what} table {path} is incomplete (no {SUCCESS_MARKER} marker): the run that "
            "wrote it did not finish; run that stage again with --overwrite"
        )
    return spark.read.parquet(path)


def glob_exists(spark: SparkSession, path: str) -> bool:
    """Whether ``path`` (which may hold glob characters, as Spark readers accept) matches
    anything."""
    fs, hpath = _fs_path(spark, path)
    matches = fs.globStatus(hpath)
    return matches is not None and len(matches) > 0


def list_files(spark: SparkSession, path: str) -> list[str]:
    """Names of the plain files directly under ``path``, sorted (empty if it does not exist)."""
    fs, hpath = _fs_path(spark, path)
    if not fs.exists(hpath):
        return []
    return sorted(s.getPath().getName() for s in fs.listStatus(hpath) if s.isFile())
