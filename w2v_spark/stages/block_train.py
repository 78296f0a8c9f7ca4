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
about ``2 * (V / K) * d * 4`` bytes, its stratum's pairs and a minibatch.

A sub-round is one small Spark job of ``K`` tasks that read and write their files themselves
(:mod:`w2v_spark.io.task_files`): no DataFrame is planned or written per sub-round, and each
task reports the size and SHA-256 of the blocks it wrote, which become the version's checksums.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple, cast

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
from pyspark.broadcast import Broadcast
from pyspark.sql import SparkSession

from w2v_spark.config import TrainConfig
from w2v_spark.core.blocks import VocabBlocks, block_sampler, output_block, to_local
from w2v_spark.core.sampling import NegativeSampler
from w2v_spark.core.training import initial_input_rows
from w2v_spark.io import storage, task_files
from w2v_spark.io.layout import RunPaths
from w2v_spark.spark.faults import with_faults
from w2v_spark.stages.pairs import block_ids, pair_block_key
from w2v_spark.stages.train import RoundResult, task_trainer

#: The two matrices, as the ``matrix`` directories of a version name them.
MATRICES = ("input", "output")

#: Largest ``values`` of one row (bytes).
_ROW_BYTES = 32 << 20

#: The file of each ``matrix=/block=`` directory a block-training task writes.
BLOCK_FILE = "part-00000.parquet"


class BlockWritten(NamedTuple):
    """What a task reports of one block file it put in place."""

    matrix: str
    block: int
    name: str
    size: int
    sha256: str


class StratumTrained(NamedTuple):
    """What a task reports of one stratum it trained (``partition``: its Spark task)."""

    task: int
    pairs: int
    loss: float
    learning_rate: float
    seconds: float
    read_seconds: float
    finite: bool
    partition: int


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


