"""File-system operations on any path Spark can write (local, HDFS, S3, ...), through the
Hadoop FileSystem API of the running session, and the completion checks of tables."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from w2v_spark.errors import IncompleteTableError, InputError, OutputError
from w2v_spark.io.schemas import SUCCESS_MARKER, check_columns

#: The file in a published table that holds the size and SHA-256 of each of its data files.
CHECKSUMS = "_checksums.json"


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
    """Write a small UTF-8 text file, replacing it: written completely to ``path.tmp``, then
    the old file is deleted and the new one renamed into place. A crash between those two steps
    leaves only the complete ``path.tmp``, which :func:`read_text` then reads."""
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


def copy_local_files(spark: SparkSession, local_dir: str, names: list[str], target: str
                     ) -> None:
    """Copy files of a directory on the driver's local disk into directory ``target``."""
    fs, target_path = _fs_path(spark, target)
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    if not fs.mkdirs(target_path):
        raise OSError(f"could not create {target}")
    for name in names:
        source = jvm.org.apache.hadoop.fs.Path(Path(local_dir, name).resolve().as_uri())
        fs.copyFromLocalFile(False, True, source, jvm.org.apache.hadoop.fs.Path(join(target,
                                                                                    name)))


def write_marker(spark: SparkSession, table: str) -> None:
    """Write the empty completion marker ``_SUCCESS`` of a table whose files are all written."""
    fs, marker = _fs_path(spark, join(table, SUCCESS_MARKER))
    fs.create(marker, True).close()


def rename(spark: SparkSession, source: str, target: str) -> None:
    """Move a file or directory to ``target``, which must not exist."""
    fs, src = _fs_path(spark, source)
    _, dst = _fs_path(spark, target)
    if not fs.rename(src, dst):
        raise OSError(f"could not move {source} to {target}")


