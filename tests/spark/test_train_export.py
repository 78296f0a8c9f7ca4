"""Stages 4 and 5 on Spark: model checkpoints, the embeddings table and one training round."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame
from pyspark.sql.types import ArrayType, FloatType, IntegerType, LongType, StringType

import w2v_spark.stages.train as train_module
from tests.runs import table_bytes
from w2v_spark.config import TrainConfig
from w2v_spark.errors import SchemaError
from w2v_spark.io import storage
from w2v_spark.io.publish import publish_table
from w2v_spark.io.schemas import EMBEDDINGS_SCHEMA
from w2v_spark.stages.export import embeddings_arrow
from w2v_spark.stages.pairs import pair_blocks
from w2v_spark.stages.train import Model, RoundInfo, model_from_frame, run_round, write_checkpoint

pytestmark = pytest.mark.spark


def _model(vocab_size: int, dim: int, seed: int, special: bool = True) -> Model:
    rng = np.random.default_rng(seed)
    w_in = rng.standard_normal((vocab_size, dim)).astype(np.float32)
    w_out = rng.standard_normal((vocab_size, dim)).astype(np.float32)
    if special:
        w_in[0, 0] = -0.0
        w_in[1, 1] = np.float32(1e-45)
        w_out[0, 0] = np.inf
        w_out[1, 0] = np.array([0x7FC00123], dtype=np.uint32).view(np.float32)[0]
    return Model(w_in, w_out)


def _assert_bit_equal(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == np.float32 and b.dtype == np.float32
    assert a.shape == b.shape
    np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))


def _assert_same_model(a: Model, b: Model) -> None:
    _assert_bit_equal(a.w_in, b.w_in)
    _assert_bit_equal(a.w_out, b.w_out)


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """Blocks of 3 rows for models with 5 columns."""
    monkeypatch.setattr(train_module, "_BLOCK_BYTES", 4 * 5 * 3)
    yield 3


def _checkpoint(spark, model: Model, path: Path) -> DataFrame:
    write_checkpoint(spark, model, str(path))
    assert (path / "_SUCCESS").is_file()
    return spark.read.parquet(str(path))


def test_initial_model_is_uniform_in_one_over_d_and_set_by_the_seed() -> None:
    dim = 50
    model = Model.initial(4000, dim, seed=3)
    assert model.w_in.dtype == np.float32 and model.w_in.shape == (4000, dim)
    assert model.w_out.dtype == np.float32 and not model.w_out.any()
    assert model.w_in.min() >= -1 / dim and model.w_in.max() <= 1 / dim
    assert model.w_in.min() < -0.99 / dim and model.w_in.max() > 0.99 / dim
    assert abs(float(model.w_in.mean())) < 1e-4  # sd of the mean of 200k draws: 2.3e-5
    np.testing.assert_array_equal(Model.initial(4000, dim, seed=3).w_in, model.w_in)
    assert not np.array_equal(Model.initial(4000, dim, seed=4).w_in, model.w_in)


def test_model_round_trip_one_block(spark, tmp_path: Path) -> None:
    model = _model(7, 5, seed=1)
    frame = _checkpoint(spark, model, tmp_path / "ckpt")
    assert frame.count() == 1
    _assert_same_model(model_from_frame(frame), model)


def test_model_round_trip_several_blocks(spark, tmp_path: Path, small_blocks: int) -> None:
    model = _model(10, 5, seed=2)
    frame = _checkpoint(spark, model, tmp_path / "ckpt")
    blocks = sorted((r["start"], r["rows"], r["dim"]) for r in frame.collect())
    assert blocks == [(0, 3, 5), (3, 3, 5), (6, 3, 5), (9, 1, 5)]
    _assert_same_model(model_from_frame(frame), model)
    _assert_same_model(model_from_frame(frame.repartition(3)), model)


def test_model_from_frame_refuses_a_missing_block(spark, tmp_path: Path, small_blocks: int
                                                  ) -> None:
    frame = _checkpoint(spark, _model(10, 5, seed=3), tmp_path / "ckpt")
    with pytest.raises(ValueError, match="do not cover"):
        model_from_frame(frame.where("start != 3"))


def test_embeddings_table(spark, tmp_path: Path) -> None:
    model = _model(10, 5, seed=4, special=False)
    words = [f"word{i}" for i in range(10)]
    counts = np.array([100 - 7 * i for i in range(10)], dtype=np.int64)
    arrow = embeddings_arrow(pa.array(words), counts, model.w_in)
    publish_table(spark, arrow, str(tmp_path / "emb"), rows_per_file=4)
    assert sorted(p.name for p in (tmp_path / "emb").glob("*.parquet")) == [
        "part-00000.parquet", "part-00001.parquet", "part-00002.parquet"
    ]
    table = storage.read_table(spark, str(tmp_path / "emb"), "embeddings", EMBEDDINGS_SCHEMA)
    # Spark packs files into tasks by size, so a multi-file table is read in id order only
    # when asked.
    table = table.orderBy("word_id")
    # Spark reads every Parquet column as nullable, array elements included.
    assert [(f.name, f.dataType) for f in table.schema.fields] == [
        ("word", StringType()),
        ("word_id", IntegerType()),
        ("count", LongType()),
        ("vector", ArrayType(FloatType(), True)),
    ]
    expected = spark.createDataFrame(
        [
            (w, i, int(c), [float(x) for x in model.w_in[i]])
            for i, (w, c) in enumerate(zip(words, counts, strict=True))
        ],
        EMBEDDINGS_SCHEMA,
    )
    assert_df_equality(table, expected, ignore_nullable=True)
    read = table.toArrow()
    assert read.column("word_id").to_pylist() == list(range(10))
    vectors = np.array(read.column("vector").to_pylist(), dtype=np.float32)
    _assert_bit_equal(vectors, model.w_in)


def test_embeddings_files_are_the_same_bytes_every_time(spark, tmp_path: Path) -> None:
    model = _model(50, 7, seed=8, special=False)
    counts = np.arange(50, 0, -1, dtype=np.int64)
    words = pa.array([f"w{i}" for i in range(50)])
    for name in ("a", "b"):
        publish_table(spark, embeddings_arrow(words, counts, model.w_in.copy()),
                      str(tmp_path / name), rows_per_file=16)
    assert table_bytes(tmp_path / "a") == table_bytes(tmp_path / "b")
    # 4 data files, their checksums and the marker
    assert len(table_bytes(tmp_path / "a")) == 6
    other = model.w_in.copy()
    other[3, 2] = np.nextafter(other[3, 2], np.float32(1))
    publish_table(spark, embeddings_arrow(words, counts, other), str(tmp_path / "c"),
                  rows_per_file=16)
    assert table_bytes(tmp_path / "a") != table_bytes(tmp_path / "c")


def test_embeddings_of_another_run_are_refused() -> None:
    with pytest.raises(SchemaError, match="not from the same run"):
        embeddings_arrow(pa.array(["a", "b"]), np.array([2, 1]), np.zeros((3, 4), np.float32))


VOCAB_SIZE = 12
DIM = 8
ACTIVE = 6  # only words 0..5 occur in pairs, so input rows 6..11 are never touched


@pytest.fixture(scope="module")
def round_setup(spark):
    rng = np.random.default_rng(9)
    frames = []
    sizes = []
    for part, n in enumerate((150, 110)):
        centers = rng.integers(0, ACTIVE, n)
        contexts = rng.integers(0, ACTIVE, n)
        blocks = pair_blocks(centers.astype(np.int32), contexts.astype(np.int32),
                             np.zeros(n, dtype=np.int32), block=32)
        rows = [(c, o, part) for c, o in zip(blocks.column("center").to_pylist(),
                                              blocks.column("context").to_pylist(), strict=True)]
        frames.append(
            spark.createDataFrame(rows, "center binary, context binary, slice int").coalesce(1)
        )
        sizes.append(n)
    counts = np.arange(VOCAB_SIZE, 0, -1, dtype=np.int64) * 10
    info = RoundInfo(epoch=0, round=0, progress_start=0, round_pairs=sum(sizes),
                     slice_pairs=tuple(sizes))
    return frames, counts, info


def _train(spark, round_setup, seed: int) -> tuple[Model, Model, object]:
    frames, counts, info = round_setup
    cfg = TrainConfig(vector_size=DIM, negative=3, seed=seed, num_partitions=2,
                      syncs_per_epoch=1, batch_size=16)
    start = Model.initial(VOCAB_SIZE, DIM, seed=1)
    model = Model(start.w_in.copy(), start.w_out.copy())
    result = run_round(spark, model, frames, counts, cfg, info, info.round_pairs)
    return start, model, result


def test_run_round_trains_touched_rows_only(spark, round_setup) -> None:
    start, model, result = _train(spark, round_setup, seed=5)
    assert result.pairs == round_setup[2].round_pairs
    assert np.isfinite(result.loss) and result.loss > 0
    assert np.isfinite(result.mean_loss)
    assert 0 < result.learning_rate <= 0.025
    assert len(result.task_seconds) == 2
    # the tasks' reading is part of their time, and both run inside the round on the driver
    assert all(0 <= r <= t for r, t in zip(result.task_read_seconds, result.task_seconds,
                                           strict=True))
    assert result.merge_seconds >= 0
    assert max(result.task_seconds) + result.merge_seconds <= result.seconds
    assert "tasks " in result.timing() and "merge" in result.timing()
    changed_in = np.any(model.w_in != start.w_in, axis=1)
    assert changed_in[:ACTIVE].all()
    assert not changed_in[ACTIVE:].any()
    _assert_bit_equal(model.w_in[ACTIVE:], start.w_in[ACTIVE:])
    assert np.all(np.any(model.w_out[:ACTIVE] != start.w_out[:ACTIVE], axis=1))
    assert np.all(np.isfinite(model.w_in)) and np.all(np.isfinite(model.w_out))


def test_run_round_is_deterministic(spark, round_setup) -> None:
    _, first, r1 = _train(spark, round_setup, seed=5)
    _, second, r2 = _train(spark, round_setup, seed=5)
    _assert_same_model(first, second)
    assert r1.loss == r2.loss
    _, other, _ = _train(spark, round_setup, seed=6)
    assert not np.array_equal(first.w_out, other.w_out)
