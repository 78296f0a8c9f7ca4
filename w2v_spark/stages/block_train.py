"""Stage 4 with ``train.strategy = "blocks"``: stratified SGD over vocabulary blocks.

The vocabulary is cut into ``K = num_partitions`` blocks (:mod:`w2v_spark.core.blocks`) and
the pairs stage wrote every epoch's pairs by stratum and pass: each sentence belongs to one of
``passes`` passes (:attr:`~w2v_spark.config.TrainConfig.passes`), and shard ``r * K + t`` holds
the pairs of pass ``r // K`` whose context word (the input) is in block ``t`` and whose center
word (the output) is in block ``(t + r) mod K``. An epoch is ``passes * K`` sub-rounds; in
sub-round ``r`` task ``t`` reads input block ``t`` and output block ``(t + r) mod K`` of the
model, trains its share of the stratum with negatives drawn from that output block only, and
writes the two blocks to the next version of the model. Several passes make a word meet the
other blocks in turn several times per epoch, instead of once for a long sub-round.
The tasks of a sub-round touch disjoint rows: there is nothing to merge and no learning rate to
scale, and the result is the sequential SGD of the strata in that order.

The model is a table of blocks (:data:`~w2v_spark.io.schemas.BLOCK_MODEL_SCHEMA`), one version
per sub-round under ``model/round=NNNNN/``, partitioned by ``matrix`` and ``block``; the driver
never holds it, only the vocabulary's counts and the tasks' metrics. A task holds two blocks,
about ``2 * (V / K) * d * 4`` bytes, and a minibatch.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial, reduce

import numpy as np
import pyarrow as pa
from pyspark.broadcast import Broadcast
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from w2v_spark.config import TrainConfig
from w2v_spark.core.blocks import VocabBlocks, block_sampler, output_block, to_local
from w2v_spark.core.sampling import NegativeSampler
from w2v_spark.core.training import initial_input_rows
from w2v_spark.io import storage
from w2v_spark.io.layout import RunPaths
from w2v_spark.io.schemas import (
    BLOCK_MODEL_SCHEMA,
    PAIRS_SCHEMA,
    STRATUM_INPUT_SCHEMA,
    STRATUM_OUTPUT_SCHEMA,
    arrow_schema,
)
from w2v_spark.spark.faults import with_faults
from w2v_spark.spark.session import sql_conf
from w2v_spark.stages.pairs import block_ids
from w2v_spark.stages.train import RoundResult, task_trainer

#: The two matrices, as the ``matrix`` directories of a version name them.
MATRICES = ("input", "output")

#: Largest ``values`` of one row (bytes).
_ROW_BYTES = 32 << 20

#: The columns of a block's files (``matrix`` and ``block`` are their directories).
_BLOCK_FILE_SCHEMA = StructType([f for f in BLOCK_MODEL_SCHEMA.fields
                                 if f.name not in ("matrix", "block")])
_BLOCK_ARROW = arrow_schema(BLOCK_MODEL_SCHEMA)
_OUTPUT_ARROW = arrow_schema(STRATUM_OUTPUT_SCHEMA)

#: Most rows (pair blocks of up to 2 MiB, or model rows) in one Arrow batch to a task.
_ARROW_ROWS = 8
_ARROW_ROWS_KEY = "spark.sql.execution.arrow.maxRecordsPerBatch"


@dataclass(frozen=True)
class SubRound:
    """Where a sub-round stands in the run, for the learning-rate schedule and the seeds:
    ``progress_start`` pairs were trained before it, ``stratum_pairs[t]`` is task ``t``'s."""

    epoch: int
    sub_round: int
    progress_start: int
    stratum_pairs: tuple[int, ...]

    @property
    def round_pairs(self) -> int:
        """Pairs of the whole sub-round."""
        return sum(self.stratum_pairs)


def block_dir(version: str, matrix: str, block: int) -> str:
    """The directory of one block of one matrix in a model version."""
    return storage.join(version, f"matrix={matrix}", f"block={block}")


def model_blocks(spark: SparkSession, version: str) -> int:
    """How many blocks a model version holds (its ``matrix=input/block=B`` directories)."""
    names = storage.list_dirs(spark, storage.join(version, "matrix=input"))
    return len([n for n in names if n.startswith("block=")])


def is_block_model(spark: SparkSession, version: str) -> bool:
    """Whether a model version was trained in blocks."""
    return storage.exists(spark, storage.join(version, "matrix=input"))


# ---------------------------------------------------------------------------------------------
# rows of a block


