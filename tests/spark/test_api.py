"""The Python API: its docstring examples run as written (doctest), and a DataFrame input
trains what the same lines as a file train."""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pytest

import w2v_spark
from w2v_spark import api
from w2v_spark.errors import SchemaError

pytestmark = pytest.mark.spark


def test_the_api_examples_run_as_written(spark, tmp_path: Path) -> None:
    result = doctest.testmod(api, extraglobs={"spark": spark, "tmp": tmp_path},
                             optionflags=doctest.ELLIPSIS, raise_on_error=False)
    assert result.attempted >= 10
    assert result.failed == 0


def test_a_dataframe_of_lines_trains_what_the_file_trains(spark, tmp_path: Path) -> None:
    corpus = api.write_demo_corpus(tmp_path / "corpus.txt", sentences=600)
    settings = ["train.epochs=1", "vocab.min_count=3"]
    from_file = w2v_spark.train(spark, corpus, tmp_path / "file", settings=settings)
    lines = spark.read.text(corpus).withColumnRenamed("value", "line")
    from_frame = w2v_spark.train(spark, lines, tmp_path / "frame", settings=settings)
    assert from_frame.words == from_file.words
    assert np.array_equal(from_frame.vectors, from_file.vectors)


def test_a_dataframe_input_resumes_under_the_same_name(spark, tmp_path: Path) -> None:
    corpus = api.write_demo_corpus(tmp_path / "corpus.txt", sentences=300)
    lines = spark.read.text(corpus)
    first = w2v_spark.train(spark, lines, tmp_path / "run", settings=["train.epochs=1"])
    again = w2v_spark.train(spark, lines, tmp_path / "run", settings=["train.epochs=1"],
                            resume=True)
    assert np.array_equal(first.vectors, again.vectors)


def test_a_dataframe_of_other_columns_is_refused(spark, tmp_path: Path) -> None:
    frame = spark.createDataFrame([(1, "a b c")], "n int, line string")
    with pytest.raises(SchemaError, match="must have one string column of text "
                       "lines, it has n int, line string"):
        w2v_spark.train(spark, frame, tmp_path / "run")
