"""The only module that knows paths: read a stage's input tables, call the stage, write its
table. Every table is published by Spark's committer, which writes ``_SUCCESS`` last; every
reader here refuses a table without it.

Layout under the output directory::

    tokens/  vocab/  pairs/epoch=E/shard=S/  model/round=NNNNN/  embeddings/  metrics/  run.json

``run.json`` records the config, the fingerprint of the input and of the settings that change
results (:mod:`w2v_spark.fingerprint`), what each stage found, and the metrics of every training
round as soon as its checkpoint is complete. With ``resume=True`` a stage whose table is
complete and recorded is skipped, and training continues from the newest complete round;
both are refused when the input or the settings differ from the recorded ones.
and for items (``[input] format = events | baskets``) also ``sequences/`` (tokenize),
``neighbors/``, ``user_vectors/`` and ``recommendations/`` (the recommend stage).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import reduce
from typing import Any

import numpy as np
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from w2v_spark import fingerprint, storage
from w2v_spark.config import Config, TrainConfig
from w2v_spark.errors import (
    EmptyCorpusError,
    IncompleteTableError,
    InputError,
    OutputError,
    ResumeError,
    SchemaError,
    TrainingDivergedError,
)
from w2v_spark.export import embeddings_arrow, publish_table
from w2v_spark.items import (
    basket_sequences,
    check_order_values,
    event_sequences,
    event_stats,
    sequence_stats,
    sequence_tokens,
    typed_events,
)
from w2v_spark.memory import check_model_fits
from w2v_spark.pairs import Vocabulary, generate_pairs
from w2v_spark.recommend import (
    item_neighbors,
    recommendations,
    seen_items,
    user_history,
    user_vectors,
)
from w2v_spark.schemas import (
    EMBEDDINGS,
    EMBEDDINGS_SCHEMA,
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
from w2v_spark.session import sql_conf
from w2v_spark.similarity import Embeddings
from w2v_spark.tokenize import corpus_stats, should_spread, tokenize_lines
from w2v_spark.train import (
    Model,
    RoundInfo,
    RoundResult,
    input_vectors_from_frame,
    model_from_frame,
    run_round,
    write_checkpoint,
)
from w2v_spark.vocab import check_vocab, counted_vocab

MANIFEST = "run.json"

#: The table that marks each stage as done.
STAGE_TABLES = {
    "tokenize": TOKENS, "vocab": VOCAB, "pairs": PAIRS, "train": METRICS, "export": EMBEDDINGS,
}

#: ``spark.sql.files.minPartitionNum`` while reading the input and the tokens table, unless
#: ``[spark.conf]`` sets it: the file splits, and so the line numbers every random draw hashes,
#: then depend on the input and the config only, not on how many cores the cluster has.
MIN_FILE_SPLITS = 16
_MIN_SPLITS_KEY = "spark.sql.files.minPartitionNum"


@dataclass(frozen=True)
class RunPaths:
    """Where a run's tables live."""

    root: str

    def table(self, name: str) -> str:
        """Path of one table under the root."""
        return storage.join(self.root, name)

    def pairs_epoch(self, epoch: int) -> str:
        """Directory of one epoch's pairs."""
        return storage.join(self.root, PAIRS, f"epoch={epoch}")

    def pairs_shard(self, epoch: int, shard: int) -> str:
        """Directory of one shard of one epoch's pairs."""
        return storage.join(self.pairs_epoch(epoch), f"shard={shard}")

    def checkpoint(self, global_round: int) -> str:
        """Directory of the model after ``global_round`` rounds (0 = the initial model)."""
        return storage.join(self.root, MODEL, f"round={global_round:05d}")


# ---------------------------------------------------------------------------------------------
# helpers


def _prepare_table(spark: SparkSession, path: str, overwrite: bool) -> None:
    """Refuse to replace an existing table unless ``overwrite``; then clear the location."""
    if storage.exists(spark, path):
        if not overwrite:
            raise OutputError(
                f"{path} exists already; pass --overwrite to replace it, or choose another --output"
            )
        storage.delete(spark, path)


def _write(df: DataFrame, path: str) -> None:
    df.write.mode("errorifexists").parquet(path)


