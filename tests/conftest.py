"""Shared fixtures: one local[2] Spark session for the whole test run, and the shared data."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """A local[2] session with the UI off, few shuffle partitions and small Arrow batches,
    so that the multi-batch paths of the pandas/Arrow UDFs run."""
    from w2v_spark.config import SparkConfig
    from w2v_spark.spark.session import build_session

    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = build_session(
        SparkConfig(
            master="local[2]",
            app_name="w2v_spark-tests",
            driver_memory="2g",
            conf={
                "spark.ui.enabled": "false",
                "spark.sql.shuffle.partitions": "2",
                "spark.sql.execution.arrow.maxRecordsPerBatch": "64",
                "spark.default.parallelism": "2",
            },
        )
    )
    yield session
    session.stop()


@pytest.fixture
def persisted_rdds(spark) -> Callable[[], int]:
    """A function that counts the RDDs the session holds in storage (a cached DataFrame, once
    computed): a test compares the count before and after the code it checks."""
    return lambda: int(spark.sparkContext._jsc.getPersistentRDDs().size())


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the repository; tests that need it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}; this test needs the real corpora")
    return SHARED_DATA
