"""What an output location holds (:func:`inspect_output`: missing, empty, a file, a run or
anything else) and the check that a command's output does not overlap its input
(:func:`check_overlap`), made before a command takes the run's lock (:mod:`w2v_spark.run`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pyspark.sql import SparkSession

from w2v_spark.errors import OutputError
from w2v_spark.io import storage
from w2v_spark.io.layout import LOCK, OWN_ENTRIES, RECORD


@dataclass(frozen=True)
class OutputState:
    """What an output location holds: ``kind`` is ``missing``, ``empty``, ``file``, ``run``
    (a directory with a run record) or ``foreign`` (anything else); ``foreign_entries`` are
    the entries a run does not write (for ``foreign``: every entry, when all have the names
    of a run's tables but there is no record)."""

    kind: str
    foreign_entries: tuple[str, ...] = ()


def _is_record(spark: SparkSession, path: str) -> bool:
    try:
        data = json.loads(storage.read_text(spark, path))
    except Exception:
        return False
    return isinstance(data, dict) and isinstance(data.get("stages"), dict)


def inspect_output(spark: SparkSession, output: str) -> OutputState:
    """Classify ``output`` (see :class:`OutputState`). A directory is a run when its record
    parses as one, or, when the record is damaged, when it holds nothing a run does not
    write."""
    if not storage.exists(spark, output):
        return OutputState("missing")
    if storage.is_file(spark, output):
        return OutputState("file")
    entries = storage.list_entries(spark, output)
    if not entries:
        return OutputState("empty")
    foreign = tuple(e for e in entries if e not in OWN_ENTRIES)
    has_record = RECORD in entries or RECORD + ".tmp" in entries
    if has_record and (not foreign or _is_record(spark, storage.join(output, RECORD))):
        return OutputState("run", foreign)
    if entries == [LOCK]:
        return OutputState("empty")
    return OutputState("foreign", foreign or tuple(entries))


def check_overlap(spark: SparkSession, input_path: str, output: str,
                  input_is_path: bool = True) -> None:
    """Refuse an output that would contain, or lie inside, the input: the input's directory
    part before any glob character and every file it reads, with symbolic links resolved on
    the local file system (on other file systems the qualified names are compared).
    ``input_is_path=False``: the input is a table name, nothing to check."""
    if not input_is_path:
        return
    out = storage.resolved(spark, output)
    base = storage.resolved(spark, _glob_base(input_path))
    overlaps = storage.contains(out, base) or storage.contains(base, out)
    if not overlaps and storage.exists(spark, output):
        files = storage.input_files(spark, input_path)
        overlaps = any(storage.contains(out, storage.resolved(spark, f.path)) for f in files)
    if overlaps:
        raise OutputError(
            f"the output {output} and the input {input_path} overlap (symbolic links "
            "followed); choose an output directory outside the input"
        )


def _glob_base(path: str) -> str:
    """The directory part of ``path`` before any glob character (the path itself if none)."""
    cut = min((i for i, ch in enumerate(path) if ch in "*?[{"), default=-1)
    if cut < 0:
        return path
    return path[:cut].rsplit("/", 1)[0] or "/"