def _read_manifest(spark: SparkSession, paths: RunPaths) -> dict[str, Any]:
    path = paths.table(MANIFEST)
    if not storage.exists(spark, path) and not storage.exists(spark, path + ".tmp"):
        return {"stages": {}}
    data: dict[str, Any] = json.loads(storage.read_text(spark, path))
    data.setdefault("stages", {})
    return data


def _write_manifest(spark: SparkSession, paths: RunPaths, manifest: dict[str, Any]) -> None:
    storage.write_text(spark, paths.table(MANIFEST), json.dumps(manifest, indent=2) + "\n")


def _settings(spark: SparkSession, cfg: Config) -> dict[str, Any]:
    """The settings that change results, with the session's effective Spark values."""
    keys = (*fingerprint.SPARK_RESULT_SETTINGS, _MIN_SPLITS_KEY)
    values = {key: spark.conf.get(key, None) for key in keys}
    settings = fingerprint.result_settings(cfg, values)
    settings[_MIN_SPLITS_KEY] = values[_MIN_SPLITS_KEY] or str(MIN_FILE_SPLITS)
    return settings


def _record(spark: SparkSession, paths: RunPaths, cfg: Config, stage: str, facts: dict[str, Any]
            ) -> None:
    manifest = _read_manifest(spark, paths)
    manifest["config"] = cfg.to_dict()
    manifest.setdefault("fingerprint", {})["settings"] = _settings(spark, cfg)
    manifest["stages"][stage] = facts
    _write_manifest(spark, paths, manifest)


def _input_fingerprint(spark: SparkSession, input_path: str) -> dict[str, Any]:
    files = [(f.path, f.size, f.modified) for f in storage.input_files(spark, input_path)]
    return fingerprint.input_fingerprint(
        input_path, files, lambda path: storage.sha256(spark, path)
    )


def _split_conf(spark: SparkSession) -> Any:
    """Fix how files are split into partitions (see :data:`MIN_FILE_SPLITS`)."""
    return sql_conf(
        spark, _MIN_SPLITS_KEY, spark.conf.get(_MIN_SPLITS_KEY, None) or str(MIN_FILE_SPLITS)
    )


def _resume_check(spark: SparkSession, paths: RunPaths, cfg: Config, stage: str,
                  input_path: str | None = None) -> dict[str, Any] | None:
    """For ``resume``: refuse a run whose input or settings differ from the recorded ones;
    return the recorded facts (marked ``skipped``) when ``stage`` is done, else None."""
    manifest = _read_manifest(spark, paths)
    recorded = manifest.get("fingerprint")
    if recorded is None:
        if storage.is_nonempty_dir(spark, paths.root):
            raise ResumeError(
                f"{paths.root} holds no {MANIFEST} with a fingerprint, so it is not a run that "
                "can be resumed; start a new run in an empty --output, or pass --overwrite "
                "instead of --resume"
            )
        return None
    problems = fingerprint.settings_differences(
        recorded.get("settings", {}), _settings(spark, cfg)
    )
    if input_path is not None and "input" in recorded:
        problems += fingerprint.input_differences(
            recorded["input"], _input_fingerprint(spark, input_path)
        )
    if problems:
        raise ResumeError(
            f"cannot resume the run in {paths.root}: "
            + "; ".join(problems)
            + ". Resume with the recorded input and settings (see run.json), or start again "
            "with --overwrite"
        )
    facts = manifest["stages"].get(stage)
    if facts is not None and storage.is_complete(spark, paths.table(STAGE_TABLES[stage])):
        print(f"[{stage}] complete in {paths.root}; skipped", flush=True)
        return {**facts, "skipped": True}
    return None


def _glob_base(path: str) -> str:
    """The directory part of ``path`` before any glob character (the path itself if none)."""
    cut = min((i for i, ch in enumerate(path) if ch in "*?[{"), default=-1)
    if cut < 0:
        return path
    return path[:cut].rsplit("/", 1)[0] or "/"


