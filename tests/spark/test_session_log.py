"""``[spark] log_level`` in a driver of its own: the JVM logs at that level from its start."""

from __future__ import annotations

import sys

import pytest

from tests.runs import cli_env, run_cli

pytestmark = pytest.mark.spark


@pytest.mark.parametrize(("level", "seen", "unseen"), [
    ("ERROR", None, (" WARN ", "Setting default log level", "Using Spark's default")),
    ("INFO", " INFO SparkContext: Running Spark version", ()),
])
def test_the_spark_log_level_applies_from_the_start(level: str, seen: str | None,
                                                    unseen: tuple[str, ...]) -> None:
    """A session started with ``[spark] log_level``: at ERROR, nothing of Spark's start-up
    warnings; at INFO, Spark's start-up messages."""
    code = ("import sys; from w2v_spark import session; "
            "session(settings=sys.argv[1:]).stop()")
    done = run_cli([sys.executable, "-c", code, "spark.master=local[1]",
                    "spark.conf.spark.ui.enabled=false", f"spark.log_level={level}"], cli_env())
    assert done.returncode == 0, done.stderr[-3000:]
    if seen is not None:
        assert seen in done.stderr
    for text in unseen:
        assert text not in done.stderr, done.stderr
