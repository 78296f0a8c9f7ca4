"""Fixtures shared by the resume and run-safety tests: one corpus and one uninterrupted run of
it in the whole test session (tests copy the run before changing anything in it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runs import run_config, write_corpus
from w2v_spark.pipeline import run_pipeline


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
