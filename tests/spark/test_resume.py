"""Nothing lost, nothing wrong: a driver killed mid-training resumes to the same model, tasks
that fail and are retried change nothing, and a resume with other input or settings is refused.

The reference is an uninterrupted run in the test session; the interrupted and the faulty runs
are the ``w2v-spark`` command in separate driver processes with the same result settings, so
the comparisons also show that the tables do not depend on the process that wrote them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.runs import (
    assert_same_run,
    cli_command,
    cli_env,
    embeddings_bits,
    kill_after_rounds,
    run_cli,
    run_config,
    snapshot,
    table_bytes,
)
from w2v_spark.errors import IncompleteTableError, ModelTooLargeError, OutputError, ResumeError
from w2v_spark.io.schemas import SUCCESS_MARKER
from w2v_spark.pipeline import export_stage, run_pipeline, train_stage
from w2v_spark.spark.faults import ENV_VAR

pytestmark = pytest.mark.spark

ROUNDS = 4


def _report(stdout: str) -> dict:
    """The JSON report the command prints after its progress lines."""
    return json.loads(stdout[stdout.index("{\n"):])


def _edit_manifest(out: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    """Change run.json as a crash at another moment would have left it (and drop the local
    file system's checksum file, which would no longer match)."""
    manifest = json.loads((out / "run.json").read_text(encoding="utf-8"))
    edit(manifest)
    (out / "run.json").write_text(json.dumps(manifest), encoding="utf-8")
    (out / ".run.json.crc").unlink(missing_ok=True)



def test_killed_driver_resumes_to_the_same_model(spark, corpus: Path, reference: Path,
                                                 tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = cli_command("run", out, "--input", str(corpus))
    # Round 2 (the end of epoch 1) is checkpointed and recorded: round 3 is starting.
    proc = kill_after_rounds(command, out, 2, tmp_path / "first.log")
    assert proc.returncode == -signal.SIGKILL
    # Killed mid-training: no metrics, no embeddings, not every round checkpointed.
    assert not (out / "metrics" / SUCCESS_MARKER).exists()
    assert not (out / "embeddings").exists()
    assert not (out / "model" / f"round={ROUNDS:05d}" / SUCCESS_MARKER).exists()

    # The killed driver's lock is left behind, naming it.
    assert json.loads((out / "run.lock").read_text(encoding="utf-8"))["pid"] == proc.pid

    # Without --resume a run refuses to touch the interrupted one; the stale lock is
    # recognised (and removed once the command ends), nothing else changes.
    before = snapshot(out)
    with pytest.raises(OutputError, match="--overwrite"):
        run_pipeline(spark, run_config(), str(corpus), str(out))
    del before["run.lock"]
    assert snapshot(out) == before

    resumed = run_cli([*command, "--resume"], cli_env())
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    report = _report(resumed.stdout)
    assert all(report[s].get("skipped") for s in ("tokenize", "vocab", "pairs")), report
    assert report["train"]["resumed_after_round"] == 2
    assert report["train"]["rounds"] == ROUNDS
    assert_same_run(reference, out)
    metrics = sorted((out / "metrics").glob("*.parquet"))
    assert metrics


def test_retried_tasks_change_nothing(corpus: Path, reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    # local[2,4]: up to 4 attempts per task; the first attempt of pairs task 0 (every epoch)
    # and of training tasks 0 and 1 (every round) fails after producing output.
    command = cli_command("run", out, "--input", str(corpus), master="local[2,4]")
    result = run_cli(command, cli_env(**{ENV_VAR: "pairs:0,train:0,train:1"}))
    assert result.returncode == 0, result.stderr[-4000:]
    assert "test fault injection is on" in result.stderr
    assert "injected failure of pairs task 0, attempt 0" in result.stderr
    assert "injected failure of train task 1, attempt 0" in result.stderr
    assert_same_run(reference, out)


def test_resume_of_a_finished_run_changes_nothing(spark, corpus: Path, reference: Path,
                                                   tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    before = snapshot(out)
    report = run_pipeline(spark, run_config(), str(corpus), str(out), resume=True)
    assert all(facts.get("skipped") for facts in report.values()), report
    assert snapshot(out) == before


def test_resume_from_a_checkpoint_whose_round_was_not_recorded(
    spark, corpus: Path, reference: Path, tmp_path: Path
) -> None:
    """Killed after round 3's checkpoint was written but before its metrics were recorded:
    the run continues after round 2, and ends where the uninterrupted one did."""
    out = tmp_path / "copy"
    shutil.copytree(reference, out)


    def interrupt(manifest: dict[str, Any]) -> None:
        del manifest["stages"]["train"], manifest["stages"]["export"]
        manifest["train_rounds"] = manifest["train_rounds"][:2]

    _edit_manifest(out, interrupt)
    shutil.rmtree(out / "metrics")
    shutil.rmtree(out / "embeddings")
    shutil.rmtree(out / "model" / f"round={ROUNDS:05d}")
    (out / "model" / "round=00001" / SUCCESS_MARKER).unlink()

    with pytest.raises(IncompleteTableError, match="has not finished training"):
        export_stage(spark, run_config(), str(out))
    facts = train_stage(spark, run_config(), str(out), resume=True)
    # Round 3's checkpoint is complete but not recorded; round 2 is both.
    assert facts["resumed_after_round"] == 2
    export_stage(spark, run_config(), str(out))
    assert_same_run(reference, out)
    metrics = spark.read.parquet(str(out / "metrics")).orderBy("epoch", "round").collect()
    assert [(r["epoch"], r["round"]) for r in metrics] == [(e, r) for e in range(2)
                                                           for r in range(2)]


@pytest.mark.parametrize(
    ("override", "named"),
    [("train.vector_size=9", "train.vector_size"), ("pairs.window=3", "pairs.window"),
     ("tokenize.max_token_length=50", "tokenize.max_token_length")],
)
def test_resume_with_other_settings_is_refused(spark, corpus: Path, reference: Path,
                                               tmp_path: Path, override: str,
                                               named: str) -> None:
    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    (out / "embeddings" / SUCCESS_MARKER).unlink()
    before = snapshot(out)
    with pytest.raises(ResumeError, match=rf"{named} was .* in the run, .* now"):
        run_pipeline(spark, run_config(override), str(corpus), str(out), resume=True)
    assert snapshot(out) == before
    # Settings that change nothing may differ.
    report = run_pipeline(spark, run_config("train.keep_checkpoints=1"), str(corpus), str(out),
                          resume=True)
    assert not report["export"].get("skipped")
    assert table_bytes(out / "embeddings") == table_bytes(reference / "embeddings")


def test_resume_with_other_input_is_refused(spark, corpus: Path, reference: Path,
                                            tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    changed = tmp_path / "input" / "corpus.txt"
    changed.parent.mkdir()
    shutil.copy2(corpus, changed)


    def move(manifest: dict[str, Any]) -> None:
        entry = manifest["stages"]["tokenize"]["input_fingerprint"]["files"][0]
        entry["path"] = entry["path"].replace(str(corpus), str(changed))

    _edit_manifest(out, move)
    # The same bytes under the recorded name: a resumable run (the time does not matter).
    os.utime(changed, (1, 1))
    report = run_pipeline(spark, run_config(), str(changed), str(out), resume=True)
    assert report["tokenize"]["skipped"]

    text = changed.read_text(encoding="utf-8")
    changed.write_text(text.replace("e", "a", 1), encoding="utf-8")
    with pytest.raises(ResumeError, match="same size but other content"):
        run_pipeline(spark, run_config(), str(changed), str(out), resume=True)
    changed.write_text(text + "one more line\n", encoding="utf-8")
    with pytest.raises(ResumeError, match=rf"{changed.name} had \d+ bytes, now \d+"):
        run_pipeline(spark, run_config(), str(changed), str(out), resume=True)
    (tmp_path / "input" / "more.txt").write_text("more words\n", encoding="utf-8")
    with pytest.raises(ResumeError, match=r"more\.txt is new"):
        run_pipeline(spark, run_config(), str(tmp_path / "input"), str(out), resume=True)


def test_resume_and_overwrite_exclude_each_other(spark, corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="exclude each other"):
        run_pipeline(spark, run_config(), str(corpus), str(tmp_path / "out"), overwrite=True,
                     resume=True)


def test_resume_refuses_a_directory_that_holds_no_run(spark, corpus: Path,
                                                      tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n", encoding="utf-8")
    with pytest.raises(OutputError, match="holds no w2v_spark run"):
        run_pipeline(spark, run_config(), str(corpus), str(out), resume=True)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_export_refuses_a_final_checkpoint_without_its_marker(spark, reference: Path,
                                                              tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    (out / "model" / f"round={ROUNDS:05d}" / SUCCESS_MARKER).unlink()
    with pytest.raises(IncompleteTableError,
                       match=rf"has not finished training .*checkpoint is round {ROUNDS - 1}"):
        export_stage(spark, run_config(), str(out), overwrite=True)
    assert (out / "embeddings" / SUCCESS_MARKER).is_file()


def test_a_model_too_large_is_refused_before_training(spark, reference: Path,
                                                      tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    before = snapshot(out)
    words = pq.read_table(reference / "vocab").num_rows
    # (8 + 40 * P) * V * d bytes in the local driver JVM: far over the test session's 2g.
    cfg = run_config("train.vector_size=10000", "train.num_partitions=1000",
                     "train.strategy=merge")
    with pytest.raises(ModelTooLargeError) as info:
        train_stage(spark, cfg, str(out), overwrite=True)
    message = str(info.value)
    assert f"V={words:,} words x vector_size=10000" in message
    assert "GiB" in message and "spark.driver" in message
    assert snapshot(out) == before


def test_embeddings_bits_are_read_in_row_order(reference: Path) -> None:
    words, counts, bits = embeddings_bits(reference)
    assert len(words) == len(counts) == bits.shape[0] > 20
    assert list(counts) == sorted(counts, reverse=True)