def check_overlap(spark: SparkSession, input_path: str, output: str,
                  is_path: bool = True) -> None:
    """Refuse an output directory that would contain, or be contained in, the input
    (``is_path=False``: the input is a table name, nothing to check)."""
    if not is_path:
        return
    out_q = storage.qualify(spark, output).rstrip("/")
    in_q = storage.qualify(spark, _glob_base(input_path)).rstrip("/")
    if in_q == out_q or in_q.startswith(out_q + "/") or out_q.startswith(in_q + "/"):
        raise OutputError(
            f"the output {output} and the input {input_path} overlap; choose an output "
            "directory outside the input"
        )


def check_output(spark: SparkSession, input_path: str | None, output: str, overwrite: bool,
                 input_is_path: bool = True) -> None:
    """Refuse an output directory that is not empty (unless ``overwrite``), that is a file, or
    that would contain, or be contained in, the input (``input_is_path=False``: a table name)."""
    if input_path is not None:
        check_overlap(spark, input_path, output, is_path=input_is_path)
    if storage.is_file(spark, output):
        raise OutputError(
            f"the output {output} is a file, not a directory; choose another --output "
            "(--overwrite does not replace files)"
        )
    if storage.is_nonempty_dir(spark, output):
        if not overwrite:
            raise OutputError(
                f"the output directory {output} exists and is not empty; pass --overwrite to "
                "replace it, or choose another --output"
            )
        storage.delete(spark, output)


# ---------------------------------------------------------------------------------------------
# stages


def _check_input(spark: SparkSession, input_path: str) -> None:
    if not storage.glob_exists(spark, input_path):
        raise InputError(f"the input {input_path} does not exist")


def tokenize_stage(spark: SparkSession, cfg: Config, input_path: str, output: str,
                   overwrite: bool = False, resume: bool = False) -> dict[str, Any]:
    """Read text lines from ``input_path`` and write the tokens table (for items: the
    sequences and tokens tables, see :func:`items_tokenize_stage`)."""
    if cfg.input.is_items:
        return items_tokenize_stage(spark, cfg, input_path, output, overwrite, resume)
    started = time.perf_counter()
    paths = RunPaths(output)
    _check_input(spark, input_path)
    check_overlap(spark, input_path, output)
    if resume and (recorded := _resume_check(spark, paths, cfg, "tokenize", input_path)):
        return recorded
    _prepare_table(spark, paths.table(TOKENS), overwrite or resume)
    storage.check_writable_dir(spark, output)
    manifest = _read_manifest(spark, paths)
    manifest.setdefault("fingerprint", {}).update(
        input=_input_fingerprint(spark, input_path), settings=_settings(spark, cfg)
    )
    manifest["config"] = cfg.to_dict()
    _write_manifest(spark, paths, manifest)
    lines = spark.read.text(input_path)
    stats = corpus_stats(lines)
    if stats.lines == 0:
        raise EmptyCorpusError(f"the input {input_path} is empty: it has no lines")
    partitions = max(2 * cfg.train.num_partitions, 2)
    with _split_conf(spark):
        lines = spark.read.text(input_path)
        spread = should_spread(lines, stats.lines, partitions)
        _write(tokenize_lines(lines, cfg.tokenize, partitions, spread), paths.table(TOKENS))
    tokens = storage.read_table(spark, paths.table(TOKENS), "tokens", TOKENS_SCHEMA)
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
    }
    _record(spark, paths, cfg, "tokenize", facts)
    skipped = {k: facts[k] for k in ("blank_lines", "invalid_utf8_lines", "nul_lines",
                                     "long_tokens") if facts[k]}
    if skipped:
        print(f"[tokenize] skipped or repaired (see {MANIFEST}): "
              + ", ".join(f"{k} {v:,}" for k, v in skipped.items()), flush=True)
    if facts["tokens"] == 0:
        raise EmptyCorpusError(
            f"the input {input_path} has {stats.lines} lines but no tokens: every line is blank "
            "or has no match of [tokenize] token_pattern"
        )
    return facts


