"""Stage 4: SGNS training on P partitions with a model merge after every sync round.

For epoch ``e`` and round ``r`` the driver broadcasts the current model; task ``p`` trains a
copy on shard ``r * P + p`` of that epoch's pairs (as in word2vec, the input vector of the
context word predicts the center word against negatives) with the NumPy kernel and sends back the
rows it touched; the driver merges them (:func:`w2v_spark.core.averaging.merge_touched`) and
the next round starts from the merged model. The learning rate decays linearly over the
pairs of the whole run. Negatives come from the global ``count ** ns_exponent`` distribution.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial, reduce
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.broadcast import Broadcast
from pyspark.sql import DataFrame, SparkSession

from w2v_spark.config import TrainConfig
from w2v_spark.core.averaging import TouchedRows, merge_touched
from w2v_spark.core.sampling import NegativeSampler
from w2v_spark.core.training import LearningRate, SliceTrainer, initial_input_rows
from w2v_spark.io.publish import publish_table
from w2v_spark.io.schemas import MODEL_SCHEMA, TOUCHED_SCHEMA, arrow_schema
from w2v_spark.spark.faults import with_faults
from w2v_spark.spark.session import sql_conf
from w2v_spark.stages.pairs import block_ids

#: Largest binary value a task or checkpoint row carries (bytes).
_BLOCK_BYTES = 32 << 20

#: Most pair blocks (of up to 2 MiB each) in one Arrow batch sent to a training task.
_TRAIN_ARROW_ROWS = 8

#: :data:`w2v_spark.io.schemas.MODEL_SCHEMA` in Arrow, as the driver writes checkpoints.
MODEL_ARROW = arrow_schema(MODEL_SCHEMA)

_TOUCHED_ARROW = arrow_schema(TOUCHED_SCHEMA)


@dataclass
class Model:
    """The two parameter matrices, (V, d) float32 each."""

    w_in: np.ndarray
    w_out: np.ndarray

    @classmethod
    def initial(cls, vocab_size: int, vector_size: int, seed: int) -> Model:
        """Input rows from :func:`w2v_spark.core.training.initial_input_rows` (the wider
        start of gensim 4, the better one on item sequences:
        ``benchmarks/results/items.md``), output rows zero."""
        w_in = initial_input_rows(np.arange(vocab_size), vector_size, seed)
        return cls(w_in, np.zeros((vocab_size, vector_size), np.float32))


@dataclass(frozen=True)
class RoundInfo:
    """Where a round stands in the run, for the learning-rate schedule and the seeds."""

    epoch: int
    round: int
    progress_start: int
    round_pairs: int
    slice_pairs: tuple[int, ...]


@dataclass
class RoundResult:
    """What a round did, summed over its partitions.

    ``seconds`` is the whole round on the driver: the broadcast, the Spark job (its tasks,
    ``task_seconds`` each, of which ``task_read_seconds`` waiting for pair blocks), collecting
    the touched rows and ``merge_seconds`` of merging them into the model.
    """

    epoch: int
    round: int
    pairs: int
    loss: float
    learning_rate: float
    seconds: float
    task_seconds: list[float] = field(default_factory=list)
    task_read_seconds: list[float] = field(default_factory=list)
    merge_seconds: float = 0.0
    finite: bool = True

    def timing(self) -> str:
        """Where the round's time went, for the log: each task's own time (and its wait for
        pair blocks), the rest of the Spark job, and the merge."""
        if not self.task_seconds:
            return f"{self.seconds:.1f} s"
        tasks = "/".join(f"{t:.1f}" for t in self.task_seconds)
        reads = "/".join(f"{t:.1f}" for t in self.task_read_seconds)
        job = self.seconds - self.merge_seconds - max(self.task_seconds)
        return (f"{self.seconds:.1f} s: tasks {tasks} s (reading {reads}), "
                f"job outside the slowest task {job:.1f} s, merge {self.merge_seconds:.1f} s")

    @property
    def mean_loss(self) -> float:
        """Loss per pair."""
        return self.loss / max(self.pairs, 1)


_SAMPLER_CACHE: dict[tuple[int, float, int], NegativeSampler] = {}


def _sampler(counts: np.ndarray, exponent: float) -> NegativeSampler:
    """A negative sampler, built once per Python worker for a given vocabulary."""
    key = (counts.size, exponent, hash(counts.tobytes()))
    if key not in _SAMPLER_CACHE:
        _SAMPLER_CACHE.clear()
        _SAMPLER_CACHE[key] = NegativeSampler(counts, exponent)
    return _SAMPLER_CACHE[key]


#: A training task computes the loss on one minibatch in this many and scales it to all its
#: pairs: a round's reported loss then rests on thousands of minibatches (hundreds of
#: thousands of pairs) on real corpora, and most steps skip computing it.
LOSS_EVERY = 16


def task_trainer(cfg: TrainConfig, w_in: np.ndarray, w_out: np.ndarray,
                 sampler: NegativeSampler, seeds: tuple[int, int, int], total_pairs: int,
                 progress_start: int, progress_scale: float) -> SliceTrainer:
    """The trainer of one training task: the kernel's settings of ``cfg``, the learning rate
    at :attr:`TrainConfig.task_lr_scale` times the schedule, and the random draws of
    ``SeedSequence([seed, *seeds])`` (the epoch, the round and the task).

    Args:
        w_in, w_out: the task's (n_in, d) and (n_out, d) rows, trained in place.
        progress_start: pairs of the run trained before this round.
        progress_scale: pairs of the round per pair of this task.
    """
    scale = cfg.task_lr_scale
    return SliceTrainer(
        w_in=w_in,
        w_out=w_out,
        sampler=sampler,
        rng=np.random.default_rng(np.random.SeedSequence([cfg.seed, *seeds])),
        schedule=LearningRate(cfg.alpha * scale, cfg.min_alpha * scale, total_pairs),
        negative=cfg.negative,
        batch_size=cfg.batch_size,
        shared_negatives=cfg.shared_negatives,
        negative_groups=cfg.negative_groups,
        shuffle_window=cfg.shuffle_window,
        loss_every=LOSS_EVERY,
        row_cap=cfg.row_cap,
        progress_start=float(progress_start),
        progress_scale=progress_scale,
    )


def _touched_blocks(
    partition: int, matrix: str, w: np.ndarray, touched: np.ndarray
) -> Iterator[tuple[int, str, bytes, bytes]]:
    rows = np.flatnonzero(touched).astype(np.int32)
    per_block = max(1, _BLOCK_BYTES // (4 * w.shape[1]))
    for start in range(0, max(rows.size, 1), per_block):
        block = rows[start : start + per_block]
        yield partition, matrix, block.tobytes(), np.ascontiguousarray(w[block]).tobytes()


def _train_slice(
    batches: Iterator[pa.RecordBatch],
    *,
    model: Broadcast[tuple[np.ndarray, np.ndarray]],
    counts: np.ndarray,
    cfg: TrainConfig,
    info: RoundInfo,
    total_pairs: int,
) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: train a copy of the model on this task's slice, emit touched rows.

    Input batches hold ``center``, ``context`` and ``slice`` (the partition index ``p``, the
    same on every row); a task with no rows emits nothing.
    """
    started = time.perf_counter()
    timed = _TimedIterator(batches)
    first = next((b for b in timed if b.num_rows > 0), None)
    if first is None:
        return
    partition = int(first.column(2)[0].as_py())
    first_range = pc.min_max(first.column(2))
    w_in, w_out = (np.array(a, dtype=np.float32, copy=True) for a in model.value)
    trainer = task_trainer(
        cfg, w_in, w_out, _sampler(counts, cfg.ns_exponent),
        (info.epoch, info.round, partition), total_pairs, info.progress_start,
        info.round_pairs / max(info.slice_pairs[partition], 1),
    )
    trainer.train_all(_slice_pairs(itertools.chain([first], timed), first_range))
    seconds = time.perf_counter() - started
    blocks = [
        *_touched_blocks(partition, "input", trainer.w_in, trainer.touched_in),
        *_touched_blocks(partition, "output", trainer.w_out, trainer.touched_out),
    ]
    n = len(blocks)
    yield pa.RecordBatch.from_arrays(
        [
            pa.array([b[0] for b in blocks], pa.int32()),
            pa.array([b[1] for b in blocks], pa.string()),
            pa.array([b[2] for b in blocks], pa.binary()),
            pa.array([b[3] for b in blocks], pa.binary()),
            pa.array([trainer.pairs_done] * n, pa.int64()),
            pa.array([trainer.loss_sum] * n, pa.float64()),
            pa.array([trainer.last_lr / cfg.task_lr_scale] * n, pa.float64()),
            pa.array([seconds] * n, pa.float64()),
            pa.array([timed.seconds] * n, pa.float64()),
        ],
        schema=_TOUCHED_ARROW,
    )


