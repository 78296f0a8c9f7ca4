"""The ``w2v-spark`` command line, run in-process against the test session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from w2v_spark.cli import main
from w2v_spark.io.schemas import SUCCESS_MARKER
from w2v_spark.synthetic.text import generate_sentences

pytestmark = [pytest.mark.spark, pytest.mark.usefixtures("keep_session_conf")]

#: Settings that keep the command's session the same as the test session.
SPARK_SETTINGS = [
    "--set", "spark.master=local[2]",
    "--set", "spark.driver_memory=2g",
    "--set", "spark.conf.spark.sql.shuffle.partitions=2",
    "--set", "spark.conf.spark.sql.execution.arrow.maxRecordsPerBatch=64",
]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "input" / "corpus.txt"
    path.parent.mkdir()
    path.write_text("".join(s + "\n" for s in generate_sentences(200, seed=3)), encoding="utf-8")
    return path


def test_run_returns_zero_and_keeps_the_session(
    spark, corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main([
        "run", "--input", str(corpus), "--output", str(out),
        "--set", "train.epochs=1", "--set", "train.syncs_per_epoch=1",
        "--set", "train.vector_size=8", "--set", "vocab.min_count=2",
        *SPARK_SETTINGS,
    ])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out[captured.out.index("{"):])
    assert set(report) == {"tokenize", "vocab", "pairs", "train", "export"}
    assert report["train"]["rounds"] == 1
    assert (out / "embeddings" / SUCCESS_MARKER).is_file()
    assert SparkSession.getActiveSession() is spark
    assert spark.range(3).count() == 3

    code = main(["vocab", "--output", str(out), *SPARK_SETTINGS])
    captured = capsys.readouterr()
    assert code == 2
    assert "w2v-spark: error:" in captured.err
    assert "--overwrite" in captured.err


def test_missing_input_is_a_clear_error(
    spark, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere" / "corpus.txt"
    code = main(["run", "--input", str(missing), "--output", str(tmp_path / "out"),
                 *SPARK_SETTINGS])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("w2v-spark: error:")
    assert str(missing) in err and "does not exist" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_unknown_config_key_lists_valid_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "--input", str(tmp_path / "corpus.txt"), "--output",
                 str(tmp_path / "out"), "--set", "train.vectr_size=3"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("w2v-spark: error:")
    assert "vectr_size" in err
    assert "valid keys:" in err
    assert "vector_size" in err and "epochs" in err


def test_run_help_shows_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "--input" in out and "--overwrite" in out
    assert "examples:" in out
    assert "w2v-spark run --input corpus.txt --output out/" in out


def test_missing_required_argument_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "--output", "somewhere"])
    assert info.value.code == 2
    assert "--input" in capsys.readouterr().err


def test_resume_and_overwrite_together_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "--input", str(tmp_path / "corpus.txt"), "--output",
                 str(tmp_path / "out"), "--overwrite", "--resume"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("w2v-spark: error: --overwrite and --resume exclude each other")
    assert not (tmp_path / "out").exists()


def test_every_command_offers_resume(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("run", "tokenize", "vocab", "pairs", "train", "export"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "--resume" in capsys.readouterr().out, command
