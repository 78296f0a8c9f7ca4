"""Stage 4 as a whole: every sync round of every epoch with a checkpoint after each, resume
from the newest intact checkpoint, the divergence guard, and the metrics table.

One round is :func:`w2v_spark.stages.train.run_round`. The run record is not read or written
here: the caller passes the rounds it recorded and a function that records one more
(:meth:`w2v_spark.run.Run.record_round`), so a round is recorded only after its checkpoint is
complete.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from pyspark.broadcast import Broadcast
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from w2v_spark.config import Config, TrainConfig
from w2v_spark.core.blocks import VocabBlocks
from w2v_spark.errors import CorruptError, IncompleteTableError, SchemaError, TrainingDivergedError
from w2v_spark.io import storage, task_files
from w2v_spark.io.layout import RunPaths
from w2v_spark.io.schemas import METRICS, METRICS_SCHEMA, MODEL, MODEL_SCHEMA, PAIRS_SCHEMA
from w2v_spark.spark.memory import check_model_fits
from w2v_spark.stages.block_train import SubRound, run_sub_round, write_initial_model
from w2v_spark.stages.pairs import pair_block_order, pair_counts, training_blocks
from w2v_spark.stages.train import (
    Model,
    RoundInfo,
    RoundResult,
    model_from_frame,
    run_round,
    write_checkpoint,
)
from w2v_spark.stages.vocab import Vocabulary, read_vocabulary

log = logging.getLogger(__name__)

#: Records one round: ``(global_round, entry)``; round 0 (the initial model, ``entry`` None)
#: starts the list.
RecordRound = Callable[[int, "dict[str, Any] | None"], None]


def check_training(spark: SparkSession, cfg: Config, paths: RunPaths,
                   pairs_made: dict[str, Any]) -> None:
    """Refuse, before anything is replaced, pairs made for other settings (``pairs_made``: the
    pairs stage's recorded facts), a model the memory settings cannot hold, and training in
    blocks in a run directory its tasks cannot reach; warn of settings likely to diverge."""
    tcfg = cfg.train
    check_memory(spark, len(read_vocabulary(spark, paths)), cfg)
    counts = pair_counts(spark, paths)
    made_epochs = pairs_made.get("epochs", 1 + max((e for e, _ in counts), default=-1))
    made_shards = pairs_made.get("shards", 1 + max((s for _, s in counts), default=-1))
    if (made_epochs, made_shards) != (tcfg.epochs, tcfg.num_shards):
        raise SchemaError(
            f"the pairs table was generated for {made_epochs} epochs and {made_shards} shards, "
            f"but [train] asks for epochs={tcfg.epochs} and num_partitions x syncs_per_epoch = "
            f"{tcfg.num_shards}; run the pairs stage again with the same [train] settings "
            "(--overwrite)"
        )
    if tcfg.blocks:  # its tasks read and write the run directory themselves
        task_files.filesystem(storage.qualify(spark, paths.root))
    if (warning := tcfg.stability_warning()) is not None:
        log.warning("[train] warning: %s", warning)


def check_memory(spark: SparkSession, vocab_size: int, cfg: Config) -> None:
    """Refuse, before any allocation, a model the memory settings cannot hold."""
    sc = spark.sparkContext
    settings = dict(sc.getConf().getAll())
    local = (sc.master or "").startswith("local")
    per_jvm = sc.defaultParallelism if local else int(
        settings.get("spark.executor.cores", sc.defaultParallelism))
    check_model_fits(
        vocab_size, cfg.train.vector_size, cfg.train.num_partitions, settings, local=local,
        strategy=cfg.train.resolved_strategy, concurrent_tasks=per_jvm,
    )


def train_model(spark: SparkSession, cfg: Config, paths: RunPaths,
                recorded: Sequence[dict[str, Any]] | None, record_round: RecordRound
                ) -> dict[str, Any]:
    """Train on the pairs of ``paths`` and write the metrics table; return the stage's facts.

    Args:
        recorded: the recorded rounds of the run when resuming (training continues after the
            newest of them whose checkpoint is intact), None to start from the initial model.
        record_round: called after each round's checkpoint is complete.
    """
    started = time.perf_counter()
    tcfg = cfg.train
    vocab = read_vocabulary(spark, paths)
    counts = pair_counts(spark, paths)
    blocks = tcfg.blocks
    point = resume_point(spark, cfg, paths, len(vocab), recorded, load=not blocks) \
        if recorded is not None else None
    sc = spark.sparkContext
    dealt = training_blocks(cfg, vocab)
    vocab_blocks_bc = sc.broadcast(dealt) if dealt is not None else None
    try:
        model: Model | None = None
        if point is None:
            storage.delete(spark, paths.table(MODEL))
            start, earlier = 0, list[RoundResult]()
            if vocab_blocks_bc is not None:
                write_initial_model(spark, vocab_blocks_bc, tcfg.vector_size, tcfg.seed,
                                    paths.checkpoint(0))
            else:
                model = Model.initial(len(vocab), tcfg.vector_size, tcfg.seed)
                write_checkpoint(spark, model, paths.checkpoint(0))
            record_round(0, None)
        else:
            start, model, earlier = point
            for number in checkpoint_rounds(spark, paths):
                if number > start:
                    storage.delete(spark, paths.checkpoint(number))
            log.info("[train] resuming after round %d from %s", start, paths.checkpoint(start))
        if vocab_blocks_bc is not None:
            later = _train_block_rounds(spark, cfg, paths, vocab, counts, vocab_blocks_bc, start,
                                        record_round)
        else:
            assert model is not None
            later = _train_rounds(spark, cfg, paths, vocab, counts, model, start, record_round)
    finally:
        if vocab_blocks_bc is not None:
            vocab_blocks_bc.destroy()
    results = earlier + later
    metrics_rows = [
        (r.epoch, r.round, r.mean_loss, r.learning_rate, r.pairs,
         r.pairs / r.seconds if r.seconds > 0 else 0.0, r.seconds)
        for r in results
    ]
    spark.createDataFrame(metrics_rows, METRICS_SCHEMA).coalesce(1).write.mode(
        "errorifexists").parquet(paths.table(METRICS))
    seconds = time.perf_counter() - started
    trained = sum(r.pairs for r in results[start:])
    return {
        "rounds": len(results),
        "resumed_after_round": start,
        "pairs": sum(r.pairs for r in results),
        "final_loss": results[-1].mean_loss if results else None,
        "seconds": round(seconds, 3),
        "pairs_per_sec": round(trained / max(seconds, 1e-9), 1),
        "tables": [paths.relative(paths.checkpoint(len(results)))],
    }


def round_entry(result: RoundResult) -> dict[str, Any]:
    """What the run record holds of a round."""
    return {"epoch": result.epoch, "round": result.round, "pairs": result.pairs,
            "loss": result.loss, "learning_rate": result.learning_rate,
            "seconds": result.seconds, "task_seconds": result.task_seconds,
            "task_read_seconds": result.task_read_seconds,
            "merge_seconds": result.merge_seconds}


def _round_from_entry(entry: dict[str, Any]) -> RoundResult:
    return RoundResult(int(entry["epoch"]), int(entry["round"]), int(entry["pairs"]),
                       float(entry["loss"]), float(entry["learning_rate"]),
                       float(entry["seconds"]))


def checkpoint_rounds(spark: SparkSession, paths: RunPaths) -> list[int]:
    """The rounds that have a checkpoint directory, complete or not, in order."""
    names = storage.list_dirs(spark, paths.table(MODEL))
    return sorted(int(n.split("=", 1)[1]) for n in names
                  if n.startswith("round=") and n.split("=", 1)[1].isdigit())


def _prune_checkpoints(spark: SparkSession, paths: RunPaths, keep: int) -> None:
    if keep <= 0:
        return
    for number in checkpoint_rounds(spark, paths)[:-keep]:
        storage.delete(spark, paths.checkpoint(number))


def resume_point(spark: SparkSession, cfg: Config, paths: RunPaths, vocab_size: int,
                 recorded: Sequence[dict[str, Any]], load: bool = True
                 ) -> tuple[int, Model | None, list[RoundResult]] | None:
    """The newest round whose checkpoint is complete, matches its checksums and whose metrics
    are recorded, the model after it and the recorded rounds; None when training must start
    over. A checkpoint that differs from what was written is skipped for the one before it,
    and said; when no checkpoint is left, the error names the damaged files. With ``load``
    false (a model in blocks, which the driver never holds) no model is read."""
    damaged: list[str] = []
    for number in reversed(checkpoint_rounds(spark, paths)):
        path = paths.checkpoint(number)
        if number > len(recorded) or not storage.is_complete(spark, path):
            continue
        problems = storage.checksum_problems(spark, path)
        if problems:
            log.warning("[train] the checkpoint of round %d is damaged: %s; trying the round "
                        "before it", number, "; ".join(problems))
            damaged += problems
            continue
        model = None
        if load:
            model = model_from_frame(storage.read_table(spark, path, "model", MODEL_SCHEMA))
            expected = (vocab_size, cfg.train.vector_size)
            if model.w_in.shape != expected or model.w_out.shape != expected:
                raise SchemaError(
                    f"the checkpoint {path} holds a {model.w_in.shape} model, the run needs "
                    f"{expected}; start again with --overwrite"
                )
        if damaged:
            log.warning("[train] resuming from round %d, the newest checkpoint that matches "
                        "its checksums", number)
        return number, model, [_round_from_entry(e) for e in recorded[:number]]
    if damaged:
        raise CorruptError(
            "every checkpoint of the run differs from what was written: "
            + "; ".join(damaged) + "; start the run again with --overwrite"
        )
    return None


def slice_frame(spark: SparkSession, paths: RunPaths, epoch: int, shard: int, slot: int
                ) -> DataFrame | None:
    """One training slice: the shard's pair blocks as a single Spark partition, ordered by
    their content (:func:`~w2v_spark.stages.pairs.pair_block_order`), so the slice, and the
    model, are the same in every run."""
    directory = paths.pairs_shard(epoch, shard)
    files = sorted(storage.join(directory, f) for f in storage.list_files(spark, directory)
                   if f.endswith(".parquet"))
    if not files:
        return None
    frame = spark.read.schema(PAIRS_SCHEMA).parquet(*files).coalesce(1)
    frame = frame.sortWithinPartitions(*pair_block_order())
    return frame.select("center", "context", F.lit(slot).cast("int").alias("slice"))


def _train_rounds(spark: SparkSession, cfg: Config, paths: RunPaths, vocab: Vocabulary,
                  counts: dict[tuple[int, int], int], model: Model, start: int,
                  record_round: RecordRound) -> list[RoundResult]:
    """Every sync round of every epoch after global round ``start`` (whose model ``model``
    is), with a checkpoint after each. A round's learning rates and seeds come from its
    (epoch, round) and the pairs of the rounds before it, never from what ran in this
    process."""
    tcfg = cfg.train
    total_pairs = sum(counts.values())
    results: list[RoundResult] = []
    done = 0
    global_round = 0
    for epoch in range(tcfg.epochs):
        for rnd in range(tcfg.syncs_per_epoch):
            shard_ids = [rnd * tcfg.num_partitions + p for p in range(tcfg.num_partitions)]
            slice_pairs = tuple(counts.get((epoch, s), 0) for s in shard_ids)
            info = RoundInfo(epoch, rnd, done, sum(slice_pairs), slice_pairs)
            done += info.round_pairs
            global_round += 1
            if global_round <= start:
                continue
            slices = [
                f for p, s in enumerate(shard_ids)
                if (f := slice_frame(spark, paths, epoch, s, p)) is not None
            ]
            if slices:
                result = run_round(spark, model, slices, vocab.counts, tcfg, info, total_pairs)
            else:
                result = RoundResult(epoch, rnd, 0, 0.0, 0.0, 0.0)
            check_diverged(result, model, tcfg)
            checkpointing = time.perf_counter()
            write_checkpoint(spark, model, paths.checkpoint(global_round))
            record_round(global_round, round_entry(result))
            _prune_checkpoints(spark, paths, tcfg.keep_checkpoints)
            checkpoint_seconds = time.perf_counter() - checkpointing
            results.append(result)
            log.info(
                "[train] epoch %d/%d round %d/%d: %s pairs, loss %.4f, lr %.5f, %s; "
                "checkpoint %.1f s", epoch + 1, tcfg.epochs, rnd + 1, tcfg.syncs_per_epoch,
                f"{result.pairs:,}", result.mean_loss, result.learning_rate, result.timing(),
                checkpoint_seconds, extra=_progress(global_round, tcfg, result),
            )
    return results


def _train_block_rounds(spark: SparkSession, cfg: Config, paths: RunPaths, vocab: Vocabulary,
                        counts: dict[tuple[int, int], int],
                        blocks: Broadcast[VocabBlocks], start: int,
                        record_round: RecordRound) -> list[RoundResult]:
    """Every sub-round of every epoch after global round ``start`` with a model in blocks
    (:mod:`w2v_spark.stages.block_train`): round ``n`` reads model version ``n - 1`` and
    writes version ``n``, which is its checkpoint."""
    tcfg = cfg.train
    k = blocks.value.num_blocks
    sub_rounds = tcfg.rounds_per_epoch
    total_pairs = sum(counts.values())
    counts_bc = spark.sparkContext.broadcast(vocab.counts)
    results: list[RoundResult] = []
    done = 0
    global_round = 0
    try:
        for epoch in range(tcfg.epochs):
            for sub_round in range(sub_rounds):
                stratum_pairs = tuple(counts.get((epoch, sub_round * k + t), 0)
                                      for t in range(k))
                info = SubRound(epoch, sub_round, done, stratum_pairs)
                done += info.round_pairs
                global_round += 1
                if global_round <= start:
                    continue
                result = run_sub_round(spark, paths, tcfg, info, total_pairs, blocks, counts_bc,
                                       paths.checkpoint(global_round - 1),
                                       paths.checkpoint(global_round))
                check_diverged(result, None, tcfg)
                record_round(global_round, round_entry(result))
                _prune_checkpoints(spark, paths, tcfg.keep_checkpoints)
                results.append(result)
                log.info("[train] epoch %d/%d sub-round %d/%d: %s pairs, loss %.4f, lr %.5f, %s",
                         epoch + 1, tcfg.epochs, sub_round + 1, sub_rounds,
                         f"{result.pairs:,}", result.mean_loss, result.learning_rate,
                         result.timing(), extra=_progress(global_round, tcfg, result))
    finally:
        counts_bc.destroy()
    return results


def _progress(global_round: int, tcfg: TrainConfig, result: RoundResult) -> dict[str, Any]:
    """What a round's log record carries for :mod:`w2v_spark.progress`."""
    return {"progress": (global_round, tcfg.epochs * tcfg.rounds_per_epoch),
            "loss": result.mean_loss}


def check_diverged(result: RoundResult, model: Model | None, tcfg: TrainConfig) -> None:
    """Stop a run whose round loss rose above twice the starting loss ``(1 + negative) ln 2``
    (all output vectors are zero at the start), or whose model (or, without ``model``, any
    task's blocks: ``result.finite``) is no longer finite."""
    start_loss = (1 + tcfg.negative) * math.log(2.0)
    finite = result.finite and (model is None or bool(
        np.all(np.isfinite(model.w_in)) and np.all(np.isfinite(model.w_out))))
    if result.pairs and (not finite or not result.mean_loss <= 2 * start_loss):
        raise TrainingDivergedError(
            f"training diverged in epoch {result.epoch + 1}, round {result.round + 1}: the loss "
            f"per pair is {result.mean_loss:.3g} (it starts at {start_loss:.3g})"
            f"{'' if finite else ' and the model has non-finite values'}; lower "
            f"train.alpha (now {tcfg.alpha}) or train.batch_size (now {tcfg.batch_size}), or "
            f"raise train.negative_groups (now {tcfg.negative_groups}) or "
            f"train.shared_negatives (now {tcfg.shared_negatives}; 0 draws negatives per pair, "
            "the most stable)"
        )


def final_checkpoint(spark: SparkSession, paths: RunPaths, trained_rounds: int | None) -> str:
    """The checkpoint of the last round of a finished training (``trained_rounds``: the
    rounds the train stage recorded, None when it has not finished)."""
    if trained_rounds is None:
        newest = [n for n in checkpoint_rounds(spark, paths)
                  if storage.is_complete(spark, paths.checkpoint(n))]
        found = f"the newest complete checkpoint is round {newest[-1]}" if newest else (
            "there is no complete checkpoint")
        raise IncompleteTableError(
            f"the model under {paths.table(MODEL)} has not finished training ({found}); run "
            "the train stage, or continue it with --resume"
        )
    return paths.checkpoint(trained_rounds)
