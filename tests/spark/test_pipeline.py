"""The whole pipeline on Spark: tables, determinism, stage by stage, and bad input."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from chispa import assert_df_equality

from tests.runs import snapshot
from w2v_spark.config import Config
from w2v_spark.config_loading import load_config
from w2v_spark.errors import (
    EmptyCorpusError,
    EmptyVocabularyError,
    IncompleteTableError,
    InputError,
    OutputError,
    SchemaError,
    TrainingDivergedError,
)
from w2v_spark.io.layout import RunPaths
from w2v_spark.io.schemas import METRICS_SCHEMA, SUCCESS_MARKER
from w2v_spark.pipeline import (
    export_stage,
    pairs_stage,
    run_pipeline,
    tokenize_stage,
    train_stage,
    vocab_stage,
)
from w2v_spark.progress import bar_text, show_progress
from w2v_spark.spark.session import sql_conf
from w2v_spark.stages import training
from w2v_spark.stages.pairs import block_ids
from w2v_spark.synthetic.text import generate_sentences
from w2v_spark.vectors.loading import load_embeddings

pytestmark = pytest.mark.spark

EPOCHS = 2
SYNCS = 2
PARTITIONS = 2
KEEP = 2
TABLES = ("tokens", "vocab", "pairs", "embeddings", "metrics")


def _config(*extra: str) -> Config:
    return load_config(
        overrides=[
            f"train.epochs={EPOCHS}",
            "train.vector_size=16",
            f"train.syncs_per_epoch={SYNCS}",
            f"train.num_partitions={PARTITIONS}",
            f"train.keep_checkpoints={KEEP}",
            "vocab.min_count=2",
            *extra,
        ]
    )


def _write_corpus(directory: Path, sentences: int, seed: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "corpus.txt"
    path.write_text("".join(s + "\n" for s in generate_sentences(sentences, seed=seed)),
                    encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def cfg() -> Config:
    return _config()


@pytest.fixture(scope="module")
def small_cfg() -> Config:
    """One epoch of two rounds on a smaller model, for the tests that need a cheap run."""
    return _config("train.epochs=1", "train.vector_size=8")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_corpus(tmp_path_factory.mktemp("input"), 1500, seed=0)


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_corpus(tmp_path_factory.mktemp("small-input"), 300, seed=1)


@pytest.fixture(scope="module")
def run_a(spark, cfg: Config, corpus: Path, tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("runs") / "a"
    return out, run_pipeline(spark, cfg, str(corpus), str(out))


@pytest.fixture(scope="module")
def run_b(spark, cfg: Config, corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "b"
    run_pipeline(spark, cfg, str(corpus), str(out))
    return out


@pytest.fixture(scope="module")
def run_c(spark, cfg: Config, corpus: Path, tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("runs") / "c"
    facts = {
        "tokenize": tokenize_stage(spark, cfg, str(corpus), str(out)),
        "vocab": vocab_stage(spark, cfg, str(out)),
        "pairs": pairs_stage(spark, cfg, str(out)),
        "train": train_stage(spark, cfg, str(out)),
        "export": export_stage(spark, cfg, str(out)),
    }
    return out, facts


def _embeddings(out: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    table = pq.read_table(out / "embeddings").sort_by("word_id")
    assert table.column("word_id").to_pylist() == list(range(table.num_rows))
    vectors = np.array(table.column("vector").to_pylist(), dtype=np.float32)
    return table.column("word").to_pylist(), table.column("count").to_numpy(), vectors


def _slice_ids(spark, out: Path, epoch: int, shard: int) -> np.ndarray:
    frame = training.slice_frame(spark, RunPaths(str(out)), epoch, shard, 0)
    assert frame is not None and frame.rdd.getNumPartitions() == 1
    table = frame.toArrow()
    return np.stack([block_ids(table.column("center")), block_ids(table.column("context"))])


def _pairs(spark, out: Path) -> dict[tuple[int, int], np.ndarray]:
    """Every (epoch, shard) of the pairs table as a training task reads it: (2, n) ids."""
    result = {}
    for shard_dir in sorted((out / "pairs").glob("epoch=*/shard=*")):
        epoch = int(shard_dir.parent.name.split("=")[1])
        shard = int(shard_dir.name.split("=")[1])
        result[(epoch, shard)] = _slice_ids(spark, out, epoch, shard)
    return result


def _assert_same_embeddings(first: Path, second: Path) -> None:
    words_1, counts_1, vectors_1 = _embeddings(first)
    words_2, counts_2, vectors_2 = _embeddings(second)
    assert words_1 == words_2
    np.testing.assert_array_equal(counts_1, counts_2)
    assert vectors_1.shape == vectors_2.shape
    assert np.array_equal(vectors_1, vectors_2)


# ---------------------------------------------------------------------------------------------
# a complete run


def test_run_pipeline_writes_every_table(spark, run_a) -> None:
    out, report = run_a
    for name in TABLES:
        assert (out / name / SUCCESS_MARKER).is_file(), name
    rounds = EPOCHS * SYNCS
    checkpoints = sorted(p.name for p in (out / "model").iterdir() if p.is_dir())
    assert checkpoints == [f"round={r:05d}" for r in range(rounds - KEEP + 1, rounds + 1)]
    for name in checkpoints:
        assert (out / "model" / name / SUCCESS_MARKER).is_file()

    shards = PARTITIONS * SYNCS
    found = {(int(p.parent.name.split("=")[1]), int(p.name.split("=")[1]))
             for p in (out / "pairs").glob("epoch=*/shard=*") if p.is_dir()}
    assert found == {(e, s) for e in range(EPOCHS) for s in range(shards)}
    assert sorted(p.name for p in (out / "pairs").iterdir() if p.is_dir()) == [
        f"epoch={e}" for e in range(EPOCHS)
    ]

    metrics = spark.read.parquet(str(out / "metrics"))
    assert metrics.columns == [f.name for f in METRICS_SCHEMA.fields]
    rows = metrics.orderBy("epoch", "round").collect()
    assert [(r["epoch"], r["round"]) for r in rows] == [
        (e, r) for e in range(EPOCHS) for r in range(SYNCS)
    ]
    assert all(r["pairs"] > 0 for r in rows)
    assert all(np.isfinite(r["loss"]) and r["loss"] > 0 for r in rows)
    assert sum(r["pairs"] for r in rows) == report["pairs"]["pairs"] == report["train"]["pairs"]

    manifest = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert set(manifest["stages"]) == {"tokenize", "vocab", "pairs", "train", "export"}
    assert manifest["stages"]["train"]["settings"]["train.epochs"] == EPOCHS
    assert manifest["stages"]["pairs"]["settings"]["train.epochs"] == EPOCHS
    assert "train.epochs" not in manifest["stages"]["vocab"]["settings"]
    assert report["train"]["rounds"] == rounds
    words, counts, vectors = _embeddings(out)
    assert len(words) == report["vocab"]["words"] > 0
    assert vectors.shape == (len(words), 16)
    assert np.all(np.isfinite(vectors))
    assert np.all(counts >= 2)
    assert np.all(np.diff(counts) <= 0)


def test_two_runs_are_identical(spark, run_a, run_b) -> None:
    out_a, _ = run_a
    _assert_same_embeddings(out_a, run_b)
    vocab_a = spark.read.parquet(str(out_a / "vocab")).orderBy("word_id")
    vocab_b = spark.read.parquet(str(run_b / "vocab")).orderBy("word_id")
    assert_df_equality(vocab_a, vocab_b)
    pairs_a, pairs_b = _pairs(spark, out_a), _pairs(spark, run_b)
    assert pairs_a.keys() == pairs_b.keys()
    for key, values in pairs_a.items():
        np.testing.assert_array_equal(values, pairs_b[key], err_msg=str(key))


def test_a_slice_does_not_depend_on_the_names_of_its_files(spark, run_a, tmp_path: Path
                                                           ) -> None:
    """The pairs-stage task that writes a block, and so the file name, can change between runs
    of the same input; a training slice orders its blocks by content instead."""
    copy = tmp_path / "run"
    shutil.copytree(run_a[0] / "pairs", copy / "pairs")
    for checksum in (copy / "pairs").rglob("*.crc"):  # they would not follow the renames
        checksum.unlink()
    shard_dir = next(d for d in sorted((copy / "pairs").glob("epoch=*/shard=*"))
                     if len(list(d.glob("*.parquet"))) >= 2)
    epoch = int(shard_dir.parent.name.split("=")[1])
    shard = int(shard_dir.name.split("=")[1])
    before = _slice_ids(spark, copy, epoch, shard)
    files = sorted(shard_dir.glob("*.parquet"))
    for f in files:  # reverse the name order of the files, keeping their content
        f.rename(f.with_name("tmp-" + f.name))
    for f, name in zip(files, reversed([f.name for f in files]), strict=True):
        f.with_name("tmp-" + f.name).rename(shard_dir / name)
    after = _slice_ids(spark, copy, epoch, shard)
    np.testing.assert_array_equal(before, after)
    assert before.shape[1] == sum(pq.read_table(f).column("pairs").to_numpy().sum()
                                  for f in files)


def test_arrow_batch_size_does_not_change_the_model(spark, cfg: Config, run_a,
                                                   tmp_path: Path) -> None:
    """A task's minibatches run across Arrow batches, so the Arrow batch size (64 in the test
    session) changes nothing, even at a size that cuts every minibatch."""
    out_a, _ = run_a
    out = tmp_path / "run"
    out.mkdir()
    for name in ("tokens", "vocab", "pairs", "run.json"):
        copy = shutil.copytree if (out_a / name).is_dir() else shutil.copy
        copy(out_a / name, out / name)
    with sql_conf(spark, "spark.sql.execution.arrow.maxRecordsPerBatch", "37"):
        train_stage(spark, cfg, str(out))
    export_stage(spark, cfg, str(out))
    _assert_same_embeddings(out_a, out)


def test_stages_one_by_one_match_run_pipeline(run_a, run_c) -> None:
    (out_a, report), (out_c, facts) = run_a, run_c
    _assert_same_embeddings(out_a, out_c)
    for stage, key in (("tokenize", "tokens"), ("vocab", "words"), ("pairs", "pairs"),
                       ("train", "rounds")):
        assert facts[stage][key] == report[stage][key], stage


def test_vocab_stage_rerun_without_overwrite_refuses(spark, cfg: Config, run_c) -> None:
    out, _ = run_c
    before = snapshot(out / "vocab")
    with pytest.raises(OutputError, match="--overwrite"):
        vocab_stage(spark, cfg, str(out))
    assert snapshot(out / "vocab") == before


@pytest.mark.parametrize(
    ("table", "next_stage"),
    [
        ("tokens", lambda s, c, o: vocab_stage(s, c, o, overwrite=True)),
        ("vocab", lambda s, c, o: pairs_stage(s, c, o, overwrite=True)),
        ("pairs", lambda s, c, o: train_stage(s, c, o, overwrite=True)),
        ("embeddings", lambda s, c, o: load_embeddings(s, o)),
    ],
    ids=["tokens", "vocab", "pairs", "embeddings"],
)
def test_table_without_success_marker_is_refused(
    spark, cfg: Config, run_a, tmp_path: Path, table: str,
    next_stage: Callable[..., Any],
) -> None:
    out = tmp_path / "copy"
    shutil.copytree(run_a[0], out)
    (out / table / SUCCESS_MARKER).unlink()
    with pytest.raises(IncompleteTableError, match=rf"the {table} table .*incomplete"):
        next_stage(spark, cfg, str(out))


# ---------------------------------------------------------------------------------------------
# bad input


def test_missing_input(spark, cfg: Config, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-corpus.txt"
    with pytest.raises(InputError, match="does not exist") as info:
        run_pipeline(spark, cfg, str(missing), str(tmp_path / "out"))
    assert str(missing) in str(info.value)
    assert not (tmp_path / "out").exists()


def test_empty_file(spark, cfg: Config, tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(EmptyCorpusError, match="is empty"):
        run_pipeline(spark, cfg, str(path), str(tmp_path / "out"))


def test_only_blank_lines(spark, cfg: Config, tmp_path: Path) -> None:
    path = tmp_path / "blank.txt"
    path.write_text("\n   \n\t\t\n \u3000 \n\n", encoding="utf-8")
    with pytest.raises(EmptyCorpusError, match="no tokens"):
        run_pipeline(spark, cfg, str(path), str(tmp_path / "out"))


def test_nothing_left_after_min_count(spark, small_corpus: Path, tmp_path: Path) -> None:
    cfg = _config("vocab.min_count=100000")
    with pytest.raises(EmptyVocabularyError, match="min_count=100000"):
        run_pipeline(spark, cfg, str(small_corpus), str(tmp_path / "out"))
    assert not (tmp_path / "out" / "vocab" / SUCCESS_MARKER).exists()


def test_vocab_stage_keeps_nothing_cached(spark, small_cfg: Config, small_corpus: Path,
                                          tmp_path: Path, persisted_rdds) -> None:
    """The counts cached while the vocab stage runs take no memory from the later stages."""
    out = str(tmp_path / "out")
    tokenize_stage(spark, small_cfg, str(small_corpus), out)
    before = persisted_rdds()
    facts = vocab_stage(spark, small_cfg, out)
    assert facts["words"] > 0
    assert persisted_rdds() == before


def test_a_directory_that_holds_no_run_is_never_replaced(
    spark, small_cfg: Config, small_corpus: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    (out / "photos").mkdir(parents=True)
    (out / "photos" / "a.jpg").write_text("x\n", encoding="utf-8")
    (out / "stray.txt").write_text("not a table\n", encoding="utf-8")
    before = snapshot(out)
    for overwrite in (False, True):
        with pytest.raises(OutputError, match=r"holds no w2v_spark run .*photos, stray\.txt"
                           ) as info:
            run_pipeline(spark, small_cfg, str(small_corpus), str(out), overwrite=overwrite)
        assert str(out) in str(info.value)
        assert snapshot(out) == before
        assert sorted(p.name for p in out.iterdir()) == ["photos", "stray.txt"]


def test_overwrite_replaces_only_what_a_run_wrote(
    spark, small_cfg: Config, small_corpus: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    run_pipeline(spark, small_cfg, str(small_corpus), str(out))
    (out / "notes.txt").write_text("mine\n", encoding="utf-8")
    (out / "model" / "round=00099").mkdir()
    with pytest.raises(OutputError, match=r"holds a run .*--overwrite"):
        run_pipeline(spark, small_cfg, str(small_corpus), str(out))
    report = run_pipeline(spark, small_cfg, str(small_corpus), str(out), overwrite=True)
    assert report["train"]["rounds"] == SYNCS
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine\n"
    assert not (out / "model" / "round=00099").exists()
    for name in TABLES:
        assert (out / name / SUCCESS_MARKER).is_file(), name


@pytest.mark.parametrize(
    ("input_name", "output_name"),
    [
        ("in", "in/out"),
        ("in", "in"),
        ("in/", "in/nested/deeper"),
        ("in/corpus.txt", "in"),
        ("in/corpus.txt", "in/corpus.txt"),
    ],
)
def test_output_overlapping_the_input_is_refused(
    spark, small_cfg: Config, tmp_path: Path, input_name: str, output_name: str
) -> None:
    source = tmp_path / "in"
    _write_corpus(source, 20, seed=2)
    before = snapshot(source)
    for overwrite in (False, True):
        with pytest.raises(OutputError, match="overlap"):
            run_pipeline(spark, small_cfg, f"{tmp_path}/{input_name}",
                         f"{tmp_path}/{output_name}", overwrite=overwrite)
        assert snapshot(source) == before


@pytest.mark.parametrize(
    ("input_name", "output_name"),
    [("in", "in/out"), ("data/tokens", "data")],
    ids=["output-inside-input", "input-inside-output"],
)
def test_tokenize_stage_never_touches_the_input(
    spark, small_cfg: Config, tmp_path: Path, input_name: str, output_name: str
) -> None:
    source = tmp_path / input_name
    _write_corpus(source, 20, seed=2)
    before = snapshot(source)
    with pytest.raises(OutputError, match="overlap"):
        tokenize_stage(spark, small_cfg, str(source), str(tmp_path / output_name),
                       overwrite=True)
    assert snapshot(source) == before


def test_train_stage_refuses_pairs_of_fewer_epochs(spark, run_a, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(run_a[0], out)
    with pytest.raises(SchemaError, match=f"generated for {EPOCHS} epochs"):
        train_stage(spark, _config(f"train.epochs={EPOCHS + 1}"), str(out), overwrite=True)


def test_diverging_training_stops_with_advice(
    spark, run_a, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "copy"
    shutil.copytree(run_a[0], out)
    with pytest.raises(TrainingDivergedError,
                       match=r"diverged in epoch 1, round 1: the loss per pair is .*lower "
                             r"train.alpha \(now 10.0\)"):
        train_stage(spark, _config("train.alpha=10", "train.min_alpha=10"), str(out),
                    overwrite=True)
    assert not (out / "model" / "round=00001").exists()
    assert "train" not in json.loads((out / "run.json").read_text(encoding="utf-8"))["stages"]
    # It was warned about before the first round.
    assert "[train] warning: a training task starts at learning rate 20" in caplog.text


# ---------------------------------------------------------------------------------------------
# failures leave nothing that looks complete


def test_failed_training_leaves_no_complete_table(
    spark, small_cfg: Config, small_corpus: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_run_round = training.run_round
    calls = []

    def failing_run_round(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("injected failure in round 2")
        return real_run_round(*args, **kwargs)

    monkeypatch.setattr(training, "run_round", failing_run_round)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="injected failure"):
        run_pipeline(spark, small_cfg, str(small_corpus), str(out))
    assert len(calls) == 2
    assert not (out / "embeddings").exists()
    assert not (out / "metrics" / SUCCESS_MARKER).exists()
    complete = sorted(str(p.parent.relative_to(out)) for p in out.rglob(SUCCESS_MARKER))
    assert not [c for c in complete if c.startswith(("metrics", "embeddings"))]
    assert [c for c in complete if "/" not in c] == ["pairs", "tokens", "vocab"]
    assert [c for c in complete if c.startswith("model/")] == [
        "model/round=00000", "model/round=00001"
    ]
    manifest = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert "train" not in manifest["stages"]
    with pytest.raises(InputError, match=r"the embeddings table .* does not exist"):
        load_embeddings(spark, str(out))


def test_the_training_rounds_draw_one_progress_bar(spark, cfg: Config, run_a,
                                                   tmp_path: Path) -> None:
    """Training again inside :func:`show_progress`: the overwrite's warning on a line of its
    own, then one bar, rewritten once per round and ended after the last round, whose loss
    it shows."""
    out = tmp_path / "again"
    shutil.copytree(run_a[0], out)
    stream = io.StringIO()
    with show_progress(stream):
        train_stage(spark, cfg, str(out), overwrite=True)
    rounds = cfg.train.epochs * cfg.train.syncs_per_epoch
    loss = json.loads((out / "run.json").read_text(encoding="utf-8"))["stages"]["train"][
        "final_loss"]
    states = stream.getvalue().split("\r")
    assert states[0] == "[train] removed the tables made from the ones it replaces: embeddings\n"
    assert len(states) == rounds + 1
    assert [s.split("| ")[1].split(" rounds")[0] for s in states[1:]] == [
        f"{n}/{rounds}" for n in range(1, rounds + 1)]
    assert states[-1] == bar_text(rounds, rounds, loss) + "\n"