def vocab_stage(spark: SparkSession, cfg: Config, output: str, overwrite: bool = False,
                resume: bool = False) -> dict[str, Any]:
    """Count the vocabulary of the tokens table and write the vocab table."""
    started = time.perf_counter()
    paths = RunPaths(output)
    if resume and (recorded := _resume_check(spark, paths, cfg, "vocab")):
        return recorded
    tokens = storage.read_table(spark, paths.table(TOKENS), "tokens", TOKENS_SCHEMA)
    _prepare_table(spark, paths.table(VOCAB), overwrite or resume)
    with counted_vocab(tokens, cfg.vocab) as vocab:
        size = check_vocab(tokens, vocab, cfg.vocab)
        _write(vocab.coalesce(1), paths.table(VOCAB))
    written = storage.read_table(spark, paths.table(VOCAB), "vocab", VOCAB_SCHEMA)
    total = written.select(F.sum("count")).first()
    facts = {
        "words": size,
        "retained_tokens": int(total[0]) if total and total[0] is not None else 0,
        "seconds": round(time.perf_counter() - started, 3),
    }
    _record(spark, paths, cfg, "vocab", facts)
    return facts


def _vocabulary(spark: SparkSession, paths: RunPaths) -> Vocabulary:
    return Vocabulary.from_table(
        storage.read_table(spark, paths.table(VOCAB), "vocab", VOCAB_SCHEMA)
    )


def pairs_stage(spark: SparkSession, cfg: Config, output: str, overwrite: bool = False,
                resume: bool = False) -> dict[str, Any]:
    """Write the skip-gram pairs of every epoch, one directory per epoch and shard."""
    started = time.perf_counter()
    paths = RunPaths(output)
    if resume and (recorded := _resume_check(spark, paths, cfg, "pairs")):
        return recorded
    tokens = storage.read_table(spark, paths.table(TOKENS), "tokens", TOKENS_SCHEMA)
    vocab = _vocabulary(spark, paths)
    _prepare_table(spark, paths.table(PAIRS), overwrite or resume)
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
    facts = {
        "epochs": cfg.train.epochs,
        "shards": shards,
        "pairs_per_epoch": per_epoch,
        "pairs": int(sum(per_epoch)),
        "seconds": round(time.perf_counter() - started, 3),
    }
    _record(spark, paths, cfg, "pairs", facts)
    return facts


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


def _resume_point(spark: SparkSession, paths: RunPaths, vocab_size: int, cfg: Config
                  ) -> tuple[int, Model, list[RoundResult]] | None:
    """The newest round whose checkpoint is complete and whose metrics are recorded, the
    model after it and the recorded rounds; None when training must start over."""
    recorded = _read_manifest(spark, paths).get("train_rounds", [])
    for number in reversed(_checkpoint_rounds(spark, paths)):
        path = paths.checkpoint(number)
        if number > len(recorded) or not storage.is_complete(spark, path):
            continue
        model = model_from_frame(storage.read_table(spark, path, "model", MODEL_SCHEMA))
        expected = (vocab_size, cfg.train.vector_size)
        if model.w_in.shape != expected or model.w_out.shape != expected:
            raise SchemaError(
                f"the checkpoint {path} holds a {model.w_in.shape} model, the run needs "
                f"{expected}; start again with --overwrite"
            )
        return number, model, [_round_from_dict(e) for e in recorded[:number]]
    return None


def _record_round(spark: SparkSession, paths: RunPaths, global_round: int,
                  result: RoundResult | None) -> None:
    """Record the metrics of ``global_round`` (after its checkpoint is complete); round 0
    (the initial model) clears the list and the record of an earlier finished training."""
    manifest = _read_manifest(spark, paths)
    rounds = manifest.get("train_rounds", []) if global_round > 0 else []
    if global_round == 0:
        manifest["stages"].pop("train", None)
    if result is not None:
        del rounds[global_round - 1:]
        rounds.append({"epoch": result.epoch, "round": result.round, "pairs": result.pairs,
                       "loss": result.loss, "learning_rate": result.learning_rate,
                       "seconds": result.seconds, "task_seconds": result.task_seconds,
                       "task_read_seconds": result.task_read_seconds,
                       "merge_seconds": result.merge_seconds})
    manifest["train_rounds"] = rounds
    _write_manifest(spark, paths, manifest)