def block_table(w: np.ndarray) -> pa.Table:
    """The file of one block ``w`` (n, d): the columns of :data:`BLOCK_MODEL_SCHEMA` but
    ``matrix`` and ``block`` (the directories say those), a row per run of consecutive local
    rows with at most :data:`_ROW_BYTES` of values, viewed in ``w``'s memory rather than
    copied."""
    n, dim = w.shape
    per_row = max(1, _ROW_BYTES // (4 * dim))
    data = np.ascontiguousarray(w, dtype="<f4").reshape(-1)
    starts = list(range(0, max(n, 1), per_row))
    rows = [min(per_row, n - start) for start in starts]
    values = pa.chunked_array([pa.Array.from_buffers(pa.binary(), 1, [
        None, pa.py_buffer(np.array([0, 4 * r * dim], np.int32)),
        pa.py_buffer(data[start * dim:(start + r) * dim])]) for start, r in zip(starts, rows,
                                                                                strict=True)],
                              pa.binary())
    return pa.table({"start": pa.array(starts, pa.int32()), "rows": pa.array(rows, pa.int32()),
                     "dim": pa.array([dim] * len(starts), pa.int32()), "values": values})


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
    return np.concatenate(out).astype(np.float32, copy=False)  # a new, writable array


# ---------------------------------------------------------------------------------------------
# the initial model


def _initial_blocks(ids: Iterable[int], *, blocks: Broadcast[VocabBlocks], vector_size: int,
                    seed: int, target: str) -> Iterator[BlockWritten]:
    """Task body: for every ``i`` of its ids, write block ``i mod K`` of the input matrix
    (``i < K``, :func:`initial_input_rows`) or of the output matrix (zeros) into version
    ``target``; yields a :class:`BlockWritten` for each."""
    vocab = blocks.value
    k = vocab.num_blocks
    fs, version = task_files.filesystem(target)
    for i in ids:
        block = i % k
        words = vocab.ids(block)
        matrix = "input" if i < k else "output"
        w = initial_input_rows(words, vector_size, seed) if i < k else np.zeros(
            (words.size, vector_size), np.float32)
        yield _write_block(fs, version, matrix, block, w)


def write_initial_model(spark: SparkSession, blocks: Broadcast[VocabBlocks], vector_size: int,
                        seed: int, version: str) -> None:
    """Write the model before training as version ``version`` (the same rows as
    :meth:`w2v_spark.stages.train.Model.initial` gives), its ``2 K`` blocks written by the
    tasks of one Spark job."""
    k = blocks.value.num_blocks
    body = partial(_initial_blocks, blocks=blocks, vector_size=vector_size, seed=seed,
                   target=storage.qualify(spark, version))
    out = _block_job(spark, 2 * k, body, "w2v_spark train: the initial model")
    _complete_version(spark, version, written_blocks(out, k, "the initial model"))


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


@dataclass(frozen=True)
class Locations:
    """Where the tasks of a sub-round read and write, as fully qualified locations:
    model versions ``source`` and ``target`` and the epoch's pairs ``pairs``
    (:meth:`~w2v_spark.io.layout.RunPaths.pairs_epoch`)."""

    source: str
    target: str
    pairs: str


def read_block(fs: pafs.FileSystem, version: str, matrix: str, block: int, size: int
               ) -> np.ndarray:
    """Block ``block`` (``size``, d) float32 of ``matrix`` in model version ``version``, from
    its files' rows in any order (:func:`assemble`)."""
    return assemble(task_files.model_rows(fs, block_dir(version, matrix, block)), size)


def stratum_pairs(fs: pafs.FileSystem, directory: str) -> Iterator[pa.RecordBatch]:
    """The pair blocks of one shard (its directory ``directory``), one batch per block, in
    their training order (:func:`~w2v_spark.stages.pairs.pair_block_key`)."""
    files = task_files.parquet_files(fs, directory)
    if not files:
        return
    table = task_files.read_columns(fs, files, ["pairs", "center", "context"])
    keys = [pair_block_key(center, context, pairs) for pairs, center, context in zip(
        table.column("pairs").to_pylist(), table.column("center").to_pylist(),
        table.column("context").to_pylist(), strict=True)]
    for index in sorted(range(len(keys)), key=keys.__getitem__):
        yield from table.slice(index, 1).to_batches()


def _train_stratum(
    tasks: Iterator[int],
    *,
    blocks: Broadcast[VocabBlocks],
    counts: Broadcast[np.ndarray],
    cfg: TrainConfig,
    info: SubRound,
    total_pairs: int,
    where: Locations,
) -> Iterator[BlockWritten | StratumTrained]:
    """Task body: for each stratum number ``t`` of the Spark task (one or several: see
    :func:`run_sub_round`), train stratum ``(t, (t + sub_round) mod K)`` from version
    ``where.source`` into ``where.target``.

    Yields a :class:`BlockWritten` once each block is in place, then the stratum's
    :class:`StratumTrained`.
    """
    from pyspark import TaskContext

    context = TaskContext.get()
    partition = context.partitionId() if context is not None else 0
    vocab = blocks.value
    k = vocab.num_blocks
    fs, source = task_files.filesystem(where.source)
    target, pairs_root = (task_files.filesystem(w)[1] for w in (where.target, where.pairs))
    for task in tasks:
        started = time.perf_counter()
        out_block = output_block(info.sub_round, task, k)
        w_in = read_block(fs, source, "input", task, int(vocab.sizes[task]))
        w_out = read_block(fs, source, "output", out_block, int(vocab.sizes[out_block]))
        batches = list(stratum_pairs(fs, storage.join(
            pairs_root, f"shard={info.sub_round * k + task}")))
        read_seconds = time.perf_counter() - started
        trainer = task_trainer(
            cfg, w_in, w_out, _block_sampler(counts.value, vocab, out_block, cfg.ns_exponent),
            (info.epoch, info.sub_round, task), total_pairs, info.progress_start,
            info.round_pairs / max(info.stratum_pairs[task], 1),
        )
        # as in word2vec, the context word's input vector predicts the center word
        trainer.train_all((to_local(vocab, block_ids(b.column("context")), task),
                           to_local(vocab, block_ids(b.column("center")), out_block))
                          for b in batches if b.num_rows)
        finite = bool(np.isfinite(trainer.w_in).all() and np.isfinite(trainer.w_out).all())
        yield _write_block(fs, target, "input", task, trainer.w_in)
        yield _write_block(fs, target, "output", out_block, trainer.w_out)
        yield StratumTrained(task, trainer.pairs_done, trainer.loss_sum, trainer.last_lr,
                             time.perf_counter() - started, read_seconds, finite, partition)


def _write_block(fs: pafs.FileSystem, version: str, matrix: str, block: int, w: np.ndarray
                 ) -> BlockWritten:
    """Put block ``block`` (n, d) of ``matrix`` in model version ``version``."""
    written = task_files.write_parquet(fs, block_dir(version, matrix, block), BLOCK_FILE,
                                       block_table(w))
    return BlockWritten(matrix, block, BLOCK_FILE, written["size"], written["sha256"])


def run_sub_round(spark: SparkSession, paths: RunPaths, cfg: TrainConfig, info: SubRound,
                  total_pairs: int, blocks: Broadcast[VocabBlocks],
                  counts: Broadcast[np.ndarray], source: str, target: str) -> RoundResult:
    """Train one sub-round from model version ``source`` into version ``target``: one Spark
    job, then the version's checksums and completion marker.

    The job has one task per core of the cluster (``defaultParallelism``), at most ``K``, each
    training consecutive strata one after the other: the strata of a sub-round touch disjoint
    rows, so how they are grouped changes nothing, and a Spark task costs tens of
    milliseconds however small its stratum."""
    started = time.perf_counter()
    k = blocks.value.num_blocks
    if storage.exists(spark, target):
        raise RuntimeError(f"model version {target} exists already")
    where = Locations(storage.qualify(spark, source), storage.qualify(spark, target),
                      storage.qualify(spark, paths.pairs_epoch(info.epoch)))
    body = partial(_train_stratum, blocks=blocks, counts=counts, cfg=cfg, info=info,
                   total_pairs=total_pairs, where=where)
    out = _block_job(spark, k, with_faults(body, "train"), "w2v_spark train: epoch "
                     f"{info.epoch + 1}, sub-round {info.sub_round + 1}")
    # A version is used on resume only once its round is recorded, which is after this.
    _complete_version(spark, target, written_blocks(
        out, k, f"sub-round {info.sub_round} of epoch {info.epoch}"))
    tasks = sorted((row for row in out if isinstance(row, StratumTrained)),
                   key=lambda row: row.task)
    if [row.task for row in tasks] != list(range(k)):
        raise RuntimeError(f"sub-round {info.sub_round} of epoch {info.epoch} reported tasks "
                           f"{[row.task for row in tasks]}, not one of each of {k}")
    rates = [row.learning_rate for row in tasks if row.pairs]
    # the time of each Spark task: the strata it trained one after the other
    parts = sorted({row.partition for row in tasks})
    return RoundResult(
        epoch=info.epoch,
        round=info.sub_round,
        pairs=sum(row.pairs for row in tasks),
        loss=sum(row.loss for row in tasks),
        learning_rate=float(np.mean(rates)) if rates else 0.0,
        seconds=time.perf_counter() - started,
        task_seconds=[sum(r.seconds for r in tasks if r.partition == p) for p in parts],
        task_read_seconds=[sum(r.read_seconds for r in tasks if r.partition == p)
                           for p in parts],
        finite=all(row.finite for row in tasks),
    )


def _block_job(spark: SparkSession, n: int, body: Callable[[Iterator[int]], Iterator[Any]],
               description: str) -> list[Any]:
    """What ``body`` yields for the numbers ``0 .. n-1``, run as one Spark job of one task
    per core (``defaultParallelism``, at most ``n``), each given a run of consecutive
    numbers."""
    sc = spark.sparkContext
    sc.setJobDescription(description)
    try:
        task_body = cast(Callable[[Iterable[int]], Iterable[Any]], body)
        slices = max(1, min(n, sc.defaultParallelism))
        return sc.parallelize(range(n), slices).mapPartitions(task_body).collect()
    finally:
        sc.setJobDescription(None)  # type: ignore[arg-type]


def _complete_version(spark: SparkSession, version: str, sums: dict[str, dict[str, Any]]
                      ) -> None:
    """Mark a model version whose blocks are all written complete: its checksums record,
    then its ``_SUCCESS`` marker."""
    storage.write_checksums(spark, version, sums)
    storage.write_marker(spark, version)


def written_blocks(out: Iterable[Any], k: int, what: str) -> dict[str, dict[str, Any]]:
    """The checksums record (``{file: {"size", "sha256"}}``) of the :class:`BlockWritten` that
    the tasks of ``what`` (a sub-round, or the initial model) report in ``out``, refusing it
    when they did not write every block of each matrix exactly once (tasks that touched the
    same rows, or rows left untrained).

    Raises:
        RuntimeError: a block written twice, or not at all.
    """
    files = [row for row in out if isinstance(row, BlockWritten)]
    for matrix in MATRICES:
        written = sorted(f.block for f in files if f.matrix == matrix)
        if written != list(range(k)):
            raise RuntimeError(f"the tasks of {what} wrote {matrix} blocks {written}, not "
                               f"each of the {k} blocks once")
    return {storage.join(f"matrix={f.matrix}", f"block={f.block}", f.name):
            {"size": f.size, "sha256": f.sha256} for f in sorted(files)}
