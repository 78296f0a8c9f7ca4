"""Reading a run's input: whether it exists, its fingerprint, how its files are split into
partitions, and Spark's failures to read a file turned into errors naming it."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from w2v_spark import fingerprint
from w2v_spark.config import InputConfig
from w2v_spark.errors import InputError, SchemaError
from w2v_spark.io import storage
from w2v_spark.spark.session import sql_conf

log = logging.getLogger(__name__)

#: A share of input lines that are not valid UTF-8 above which the tokenize stage warns
#: (``[tokenize] max_invalid_share`` is where it fails).
WARN_INVALID_SHARE = 0.001


def input_fingerprint(spark: SparkSession, input_path: str) -> dict[str, Any]:
    """The fingerprint of the files at ``input_path`` (:func:`fingerprint.input_fingerprint`)."""
    files = [(f.path, f.size, f.modified) for f in storage.input_files(spark, input_path)]
    return fingerprint.input_fingerprint(
        input_path, files, lambda path: storage.sha256(spark, path)
    )


def split_conf(spark: SparkSession) -> Any:
    """Fix how files are split into partitions (see :data:`fingerprint.MIN_FILE_SPLITS`)."""
    key = fingerprint.MIN_SPLITS_KEY
    return sql_conf(spark, key, spark.conf.get(key, None) or str(fingerprint.MIN_FILE_SPLITS))


_READ_FAILURE = re.compile(r"Encountered error while reading file (\S+?)\.?\s")
_CAUSE = re.compile(r"Caused by: ([\w.$]+): ([^\n]*)")


def read_failure(exc: BaseException) -> str | None:
    """What a Spark job's failure says of an input file it could not read (a truncated or
    mislabelled compressed file), or None when it is another failure."""
    text = str(exc)
    found = _READ_FAILURE.search(text)
    if found is None:
        return None
    causes = [(name, message.strip()) for name, message in _CAUSE.findall(text)]
    name, message = causes[-1] if causes else ("", "")
    if name.endswith("EOFException"):
        why = "is truncated: it ends in the middle of its compressed data"
    elif re.search(r"not a gzip|gzip format|incorrect header", message, re.IGNORECASE):
        why = "is not compressed in the format its name says (not gzip)"
    else:
        why = f"cannot be read ({name.rsplit('.', 1)[-1]}: {message})" if name else (
            "cannot be read")
    return f"the input file {found.group(1)} {why}"


@contextmanager
def reading_input() -> Iterator[None]:
    """Turn a Spark job's failure to read an input file into an :class:`InputError` naming
    the file."""
    try:
        yield
    except Exception as exc:
        reason = read_failure(exc)
        if reason is None:
            raise
        raise InputError(f"{reason}; repair or remove it and run again") from None


def input_is_path(icfg: InputConfig) -> bool:
    """Whether ``--input`` is a path (not the name of a Spark SQL table)."""
    return icfg.table_format != "table"


def check_input(spark: SparkSession, icfg: InputConfig, input_path: str) -> None:
    """Refuse an input path (or glob) that matches nothing, or a missing table when
    ``--input`` names one."""
    if not input_is_path(icfg):
        if not spark.catalog.tableExists(input_path):
            raise InputError(
                f"the input table {input_path} does not exist ([input] table_format = "
                "\"table\" reads --input as a Spark SQL table name)"
            )
    elif not storage.glob_exists(spark, input_path):
        raise InputError(f"the input {input_path} does not exist")


def read_lines(spark: SparkSession, icfg: InputConfig, input_path: str) -> DataFrame:
    """The input's lines as a DataFrame of one string column ``value``: the text files at
    ``input_path``, or with ``table_format = "table"`` the one string column of the Spark SQL
    table it names."""
    if input_is_path(icfg):
        return spark.read.text(input_path)
    table = spark.table(input_path)
    strings = [f.name for f in table.schema.fields if isinstance(f.dataType, StringType)]
    if len(table.columns) != 1 or len(strings) != 1:
        raise SchemaError(
            f"the input table {input_path} must have one string column of text lines, it has "
            + ", ".join(f"{f.name} {f.dataType.simpleString()}" for f in table.schema.fields)
        )
    return table.select(F.col(strings[0]).alias("value"))


def check_invalid_share(input_path: str, lines: int, invalid: int, limit: float) -> None:
    """Fail when more than ``limit`` of the lines are not valid UTF-8; warn above
    :data:`WARN_INVALID_SHARE`."""
    share = invalid / lines if lines else 0.0
    if share > limit:
        raise InputError(
            f"{invalid:,} of the {lines:,} lines of {input_path} ({share:.1%}) are not valid "
            "UTF-8: is it text in another encoding, or not text? Convert it to UTF-8 (e.g. "
            "iconv -f latin1 -t utf-8), or raise [tokenize] max_invalid_share (now "
            f"{limit:g}) to train on it anyway"
        )
    if share > WARN_INVALID_SHARE:
        log.warning("[tokenize] %s of the %s lines of %s (%.1f%%) are not valid UTF-8; their "
                    "invalid bytes are replaced", f"{invalid:,}", f"{lines:,}", input_path,
                    100 * share)