def block_rows(matrix: str, block: int, w: np.ndarray) -> list[tuple[str, int, int, int, int,
                                                                     bytes]]:
    """The rows of :data:`BLOCK_MODEL_SCHEMA` that hold ``w`` (n, d), block ``block`` of
    ``matrix``: consecutive local rows, at most :data:`_ROW_BYTES` of values each."""
    n, dim = w.shape
    per_row = max(1, _ROW_BYTES // (4 * dim))
    return [(matrix, block, start, min(per_row, n - start), dim,
             np.ascontiguousarray(w[start : start + per_row], dtype="<f4").tobytes())
            for start in range(0, max(n, 1), per_row)]


def tiles(parts: Iterable[tuple[int, int, int, bytes]], size: int
          ) -> Iterator[tuple[int, int, int, bytes]]:
    """The rows ``(start, rows, dim, values)`` of a block of ``size`` rows, in the order
    given, checked as they pass: each starts where the one before ended, all have one ``dim``
    and ``4 * rows * dim`` bytes of values, and together they cover the block exactly once.

    Raises:
        ValueError: (when the offending row is reached, or at the end) they do not tile it.
    """
    done, dims = 0, set[int]()
    for start, rows, dim, values in parts:
        dims.add(dim)
        if start != done or start + rows > size or len(dims) != 1 \
                or len(values) != 4 * rows * dim:
            break
        done = start + rows
        yield start, rows, dim, values
    else:
        if done == size and dims:
            return
    raise ValueError(f"the rows of a model block do not tile its {size} rows exactly once")


def assemble(parts: Iterable[tuple[int, int, int, bytes]], size: int) -> np.ndarray:
    """A block (``size``, d) float32 from its rows ``(start, rows, dim, values)`` in any
    order, refusing rows that do not tile it (:func:`tiles`)."""
    out = [np.frombuffer(v, dtype="<f4").reshape(r, d) for _, r, d, v in tiles(sorted(parts),
                                                                               size)]
    return np.concatenate(out).astype(np.float32, copy=True)


def _rows_batch(rows: list[tuple[str, int, int, int, int, bytes]],
                metrics: tuple[int, int, float, float, float, bool]) -> pa.RecordBatch:
    n = len(rows)
    arrays = [pa.array([row[i] for row in rows], type=_OUTPUT_ARROW.field(i).type)
              for i in range(6)]
    arrays += [pa.array([value] * n, type=_OUTPUT_ARROW.field(6 + i).type)
               for i, value in enumerate(metrics)]
    return pa.RecordBatch.from_arrays(arrays, schema=_OUTPUT_ARROW)


# ---------------------------------------------------------------------------------------------
# the initial model


def _initial_blocks(batches: Iterator[pa.RecordBatch], *, blocks: Broadcast[VocabBlocks],
                    vector_size: int, seed: int) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: for every ``id`` ``i`` of its rows, block ``i mod K`` of the input
    matrix (``i < K``, :func:`initial_input_rows`) or of the output matrix (zeros)."""
    vocab = blocks.value
    k = vocab.num_blocks
    for batch in batches:
        for i in batch.column(0).to_pylist():
            block = i % k
            ids = vocab.ids(block)
            if i < k:
                rows = block_rows("input", block, initial_input_rows(ids, vector_size, seed))
            else:
                rows = block_rows("output", block, np.zeros((ids.size, vector_size),
                                                            np.float32))
            yield pa.RecordBatch.from_arrays(
                [pa.array([row[j] for row in rows], type=_BLOCK_ARROW.field(j).type)
                 for j in range(6)], schema=_BLOCK_ARROW)


def write_initial_model(spark: SparkSession, blocks: Broadcast[VocabBlocks], vector_size: int,
                        seed: int, version: str) -> None:
    """Write the model before training as version ``version``: each block made by a task of
    its own (the same rows as :meth:`w2v_spark.stages.train.Model.initial` gives)."""
    k = blocks.value.num_blocks
    ids = spark.range(0, 2 * k, 1, numPartitions=min(2 * k, 64))
    body = partial(_initial_blocks, blocks=blocks, vector_size=vector_size, seed=seed)
    frame = ids.mapInArrow(body, BLOCK_MODEL_SCHEMA)
    frame.write.mode("errorifexists").partitionBy("matrix", "block").parquet(version)
    storage.record_checksums(spark, version)


# ---------------------------------------------------------------------------------------------
# one sub-round


_SAMPLERS: dict[tuple[int, int, float, int], NegativeSampler] = {}


def _block_sampler(counts: np.ndarray, blocks: VocabBlocks, block: int, exponent: float
                   ) -> NegativeSampler:
    """The negative sampler of one output block, built once per Python worker for the same
    counts of that block's words."""
    key = (blocks.num_blocks, block, exponent, hash(counts[blocks.ids(block)].tobytes()))
    if key not in _SAMPLERS:
        if len(_SAMPLERS) > 4 * blocks.num_blocks:
            _SAMPLERS.clear()
        _SAMPLERS[key] = block_sampler(counts, blocks, block, exponent)
    return _SAMPLERS[key]


#: The columns one side of a task's input lacks: null in the other's rows.
_MODEL_ONLY = ("start", "rows", "dim", "values")
_PAIRS_ONLY = ("pairs", "center", "context")


def _nulls() -> dict[str, F.Column]:
    """A typed null of every column that only model rows or only pair rows have (made once
    per sub-round: every column expression is a call into the JVM)."""
    types = {f.name: f.dataType for f in STRATUM_INPUT_SCHEMA.fields}
    return {name: F.lit(None).cast(types[name]).alias(name)
            for name in (*_MODEL_ONLY, *_PAIRS_ONLY)}


def _block_frame(spark: SparkSession, version: str, matrix: str, block: int, kind: int,
                 nulls: dict[str, F.Column]) -> DataFrame:
    rows = spark.read.schema(_BLOCK_FILE_SCHEMA).parquet(block_dir(version, matrix, block))
    return rows.select(F.lit(kind).alias("kind"), F.lit(block).alias("block"), *_MODEL_ONLY,
                       *(nulls[n] for n in _PAIRS_ONLY))


def _pair_frame(spark: SparkSession, paths: RunPaths, epoch: int, shard: int, task: int,
                nulls: dict[str, F.Column]) -> DataFrame | None:
    """The pair blocks of one shard, all its files in one read (None when it has none)."""
    directory = paths.pairs_shard(epoch, shard)
    files = sorted(storage.join(directory, f) for f in storage.list_files(spark, directory)
                   if f.endswith(".parquet"))
    if not files:
        return None
    return spark.read.schema(PAIRS_SCHEMA).parquet(*files).select(
        F.lit(2).alias("kind"), F.lit(task).alias("block"), *(nulls[n] for n in _MODEL_ONLY),
        *_PAIRS_ONLY)


def stratum_frame(spark: SparkSession, paths: RunPaths, version: str, epoch: int,
                  sub_round: int, task: int, num_blocks: int,
                  nulls: dict[str, F.Column] | None = None) -> DataFrame:
    """What task ``task`` of a sub-round reads (:data:`STRATUM_INPUT_SCHEMA`), as one Spark
    partition: its input block and output block of model version ``version``, then the pair
    blocks of its stratum ordered by a hash of their content (which file of the shard holds a
    block depends on the pairs-stage task that wrote it; the blocks themselves do not)."""
    nulls = nulls or _nulls()
    out_block = output_block(sub_round, task, num_blocks)
    frames = [_block_frame(spark, version, "input", task, 0, nulls),
              _block_frame(spark, version, "output", out_block, 1, nulls)]
    pairs = _pair_frame(spark, paths, epoch, sub_round * num_blocks + task, task, nulls)
    if pairs is not None:
        frames.append(pairs)
    frame = reduce(DataFrame.union, frames).coalesce(1)
    return frame.sortWithinPartitions("kind", "start", F.xxhash64("center", "context"), "pairs")


def _train_stratum(
    batches: Iterator[pa.RecordBatch],
    *,
    blocks: Broadcast[VocabBlocks],
    counts: Broadcast[np.ndarray],
    cfg: TrainConfig,
    info: SubRound,
    total_pairs: int,
) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: train one stratum on its two blocks and emit them with the metrics."""
    started = time.perf_counter()
    vocab = blocks.value
    model: dict[int, list[tuple[int, int, int, bytes]]] = {0: [], 1: []}
    held: dict[int, int] = {}
    first_pairs: pa.RecordBatch | None = None
    source = iter(batches)
    for batch in source:
        kinds = batch.column(0).to_numpy(zero_copy_only=False)
        model_part = batch.filter(pa.array(kinds < 2))
        for row in model_part.to_pylist():
            model[row["kind"]].append((row["start"], row["rows"], row["dim"], row["values"]))
            held[row["kind"]] = row["block"]
        if (kinds == 2).any():
            first_pairs = batch.filter(pa.array(kinds == 2))
            break
    if set(held) != {0, 1}:
        raise RuntimeError("a block-training task did not receive both of its model blocks")
    task, out_block = held[0], held[1]
    if out_block != output_block(info.sub_round, task, vocab.num_blocks):
        raise RuntimeError(f"task {task} of sub-round {info.sub_round} received output block "
                           f"{out_block}")
    w_in = assemble(model[0], int(vocab.sizes[task]))
    w_out = assemble(model[1], int(vocab.sizes[out_block]))
    trainer = task_trainer(
        cfg, w_in, w_out, _block_sampler(counts.value, vocab, out_block, cfg.ns_exponent),
        (info.epoch, info.sub_round, task), total_pairs, info.progress_start,
        info.round_pairs / max(info.stratum_pairs[task], 1),
    )

    def pairs() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        rest = itertools.chain([] if first_pairs is None else [first_pairs], source)
        for batch in rest:
            if batch.num_rows == 0:
                continue
            # as in word2vec, the context word's input vector predicts the center word
            yield (to_local(vocab, block_ids(batch.column("context")), task),
                   to_local(vocab, block_ids(batch.column("center")), out_block))

    trainer.train_all(pairs())
    finite = bool(np.isfinite(trainer.w_in).all() and np.isfinite(trainer.w_out).all())
    metrics = (task, trainer.pairs_done, trainer.loss_sum, trainer.last_lr,
               time.perf_counter() - started, finite)
    rows = block_rows("input", task, trainer.w_in) + block_rows("output", out_block,
                                                                 trainer.w_out)
    for start in range(0, len(rows), 4):
        yield _rows_batch(rows[start : start + 4], metrics)


def run_sub_round(spark: SparkSession, paths: RunPaths, cfg: TrainConfig, info: SubRound,
                  total_pairs: int, blocks: Broadcast[VocabBlocks],
                  counts: Broadcast[np.ndarray], source: str, target: str) -> RoundResult:
    """Train one sub-round from model version ``source`` into version ``target``."""
    started = time.perf_counter()
    k = blocks.value.num_blocks
    nulls = _nulls()
    frames = [stratum_frame(spark, paths, source, info.epoch, info.sub_round, t, k, nulls)
              for t in range(k)]
    body = partial(_train_stratum, blocks=blocks, counts=counts, cfg=cfg, info=info,
                   total_pairs=total_pairs)
    # Spark 4 would otherwise run a union of single-partition frames as one partition.
    with sql_conf(spark, "spark.sql.unionOutputPartitioning", "false"), \
            sql_conf(spark, _ARROW_ROWS_KEY, str(_ARROW_ROWS)):
        union = reduce(DataFrame.union, frames)
        if union.rdd.getNumPartitions() != k:
            raise RuntimeError(f"a sub-round of {k} tasks has {union.rdd.getNumPartitions()} "
                               "partitions")
        trained = union.mapInArrow(with_faults(body, "train"), STRATUM_OUTPUT_SCHEMA)
        trained.write.mode("errorifexists").partitionBy("matrix", "block").parquet(target)
    # A version is used on resume only once its round is recorded, which is after this.
    storage.record_checksums(spark, target)
    # Every row of a task's output carries its metrics: one row each, the first of its input
    # block, with no shuffle to deduplicate them.
    rows = (spark.read.parquet(storage.join(target, "matrix=input")).where(F.col("start") == 0)
            .select("task", "pairs", "loss", "learning_rate", "seconds", "finite").collect())
    tasks = sorted(rows, key=lambda r: int(r["task"]))
    if [int(r["task"]) for r in tasks] != list(range(k)):
        raise RuntimeError(f"sub-round {info.sub_round} of epoch {info.epoch} reported tasks "
                           f"{[int(r['task']) for r in tasks]}, not one of each of {k}")
    pairs = sum(int(r["pairs"]) for r in tasks)
    weighted = [(r["learning_rate"], int(r["pairs"])) for r in tasks if int(r["pairs"])]
    return RoundResult(
        epoch=info.epoch,
        round=info.sub_round,
        pairs=pairs,
        loss=sum(float(r["loss"]) for r in tasks),
        learning_rate=float(np.mean([lr for lr, _ in weighted])) if weighted else 0.0,
        seconds=time.perf_counter() - started,
        task_seconds=[float(r["seconds"]) for r in tasks],
        task_read_seconds=[0.0 for _ in tasks],
        finite=all(bool(r["finite"]) for r in tasks),
    )
