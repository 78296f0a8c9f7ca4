"""Fixtures shared by the Spark tests: one corpus and one uninterrupted run of it in the whole
test session (tests copy the run before changing anything in it), and the session's runtime
settings kept across a command run in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.runs import run_config, write_corpus
from w2v_spark.pipeline import run_pipeline
from w2v_spark.spark.session import DEFAULT_CONF


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus of :func:`reference` (test modules may define their own ``corpus``)."""
    return write_corpus(tmp_path_factory.mktemp("run-input"))


@pytest.fixture(scope="session")
def reference(spark, corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run of :func:`corpus` with :func:`tests.runs.run_config`."""
    out = tmp_path_factory.mktemp("reference") / "out"
    run_pipeline(spark, run_config(), str(corpus), str(out))
    return out


@pytest.fixture
def keep_session_conf(spark) -> Iterator[None]:
    """A command run in-process applies its runtime settings to the running session; put them
    back after the test."""
    keys = {*DEFAULT_CONF, "spark.sql.shuffle.partitions",
            "spark.sql.execution.arrow.maxRecordsPerBatch"}
    saved = {key: spark.conf.get(key, None) for key in keys if spark.conf.isModifiable(key)}
    yield
    for key, value in saved.items():
        if value is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, value)
