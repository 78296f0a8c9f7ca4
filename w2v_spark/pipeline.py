"""The stages with their paths: each public ``*_stage`` function (and :func:`run_pipeline`,
all of them) holds the run in its output directory (:func:`w2v_spark.run.open_run`), reads
the stage's input tables, calls the stage, writes its tables, and records it through
:meth:`w2v_spark.run.Run.stage`. Every table is published by Spark's committer (or, for the
model and the embeddings, by :func:`w2v_spark.io.publish.publish_table`), which writes
``_SUCCESS`` last; every reader here refuses a table without it.

For items (``[input] format = events | baskets``) the tokenize stage also writes
``sequences/``, and the recommend stage ``neighbors/``, ``user_vectors/`` and
``recommendations/``. The layout and what the run record guarantees are in :mod:`w2v_spark.run`.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from functools import partial, reduce
from typing import Any

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from w2v_spark import fingerprint
from w2v_spark.config import Config, TrainConfig
from w2v_spark.errors import (
    CorruptError,
    EmptyCorpusError,
    IncompleteTableError,
    InputError,
    OutputError,
    SchemaError,
    TrainingDivergedError,
)
from w2v_spark.io import storage
from w2v_spark.io.publish import publish_table
from w2v_spark.io.schemas import (
    EMBEDDINGS,
    LONG_TOKEN,
    METRICS,
    METRICS_SCHEMA,
    MODEL,
    MODEL_SCHEMA,
    NEIGHBORS,
    PAIRS,
    PAIRS_SCHEMA,
    RECOMMENDATIONS,
    SEQUENCES,
    TOKENS,
    TOKENS_SCHEMA,
    USER_VECTORS,
    VOCAB,
    VOCAB_SCHEMA,
)
from w2v_spark.run import Run, RunPaths, open_run
from w2v_spark.spark.memory import check_model_fits
from w2v_spark.spark.session import sql_conf
from w2v_spark.stages.export import embeddings_arrow
from w2v_spark.stages.items import (
    basket_sequences,
    check_order_values,
    event_sequences,
    event_stats,
    sequence_stats,
    sequence_tokens,
    typed_events,
)
from w2v_spark.stages.pairs import Vocabulary, generate_pairs
from w2v_spark.stages.recommend import (
    item_neighbors,
    recommendations,
    seen_items,
    user_history,
    user_vectors,
)
from w2v_spark.stages.tokenize import corpus_stats, should_spread, tokenize_lines
from w2v_spark.stages.train import (
    Model,
    RoundInfo,
    RoundResult,
    input_vectors_from_frame,
    model_from_frame,
    run_round,
    write_checkpoint,
)
from w2v_spark.stages.vocab import check_vocab, counted_vocab

__all__ = [
    "RunPaths", "export_stage", "pairs_stage", "recommend_stage",
    "run_pipeline", "tokenize_stage", "train_stage", "vocab_stage",
]

log = logging.getLogger(__name__)

#: A share of input lines that are not valid UTF-8 above which the tokenize stage warns
#: (``[tokenize] max_invalid_share`` is where it fails).
WARN_INVALID_SHARE = 0.001


# ---------------------------------------------------------------------------------------------
# helpers


def _write(df: DataFrame, path: str) -> None:
    df.write.mode("errorifexists").parquet(path)


def _exclusive(overwrite: bool, resume: bool) -> None:
    if overwrite and resume:
        raise OutputError("--overwrite and --resume exclude each other: --overwrite starts the "
                          "run again, --resume continues it")


def _input_fingerprint(spark: SparkSession, input_path: str) -> dict[str, Any]:
    files = [(f.path, f.size, f.modified) for f in storage.input_files(spark, input_path)]
    return fingerprint.input_fingerprint(
        input_path, files, lambda path: storage.sha256(spark, path)
    )


def _split_conf(spark: SparkSession) -> Any:
    """Fix how files are split into partitions (see :data:`fingerprint.MIN_FILE_SPLITS`)."""
    key = fingerprint.MIN_SPLITS_KEY
    return sql_conf(spark, key, spark.conf.get(key, None) or str(fingerprint.MIN_FILE_SPLITS))


_READ_FAILURE = re.compile(r"Encountered error while reading file (\S+?)\.?\s")
_CAUSE = re.compile(r"Caused by: ([\w.$]+): ([^\n]*)")


def _read_failure(exc: BaseException) -> str | None:
    """What a Spark job's failure says of an input file it could not read (a truncated or
    mislabelled compressed file), or None when it is another failure."""
    text = str(exc)
    found = _READ_FAILURE.search(text)
    if found is None:
        return None
    causes = [(name, message.strip()) for name, message in _CAUSE.findall(text)]
    name, message = causes[-1] if causes else ("", "")
    if name.endswith("EOFException"):
        why = "is truncated: it ends in the middle of its compressed data"
    elif re.search(r"not a gzip|gzip format|incorrect header", message, re.IGNORECASE):
        why = "is not compressed in the format its name says (not gzip)"
    else:
        why = f"cannot be read ({name.rsplit('.', 1)[-1]}: {message})" if name else (
            "cannot be read")
    return f"the input file {found.group(1)} {why}"


@contextmanager
def _reading_input() -> Iterator[None]:
    """Turn a Spark job's failure to read an input file into an :class:`InputError` naming
    the file."""
    try:
        yield
    except Exception as exc:
        reason = _read_failure(exc)
        if reason is None:
            raise
        raise InputError(f"{reason}; repair or remove it and run again") from None


def _check_input(spark: SparkSession, input_path: str) -> None:
    if not storage.glob_exists(spark, input_path):
        raise InputError(f"the input {input_path} does not exist")


def _check_invalid_share(input_path: str, lines: int, invalid: int, limit: float) -> None:
    """Fail when more than ``limit`` of the lines are not valid UTF-8; warn above
    :data:`WARN_INVALID_SHARE`."""
    share = invalid / lines if lines else 0.0
    if share > limit:
        raise InputError(
            f"{invalid:,} of the {lines:,} lines of {input_path} ({share:.1%}) are not valid "
            "UTF-8: is it text in another encoding, or not text? Convert it to UTF-8 (e.g. "
            "iconv -f latin1 -t utf-8), or raise [tokenize] max_invalid_share (now "
            f"{limit:g}) to train on it anyway"
        )
    if share > WARN_INVALID_SHARE:
        log.warning("[tokenize] %s of the %s lines of %s (%.1f%%) are not valid UTF-8; their "
                    "invalid bytes are replaced", f"{invalid:,}", f"{lines:,}", input_path,
                    100 * share)


# ---------------------------------------------------------------------------------------------
# the whole pipeline


def run_pipeline(spark: SparkSession, cfg: Config, input_path: str, output: str,
                 overwrite: bool = False, resume: bool = False) -> dict[str, Any]:
    """Every stage, corpus to embeddings (and for items the recommend stage).

    A new run needs a new or empty ``output``, or one holding no complete stage (a run that
    failed); ``overwrite`` replaces a run there. With ``resume``, a run in ``output``
    continues: stages that are complete are skipped, training continues from its newest
    complete round, and everything after a stage that ran again is rewritten. The input and
    the settings must be the recorded ones.
    """
    _exclusive(overwrite, resume)
    is_path = _input_is_path(cfg)
    _check_items_input(spark, cfg, input_path) if cfg.input.is_items else _check_input(
        spark, input_path)
    with open_run(spark, cfg, output, creates=True, input_path=input_path,
                  input_is_path=is_path) as run:
        found = _input_fingerprint(spark, input_path) if is_path else {"table": input_path}
        if resume:
            run.check_resumable(found)
        else:
            _start(run, overwrite)
        tokenize = _items_tokenize if cfg.input.is_items else _tokenize
        stages: list[tuple[str, Callable[[], dict[str, Any]]]] = [
            ("tokenize", lambda: tokenize(run, input_path, found)),
            ("vocab", lambda: _vocab(run)),
            ("pairs", lambda: _pairs(run)),
            ("train", lambda: _train(run, resume)),
            ("export", lambda: _export(run)),
        ]
        if cfg.input.is_items:
            stages.append(("recommend", lambda: _recommend(run)))
        return {name: run.stage(name, body, resume=resume, check=_check_for(name, run))
                for name, body in stages}


def _start(run: Run, overwrite: bool) -> None:
    """Begin a new run in ``run.root``: refuse to replace a run that has complete stages
    unless ``overwrite``; then clear what a run wrote there."""
    try:
        done = run.finished_stages()
        training = bool(run.record().get("train_rounds"))
    except CorruptError:
        if not overwrite:
            raise
        done, training = [], False
    if (done or training) and not overwrite:
        what = ", ".join(done) + (" and training rounds" if training else "")
        raise OutputError(
            f"the output directory {run.root} holds a run (complete: {what}); pass "
            "--overwrite to replace it, --resume to continue it, or choose another --output"
        )
    run.clear()


def _stage_command(spark: SparkSession, cfg: Config, output: str, name: str,
                   body: Callable[[Run], dict[str, Any]], overwrite: bool, resume: bool
                   ) -> dict[str, Any]:
    """One stage alone, on a run in ``output``: with ``overwrite`` its tables (and every
    table made from them) are replaced; with ``resume`` it is skipped when complete."""
    _exclusive(overwrite, resume)
    with open_run(spark, cfg, output, creates=False) as run:
        if resume:
            run.check_resumable(None)
        return run.stage(name, lambda: body(run), replace=overwrite, resume=resume,
                         check=_check_for(name, run))


def _check_for(name: str, run: Run) -> Callable[[], None] | None:
    """What stage ``name`` checks before anything of it is replaced."""
    check = {"train": _train_check, "export": _export_check,
             "recommend": _recommend_check}.get(name)
    return None if check is None else partial(check, run)


# ---------------------------------------------------------------------------------------------
# tokenize


def tokenize_stage(spark: SparkSession, cfg: Config, input_path: str, output: str,
                   overwrite: bool = False, resume: bool = False) -> dict[str, Any]:
    """Read text lines from ``input_path`` and write the tokens table (for items: the
    sequences and tokens tables, see :func:`_items_tokenize`). It may start a run."""
    _exclusive(overwrite, resume)
    is_path = _input_is_path(cfg)
    _check_items_input(spark, cfg, input_path) if cfg.input.is_items else _check_input(
        spark, input_path)
    with open_run(spark, cfg, output, creates=True, input_path=input_path,
                  input_is_path=is_path) as run:
        found = _input_fingerprint(spark, input_path) if is_path else {"table": input_path}
        if resume:
            run.check_resumable(found)
        elif overwrite:
            run.clear()
        body = _items_tokenize if cfg.input.is_items else _tokenize
        return run.stage("tokenize", lambda: body(run, input_path, found),
                         replace=overwrite, resume=resume)


def _tokenize(run: Run, input_path: str, found: dict[str, Any]) -> dict[str, Any]:
    spark, cfg = run.spark, run.cfg
    started = time.perf_counter()
    lines = spark.read.text(input_path)
    with _reading_input():
        stats = corpus_stats(lines)
    if stats.lines == 0:
        raise EmptyCorpusError(f"the input {input_path} is empty: it has no lines")
    _check_invalid_share(input_path, stats.lines, stats.invalid_utf8_lines,
                         cfg.tokenize.max_invalid_share)
    partitions = max(2 * cfg.train.num_partitions, 2)
    with _split_conf(spark), _reading_input():
        lines = spark.read.text(input_path)
        spread = should_spread(lines, stats.lines, partitions)
        _write(tokenize_lines(lines, cfg.tokenize, partitions, spread), run.table(TOKENS))
    tokens = storage.read_table(spark, run.table(TOKENS), "tokens", TOKENS_SCHEMA)
    summary = tokens.select(
        F.count(F.lit(1)).alias("sentences"),
        F.sum(F.size("tokens")).alias("tokens"),
        F.sum(F.size(F.filter("tokens", lambda t: t == LONG_TOKEN))).alias("long_tokens"),
    ).first()
    assert summary is not None
    facts = {
        "input": input_path,
        **asdict(stats),
        "sentences": int(summary["sentences"]),
        "tokens": int(summary["tokens"] or 0),
        "long_tokens": int(summary["long_tokens"] or 0),
        "seconds": round(time.perf_counter() - started, 3),
        "input_fingerprint": found,
    }
    skipped = {k: facts[k] for k in ("blank_lines", "invalid_utf8_lines", "nul_lines",
                                     "long_tokens") if facts[k]}
    if skipped:
        log.info("[tokenize] skipped or repaired (see run.json): %s",
                 ", ".join(f"{k} {v:,}" for k, v in skipped.items()))
    if facts["tokens"] == 0:
        raise EmptyCorpusError(
            f"the input {input_path} has {stats.lines} lines but no tokens: every line is blank "
            "or has no match of [tokenize] token_pattern"
        )
    return facts


# ---------------------------------------------------------------------------------------------
# vocab and pairs


def vocab_stage(spark: SparkSession, cfg: Config, output: str, overwrite: bool = False,
                resume: bool = False) -> dict[str, Any]:
    """Count the vocabulary of the tokens table and write the vocab table."""
    return _stage_command(spark, cfg, output, "vocab", _vocab, overwrite, resume)


def _vocab(run: Run) -> dict[str, Any]:
    spark, cfg = run.spark, run.cfg
    started = time.perf_counter()
    tokens = storage.read_table(spark, run.table(TOKENS), "tokens", TOKENS_SCHEMA)
    with counted_vocab(tokens, cfg.vocab) as vocab:
        size = check_vocab(tokens, vocab, cfg.vocab)
        _write(vocab.coalesce(1), run.table(VOCAB))
    written = storage.read_table(spark, run.table(VOCAB), "vocab", VOCAB_SCHEMA)
    total = written.select(F.sum("count")).first()
    return {
        "words": size,
        "retained_tokens": int(total[0]) if total and total[0] is not None else 0,
        "seconds": round(time.perf_counter() - started, 3),
    }


def _vocabulary(spark: SparkSession, paths: RunPaths) -> Vocabulary:
    return Vocabulary.from_table(
        storage.read_table(spark, paths.table(VOCAB), "vocab", VOCAB_SCHEMA)
    )


def pairs_stage(spark: SparkSession, cfg: Config, output: str, overwrite: bool = False,
                resume: bool = False) -> dict[str, Any]:
    """Write the skip-gram pairs of every epoch, one directory per epoch and shard."""
    return _stage_command(spark, cfg, output, "pairs", _pairs, overwrite, resume)


def _pairs(run: Run) -> dict[str, Any]:
    spark, cfg, paths = run.spark, run.cfg, run.paths
    started = time.perf_counter()
    tokens = storage.read_table(spark, paths.table(TOKENS), "tokens", TOKENS_SCHEMA)
    vocab = _vocabulary(spark, paths)
    shards = cfg.train.num_shards
    # Writers stay open per shard, so rows keep the order they were generated in.
    with sql_conf(spark, "spark.sql.maxConcurrentOutputFileWriters", str(shards + 1)), \
            _split_conf(spark):
        for epoch in range(cfg.train.epochs):
            frame = generate_pairs(
                tokens, vocab, cfg.pairs, seed=cfg.train.seed, epoch=epoch, num_shards=shards
            )
            frame.write.mode("errorifexists").partitionBy("shard").parquet(
                paths.pairs_epoch(epoch)
            )
    storage.write_marker(spark, paths.table(PAIRS))
    counts = pair_counts(spark, paths)
    per_epoch = [sum(counts.get((e, s), 0) for s in range(shards))
                 for e in range(cfg.train.epochs)]
    return {
        "epochs": cfg.train.epochs,
        "shards": shards,
        "pairs_per_epoch": per_epoch,
        "pairs": int(sum(per_epoch)),
        "seconds": round(time.perf_counter() - started, 3),
    }


def pair_counts(spark: SparkSession, paths: RunPaths) -> dict[tuple[int, int], int]:
    """Number of pairs in every (epoch, shard)."""
    pairs = storage.read_table(spark, paths.table(PAIRS), "pairs", PAIRS_SCHEMA)
    rows = pairs.groupBy("epoch", "shard").agg(F.sum("pairs").alias("pairs")).collect()
    return {(int(r["epoch"]), int(r["shard"])): int(r["pairs"]) for r in rows}


def _slice_frame(spark: SparkSession, paths: RunPaths, epoch: int, shard: int, slot: int
                 ) -> DataFrame | None:
    """One training slice: the shard's pair blocks as a single Spark partition, ordered by a
    hash of their content.

    Which file of the shard holds a block depends on the number of the pairs-stage task that
    wrote it, which can change between runs of the same input; the blocks themselves do not.
    Ordering by content makes the slice, and so the model, the same in every run.
    """
    directory = paths.pairs_shard(epoch, shard)
    files = [f for f in storage.list_files(spark, directory) if f.endswith(".parquet")]
    if not files:
        return None
    reads = [
        spark.read.schema(PAIRS_SCHEMA).parquet(storage.join(directory, name))
        for name in sorted(files)
    ]
    frame = reduce(DataFrame.union, reads).coalesce(1)
    frame = frame.sortWithinPartitions(F.xxhash64("center", "context"), "pairs")
    return frame.select("center", "context", F.lit(slot).cast("int").alias("slice"))


def _checkpoint_rounds(spark: SparkSession, paths: RunPaths) -> list[int]:
    names = storage.list_dirs(spark, paths.table(MODEL))
    return sorted(int(n.split("=", 1)[1]) for n in names
                  if n.startswith("round=") and n.split("=", 1)[1].isdigit())


def _prune_checkpoints(spark: SparkSession, paths: RunPaths, keep: int) -> None:
    if keep <= 0:
        return
    for number in _checkpoint_rounds(spark, paths)[:-keep]:
        storage.delete(spark, paths.checkpoint(number))


def _check_memory(spark: SparkSession, vocab_size: int, cfg: Config) -> None:
    """Refuse, before any allocation, a model the memory settings cannot hold."""
    settings = dict(spark.sparkContext.getConf().getAll())
    check_model_fits(
        vocab_size, cfg.train.vector_size, cfg.train.num_partitions, settings,
        local=(spark.sparkContext.master or "").startswith("local"),
    )


def _round_from_dict(entry: dict[str, Any]) -> RoundResult:
    return RoundResult(int(entry["epoch"]), int(entry["round"]), int(entry["pairs"]),
                       float(entry["loss"]), float(entry["learning_rate"]),
                       float(entry["seconds"]))


def _resume_point(run: Run, vocab_size: int) -> tuple[int, Model, list[RoundResult]] | None:
    """The newest round whose checkpoint is complete, matches its checksums and whose metrics
    are recorded, the model after it and the recorded rounds; None when training must start
    over. A checkpoint that differs from what was written is skipped for the one before it,
    and said; when no checkpoint is left, the error names the damaged files."""
    spark, paths, cfg = run.spark, run.paths, run.cfg
    recorded = run.record().get("train_rounds", [])
    damaged: list[str] = []
    for number in reversed(_checkpoint_rounds(spark, paths)):
        path = paths.checkpoint(number)
        if number > len(recorded) or not storage.is_complete(spark, path):
            continue
        problems = storage.checksum_problems(spark, path)
        if problems:
            log.warning("[train] the checkpoint of round %d is damaged: %s; trying the round "
                        "before it", number, "; ".join(problems))
            damaged += problems
            continue
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
        return number, model, [_round_from_dict(e) for e in recorded[:number]]
    if damaged:
        raise CorruptError(
            "every checkpoint of the run differs from what was written: "
            + "; ".join(damaged) + "; start the run again with --overwrite"
        )
    return None


def _record_round(run: Run, global_round: int, result: RoundResult | None) -> None:
    """Record the metrics of ``global_round`` (after its checkpoint is complete); round 0
    (the initial model) starts the list and records the settings training runs with."""

    def change(record: dict[str, Any]) -> None:
        rounds = record.get("train_rounds", []) if global_round > 0 else []
        if global_round == 0:
            record["training"] = {"settings": run.stage_settings("train")}
        if result is not None:
            del rounds[global_round - 1:]
            rounds.append({"epoch": result.epoch, "round": result.round, "pairs": result.pairs,
                           "loss": result.loss, "learning_rate": result.learning_rate,
                           "seconds": result.seconds, "task_seconds": result.task_seconds,
                           "task_read_seconds": result.task_read_seconds,
                           "merge_seconds": result.merge_seconds})
        record["train_rounds"] = rounds

    run.update_record(change)


# ---------------------------------------------------------------------------------------------
# train and export


def train_stage(spark: SparkSession, cfg: Config, output: str, overwrite: bool = False,
                resume: bool = False) -> dict[str, Any]:
    """Train the model on the pairs, writing a checkpoint after every sync round and the
    per-round metrics table at the end. With ``resume``, continue from the newest complete
    round: the model after round ``r`` and every draw of later rounds depend only on the
    config, the pairs and ``r``, so the result is the one an uninterrupted run gives."""
    return _stage_command(spark, cfg, output, "train", lambda run: _train(run, resume),
                          overwrite, resume)


def _train_check(run: Run) -> None:
    """Refuse, before anything is replaced, pairs made for other settings and a model the
    memory settings cannot hold; warn of settings likely to diverge."""
    spark, cfg, paths = run.spark, run.cfg, run.paths
    tcfg = cfg.train
    _check_memory(spark, len(_vocabulary(spark, paths)), cfg)
    counts = pair_counts(spark, paths)
    made = run.record()["stages"].get("pairs", {})
    made_epochs = made.get("epochs", 1 + max((e for e, _ in counts), default=-1))
    made_shards = made.get("shards", 1 + max((s for _, s in counts), default=-1))
    if (made_epochs, made_shards) != (tcfg.epochs, tcfg.num_shards):
        raise SchemaError(
            f"the pairs table was generated for {made_epochs} epochs and {made_shards} shards, "
            f"but [train] asks for epochs={tcfg.epochs} and num_partitions x syncs_per_epoch = "
            f"{tcfg.num_shards}; run the pairs stage again with the same [train] settings "
            "(--overwrite)"
        )
    if (warning := tcfg.stability_warning()) is not None:
        log.warning("[train] warning: %s", warning)


def _train(run: Run, resume: bool) -> dict[str, Any]:
    spark, paths, tcfg = run.spark, run.paths, run.cfg.train
    started = time.perf_counter()
    vocab = _vocabulary(spark, paths)
    counts = pair_counts(spark, paths)
    point = _resume_point(run, len(vocab)) if resume else None
    if point is None:
        storage.delete(spark, paths.table(MODEL))
        start, earlier = 0, list[RoundResult]()
        model = Model.initial(len(vocab), tcfg.vector_size, tcfg.seed)
        write_checkpoint(spark, model, paths.checkpoint(0))
        _record_round(run, 0, None)
    else:
        start, model, earlier = point
        for number in _checkpoint_rounds(spark, paths):
            if number > start:
                storage.delete(spark, paths.checkpoint(number))
        log.info("[train] resuming after round %d from %s", start, paths.checkpoint(start))
    results = earlier + _train_rounds(run, vocab, counts, model, start)
    done = sum(r.pairs for r in results)
    metrics_rows = [
        (r.epoch, r.round, r.mean_loss, r.learning_rate, r.pairs,
         r.pairs / r.seconds if r.seconds > 0 else 0.0, r.seconds)
        for r in results
    ]
    _write(spark.createDataFrame(metrics_rows, METRICS_SCHEMA).coalesce(1), paths.table(METRICS))
    seconds = time.perf_counter() - started
    trained = sum(r.pairs for r in results[start:])
    final = paths.checkpoint(len(results))
    return {
        "rounds": len(results),
        "resumed_after_round": start,
        "pairs": done,
        "final_loss": results[-1].mean_loss if results else None,
        "seconds": round(seconds, 3),
        "pairs_per_sec": round(trained / max(seconds, 1e-9), 1),
        "tables": [final[len(run.root.rstrip("/")) + 1:]],
    }


def _train_rounds(run: Run, vocab: Vocabulary, counts: dict[tuple[int, int], int],
                  model: Model, start: int = 0) -> list[RoundResult]:
    """Every sync round of every epoch after global round ``start`` (whose model ``model``
    is), with a checkpoint after each. A round's learning rates and seeds come from its
    (epoch, round) and the pairs of the rounds before it, never from what ran in this
    process."""
    spark, paths, tcfg = run.spark, run.paths, run.cfg.train
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
                if (f := _slice_frame(spark, paths, epoch, s, p)) is not None
            ]
            if slices:
                result = run_round(spark, model, slices, vocab.counts, tcfg, info, total_pairs)
            else:
                result = RoundResult(epoch, rnd, 0, 0.0, 0.0, 0.0)
            _check_diverged(result, model, tcfg)
            checkpointing = time.perf_counter()
            write_checkpoint(spark, model, paths.checkpoint(global_round))
            _record_round(run, global_round, result)
            _prune_checkpoints(spark, paths, tcfg.keep_checkpoints)
            checkpoint_seconds = time.perf_counter() - checkpointing
            results.append(result)
            log.info(
                "[train] epoch %d/%d round %d/%d: %s pairs, loss %.4f, lr %.5f, %s; "
                "checkpoint %.1f s", epoch + 1, tcfg.epochs, rnd + 1, tcfg.syncs_per_epoch,
                f"{result.pairs:,}", result.mean_loss, result.learning_rate, result.timing(),
                checkpoint_seconds,
            )
    return results


def _check_diverged(result: RoundResult, model: Model, tcfg: TrainConfig) -> None:
    """Stop a run whose round loss rose above twice the starting loss ``(1 + negative) ln 2``
    (all output vectors are zero at the start), or whose model is no longer finite."""
    start_loss = (1 + tcfg.negative) * math.log(2.0)
    finite = bool(np.all(np.isfinite(model.w_in)) and np.all(np.isfinite(model.w_out)))
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


def final_checkpoint(run: Run) -> str:
    """The checkpoint of the last round of a finished training (refusing unfinished or
    damaged ones)."""
    spark, paths = run.spark, run.paths
    trained = run.finished("train")
    if trained is None:
        newest = [n for n in _checkpoint_rounds(spark, paths)
                  if storage.is_complete(spark, paths.checkpoint(n))]
        found = f"the newest complete checkpoint is round {newest[-1]}" if newest else (
            "there is no complete checkpoint")
        raise IncompleteTableError(
            f"the model under {paths.table(MODEL)} has not finished training ({found}); run "
            "the train stage, or continue it with --resume"
        )
    return paths.checkpoint(int(trained["rounds"]))


def export_stage(spark: SparkSession, cfg: Config, output: str, overwrite: bool = False,
                 resume: bool = False) -> dict[str, Any]:
    """Write the embeddings table from the final checkpoint and the vocabulary."""
    return _stage_command(spark, cfg, output, "export", _export, overwrite, resume)


def _export_check(run: Run) -> None:
    storage.check_table(run.spark, final_checkpoint(run), "model")


def _export(run: Run) -> dict[str, Any]:
    spark, paths = run.spark, run.paths
    started = time.perf_counter()
    vocab = _vocabulary(spark, paths)
    checkpoint = final_checkpoint(run)
    vectors = input_vectors_from_frame(storage.read_table(spark, checkpoint, "model",
                                                          MODEL_SCHEMA))
    publish_table(spark, embeddings_arrow(vocab.words, vocab.counts, vectors),
                  paths.table(EMBEDDINGS))
    return {"checkpoint": checkpoint, "seconds": round(time.perf_counter() - started, 3)}


# ---------------------------------------------------------------------------------------------
# items: events or baskets in; sequences, neighbours, user vectors and recommendations out


def _input_is_path(cfg: Config) -> bool:
    """Whether ``--input`` is a path (not the name of a Spark SQL table)."""
    return not (cfg.input.format == "events" and cfg.input.table_format == "table")


def _check_items_input(spark: SparkSession, cfg: Config, input_path: str) -> None:
    """Refuse a missing input path, or a missing table when ``--input`` names one."""
    if not _input_is_path(cfg):
        if not spark.catalog.tableExists(input_path):
            raise InputError(
                f"the input table {input_path} does not exist ([input] table_format = "
                "\"table\" reads --input as a Spark SQL table name)"
            )
    elif not storage.glob_exists(spark, input_path):
        raise InputError(f"the input {input_path} does not exist")


def read_events(spark: SparkSession, cfg: Config, input_path: str) -> DataFrame:
    """The events table at ``input_path`` (CSV, Parquet, or a Spark SQL table's name)."""
    icfg = cfg.input
    _check_items_input(spark, cfg, input_path)
    if icfg.table_format == "table":
        return spark.table(input_path)
    if icfg.table_format == "parquet":
        return spark.read.parquet(input_path)
    return (
        spark.read.option("header", str(icfg.header).lower())
        .option("sep", icfg.csv_delimiter)
        .option("inferSchema", "false")
        .csv(input_path)
    )


def _event_sequences(spark: SparkSession, cfg: Config, input_path: str
                     ) -> tuple[DataFrame, dict[str, Any]]:
    raw = read_events(spark, cfg, input_path)
    if not raw.columns:
        raise EmptyCorpusError(f"the input {input_path} is empty: it has no columns or rows")
    typed = typed_events(raw, cfg.input)
    stats = event_stats(typed)
    if stats.rows == 0:
        raise EmptyCorpusError(f"the input {input_path} is empty: it has no rows")
    check_order_values(stats, cfg.input.order_col)
    if stats.valid == 0:
        raise EmptyCorpusError(
            f"every one of the {stats.rows} rows of {input_path} has a null sequence id "
            f"({stats.null_sequence}), item ({stats.null_item}) or order value "
            f"({stats.null_order}); check [input] sequence_col, item_col and order_col"
        )
    facts = {
        "input": input_path,
        "rows": stats.rows,
        "skipped_null_rows": stats.skipped,
        "null_sequence_ids": stats.null_sequence,
        "null_items": stats.null_item,
        "null_order_values": stats.null_order,
    }
    return event_sequences(typed, cfg.input.session_gap), facts


def _basket_sequences(spark: SparkSession, cfg: Config, input_path: str
                      ) -> tuple[DataFrame, dict[str, Any]]:
    _check_items_input(spark, cfg, input_path)
    lines = spark.read.text(input_path)
    stats = corpus_stats(lines)
    if stats.lines == 0:
        raise EmptyCorpusError(f"the input {input_path} is empty: it has no lines")
    return basket_sequences(lines, cfg.input.separator), {"input": input_path, **asdict(stats)}


def _items_tokenize(run: Run, input_path: str, found: dict[str, Any]) -> dict[str, Any]:
    """Read events or baskets, write the sequences table (every sequence, ordered) and the
    tokens table (the sequences of two or more items, in chunks). A Spark SQL table as input
    is fingerprinted by its name only."""
    spark, cfg = run.spark, run.cfg
    started = time.perf_counter()
    with _reading_input():
        if cfg.input.format == "baskets":
            sequences, facts = _basket_sequences(spark, cfg, input_path)
        else:
            sequences, facts = _event_sequences(spark, cfg, input_path)
        _write(sequences, run.table(SEQUENCES))
    written = storage.read_table(spark, run.table(SEQUENCES), "sequences")
    facts.update(sequence_stats(written))
    partitions = max(2 * cfg.train.num_partitions, 2)
    _write(sequence_tokens(written, cfg.tokenize.max_sentence_length, partitions),
           run.table(TOKENS))
    tokens = storage.read_table(spark, run.table(TOKENS), "tokens")
    summary = tokens.select(
        F.count(F.lit(1)).alias("sentences"), F.sum(F.size("tokens")).alias("tokens")
    ).first()
    assert summary is not None
    facts.update(
        sentences=int(summary["sentences"]),
        tokens=int(summary["tokens"] or 0),
        seconds=round(time.perf_counter() - started, 3),
        input_fingerprint=found,
    )
    if facts["tokens"] == 0:
        raise EmptyCorpusError(
            f"no sequence of {input_path} has two or more items ({facts['sequences']} "
            "sequences of one item): there are no pairs to learn from"
            + ("; [input] session_gap may be too small" if cfg.input.session_gap else "")
        )
    return facts


def recommend_stage(spark: SparkSession, cfg: Config, output: str, overwrite: bool = False,
                    resume: bool = False) -> dict[str, Any]:
    """From the embeddings of an items run: the neighbors table, and for events the
    user_vectors and recommendations tables (``[items]`` says how many of each)."""
    return _stage_command(spark, cfg, output, "recommend", _recommend, overwrite, resume)


def _recommend_check(run: Run) -> None:
    if run.cfg.input.format == "events" and run.cfg.items.recommendations > 0:
        storage.check_table(run.spark, run.table(SEQUENCES), "sequences")


def _recommend(run: Run) -> dict[str, Any]:
    spark, cfg = run.spark, run.cfg
    started = time.perf_counter()
    icfg = cfg.items
    embeddings = storage.read_table(spark, run.table(EMBEDDINGS), "embeddings")
    facts: dict[str, Any] = {}
    if icfg.neighbors > 0:
        _write(item_neighbors(embeddings, icfg.neighbors, icfg.block_rows),
               run.table(NEIGHBORS))
        facts["neighbors"] = icfg.neighbors
    if cfg.input.format == "events" and icfg.recommendations > 0:
        sequences = storage.read_table(spark, run.table(SEQUENCES), "sequences")
        history = user_history(sequences)
        _write(user_vectors(history, embeddings, icfg.recency_half_life),
               run.table(USER_VECTORS))
        users = storage.read_table(spark, run.table(USER_VECTORS), "user_vectors")
        with sql_conf(spark, "spark.sql.execution.arrow.maxRecordsPerBatch", "4"):
            _write(
                recommendations(users, seen_items(history, embeddings), embeddings,
                                icfg.recommendations, icfg.block_rows),
                run.table(RECOMMENDATIONS),
            )
        facts["users"] = users.count()
        facts["users_without_vector"] = (
            sequences.select("sequence").distinct().count() - facts["users"]
        )
    facts["seconds"] = round(time.perf_counter() - started, 3)
    return facts