class _TimedIterator(Iterator[pa.RecordBatch]):
    """Wraps an iterator and adds up the time spent waiting for its items (``seconds``)."""

    def __init__(self, items: Iterator[pa.RecordBatch]) -> None:
        self._items = items
        self.seconds = 0.0

    def __next__(self) -> pa.RecordBatch:
        started = time.perf_counter()
        try:
            return next(self._items)
        finally:
            self.seconds += time.perf_counter() - started


def _slice_pairs(batches: Iterable[pa.RecordBatch], slice_range: pa.StructScalar
                 ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(inputs, outputs) int32 arrays of every Arrow batch of (center, context, slice) pair
    blocks: as in word2vec, the context word's input vector predicts the center word."""
    for batch in batches:
        if batch.num_rows and pc.min_max(batch.column(2)) != slice_range:
            raise RuntimeError("a training task received rows of more than one slice")
        yield block_ids(batch.column(1)), block_ids(batch.column(0))


def train_round_frame(
    slices: Sequence[DataFrame],
    model: Broadcast[tuple[np.ndarray, np.ndarray]],
    counts: np.ndarray,
    cfg: TrainConfig,
    info: RoundInfo,
    total_pairs: int,
) -> DataFrame:
    """The round as a DataFrame of touched-row blocks (:data:`TOUCHED_SCHEMA`).

    Args:
        slices: one DataFrame per partition of (center, context, slice) rows, each in a single
            Spark partition and in training order; ``slice`` is the partition index ``p``.
    """
    union = reduce(DataFrame.union, slices)
    if union.rdd.getNumPartitions() != len(slices):
        raise RuntimeError(
            f"the union of {len(slices)} training slices has {union.rdd.getNumPartitions()} "
            "partitions; run it inside sql_conf(spark, 'spark.sql.unionOutputPartitioning', "
            "'false') as run_round does"
        )
    body = partial(
        _train_slice, model=model, counts=counts, cfg=cfg, info=info, total_pairs=total_pairs
    )
    return union.mapInArrow(with_faults(body, "train"), TOUCHED_SCHEMA)


class TaskStats(NamedTuple):
    """What one training task reports beside its touched rows."""

    pairs: int
    loss: float
    learning_rate: float
    seconds: float
    read_seconds: float


def _collect_touched(
    frame: DataFrame, dim: int
) -> tuple[list[TouchedRows], list[TouchedRows], dict[int, TaskStats]]:
    """The touched rows of every partition, input and output, in partition order, and each
    partition's :class:`TaskStats`."""
    table = frame.toArrow()
    by_part: dict[tuple[int, str], list[tuple[np.ndarray, np.ndarray]]] = {}
    stats: dict[int, TaskStats] = {}
    for row in table.to_pylist():
        rows = np.frombuffer(row["rows"], dtype=np.int32)
        values = np.frombuffer(row["values"], dtype=np.float32).reshape(rows.size, dim)
        by_part.setdefault((row["partition"], row["matrix"]), []).append((rows, values))
        stats[row["partition"]] = TaskStats(
            row["pairs"], row["loss"], row["learning_rate"], row["seconds"], row["read_seconds"]
        )

    def gather(matrix: str) -> list[TouchedRows]:
        out = []
        for part in sorted(stats):
            chunks = by_part.get((part, matrix), [])
            if chunks:
                out.append(
                    TouchedRows(
                        np.concatenate([c[0] for c in chunks]),
                        np.concatenate([c[1] for c in chunks]),
                    )
                )
        return out

    return gather("input"), gather("output"), stats


_ARROW_ROWS_KEY = "spark.sql.execution.arrow.maxRecordsPerBatch"


def _train_arrow_rows(spark: SparkSession) -> int:
    """Rows per Arrow batch for training: the session's setting, at most
    :data:`_TRAIN_ARROW_ROWS` pair blocks."""
    current = int(spark.conf.get(_ARROW_ROWS_KEY, "10000") or "10000")
    return min(current, _TRAIN_ARROW_ROWS) if current > 0 else _TRAIN_ARROW_ROWS


def run_round(
    spark: SparkSession,
    model: Model,
    slices: Sequence[DataFrame],
    counts: np.ndarray,
    cfg: TrainConfig,
    info: RoundInfo,
    total_pairs: int,
) -> RoundResult:
    """Train one sync round and merge the partitions' rows into ``model`` in place."""
    started = time.perf_counter()
    bc = spark.sparkContext.broadcast((model.w_in, model.w_out))
    try:
        # Spark 4 would otherwise run a union of single-partition slices as one partition.
        with sql_conf(spark, "spark.sql.unionOutputPartitioning", "false"), \
                sql_conf(spark, _ARROW_ROWS_KEY, str(_train_arrow_rows(spark))):
            frame = train_round_frame(slices, bc, counts, cfg, info, total_pairs)
            touched_in, touched_out, stats = _collect_touched(frame, model.w_in.shape[1])
    finally:
        bc.destroy()
    merging = time.perf_counter()
    merge_touched(model.w_in, touched_in, cfg.merge, cfg.num_partitions)
    merge_touched(model.w_out, touched_out, cfg.merge, cfg.num_partitions)
    merged = time.perf_counter()
    tasks = [stats[p] for p in sorted(stats)]
    return RoundResult(
        epoch=info.epoch,
        round=info.round,
        pairs=sum(t.pairs for t in tasks),
        loss=sum(t.loss for t in tasks),
        learning_rate=float(np.mean([t.learning_rate for t in tasks])) if tasks else 0.0,
        seconds=merged - started,
        task_seconds=[t.seconds for t in tasks],
        task_read_seconds=[t.read_seconds for t in tasks],
        merge_seconds=merged - merging,
    )


def model_arrow(model: Model) -> pa.Table:
    """The model as a checkpoint table (:data:`MODEL_ARROW`): one row per block of up to
    :data:`_BLOCK_BYTES` of each matrix, ``start`` the first word id, ``rows`` the block's
    height, ``input`` and ``output`` its raw little-endian float32 rows."""
    vocab_size, dim = model.w_in.shape
    per_block = max(1, _BLOCK_BYTES // (4 * dim))
    starts = list(range(0, vocab_size, per_block))
    return pa.Table.from_arrays(
        [
            pa.array(starts, pa.int32()),
            pa.array([min(per_block, vocab_size - s) for s in starts], pa.int32()),
            pa.array([dim] * len(starts), pa.int32()),
            pa.array([model.w_in[s : s + per_block].tobytes() for s in starts], pa.binary()),
            pa.array([model.w_out[s : s + per_block].tobytes() for s in starts], pa.binary()),
        ],
        schema=MODEL_ARROW,
    )


def write_checkpoint(spark: SparkSession, model: Model, path: str) -> None:
    """Write the model as a checkpoint table at ``path`` from the driver, which holds it, with
    pyarrow (:func:`w2v_spark.io.publish.publish_table`): no Spark job, and the same
    model gives the same files. Spark reads it back with :data:`MODEL_SCHEMA`."""
    publish_table(spark, model_arrow(model), path, row_group_rows=1)


def model_from_frame(frame: DataFrame) -> Model:
    """Read a checkpoint DataFrame back into matrices; checks that the blocks tile 0..V-1."""
    return Model(*_matrices(frame, ("input", "output")))


def input_vectors_from_frame(frame: DataFrame) -> np.ndarray:
    """The (V, d) input vectors of a checkpoint DataFrame (what the embeddings hold)."""
    return _matrices(frame, ("input",))[0]


def _matrices(frame: DataFrame, names: tuple[str, ...]) -> list[np.ndarray]:
    table = frame.select("start", "rows", "dim", *names).toArrow().sort_by("start")
    starts = table.column("start").to_numpy()
    sizes = table.column("rows").to_numpy()
    dims = set(table.column("dim").to_pylist())
    if len(dims) != 1 or starts.size == 0 or starts[0] != 0 or np.any(
        starts[1:] != np.cumsum(sizes)[:-1]
    ):
        raise ValueError("the model checkpoint's blocks do not cover the vocabulary exactly once")
    dim = dims.pop()

    def matrix(name: str) -> np.ndarray:
        parts = [
            np.frombuffer(b, dtype=np.float32).reshape(-1, dim)
            for b in table.column(name).to_pylist()
        ]
        return np.concatenate(parts).copy()

    return [matrix(name) for name in names]
