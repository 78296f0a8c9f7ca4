"""The only module that knows paths: read a stage's input tables, call the stage, write its
table. Every table is published by Spark's committer, which writes ``_SUCCESS`` last; every
reader here refuses a table without it.

Layout under the output directory::

    tokens/  vocab/  pairs/epoch=E/shard=S/  model/round=NNNNN/  embeddings/  metrics/  run.json

and for items (``[input] format = events | baskets``) also ``sequences/`` (tokenize),
``neighbors/``, ``user_vectors/`` and ``recommendations/`` (the recommend stage).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from functools import reduce
from typing import Any

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from w2v_spark import storage
from w2v_spark.config import Config
from w2v_spark.errors import EmptyCorpusError, InputError, OutputError, SchemaError
from w2v_spark.export import embeddings_table
from w2v_spark.items import (
    basket_sequences,
    check_order_values,
    event_sequences,
    event_stats,
    sequence_stats,
    sequence_tokens,
    typed_events,
)
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
    METRICS,
    METRICS_SCHEMA,
    MODEL,
    NEIGHBORS,
    PAIRS,
    PAIRS_SCHEMA,
    RECOMMENDATIONS,
    SEQUENCES,
    SUCCESS_MARKER,
    TOKENS,
    USER_VECTORS,
    VOCAB,
)
from w2v_spark.session import sql_conf
from w2v_spark.similarity import Embeddings
from w2v_spark.tokenize import corpus_stats, tokenize_lines
from w2v_spark.train import Model, RoundInfo, RoundResult, model_frame, run_round
from w2v_spark.vocab import check_vocab, count_vocab

MANIFEST = "run.json"


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
    if not storage.exists(spark, path):
        return {"stages": {}}
    data: dict[str, Any] = json.loads(storage.read_text(spark, path))
    data.setdefault("stages", {})
    return data


def _record(spark: SparkSession, paths: RunPaths, cfg: Config, stage: str, facts: dict[str, Any]
            ) -> None:
    manifest = _read_manifest(spark, paths)
    manifest["config"] = cfg.to_dict()
    manifest["stages"][stage] = facts
    storage.write_text(spark, paths.table(MANIFEST), json.dumps(manifest, indent=2) + "\n")


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
    """Refuse an output directory that is not empty (unless ``overwrite``) or that would
    contain, or be contained in, the input (``input_is_path=False``: a table name)."""
    if input_path is not None:
        check_overlap(spark, input_path, output, is_path=input_is_path)
    if storage.is_nonempty_dir(spark, output):
        if not overwrite:
            raise OutputError(
                f"the output directory {output} exists and is not empty; pass --overwrite to "
                "replace it, or choose another --output"
            )
        storage.delete(spark, output)


# ---------------------------------------------------------------------------------------------
# stages


def tokenize_stage(spark: SparkSession, cfg: Config, input_path: str, output: str,
                   overwrite: bool = False) -> dict[str, Any]:
    """Read text lines from ``input_path`` and write the tokens table (for items: the
    sequences and tokens tables, see :func:`items_tokenize_stage`)."""
    if cfg.input.is_items:
        return items_tokenize_stage(spark, cfg, input_path, output, overwrite)
    started = time.perf_counter()
    paths = RunPaths(output)
    if not storage.glob_exists(spark, input_path):
        raise InputError(f"the input {input_path} does not exist")
    check_overlap(spark, input_path, output)
    _prepare_table(spark, paths.table(TOKENS), overwrite)
    lines = spark.read.text(input_path)
    stats = corpus_stats(lines)
    if stats.lines == 0:
        raise EmptyCorpusError(f"the input {input_path} is empty: it has no lines")
    partitions = max(2 * cfg.train.num_partitions, 2)
    _write(tokenize_lines(lines, cfg.tokenize, partitions), paths.table(TOKENS))
    tokens = storage.read_table(spark, paths.table(TOKENS), "tokens")
    summary = tokens.select(
        F.count(F.lit(1)).alias("sentences"), F.sum(F.size("tokens")).alias("tokens")
    ).first()
    assert summary is not None
    facts = {
        "input": input_path,
        **asdict(stats),
        "sentences": int(summary["sentences"]),
        "tokens": int(summary["tokens"] or 0),
        "seconds": round(time.perf_counter() - started, 3),
    }
    _record(spark, paths, cfg, "tokenize", facts)
    if facts["tokens"] == 0:
        raise EmptyCorpusError(
            f"the input {input_path} has {stats.lines} lines but no tokens: every line is blank "
            "or has no match of [tokenize] token_pattern"
        )
    return facts


def vocab_stage(spark: SparkSession, cfg: Config, output: str, overwrite: bool = False
                ) -> dict[str, Any]:
    """Count the vocabulary of the tokens table and write the vocab table."""
    started = time.perf_counter()
    paths = RunPaths(output)
    tokens = storage.read_table(spark, paths.table(TOKENS), "tokens")
    _prepare_table(spark, paths.table(VOCAB), overwrite)
    vocab = count_vocab(tokens, cfg.vocab)
    size = check_vocab(tokens, vocab, cfg.vocab)
    _write(vocab.coalesce(1), paths.table(VOCAB))
    written = storage.read_table(spark, paths.table(VOCAB), "vocab")
    total = written.select(F.sum("count")).first()
    facts = {
        "words": size,
        "retained_tokens": int(total[0]) if total and total[0] is not None else 0,
        "seconds": round(time.perf_counter() - started, 3),
    }
    _record(spark, paths, cfg, "vocab", facts)
    return facts


def pairs_stage(spark: SparkSession, cfg: Config, output: str, overwrite: bool = False
                ) -> dict[str, Any]:
    """Write the skip-gram pairs of every epoch, one directory per epoch and shard."""
    started = time.perf_counter()
    paths = RunPaths(output)
    tokens = storage.read_table(spark, paths.table(TOKENS), "tokens")
    vocab = Vocabulary.from_table(storage.read_table(spark, paths.table(VOCAB), "vocab"))
    _prepare_table(spark, paths.table(PAIRS), overwrite)
    shards = cfg.train.num_shards
    # Writers stay open per shard, so rows keep the order they were generated in.
    with sql_conf(spark, "spark.sql.maxConcurrentOutputFileWriters", str(shards + 1)):
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
    pairs = storage.read_table(spark, paths.table(PAIRS), "pairs")
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


def _prune_checkpoints(spark: SparkSession, paths: RunPaths, keep: int) -> None:
    if keep <= 0:
        return
    names = [n for n in storage.list_dirs(spark, paths.table(MODEL)) if n.startswith("round=")]
    for name in sorted(names)[:-keep]:
        storage.delete(spark, storage.join(paths.table(MODEL), name))


def train_stage(spark: SparkSession, cfg: Config, output: str, overwrite: bool = False
                ) -> dict[str, Any]:
    """Train the model on the pairs, writing a checkpoint after every sync round and the
    per-round metrics table at the end."""
    started = time.perf_counter()
    paths = RunPaths(output)
    tcfg = cfg.train
    vocab = Vocabulary.from_table(storage.read_table(spark, paths.table(VOCAB), "vocab"))
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
    _prepare_table(spark, paths.table(MODEL), overwrite)
    _prepare_table(spark, paths.table(METRICS), overwrite)
    model = Model.initial(len(vocab), tcfg.vector_size, tcfg.seed)
    _write(model_frame(spark, model), paths.checkpoint(0))
    results = _train_rounds(spark, cfg, paths, vocab, counts, model)
    done = sum(r.pairs for r in results)
    global_round = len(results)
    metrics_rows = [
        (r.epoch, r.round, r.mean_loss, r.learning_rate, r.pairs,
         r.pairs / r.seconds if r.seconds > 0 else 0.0, r.seconds)
        for r in results
    ]
    _write(spark.createDataFrame(metrics_rows, METRICS_SCHEMA).coalesce(1), paths.table(METRICS))
    if not np.all(np.isfinite(model.w_in)):
        raise FloatingPointError("training diverged: the model has non-finite values")
    facts = {
        "rounds": global_round,
        "pairs": done,
        "final_loss": results[-1].mean_loss if results else None,
        "seconds": round(time.perf_counter() - started, 3),
        "pairs_per_sec": round(done / max(time.perf_counter() - started, 1e-9), 1),
    }
    _record(spark, paths, cfg, "train", facts)
    return facts


def _train_rounds(spark: SparkSession, cfg: Config, paths: RunPaths, vocab: Vocabulary,
                  counts: dict[tuple[int, int], int], model: Model) -> list[RoundResult]:
    """Every sync round of every epoch, with a checkpoint after each."""
    tcfg = cfg.train
    total_pairs = sum(counts.values())
    results: list[RoundResult] = []
    done = 0
    global_round = 0
    for epoch in range(tcfg.epochs):
        for rnd in range(tcfg.syncs_per_epoch):
            shard_ids = [rnd * tcfg.num_partitions + p for p in range(tcfg.num_partitions)]
            slice_pairs = tuple(counts.get((epoch, s), 0) for s in shard_ids)
            slices = [
                f for p, s in enumerate(shard_ids)
                if (f := _slice_frame(spark, paths, epoch, s, p)) is not None
            ]
            info = RoundInfo(epoch, rnd, done, sum(slice_pairs), slice_pairs)
            if slices:
                result = run_round(spark, model, slices, vocab.counts, tcfg, info, total_pairs)
            else:
                result = RoundResult(epoch, rnd, 0, 0.0, 0.0, 0.0)
            done += info.round_pairs
            global_round += 1
            _write(model_frame(spark, model), paths.checkpoint(global_round))
            _prune_checkpoints(spark, paths, tcfg.keep_checkpoints)
            results.append(result)
            print(
                f"[train] epoch {epoch + 1}/{tcfg.epochs} round {rnd + 1}/{tcfg.syncs_per_epoch}"
                f": {result.pairs:,} pairs, loss {result.mean_loss:.4f}, "
                f"lr {result.learning_rate:.5f}, {result.seconds:.1f} s",
                flush=True,
            )
    return results


def latest_checkpoint(spark: SparkSession, paths: RunPaths) -> str:
    """The newest complete model checkpoint."""
    names = [n for n in storage.list_dirs(spark, paths.table(MODEL)) if n.startswith("round=")]
    complete = [n for n in sorted(names)
                if storage.is_complete(spark, storage.join(paths.table(MODEL), n))]
    if not complete:
        raise InputError(
            f"no complete model checkpoint under {paths.table(MODEL)}; run the train stage first"
        )
    return storage.join(paths.table(MODEL), complete[-1])


def export_stage(spark: SparkSession, cfg: Config, output: str, overwrite: bool = False
                 ) -> dict[str, Any]:
    """Write the embeddings table from the latest checkpoint and the vocabulary."""
    started = time.perf_counter()
    paths = RunPaths(output)
    vocab = storage.read_table(spark, paths.table(VOCAB), "vocab")
    checkpoint = latest_checkpoint(spark, paths)
    model = storage.read_table(spark, checkpoint, "model")
    _prepare_table(spark, paths.table(EMBEDDINGS), overwrite)
    _write(embeddings_table(model, vocab), paths.table(EMBEDDINGS))
    facts = {"checkpoint": checkpoint, "seconds": round(time.perf_counter() - started, 3)}
    _record(spark, paths, cfg, "export", facts)
    return facts


def run_pipeline(spark: SparkSession, cfg: Config, input_path: str, output: str,
                 overwrite: bool = False) -> dict[str, Any]:
    """Every stage, corpus to embeddings."""
    check_output(spark, input_path, output, overwrite, _input_is_path(cfg))
    report = {
        "tokenize": tokenize_stage(spark, cfg, input_path, output),
        "vocab": vocab_stage(spark, cfg, output),
        "pairs": pairs_stage(spark, cfg, output),
        "train": train_stage(spark, cfg, output),
        "export": export_stage(spark, cfg, output),
    }
    if cfg.input.is_items:
        report["recommend"] = recommend_stage(spark, cfg, output)
    return report


def read_embeddings(spark: SparkSession, output: str) -> Embeddings:
    """The embeddings table of a run (or any table with its schema) in memory."""
    path = output if output.rstrip("/").endswith(EMBEDDINGS) else RunPaths(output).table(
        EMBEDDINGS
    )
    table = storage.read_table(spark, path, "embeddings")
    missing = {"word", "word_id", "count", "vector"} - set(table.columns)
    if missing:
        raise SchemaError(f"the embeddings table {path} lacks column(s) {sorted(missing)}")
    return Embeddings.from_arrow(table.select("word", "word_id", "count", "vector").toArrow())


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
                         overwrite: bool = False) -> dict[str, Any]:
    """Read events or baskets, write the sequences table (every sequence, ordered) and the
    tokens table (the sequences of two or more items, in chunks)."""
    started = time.perf_counter()
    paths = RunPaths(output)
    _check_items_input(spark, cfg, input_path)
    check_overlap(spark, input_path, output, is_path=_input_is_path(cfg))
    _prepare_table(spark, paths.table(SEQUENCES), overwrite)
    _prepare_table(spark, paths.table(TOKENS), overwrite)
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


def recommend_stage(spark: SparkSession, cfg: Config, output: str, overwrite: bool = False
                    ) -> dict[str, Any]:
    """From the embeddings of an items run: the neighbors table, and for events the
    user_vectors and recommendations tables (``[items]`` says how many of each)."""
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