def read_text(spark: SparkSession, path: str) -> str:
    """Read a small UTF-8 text file written by :func:`write_text` (no Spark job), or its
    complete ``.tmp`` copy when a crash interrupted the replacement."""
    if not exists(spark, path):
        if not exists(spark, path + ".tmp"):
            raise InputError(f"{path} does not exist")
        path += ".tmp"
    fs, hpath = _fs_path(spark, path)
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    stream = fs.open(hpath)
    try:
        return str(jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8"))
    finally:
        stream.close()


def read_table(spark: SparkSession, path: str, what: str, schema: StructType | None = None
               ) -> DataFrame:
    """Read a Parquet table, refusing one that is missing, was not written completely, or
    lacks a column of ``schema`` (or has it with another type).

    Nothing in the files is executed: Parquet holds plain typed columns, read as such.
    """
    check_table(spark, path, what)
    frame = spark.read.parquet(path)
    if schema is not None:
        check_columns(frame.schema, schema, f"the {what} table {path}")
    return frame


def check_table(spark: SparkSession, path: str, what: str) -> None:
    """Refuse a table that is missing or was not written completely."""
    if not exists(spark, path):
        raise InputError(
            f"the {what} table {path} does not exist; run the stage that writes it first"
        )
    if not is_complete(spark, path):
        raise IncompleteTableError(
            f"the {what} table {path} is incomplete (no {SUCCESS_MARKER} marker): the run that "
            "wrote it did not finish; run that stage again with --overwrite, or resume the "
            "run with --resume"
        )


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


@dataclass(frozen=True)
class FileInfo:
    """One input file: fully qualified path, size in bytes, modification time (ms)."""

    path: str
    size: int
    modified: int


def is_hidden_name(name: str) -> bool:
    """Whether a file name is one Spark and Hadoop skip when reading (``_*`` and ``.*``)."""
    return name.startswith(("_", "."))


def input_files(spark: SparkSession, path: str) -> list[FileInfo]:
    """The files Spark's text reader reads for ``path`` (a file, a directory read
    recursively, or a glob), sorted by path; names starting with ``_`` or ``.`` are skipped
    below a matched directory, as Spark does."""
    fs, hpath = _fs_path(spark, path)
    found: list[FileInfo] = []
    for status in fs.globStatus(hpath) or []:
        if not status.isDirectory():
            found.append(_info(status))
            continue
        root = str(status.getPath().toString()).rstrip("/")
        files = fs.listFiles(status.getPath(), True)
        while files.hasNext():
            item = files.next()
            relative = str(item.getPath().toString())[len(root) + 1:]
            if not any(is_hidden_name(part) for part in relative.split("/")):
                found.append(_info(item))
    return sorted(found, key=lambda f: f.path)


def _info(status: Any) -> FileInfo:
    return FileInfo(
        str(status.getPath().toString()), int(status.getLen()), int(status.getModificationTime())
    )


def sha256(spark: SparkSession, path: str) -> str:
    """SHA-256 of a file's bytes (hex), computed in the JVM while streaming it."""
    fs, hpath = _fs_path(spark, path)
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    stream = fs.open(hpath)
    try:
        return str(jvm.org.apache.commons.codec.digest.DigestUtils.sha256Hex(stream))
    finally:
        stream.close()


def is_file(spark: SparkSession, path: str) -> bool:
    """Whether ``path`` exists and is a plain file."""
    fs, hpath = _fs_path(spark, path)
    return bool(fs.exists(hpath)) and bool(fs.getFileStatus(hpath).isFile())


def java_reason(exc: BaseException) -> str:
    """The line of an exception's message (a Java one through py4j, or a Python one) that
    names the reason."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    found = next((line for line in lines if "Exception" in line), None)
    return found or (lines[0] if lines else type(exc).__name__)


def create_new(spark: SparkSession, path: str, text: str) -> None:
    """Create file ``path`` holding ``text``, atomically refusing (:class:`FileExistsError`)
    when it exists already, as the file system guarantees (HDFS does; object stores may
    not)."""
    fs, hpath = _fs_path(spark, path)
    try:
        stream = fs.create(hpath, False)
    except Exception as exc:
        if fs.exists(hpath):
            raise FileExistsError(path) from None
        raise OSError(f"could not create {path}: {java_reason(exc)}") from None
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


#: The file :func:`check_writable_dir` writes and removes.
WRITE_PROBE = ".w2v_spark-write-probe"


def check_writable_dir(spark: SparkSession, path: str) -> None:
    """Create directory ``path`` if needed and prove a file can be written in it; raise
    :class:`OutputError` with the file system's reason when not."""
    fs, hpath = _fs_path(spark, path)
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    probe = jvm.org.apache.hadoop.fs.Path(join(path, WRITE_PROBE))
    try:
        if not fs.mkdirs(hpath):
            raise OSError("the file system refused to create it")
        fs.create(probe, True).close()
        fs.delete(probe, False)
    except Exception as exc:  # py4j wraps the Java exception; its message names the reason
        raise OutputError(
            f"the output directory {path} cannot be written: {java_reason(exc)}; choose an "
            "--output you can write to"
        ) from None


def list_entries(spark: SparkSession, path: str) -> list[str]:
    """Names of everything directly under directory ``path``, sorted (empty if missing)."""
    fs, hpath = _fs_path(spark, path)
    if not fs.exists(hpath) or not fs.getFileStatus(hpath).isDirectory():
        return []
    return sorted(str(s.getPath().getName()) for s in fs.listStatus(hpath))


def local_path(qualified: str) -> str | None:
    """The path on this machine of a fully qualified ``file:`` location, or None for other
    file systems."""
    parsed = urlparse(qualified)
    if parsed.scheme != "file":
        return None
    return unquote(parsed.path) or "/"


def resolved(spark: SparkSession, path: str) -> str:
    """The fully qualified form of ``path`` with, on the local file system, every symbolic
    link resolved (other file systems are compared by their qualified names only)."""
    qualified = qualify(spark, path).rstrip("/") or "/"
    local = local_path(qualified)
    if local is None:
        return qualified
    return "file:" + os.path.realpath(local)


def contains(outer: str, inner: str) -> bool:
    """Whether location ``inner`` is ``outer`` or lies below it (both from :func:`resolved`)."""
    outer = outer.rstrip("/")
    return inner == outer or inner.startswith(outer + "/")


def file_sha256(path: str) -> str:
    """SHA-256 (hex) of a file on the driver's local disk."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_checksums(spark: SparkSession, table: str, sums: dict[str, dict[str, Any]]) -> None:
    """Write a table's :data:`CHECKSUMS` file: ``{file name: {"size", "sha256"}}`` of every
    data file, before its completion marker."""
    write_text(spark, join(table, CHECKSUMS), json.dumps({"files": sums}, indent=1) + "\n")


def checksum_problems(spark: SparkSession, table: str) -> list[str]:
    """What differs between a table's files and its :data:`CHECKSUMS` (empty when they match,
    or when the table has no checksums: only tables published with them are checked)."""
    record = join(table, CHECKSUMS)
    fs, _ = _fs_path(spark, table)
    return compare_checksums(
        table,
        read_text(spark, record) if exists(spark, record) else None,
        data_files(spark, table),
        size=lambda path: int(fs.getFileStatus(_fs_path(spark, path)[1]).getLen()),
        digest=lambda path: sha256(spark, path),
    )


def data_files(spark: SparkSession, table: str) -> list[str]:
    """The data files of a table, as paths relative to it (``matrix=input/block=0/part-...``
    for a partitioned one), sorted; names starting with ``_`` or ``.`` are skipped at every
    level, as Spark does."""
    fs, hpath = _fs_path(spark, table)
    if not fs.exists(hpath):
        return []
    root = str(fs.getFileStatus(hpath).getPath().toString()).rstrip("/")
    found = []
    files = fs.listFiles(hpath, True)
    while files.hasNext():
        relative = str(files.next().getPath().toString())[len(root) + 1:]
        if not any(is_hidden_name(part) for part in relative.split("/")):
            found.append(relative)
    return sorted(found)


def compare_checksums(table: str, record: str | None, present: list[str],
                      size: Callable[[str], int], digest: Callable[[str], str]) -> list[str]:
    """What differs between the data files ``present`` in ``table`` and the text ``record`` of
    its :data:`CHECKSUMS` file (None: the table has none, nothing to compare); ``size`` and
    ``digest`` give a file's length and SHA-256."""
    if record is None:
        return []
    try:
        expected = json.loads(record)["files"]
    except Exception as exc:  # a damaged record: say so rather than trust the files
        return [f"{join(table, CHECKSUMS)} cannot be read ({type(exc).__name__})"]
    names = set(present)
    problems = [f"{join(table, n)} is missing" for n in sorted(expected.keys() - names)]
    problems += [f"{join(table, n)} is not in {CHECKSUMS}" for n in sorted(names
                                                                          - expected.keys())]
    for name in sorted(expected.keys() & names):
        path = join(table, name)
        length = size(path)
        if length != expected[name]["size"]:
            problems.append(f"{path} has {length} bytes, {expected[name]['size']} when written")
        elif digest(path) != expected[name]["sha256"]:
            problems.append(f"{path} has other content than when it was written "
                            "(SHA-256 differs)")
    return problems


