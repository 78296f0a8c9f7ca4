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
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from functools import reduce
from typing import Any

import numpy as np
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from w2v_spark import fingerprint, storage
from w2v_spark.config import Config
from w2v_spark.errors import (
    EmptyCorpusError,
    IncompleteTableError,
    InputError,
    OutputError,
    ResumeError,
    SchemaError,
)
from w2v_spark.export import embeddings_table
from w2v_spark.memory import check_model_fits
from w2v_spark.pairs import Vocabulary, generate_pairs
from w2v_spark.schemas import (
    EMBEDDINGS,
    EMBEDDINGS_SCHEMA,
    LONG_TOKEN,
    METRICS,
    METRICS_SCHEMA,
    MODEL,
    MODEL_SCHEMA,
    PAIRS,
    PAIRS_SCHEMA,
    SUCCESS_MARKER,
    TOKENS,
    TOKENS_SCHEMA,
    VOCAB,
    VOCAB_SCHEMA,
)
from w2v_spark.session import sql_conf
from w2v_spark.similarity import Embeddings
from w2v_spark.tokenize import corpus_stats, tokenize_lines
from w2v_spark.train import Model, RoundInfo, RoundResult, model_frame, model_from_frame, run_round
from w2v_spark.vocab import check_vocab, count_vocab

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


def check_overlap(spark: SparkSession, input_path: str, output: str) -> None:
    """Refuse an output directory that would contain, or be contained in, the input."""
    out_q = storage.qualify(spark, output).rstrip("/")
    in_q = storage.qualify(spark, _glob_base(input_path)).rstrip("/")
    if in_q == out_q or in_q.startswith(out_q + "/") or out_q.startswith(in_q + "/"):
        raise OutputError(
            f"the output {output} and the input {input_path} overlap; choose an output "
            "directory outside the input"
        )


def check_output(spark: SparkSession, input_path: str | None, output: str, overwrite: bool
                 ) -> None:
    """Refuse an output directory that is not empty (unless ``overwrite``), that is a file, or
    that would contain, or be contained in, the input."""
    if input_path is not None:
        check_overlap(spark, input_path, output)
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
    """Read text lines from ``input_path`` and write the tokens table."""
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
        _write(tokenize_lines(spark.read.text(input_path), cfg.tokenize, partitions),
               paths.table(TOKENS))
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
    vocab = count_vocab(tokens, cfg.vocab)
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
    storage.write_text(spark, storage.join(paths.table(PAIRS), SUCCESS_MARKER), "")
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
    rows = pairs.groupBy("epoch", "shard").count().collect()
    return {(int(r["epoch"]), int(r["shard"])): int(r["count"]) for r in rows}


def _slice_frame(spark: SparkSession, paths: RunPaths, epoch: int, shard: int, slot: int
                 ) -> DataFrame | None:
    """One training slice: the shard's files in name order, as a single Spark partition."""
    directory = paths.pairs_shard(epoch, shard)
    files = [f for f in storage.list_files(spark, directory) if f.endswith(".parquet")]
    if not files:
        return None
    reads = [
        spark.read.schema(PAIRS_SCHEMA).parquet(storage.join(directory, name))
        for name in sorted(files)
    ]
    frame = reduce(DataFrame.union, reads).coalesce(1)
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
    (the initial model) clears the list."""
    manifest = _read_manifest(spark, paths)
    rounds = manifest.get("train_rounds", []) if global_round > 0 else []
    if result is not None:
        del rounds[global_round - 1:]
        rounds.append({"epoch": result.epoch, "round": result.round, "pairs": result.pairs,
                       "loss": result.loss, "learning_rate": result.learning_rate,
                       "seconds": result.seconds})
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
    point = _resume_point(spark, paths, len(vocab), cfg) if resume else None
    _prepare_table(spark, paths.table(METRICS), overwrite or resume)
    if point is None:
        _prepare_table(spark, paths.table(MODEL), overwrite or resume)
        start, earlier = 0, list[RoundResult]()
        model = Model.initial(len(vocab), tcfg.vector_size, tcfg.seed)
        _write(model_frame(spark, model), paths.checkpoint(0))
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
    if not np.all(np.isfinite(model.w_in)):
        raise FloatingPointError("training diverged: the model has non-finite values")
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
            _write(model_frame(spark, model), paths.checkpoint(global_round))
            _record_round(spark, paths, global_round, result)
            _prune_checkpoints(spark, paths, tcfg.keep_checkpoints)
            results.append(result)
            print(
                f"[train] epoch {epoch + 1}/{tcfg.epochs} round {rnd + 1}/{tcfg.syncs_per_epoch}"
                f": {result.pairs:,} pairs, loss {result.mean_loss:.4f}, "
                f"lr {result.learning_rate:.5f}, {result.seconds:.1f} s",
                flush=True,
            )
    return results


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
    vocab = storage.read_table(spark, paths.table(VOCAB), "vocab", VOCAB_SCHEMA)
    checkpoint = final_checkpoint(spark, paths)
    model = storage.read_table(spark, checkpoint, "model", MODEL_SCHEMA)
    _prepare_table(spark, paths.table(EMBEDDINGS), overwrite or resume)
    _write(embeddings_table(model, vocab), paths.table(EMBEDDINGS))
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
    _check_input(spark, input_path)
    check_overlap(spark, input_path, output)
    resume = resume and storage.is_nonempty_dir(spark, output)
    if not resume:
        check_output(spark, input_path, output, overwrite)
        storage.check_writable_dir(spark, output)
    stages = (
        ("tokenize", lambda o, r: tokenize_stage(spark, cfg, input_path, output, o, r)),
        ("vocab", lambda o, r: vocab_stage(spark, cfg, output, o, r)),
        ("pairs", lambda o, r: pairs_stage(spark, cfg, output, o, r)),
        ("train", lambda o, r: train_stage(spark, cfg, output, o, r)),
        ("export", lambda o, r: export_stage(spark, cfg, output, o, r)),
    )
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
