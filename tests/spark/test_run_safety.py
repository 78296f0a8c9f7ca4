"""Nothing lost, nothing stale: a stage run again removes what was made from its old tables,
``--overwrite`` deletes only what a run wrote, corrupt checkpoints and records are named, and
one command at a time works in an output."""

from __future__ import annotations

import fcntl
import gzip
import json
import logging
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, cast

import pyarrow.parquet as pq
import pytest

from tests.runs import (
    assert_same_run,
    cli_command,
    cli_env,
    recorded_rounds,
    run_cli,
    run_config,
    snapshot,
    table_bytes,
)
from w2v_spark import pipeline
from w2v_spark.errors import (
    CorruptError,
    IncompleteTableError,
    InputError,
    OutputError,
    ResumeError,
)
from w2v_spark.io.schemas import SUCCESS_MARKER
from w2v_spark.pipeline import (
    export_stage,
    run_pipeline,
    tokenize_stage,
    train_stage,
    vocab_stage,
)
from w2v_spark.run_lock import RunLock
from w2v_spark.vectors.loading import load_embeddings

pytestmark = pytest.mark.spark

ROUNDS = 4


def _record(out: Path) -> dict[str, Any]:
    return json.loads((out / "run.json").read_text(encoding="utf-8"))


def _write_record(out: Path, record: dict[str, Any]) -> None:
    (out / "run.json").write_text(json.dumps(record), encoding="utf-8")
    (out / ".run.json.crc").unlink(missing_ok=True)


def _interrupt_after(out: Path, rounds: int) -> None:
    """Make a finished run look like one killed after ``rounds`` rounds were checkpointed."""
    record = _record(out)
    for stage in ("train", "export"):
        del record["stages"][stage]
    record["train_rounds"] = record["train_rounds"][:rounds]
    _write_record(out, record)
    shutil.rmtree(out / "metrics")
    shutil.rmtree(out / "embeddings")
    for number in range(rounds + 1, ROUNDS + 1):
        shutil.rmtree(out / "model" / f"round={number:05d}")


def _damage(path: Path, offset: int | None = None) -> None:
    """Zero 100 bytes in the middle of a file (its local checksum file removed, as a disk or
    a copy that loses it would)."""
    data = bytearray(path.read_bytes())
    start = len(data) // 2 if offset is None else offset
    data[start:start + 100] = bytes(100)
    path.write_bytes(bytes(data))
    (path.parent / f".{path.name}.crc").unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# a stage run again