def _table_entry(name: str) -> bool:
    """Whether ``name`` is an entry Spark or :func:`w2v_spark.io.publish.publish_table` writes in
    a table directory: data files, markers, checksums and their ``.crc`` companions."""
    if name.startswith(".") and name.endswith(".crc"):
        name = name[1:-4]
    return (name in (SUCCESS_MARKER, CHECKSUMS, "_temporary") or name.startswith("part-")
            or name.endswith(".parquet") or name.startswith(("_committed_", "_started_")))


def check_replaceable_table(spark: SparkSession, dest: str, what: str, overwrite: bool,
                            inputs: tuple[str, ...] = ()) -> None:
    """Refuse to write the ``what`` table at ``dest`` when that could lose anything: ``dest``
    exists and ``overwrite`` is false; or it is a file, or a directory holding anything but
    a table's files (``--overwrite`` replaces a table, never other data); or one of
    ``inputs`` (paths the command reads) is ``dest`` or lies inside it (symbolic links
    resolved on the local file system)."""
    target = resolved(spark, dest)
    for source in inputs:
        if contains(target, resolved(spark, source)):
            raise OutputError(
                f"{dest} would be replaced but the command reads {source} from it; write the "
                f"{what} table somewhere else"
            )
    if not exists(spark, dest):
        return
    if not overwrite:
        raise OutputError(f"{dest} exists already; pass --overwrite to replace it")
    if is_file(spark, dest):
        raise OutputError(
            f"{dest} is a file, not a table: --overwrite replaces only a {what} table; "
            "choose another destination"
        )
    foreign = [name for name in list_entries(spark, dest) if not _table_entry(name)]
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise OutputError(
            f"{dest} holds more than a table ({shown}): --overwrite replaces only a {what} "
            "table, never other files; choose another destination"
        )
