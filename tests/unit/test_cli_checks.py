"""Command-line errors found before any work is done: no Spark session is built (no Spark)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

import w2v_spark.spark.session
from w2v_spark.cli import main


@pytest.fixture(autouse=True)
def no_spark(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a Spark session was built")

    monkeypatch.setattr(w2v_spark.spark.session, "build_session", refuse)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    (run / "embeddings").mkdir(parents=True)
    return run


def _export(to: str, run: Path, *extra: str) -> list[str]:
    return ["export", "--format", "word2vec-bin", "--to", to, "--output", str(run), *extra]


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err


def test_export_to_a_missing_directory_fails_before_spark(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(_export("missing/dir/v.bin", run_dir)) == 2
    assert _error(capsys) == (
        "w2v-spark: error: the directory missing/dir of --to does not exist\n"
    )
    assert not (tmp_path / "missing").exists()


def test_export_to_a_missing_directory_as_a_file_uri(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    target = tmp_path / "no such" / "v.bin"
    uri = "file://" + str(target).replace(" ", "%20")
    assert main(_export(uri, run_dir)) == 2
    assert _error(capsys) == (
        f"w2v-spark: error: the directory {target.parent} of --to does not exist\n"
    )


def test_export_to_a_directory_is_an_error(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    target = tmp_path / "vectors"
    target.mkdir()
    for extra in ((), ("--overwrite",)):
        assert main(_export(str(target), run_dir, *extra)) == 2
        assert _error(capsys) == (
            f"w2v-spark: error: --to {target} is a directory; give the path of the file to "
            "write\n"
        )


def test_export_under_a_file_is_an_error(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("x\n")
    assert main(_export(str(plain / "v.bin"), run_dir)) == 2
    assert _error(capsys) == (
        f"w2v-spark: error: {plain}, the directory of --to, is not a directory\n"
    )


def test_export_over_an_existing_file_needs_overwrite_and_says_so_before_spark(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    target = tmp_path / "v.bin"
    target.write_bytes(b"old")
    assert main(_export(str(target), run_dir)) == 2
    assert _error(capsys) == (
        f"w2v-spark: error: {target} exists already; pass --overwrite to replace it\n"
    )
    assert target.read_bytes() == b"old"


def test_export_to_a_usable_local_path_goes_on_to_spark(run_dir: Path, tmp_path: Path) -> None:
    """The checks let a good target through: the next step is the session."""
    for target in (tmp_path / "v.bin", tmp_path / "old.bin"):
        if target.name == "old.bin":
            target.write_bytes(b"old")
        with pytest.raises(AssertionError, match="a Spark session was built"):
            main(_export(str(target), run_dir, "--overwrite"))


def test_export_to_another_file_system_is_not_checked_locally(run_dir: Path) -> None:
    with pytest.raises(AssertionError, match="a Spark session was built"):
        main(_export("hdfs://namenode:8020/missing/dir/v.bin", run_dir))


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


def test_a_bad_spark_master_fails_before_spark(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("alpha beta\n", encoding="utf-8")
    code = main(["run", "--input", str(corpus), "--output", str(tmp_path / "out"),
                 "--set", "spark.master=bogus://x"])
    assert code == 2
    err = _error(capsys)
    assert err.startswith("w2v-spark: error: [spark] master = 'bogus://x' is invalid")
    assert not (tmp_path / "out").exists()


def test_an_error_while_unwinding_from_ctrl_c_still_says_where_it_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from w2v_spark import cli
    from w2v_spark.errors import Interrupted

    monkeypatch.setattr(cli, "_INTERRUPTED", threading.Event())
    out = str(tmp_path / "out")

    def interrupted_stage(*args: object) -> None:
        try:
            raise Interrupted("train", out)
        finally:  # a call into the JVM on the connection the interrupt broke
            raise ConnectionError("Answer from Java side is empty")

    monkeypatch.setattr(cli, "_run_stage", interrupted_stage)
    assert main(["run", "--input", "corpus.txt", "--output", out]) == 130
    said = capsys.readouterr().err.strip().splitlines()
    assert said[-1].startswith("w2v-spark: interrupted in the train stage; ")
    assert said[-1].endswith(f"Continue with: w2v-spark run --input corpus.txt --output {out} "
                             "--resume")


def test_an_error_without_ctrl_c_is_not_an_interrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from w2v_spark import cli

    monkeypatch.setattr(cli, "_INTERRUPTED", threading.Event())

    def failing_stage(*args: object) -> None:
        raise ConnectionError("Answer from Java side is empty")

    monkeypatch.setattr(cli, "_run_stage", failing_stage)
    with pytest.raises(ConnectionError):
        main(["run", "--input", "corpus.txt", "--output", str(tmp_path / "out")])


def test_py4j_records_after_ctrl_c_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    from w2v_spark import cli

    flag = threading.Event()
    monkeypatch.setattr(cli, "_INTERRUPTED", flag)

    def record(name: str) -> logging.LogRecord:
        return logging.LogRecord(name, logging.ERROR, __file__, 1, "Exception while sending "
                                 "command.", None, None)

    assert cli._not_an_interrupt(record("py4j.clientserver"))
    flag.set()
    assert not cli._not_an_interrupt(record("py4j.clientserver"))
    assert cli._not_an_interrupt(record("pyspark.sql"))
