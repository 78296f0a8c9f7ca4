"""Build the SparkSession from the ``[spark]`` config section.

The library itself never creates sessions: jobs and the command line call
:func:`build_session` once and pass the session down.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import SparkSession

from w2v_spark.config import SparkConfig
from w2v_spark.errors import ConfigError, JavaNotFoundError

#: Settings the pipeline relies on; anything in ``[spark.conf]`` overrides them.
DEFAULT_CONF = {
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "100000",
    "spark.python.worker.reuse": "true",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.parquet.compression.codec": "zstd",
    "spark.driver.maxResultSize": "4g",
}

JAVA_HELP = (
    "Spark needs Java 17 (or 21) and none was found: no 'java' on PATH and no usable "
    "JAVA_HOME. Install one, e.g. 'sudo apt-get install openjdk-17-jre-headless' on "
    "Debian/Ubuntu or 'brew install openjdk@17' on macOS, then set JAVA_HOME or put java "
    "on PATH."
)


def find_java(env: dict[str, str] | None = None) -> str:
    """Path of the java executable Spark will use, or raise :class:`JavaNotFoundError`."""
    env = dict(os.environ) if env is None else env
    home = env.get("JAVA_HOME")
    candidate = Path(home) / "bin" / "java" if home else None
    if candidate is not None and candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("java", path=env.get("PATH", ""))
    if found:
        return found
    raise JavaNotFoundError(JAVA_HELP)


def under_spark_submit() -> bool:
    """Whether this driver was launched by spark-submit (which then owns the master)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def build_session(cfg: SparkConfig) -> SparkSession:
    """Create (or get) the session described by ``cfg``.

    Under spark-submit the master and driver memory come from spark-submit; otherwise from
    ``cfg`` (``local[*]`` when no master is configured). Python workers run the same
    interpreter as the driver unless ``PYSPARK_PYTHON`` says otherwise.
    """
    builder = SparkSession.builder.appName(cfg.app_name)
    if not under_spark_submit():
        find_java()
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = builder.master(cfg.master or "local[*]")
        builder = builder.config("spark.driver.memory", cfg.driver_memory)
    for key, value in {**DEFAULT_CONF, **dict(cfg.conf)}.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # PySparkRuntimeError JAVA_GATEWAY_EXITED, or a py4j error
        if not _start_failure(exc):
            raise
        master = cfg.master or "local[*]"
        raise ConfigError(
            f"Spark did not start (its Java process exited; its own messages are above) with "
            f"[spark] master = {master!r}, driver_memory = {cfg.driver_memory!r} and "
            f"[spark.conf] {dict(cfg.conf) or '{}'}: check these settings"
        ) from None
    spark.sparkContext.setLogLevel("WARN")
    return spark


def _start_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says the JVM behind a new session exited or could not be reached."""
    text = f"{type(exc).__name__} {exc}"
    return any(mark in text for mark in ("JAVA_GATEWAY_EXITED", "Java gateway process exited",
                                         "Could not parse Master URL"))


@contextmanager
def sql_conf(spark: SparkSession, key: str, value: str) -> Iterator[None]:
    """Set a runtime SQL setting for the duration of a block, then restore it."""
    old = spark.conf.get(key, None)
    spark.conf.set(key, value)
    try:
        yield
    finally:
        if old is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, old)