def train_stage(spark: SparkSession, cfg: Config, output: str, overwrite: bool = False,
                resume: bool = False) -> dict[str, Any]:
    """Train the model on the pairs, writing a checkpoint after every sync round and the
    per-round metrics table at the end. With ``resume``, continue from the newest complete
    round: the model after round ``r`` and every draw of later rounds depend only on the
    config, the pairs and ``r``, so the result is the one an uninterrupted run gives."""
    started = time.perf_counter()
    paths = RunPaths(output)
    tcfg = cfg.train
    if resume and (recorded := _resume_check(spark, paths, cfg, "train")):
        return recorded
    vocab = _vocabulary(spark, paths)
    counts = pair_counts(spark, paths)
    made = _read_manifest(spark, paths)["stages"].get("pairs", {})
    made_epochs = made.get("epochs", 1 + max((e for e, _ in counts), default=-1))
    made_shards = made.get("shards", 1 + max((s for _, s in counts), default=-1))
    if (made_epochs, made_shards) != (tcfg.epochs, tcfg.num_shards):
        raise SchemaError(
            f"the pairs table was generated for {made_epochs} epochs and {made_shards} shards, "
            f"but [train] asks for epochs={tcfg.epochs} and num_partitions x syncs_per_epoch = "
            f"{tcfg.num_shards}; run the pairs stage again with the same [train] settings "
            "(--overwrite)"
        )
    _check_memory(spark, len(vocab), cfg)
    if (warning := tcfg.stability_warning()) is not None:
        print(f"[train] warning: {warning}", file=sys.stderr, flush=True)
    point = _resume_point(spark, paths, len(vocab), cfg) if resume else None
    _prepare_table(spark, paths.table(METRICS), overwrite or resume)
    if point is None:
        _prepare_table(spark, paths.table(MODEL), overwrite or resume)
        start, earlier = 0, list[RoundResult]()
        model = Model.initial(len(vocab), tcfg.vector_size, tcfg.seed)
        write_checkpoint(spark, model, paths.checkpoint(0))
        _record_round(spark, paths, 0, None)
    else:
        start, model, earlier = point
        for number in _checkpoint_rounds(spark, paths):
            if number > start:
                storage.delete(spark, paths.checkpoint(number))
        print(f"[train] resuming after round {start} from {paths.checkpoint(start)}", flush=True)
    results = earlier + _train_rounds(spark, cfg, paths, vocab, counts, model, start)
    done = sum(r.pairs for r in results)
    metrics_rows = [
        (r.epoch, r.round, r.mean_loss, r.learning_rate, r.pairs,
         r.pairs / r.seconds if r.seconds > 0 else 0.0, r.seconds)
        for r in results
    ]
    _write(spark.createDataFrame(metrics_rows, METRICS_SCHEMA).coalesce(1), paths.table(METRICS))
    seconds = time.perf_counter() - started
    trained = sum(r.pairs for r in results[start:])
    facts = {
        "rounds": len(results),
        "resumed_after_round": start,
        "pairs": done,
        "final_loss": results[-1].mean_loss if results else None,
        "seconds": round(seconds, 3),
        "pairs_per_sec": round(trained / max(seconds, 1e-9), 1),
    }
    _record(spark, paths, cfg, "train", facts)
    return facts