def test_a_stage_run_again_removes_the_tables_made_from_its_old_ones(
    spark, corpus: Path, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    tokenize_settings = _record(out)["stages"]["tokenize"]["settings"]
    old_words = pq.read_table(out / "embeddings").num_rows
    # Another vocabulary, under a config that also differs in train.epochs (the default).
    other = run_config("vocab.min_count=6", "train.epochs=5")
    vocab_stage(spark, other, str(out), overwrite=True)
    record = _record(out)
    assert set(record["stages"]) == {"tokenize", "vocab"}
    assert "train_rounds" not in record
    # The tokens stay recorded with the settings they were made with.
    assert record["stages"]["tokenize"]["settings"] == tokenize_settings
    assert record["stages"]["vocab"]["settings"] == {"vocab.min_count": 6,
                                                     "vocab.max_vocab_size": 0}
    for table in ("pairs", "model", "metrics", "embeddings"):
        assert not (out / table).exists(), table
    with pytest.raises(InputError, match=r"embeddings table .* does not exist"):
        load_embeddings(spark, str(out))

    # Resumed with the new vocabulary: tokens and vocab are kept, the rest is made anew.
    report = run_pipeline(spark, run_config("vocab.min_count=6"), str(corpus), str(out),
                          resume=True)
    assert report["tokenize"]["skipped"] and report["vocab"]["skipped"]
    assert not any(report[s].get("skipped") for s in ("pairs", "train", "export"))
    words = pq.read_table(out / "embeddings").num_rows
    assert words == report["vocab"]["words"] == pq.read_table(out / "vocab").num_rows
    assert words < old_words


def test_resume_refuses_settings_that_differ_from_a_kept_stage(
    spark, corpus: Path, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    vocab_stage(spark, run_config("vocab.min_count=6"), str(out), overwrite=True)
    before = snapshot(out)
    with pytest.raises(ResumeError, match=r"vocab\.min_count was 6 in the run, 2 now"):
        run_pipeline(spark, run_config(), str(corpus), str(out), resume=True)
    assert snapshot(out) == before


def test_a_refused_stage_removes_nothing(spark, reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    (out / "pairs" / SUCCESS_MARKER).unlink()
    before = snapshot(out)
    with pytest.raises(IncompleteTableError, match=r"the pairs table .* is incomplete"):
        train_stage(spark, run_config(), str(out), overwrite=True)
    assert snapshot(out) == before


def test_a_failed_run_is_reused_without_overwrite(spark, corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    source = tmp_path / "input.txt"
    source.write_text("1999 2000\n\n   \n", encoding="utf-8")
    with pytest.raises(InputError, match="no tokens"):
        run_pipeline(spark, run_config("tokenize.token_pattern=[a-z]+"), str(source), str(out))
    assert (out / "run.json").is_file()
    # The input fixed, the same command runs: the output holds no complete stage.
    shutil.copy(corpus, source)
    report = run_pipeline(spark, run_config("tokenize.token_pattern=[a-z]+"), str(source),
                          str(out))
    assert report["train"]["rounds"] == ROUNDS
    # One with a complete stage is not replaced without --overwrite.
    with pytest.raises(InputError, match="min_count=100000"):
        run_pipeline(spark, run_config("vocab.min_count=100000"), str(corpus),
                     str(tmp_path / "other"))
    with pytest.raises(OutputError, match=r"holds a run \(complete: tokenize\)"):
        run_pipeline(spark, run_config(), str(corpus), str(tmp_path / "other"))


# ---------------------------------------------------------------------------------------------
# --overwrite and the input


def test_overwrite_never_deletes_an_input_reached_through_a_symlink(
    spark, corpus: Path, tmp_path: Path
) -> None:
    target = tmp_path / "o2"
    target.mkdir()
    shutil.copy(corpus, target / "a.txt")
    (tmp_path / "lnk").symlink_to(target)
    before = snapshot(target)
    for overwrite in (False, True):
        with pytest.raises(OutputError, match="overlap"):
            run_pipeline(spark, run_config(), str(tmp_path / "lnk" / "a.txt"), str(target),
                         overwrite=overwrite)
        # The output through the link, the input plain.
        with pytest.raises(OutputError, match="overlap"):
            run_pipeline(spark, run_config(), str(target / "a.txt"), str(tmp_path / "lnk"),
                         overwrite=overwrite)
    assert snapshot(target) == before


def test_overwrite_never_deletes_an_input_file_linked_into_the_output(
    spark, corpus: Path, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(corpus, data / "corpus.txt")
    (data / "more.txt").symlink_to(out / "run.json")
    with pytest.raises(OutputError, match="overlap"):
        run_pipeline(spark, run_config(), str(data), str(out), overwrite=True)
    assert (out / "run.json").is_file() and (data / "corpus.txt").is_file()


# ---------------------------------------------------------------------------------------------
# checksums


def test_a_damaged_checkpoint_is_named_and_the_round_before_it_taken(
    spark, reference: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    _interrupt_after(out, 3)
    damaged = out / "model" / "round=00003" / "part-00000.parquet"
    _damage(damaged)
    caplog.set_level(logging.WARNING, logger="w2v_spark")
    facts = train_stage(spark, run_config(), str(out), resume=True)
    assert facts["resumed_after_round"] == 2
    assert f"{damaged.name} has other content than when it was written" in caplog.text
    assert "resuming from round 2" in caplog.text
    export_stage(spark, run_config(), str(out))
    assert_same_run(reference, out)


def test_no_intact_checkpoint_is_an_error_naming_the_files(
    spark, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    _interrupt_after(out, 1)
    for number in (0, 1):
        _damage(out / "model" / f"round={number:05d}" / "part-00000.parquet", offset=10)
    with pytest.raises(CorruptError, match=r"round=00001/part-00000\.parquet has other "
                                           r"content.*round=00000/part-00000\.parquet"):
        train_stage(spark, run_config(), str(out), resume=True)


def test_damaged_embeddings_are_refused_and_written_again_on_resume(
    spark, corpus: Path, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    _damage(out / "embeddings" / "part-00000.parquet")
    with pytest.raises(CorruptError, match=r"embeddings/part-00000\.parquet has other "
                                           "content"):
        load_embeddings(spark, str(out))
    report = run_pipeline(spark, run_config(), str(corpus), str(out), resume=True)
    assert report["train"]["skipped"] and not report["export"].get("skipped")
    assert table_bytes(out / "embeddings") == table_bytes(reference / "embeddings")


# ---------------------------------------------------------------------------------------------
# bad input and a damaged record


def test_a_truncated_or_mislabelled_gzip_input_is_named(spark, tmp_path: Path) -> None:
    lines = "".join(f"alpha beta gamma delta {i}\n" for i in range(20000)).encode()
    packed = gzip.compress(lines)
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "truncated.txt.gz").write_bytes(packed[: len(packed) // 2])
    (cases / "plain.txt.gz").write_bytes(lines[:4000])
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.gz").write_bytes(packed)
    (folder / "b.gz").write_bytes(packed[: len(packed) // 2])
    for path, why in ((cases / "truncated.txt.gz", "is truncated"),
                      (cases / "plain.txt.gz", "not gzip"),
                      (folder, "is truncated")):
        out = tmp_path / f"out-{path.name}"
        named = folder / "b.gz" if path == folder else path
        with pytest.raises(InputError, match=rf"the input file \S*{named} .*{why}"):
            run_pipeline(spark, run_config(), str(path), str(out))
        assert not list(out.rglob(SUCCESS_MARKER))
        assert _record(out)["stages"] == {}


@pytest.mark.parametrize("keep_crc", [True, False], ids=["with-crc", "without-crc"])
def test_a_truncated_record_is_named_on_resume(
    spark, corpus: Path, reference: Path, tmp_path: Path, keep_crc: bool
) -> None:
    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    text = (out / "run.json").read_bytes()
    (out / "run.json").write_bytes(text[: len(text) // 2])
    if not keep_crc:
        (out / ".run.json.crc").unlink()
    before = snapshot(out)
    with pytest.raises(CorruptError, match=r"the run record \S*run\.json is damaged .*"
                                           "--overwrite"):
        run_pipeline(spark, run_config(), str(corpus), str(out), resume=True)
    assert snapshot(out) == before
    run_pipeline(spark, run_config(), str(corpus), str(out), overwrite=True)
    assert table_bytes(out / "embeddings") == table_bytes(reference / "embeddings")


def test_text_that_is_mostly_not_utf8_is_refused(spark, tmp_path: Path) -> None:
    rng = random.Random(3)
    path = tmp_path / "random.bin"
    path.write_bytes(b"".join(b"alpha beta " + bytes(rng.randrange(128, 256) for _ in range(40))
                              + b"\n" for _ in range(200)))
    with pytest.raises(InputError, match=r"of the 200 lines .* are not valid UTF-8.*"
                                         r"max_invalid_share"):
        run_pipeline(spark, run_config(), str(path), str(tmp_path / "out"))
    # Raising the limit trains on it anyway.
    facts = tokenize_stage(spark, run_config("tokenize.max_invalid_share=1"), str(path),
                           str(tmp_path / "out"))
    assert facts["invalid_utf8_lines"] > 190


def test_a_few_bad_lines_pass_with_a_warning(spark, corpus: Path, tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "mostly-good.txt"
    good = corpus.read_bytes().splitlines(keepends=True)[:200]
    path.write_bytes(b"".join(good) + b"caf\xe9 cr\xe8me\n")
    caplog.set_level(logging.WARNING, logger="w2v_spark")
    facts = tokenize_stage(spark, run_config(), str(path), str(tmp_path / "out"))
    assert facts["invalid_utf8_lines"] == 1
    assert "1 of the 201 lines" in caplog.text and "not valid UTF-8" in caplog.text


def test_whitespace_only_lines_are_blank(spark, tmp_path: Path) -> None:
    path = tmp_path / "spaces.txt"
    path.write_text("alpha beta\n\t \t\n\u3000\u00a0\n\n gamma delta\n", encoding="utf-8")
    facts = tokenize_stage(spark, run_config(), str(path), str(tmp_path / "out"))
    assert facts["lines"] == 5
    assert facts["blank_lines"] == 3


# ---------------------------------------------------------------------------------------------
# one command at a time


_HOLD = """
import fcntl, json, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, json.dumps({"host": "here", "pid": os.getpid(), "started": "now",
                         "command": "w2v-spark run (holder)"}).encode())
print("held", flush=True)
time.sleep(120)
"""


def test_a_second_command_in_the_same_output_is_refused(spark, corpus: Path,
                                                        tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(out / "run.lock")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(OutputError, match=rf"another command \(pid {holder.pid} on here.*"
                                              "cannot use one output at once"):
            run_pipeline(spark, run_config(), str(corpus), str(out), resume=True)
        assert sorted(p.name for p in out.iterdir()) == ["run.lock"]
    finally:
        holder.kill()
        holder.wait()
    # Its holder gone, the lock is stale: the next command takes it.
    report = run_pipeline(spark, run_config(), str(corpus), str(out), resume=True)
    assert report["train"]["rounds"] == ROUNDS
    assert not (out / "run.lock").exists()


def test_the_lock_is_held_while_a_command_runs(spark, corpus: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    seen: list[bool] = []
    real = pipeline.write_vocab

    def probe(*args: Any) -> dict[str, Any]:
        fd = os.open(out / "run.lock", os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            seen.append(False)
        except BlockingIOError:
            seen.append(True)
        finally:
            os.close(fd)
        return real(*args)

    monkeypatch.setattr(pipeline, "write_vocab", probe)
    run_pipeline(spark, run_config(), str(corpus), str(out))
    assert seen == [True]


class _GoneJVM:
    """A session whose JVM has gone, as after Ctrl-C broke the gateway mid-call."""

    def __getattr__(self, name: str) -> Any:
        raise ConnectionError("the JVM is gone")


def test_a_local_lock_is_released_without_the_jvm(spark, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    lock = RunLock(spark, str(out))
    lock.acquire()
    assert (out / "run.lock").exists()
    lock.spark = cast(Any, _GoneJVM())
    lock.release()
    assert not (out / "run.lock").exists()
    # The next command takes the lock at once.
    again = RunLock(spark, str(out))
    again.acquire()
    again.release()


def test_ctrl_c_says_where_the_run_stopped_and_how_to_continue(
    corpus: Path, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    command = cli_command("run", out, "--input", str(corpus))
    with open(tmp_path / "first.log", "w", encoding="utf-8") as log:
        proc = subprocess.Popen(command, env=cli_env(), stdout=subprocess.DEVNULL, stderr=log,
                                text=True)
        deadline = time.monotonic() + 400
        while recorded_rounds(out) < 1 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
    stderr = (tmp_path / "first.log").read_text(encoding="utf-8")
    assert proc.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stderr
    said = [line for line in stderr.splitlines() if line.startswith("w2v-spark: ")]
    assert len(said) == 1 and said[0].startswith("w2v-spark: interrupted in the train stage; "
                                                 ), stderr[-3000:]
    continued = said[0].split("Continue with: w2v-spark ", 1)[1]
    assert continued.endswith("--resume")
    resumed = run_cli([sys.executable, "-m", "w2v_spark.cli", *shlex.split(continued)],
                      cli_env())
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_run(reference, out)
    assert not (out / "run.lock").exists()
