"""Build the SparkSession from the ``[spark]`` config section.

The library itself never creates sessions: jobs and the command line call
:func:`build_session` once and pass the session down.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
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
    conf = {**DEFAULT_CONF, **dict(cfg.conf)}
    if not under_spark_submit() and SparkSession.getActiveSession() is None:
        conf["spark.driver.extraJavaOptions"] = _with_log_config(
            conf.get("spark.driver.extraJavaOptions", ""), cfg.log_level)
    for key, value in conf.items():
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
    spark.sparkContext.setLogLevel(cfg.log_level)
    return spark


#: Spark's log as its own default configuration writes it (with the loggers it quietens
#: quietened), at the level of ``[spark] log_level`` from the JVM's start. Spark's own
#: loggers are configured too: a Python driver's console then keeps that level (instead of
#: Spark's "default log level" of WARN for an interactive driver).
_LOG4J2 = """\
rootLogger.level = {level}
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{{yy/MM/dd HH:mm:ss}} %p %c{{1}}: %m%n%ex
logger.spark.name = org.apache.spark
logger.spark.level = {level}
logger.jetty.name = org.sparkproject.jetty.util.component.AbstractLifeCycle
logger.jetty.level = error
logger.metastore.name = org.apache.hadoop.hive.metastore.RetryingHMSHandler
logger.metastore.level = fatal
logger.metastore2.name = org.apache.hadoop.hive.metastore.ObjectStore
logger.metastore2.level = error
logger.parquet.name = org.apache.parquet.CorruptStatistics
logger.parquet.level = error
"""


def _with_log_config(java_options: str, level: str) -> str:
    """``java_options`` with a log4j2 configuration of Spark's log at ``level`` (written
    once per level to the temporary directory), unless they name one already."""
    if "log4j2.configurationFile" in java_options:
        return java_options
    path = Path(tempfile.gettempdir()) / f"w2v_spark-log4j2-{level.lower()}.properties"
    text = _LOG4J2.format(level=level.lower())
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        partial = path.with_name(f"{path.name}.{os.getpid()}")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    return f"{java_options} -Dlog4j2.configurationFile=file:{path}".strip()


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
