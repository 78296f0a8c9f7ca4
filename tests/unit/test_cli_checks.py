"""Command-line errors found before any work is done: no Spark session is built (no Spark)."""

from __future__ import annotations

from pathlib import Path

import pytest

import w2v_spark.session
from w2v_spark.cli import main


@pytest.fixture(autouse=True)
def no_spark(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a Spark session was built")

    monkeypatch.setattr(w2v_spark.session, "build_session", refuse)


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err


def test_evaluate_an_empty_analogies_file_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    vectors = tmp_path / "v.txt"
    vectors.write_text("2 2\na 1 0\nb 0 1\n", encoding="utf-8")
    questions = tmp_path / "questions.txt"
    questions.write_text(": capital-common-countries\n", encoding="utf-8")
    assert main(["evaluate", "--analogies", str(questions), "--vectors", str(vectors)]) == 2
    assert _error(capsys) == (
        f"w2v-spark: error: {questions}: the file has no analogy questions: it holds only 1 "
        "section header(s)\n"
    )


def test_evaluate_a_binary_word_pairs_file_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    vectors = tmp_path / "v.txt"
    vectors.write_text("2 2\na 1 0\nb 0 1\n", encoding="utf-8")
    pairs = tmp_path / "pairs.tsv"
    pairs.write_bytes(bytes(range(128, 256)))
    assert main(["evaluate", "--word-pairs", str(pairs), "--vectors", str(vectors)]) == 2
    assert _error(capsys).startswith(
        f"w2v-spark: error: {pairs}: not a UTF-8 text file: byte b'\\x80' at or after line 1 "
        "cannot be decoded"
    )
