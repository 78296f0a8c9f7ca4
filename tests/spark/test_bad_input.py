"""Hostile input, unusable outputs and foreign tables: each is a clear error or a counted skip.

The other cases of the README's "What happens when ..." table are tested beside the stage they
concern (tests/spark/test_pipeline.py, test_tokenize.py, test_resume.py, tests/unit/test_config.py).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.runs import run_config
from w2v_spark.errors import OutputError, SchemaError
from w2v_spark.io.schemas import LONG_TOKEN, SUCCESS_MARKER
from w2v_spark.pipeline import (
    pairs_stage,
    run_pipeline,
    tokenize_stage,
    vocab_stage,
)
from w2v_spark.vectors.loading import load_embeddings

pytestmark = pytest.mark.spark

WORDS = "alpha beta gamma delta"


def _tokens(out: Path) -> list[list[str]]:
    table = pq.read_table(out / "tokens").sort_by([("line_id", "ascending"),
                                                   ("chunk", "ascending")])
    return [list(t) for t in table.column("tokens").to_pylist()]


def test_nul_bytes_separate_tokens_and_are_counted(spark, tmp_path: Path) -> None:
    path = tmp_path / "nul.txt"
    path.write_bytes(b"alpha\x00beta gamma\n\x00\x00\x00\ndelta alpha\n")
    facts = tokenize_stage(spark, run_config(), str(path), str(tmp_path / "out"))
    assert facts["lines"] == 3
    assert facts["nul_lines"] == 2
    assert _tokens(tmp_path / "out") == [["alpha", "beta", "gamma"], ["delta", "alpha"]]
    manifest = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert manifest["stages"]["tokenize"]["nul_lines"] == 2


def test_overlong_tokens_and_an_enormous_line_are_counted_never_words(
    spark, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """One 3 MB line without a space and a 500-letter token inside a sentence: both become
    placeholders that keep their place, are counted, and get no vocabulary entry."""
    path = tmp_path / "long.txt"
    with path.open("w", encoding="utf-8") as fh:
        for _ in range(5):
            fh.write(WORDS + "\n")
        fh.write("x" * 3_000_000 + "\n")
        fh.write(f"alpha {'b' * 500} beta\n")
    out = tmp_path / "out"
    cfg = run_config("vocab.min_count=1")
    caplog.set_level(logging.INFO, logger="w2v_spark")
    facts = tokenize_stage(spark, cfg, str(path), str(out))
    assert facts["long_tokens"] == 2
    assert "long_tokens 2" in caplog.text
    sentences = _tokens(out)
    assert sentences[5:] == [[LONG_TOKEN], ["alpha", LONG_TOKEN, "beta"]]
    vocab_stage(spark, cfg, str(out))
    words = pq.read_table(out / "vocab").column("word").to_pylist()
    assert sorted(words) == sorted(WORDS.split())

    shorter = run_config("vocab.min_count=1", "tokenize.max_token_length=3")
    facts = tokenize_stage(spark, shorter, str(path), str(tmp_path / "short"))
    assert facts["long_tokens"] == 2 + 5 * 4 + 2  # every word here has 4 or 5 letters


def test_output_under_a_file_cannot_be_written(spark, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(WORDS + "\n", encoding="utf-8")
    blocker = tmp_path / "plain-file"
    blocker.write_text("not a directory\n", encoding="utf-8")
    with pytest.raises(OutputError, match=rf"{blocker}/out cannot be written"):
        run_pipeline(spark, run_config(), str(corpus), str(blocker / "out"))
    with pytest.raises(OutputError, match=rf"{blocker}/out cannot be written"):
        tokenize_stage(spark, run_config(), str(corpus), str(blocker / "out"))
    assert blocker.read_text(encoding="utf-8") == "not a directory\n"


def test_output_that_is_a_file_is_never_replaced(spark, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(WORDS + "\n", encoding="utf-8")
    target = tmp_path / "results.txt"
    target.write_text("keep me\n", encoding="utf-8")
    for overwrite in (False, True):
        with pytest.raises(OutputError, match="is a file, not a directory"):
            run_pipeline(spark, run_config(), str(corpus), str(target), overwrite=overwrite)
    assert target.read_text(encoding="utf-8") == "keep me\n"


def _write_table(spark, rows: list[tuple], ddl: str, path: Path) -> None:
    spark.createDataFrame(rows, ddl).coalesce(1).write.parquet(str(path))
    assert (path / SUCCESS_MARKER).is_file()


def _empty_run(out: Path) -> None:
    """A run record that names no stage, for tables written by hand beside it."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "run.json").write_text('{"stages": {}}\n', encoding="utf-8")


def test_a_table_with_wrong_column_types_is_refused(spark, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _empty_run(out)
    _write_table(spark, [(0, 0, ["alpha", "beta"])],
                 "line_id long, chunk int, tokens array<string>", out / "tokens")
    _write_table(spark, [("alpha", 0, "3")], "word string, word_id int, count string",
                 out / "vocab")
    with pytest.raises(SchemaError, match=r"the vocab table .*vocab has count is string, "
                                          r"expected bigint"):
        pairs_stage(spark, run_config(), str(out))
    assert not (out / "pairs").exists()


def test_a_table_without_a_needed_column_is_refused(spark, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _empty_run(out)
    _write_table(spark, [(0, 0, "alpha beta")], "line_id long, chunk int, text string",
                 out / "tokens")
    with pytest.raises(SchemaError, match=r"the tokens table .* lacks column\(s\) \['tokens'\]"):
        vocab_stage(spark, run_config(), str(out))


@pytest.mark.parametrize(
    ("rows", "ddl", "message"),
    [
        ([("a", 0, 3, [0.5, 1.0])], "word string, word_id int, count long, vector array<double>",
         r"vector is array<double>, expected array<float>"),
        ([("a", 0, 3)], "word string, word_id int, count long",
         r"lacks column\(s\) \['vector'\]"),
        ([("a", 0, 3, [0.5, 1.0]), ("b", 1, 2, [0.5])],
         "word string, word_id int, count long, vector array<float>",
         "vectors of different lengths"),
        ([("a", 0, 3, [0.5, 1.0]), ("b", 1, 2, None)],
         "word string, word_id int, count long, vector array<float>",
         "null vectors"),
    ],
    ids=["double-vectors", "no-vectors", "ragged", "null"],
)
def test_read_embeddings_checks_the_table(spark, tmp_path: Path, rows: list[tuple], ddl: str,
                                          message: str) -> None:
    path = tmp_path / "embeddings"
    _write_table(spark, rows, ddl, path)
    with pytest.raises(SchemaError, match=message):
        load_embeddings(spark, str(path))