def _train_rounds(spark: SparkSession, cfg: Config, paths: RunPaths, vocab: Vocabulary,
                  counts: dict[tuple[int, int], int], model: Model, start: int = 0
                  ) -> list[RoundResult]:
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
                if (f := _slice_frame(spark, paths, epoch, s, p)) is not None
            ]
            if slices:
                result = run_round(spark, model, slices, vocab.counts, tcfg, info, total_pairs)
            else:
                result = RoundResult(epoch, rnd, 0, 0.0, 0.0, 0.0)
            _check_diverged(result, model, tcfg)
            checkpointing = time.perf_counter()
            write_checkpoint(spark, model, paths.checkpoint(global_round))
            _record_round(spark, paths, global_round, result)
            _prune_checkpoints(spark, paths, tcfg.keep_checkpoints)
            checkpoint_seconds = time.perf_counter() - checkpointing
            results.append(result)
            print(
                f"[train] epoch {epoch + 1}/{tcfg.epochs} round {rnd + 1}/{tcfg.syncs_per_epoch}"
                f": {result.pairs:,} pairs, loss {result.mean_loss:.4f}, "
                f"lr {result.learning_rate:.5f}, {result.timing()}; "
                f"checkpoint {checkpoint_seconds:.1f} s",
                flush=True,
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


def final_checkpoint(spark: SparkSession, paths: RunPaths) -> str:
    """The checkpoint of the last round of a finished training (refusing unfinished ones)."""
    trained = _read_manifest(spark, paths)["stages"].get("train")
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
    started = time.perf_counter()
    paths = RunPaths(output)
    if resume and (recorded := _resume_check(spark, paths, cfg, "export")):
        return recorded
    vocab = _vocabulary(spark, paths)
    checkpoint = final_checkpoint(spark, paths)
    vectors = input_vectors_from_frame(storage.read_table(spark, checkpoint, "model",
                                                          MODEL_SCHEMA))
    _prepare_table(spark, paths.table(EMBEDDINGS), overwrite or resume)
    publish_table(spark, embeddings_arrow(vocab.words, vocab.counts, vectors),
                  paths.table(EMBEDDINGS))
    facts = {"checkpoint": checkpoint, "seconds": round(time.perf_counter() - started, 3)}
    _record(spark, paths, cfg, "export", facts)
    return facts


def run_pipeline(spark: SparkSession, cfg: Config, input_path: str, output: str,
                 overwrite: bool = False, resume: bool = False) -> dict[str, Any]:
    """Every stage, corpus to embeddings.

    With ``resume``, an output directory holding a run continues it: stages that are complete
    are skipped, training continues from its newest complete round, and everything after a
    stage that ran again is rewritten. An empty or missing output starts a new run.
    """
    if overwrite and resume:
        raise OutputError("--overwrite and --resume exclude each other: --overwrite starts the "
                          "run again, --resume continues it")
    is_path = _input_is_path(cfg)
    if is_path:
        _check_input(spark, input_path)
    check_overlap(spark, input_path, output, is_path=is_path)
    resume = resume and storage.is_nonempty_dir(spark, output)
    if not resume:
        check_output(spark, input_path, output, overwrite, is_path)
        storage.check_writable_dir(spark, output)
    stages: list[tuple[str, Callable[[bool, bool], dict[str, Any]]]] = [
        ("tokenize", lambda o, r: tokenize_stage(spark, cfg, input_path, output, o, r)),
        ("vocab", lambda o, r: vocab_stage(spark, cfg, output, o, r)),
        ("pairs", lambda o, r: pairs_stage(spark, cfg, output, o, r)),
        ("train", lambda o, r: train_stage(spark, cfg, output, o, r)),
        ("export", lambda o, r: export_stage(spark, cfg, output, o, r)),
    ]
    if cfg.input.is_items:
        stages.append(("recommend", lambda o, r: recommend_stage(spark, cfg, output, o, r)))
    report: dict[str, Any] = {}
    rerun = False
    for name, stage in stages:
        # After a stage ran again, the tables after it are rewritten, not resumed.
        report[name] = stage(resume and rerun, resume and not rerun)
        rerun = rerun or not report[name].get("skipped", False)
    return report


def read_embeddings(spark: SparkSession, output: str) -> Embeddings:
    """The embeddings table of a run (or any table with its schema) in memory; the columns
    are checked, and every vector must have the same length."""
    path = output if output.rstrip("/").endswith(EMBEDDINGS) else RunPaths(output).table(
        EMBEDDINGS
    )
    table = storage.read_table(spark, path, "embeddings", EMBEDDINGS_SCHEMA)
    arrow = table.select("word", "word_id", "count", "vector").toArrow()
    vectors = arrow.column("vector")
    lengths = pc.list_value_length(vectors)
    if vectors.null_count or (len(arrow) and pc.min_max(lengths).as_py()["min"]
                              != pc.min_max(lengths).as_py()["max"]):
        raise SchemaError(
            f"the embeddings table {path} has null vectors or vectors of different lengths"
        )
    return Embeddings.from_arrow(arrow)


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


def items_tokenize_stage(spark: SparkSession, cfg: Config, input_path: str, output: str,
                         overwrite: bool = False, resume: bool = False) -> dict[str, Any]:
    """Read events or baskets, write the sequences table (every sequence, ordered) and the
    tokens table (the sequences of two or more items, in chunks). A Spark SQL table as input
    is fingerprinted by its name only."""
    started = time.perf_counter()
    paths = RunPaths(output)
    is_path = _input_is_path(cfg)
    _check_items_input(spark, cfg, input_path)
    check_overlap(spark, input_path, output, is_path=is_path)
    if resume and (recorded := _resume_check(spark, paths, cfg, "tokenize",
                                             input_path if is_path else None)):
        return recorded
    overwrite = overwrite or resume
    storage.check_writable_dir(spark, output)
    _prepare_table(spark, paths.table(SEQUENCES), overwrite)
    _prepare_table(spark, paths.table(TOKENS), overwrite)
    manifest = _read_manifest(spark, paths)
    manifest.setdefault("fingerprint", {}).update(
        input=_input_fingerprint(spark, input_path) if is_path else {"table": input_path},
        settings=_settings(spark, cfg),
    )
    manifest["config"] = cfg.to_dict()
    _write_manifest(spark, paths, manifest)
    if cfg.input.format == "baskets":
        sequences, facts = _basket_sequences(spark, cfg, input_path)
    else:
        sequences, facts = _event_sequences(spark, cfg, input_path)
    _write(sequences, paths.table(SEQUENCES))
    written = storage.read_table(spark, paths.table(SEQUENCES), "sequences")
    facts.update(sequence_stats(written))
    partitions = max(2 * cfg.train.num_partitions, 2)
    _write(sequence_tokens(written, cfg.tokenize.max_sentence_length, partitions),
           paths.table(TOKENS))
    tokens = storage.read_table(spark, paths.table(TOKENS), "tokens")
    summary = tokens.select(
        F.count(F.lit(1)).alias("sentences"), F.sum(F.size("tokens")).alias("tokens")
    ).first()
    assert summary is not None
    facts.update(
        sentences=int(summary["sentences"]),
        tokens=int(summary["tokens"] or 0),
        seconds=round(time.perf_counter() - started, 3),
    )
    _record(spark, paths, cfg, "tokenize", facts)
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
    user_vectors and recommendations tables (``[items]`` says how many of each). It is cheap
    next to training, so ``resume`` writes its tables again rather than checking them."""
    overwrite = overwrite or resume
    started = time.perf_counter()
    paths = RunPaths(output)
    icfg = cfg.items
    embeddings = storage.read_table(spark, paths.table(EMBEDDINGS), "embeddings")
    facts: dict[str, Any] = {}
    if icfg.neighbors > 0:
        _prepare_table(spark, paths.table(NEIGHBORS), overwrite)
        _write(item_neighbors(embeddings, icfg.neighbors, icfg.block_rows),
               paths.table(NEIGHBORS))
        facts["neighbors"] = icfg.neighbors
    if cfg.input.format == "events" and icfg.recommendations > 0:
        sequences = storage.read_table(spark, paths.table(SEQUENCES), "sequences")
        history = user_history(sequences)
        _prepare_table(spark, paths.table(USER_VECTORS), overwrite)
        _prepare_table(spark, paths.table(RECOMMENDATIONS), overwrite)
        _write(user_vectors(history, embeddings, icfg.recency_half_life),
               paths.table(USER_VECTORS))
        users = storage.read_table(spark, paths.table(USER_VECTORS), "user_vectors")
        with sql_conf(spark, "spark.sql.execution.arrow.maxRecordsPerBatch", "4"):
            _write(
                recommendations(users, seen_items(history, embeddings), embeddings,
                                icfg.recommendations, icfg.block_rows),
                paths.table(RECOMMENDATIONS),
            )
        facts["users"] = users.count()
        facts["users_without_vector"] = (
            sequences.select("sequence").distinct().count() - facts["users"]
        )
    facts["seconds"] = round(time.perf_counter() - started, 3)
    _record(spark, paths, cfg, "recommend", facts)
    return facts
