"""Quality and time of training in vocabulary blocks against the number of blocks K, beside
the merge strategy and Spark MLlib's Word2Vec at their partition counts.

    python -m benchmarks.blocks --quick                              # a smoke run on a slice
    python -m benchmarks.blocks --blocks 1,2,4,8,16,32 --seeds 1,2 --seeds-at 1,16 \\
        --merge 2,8 --mllib 2,8,16                                   # the text8 table

Everything runs in one ``local[N]`` session. The corpus is tokenized and counted once; for each
configuration the pairs, train and export stages run (the pairs of the blocks strategy depend
on K: they are written by stratum), and the embeddings are scored by
:func:`benchmarks.evaluate.score`. Each blocks row also records what the projection of its
epoch time to more cores needs: the pairs of every stratum (their imbalance, the largest over
the mean, is what a sub-round waits for), the per-task training rate, the time of a sub-round
beyond its slowest task (Spark's per-job overhead) and the model bytes each sub-round reads
and writes. Results go to ``benchmarks/results/NAME.md`` and the JSON file beside it:
``blocks``, ``blocks-quick`` for ``--quick``, or what ``--section`` says.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks.bench import check_inputs
from benchmarks.blocks_report import markdown
from benchmarks.corpus import slice_corpus
from benchmarks.evaluate import load_table, score
from benchmarks.gensim_text8 import DEFAULT_CORPUS
from benchmarks.params import hyperparameters
from benchmarks.partitions import int_list, run_mllib
from benchmarks.results import environment, load_average, publish
from w2v_spark.config import Config
from w2v_spark.config_loading import load_config
from w2v_spark.errors import TrainingDivergedError

QUICK = {"tokens": 1_000_000, "epochs": 1, "blocks": "1,2,4", "merge": "2", "mllib": ""}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of the benchmark."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    p.add_argument("--quick", action="store_true",
                   help="first {tokens:,} tokens, {epochs} epoch, blocks {blocks}, merge at "
                        "{merge}, no MLlib".format(**QUICK))
    p.add_argument("--tokens", type=int, default=None, help="first N tokens only (0 = all)")
    p.add_argument("--cores", type=int, default=2, help="local[N]")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--blocks", default=None, help="K values of the blocks strategy "
                                                  "(default 1,2,4,8,16,32)")
    p.add_argument("--seeds", default="1", help="seeds of the blocks rows at --seeds-at")
    p.add_argument("--seeds-at", default="", help="K values trained with every --seeds "
                                                  "(the others with the first seed)")
    p.add_argument("--merge", default=None,
                   help="num_partitions values of the merge strategy (default 2,8; '' none)")
    p.add_argument("--mllib", default=None,
                   help="numPartitions values of Spark MLlib (default 2,8,16; '' none)")
    p.add_argument("--set", action="append", default=[], dest="overrides",
                   metavar="SECTION.KEY=VALUE")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--section", default=None,
                   help="name of the page benchmarks/results/NAME.md and its JSON "
                        "(default blocks, or blocks-quick)")
    p.add_argument("--workdir", type=Path, default=None,
                   help="keep the tables in this directory (default: a temporary one)")
    args = p.parse_args(argv)
    defaults = QUICK if args.quick else {"tokens": 0, "epochs": None,
                                         "blocks": "1,2,4,8,16,32", "merge": "2,8",
                                         "mllib": "2,8,16"}
    args.tokens = defaults["tokens"] if args.tokens is None else args.tokens
    args.epochs = defaults["epochs"] if args.epochs is None else args.epochs
    args.blocks = int_list(str(defaults["blocks"]) if args.blocks is None else args.blocks)
    args.merge = int_list(str(defaults["merge"]) if args.merge is None else args.merge)
    args.mllib = int_list(str(defaults["mllib"]) if args.mllib is None else args.mllib)
    args.seeds = int_list(args.seeds)
    args.seeds_at = int_list(args.seeds_at)
    return args


def configurations(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every (strategy, K or P, seed) to train, blocks first in K order."""
    out = []
    for k in args.blocks:
        for seed in args.seeds if k in args.seeds_at else args.seeds[:1]:
            out.append({"strategy": "blocks", "partitions": k, "seed": seed})
    for p in args.merge:
        out.append({"strategy": "merge", "partitions": p, "seed": args.seeds[0]})
    return out


def cell_config(base: list[str], cell: dict[str, Any]) -> Config:
    """The config of one configuration."""
    return load_config([], [*base, f"train.strategy={cell['strategy']}",
                            f"train.num_partitions={cell['partitions']}",
                            f"train.seed={cell['seed']}"])


def block_facts(spark: Any, run_dir: str, cfg: Config, vocab_size: int) -> dict[str, Any]:
    """What the projection of a blocks run needs, from its pairs table and run record: the
    pairs of every stratum (epoch 0, ``[sub_round][task]``, every pass), the sum of the tasks'
    training seconds, the mean time of a sub-round beyond its slowest task (Spark's overhead),
    and the model bytes a sub-round moves: each of its K tasks reads and writes two blocks of
    ``V / K`` float32 rows of ``d``, ``16 * V * d`` bytes in all (K times that per epoch)."""
    from w2v_spark.io.layout import RunPaths
    from w2v_spark.stages.pairs import pair_counts

    k = cfg.train.num_partitions
    counts = pair_counts(spark, RunPaths(run_dir))
    strata = [[counts.get((0, r * k + t), 0) for t in range(k)]
              for r in range(cfg.train.rounds_per_epoch)]
    record = json.loads((Path(run_dir) / "run.json").read_text())
    rounds = record.get("train_rounds", [])
    overhead = [r["seconds"] - max(r.get("task_seconds") or [0.0]) for r in rounds]
    return {
        "sub_rounds": len(rounds),
        "stratum_pairs": strata,
        "task_seconds_sum": sum(t for r in rounds for t in r.get("task_seconds", [])),
        "sub_round_overhead_mean": sum(overhead) / max(len(overhead), 1),
        "model_bytes_per_sub_round": 16 * vocab_size * cfg.train.vector_size,
    }


def run_configs(spark: Any, args: argparse.Namespace, corpus: str, run_dir: str,
                base: list[str]) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Tokenize and count once, then pairs + train + export + score per configuration."""
    from w2v_spark import pipeline

    cfg0 = load_config([], base)
    tokenize = pipeline.tokenize_stage(spark, cfg0, corpus, run_dir, True)
    vocab = pipeline.vocab_stage(spark, cfg0, run_dir, True)
    shared = {"tokenize": tokenize["seconds"], "vocab": vocab["seconds"]}
    rows: list[dict[str, Any]] = []
    for cell in configurations(args):
        cfg = cell_config(base, cell)
        print(f"\n== strategy={cell['strategy']} num_partitions={cell['partitions']} "
              f"seed={cell['seed']} ==", flush=True)
        pairs = pipeline.pairs_stage(spark, cfg, run_dir, True)
        row: dict[str, Any] = {**cell, "pairs": pairs["pairs"]}
        began = time.perf_counter()
        try:
            train = pipeline.train_stage(spark, cfg, run_dir, True)
        except TrainingDivergedError as exc:
            print(f"diverged: {exc}", flush=True)
            rows.append({**row, "diverged": str(exc).split(";")[0], "quality": None,
                         "seconds": {"pairs": pairs["seconds"],
                                     "train": time.perf_counter() - began}})
            continue
        export = pipeline.export_stage(spark, cfg, run_dir, True)
        row.update({
            "seconds": {"pairs": pairs["seconds"], "train": train["seconds"],
                        "export": export["seconds"]},
            "pairs_per_sec": train["pairs_per_sec"], "final_loss": train["final_loss"],
            "rounds": train["rounds"],
            "quality": score(load_table(Path(run_dir) / "embeddings")),
        })
        if cell["strategy"] == "blocks":
            row["blocks"] = block_facts(spark, run_dir, cfg, int(vocab["words"]))
        rows.append(row)
    return shared, rows


def main(argv: list[str] | None = None) -> None:
    load_at_start = load_average()
    args = parse_args(argv)
    check_inputs(args.corpus)
    base = [f"spark.master=local[{args.cores}]", "train.keep_checkpoints=1", *args.overrides]
    if args.epochs is not None:
        base.append(f"train.epochs={args.epochs}")
    cfg0 = load_config([], base)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="w2v-blocks-"))
    work.mkdir(parents=True, exist_ok=True)
    from w2v_spark.spark.session import build_session

    spark = build_session(replace(cfg0.spark, app_name="w2v_spark-blocks"))
    try:
        corpus = args.corpus
        if args.tokens:
            corpus = work / "corpus.txt"
            slice_corpus(args.corpus, corpus, args.tokens)
        shared, rows = run_configs(spark, args, str(corpus.resolve()), str(work / "run"), base)
        mllib = run_mllib(spark, str(corpus.resolve()), cfg0, args.mllib)
    finally:
        spark.stop()
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    data = {
        **environment(load_at_start), "quick": args.quick, "corpus": str(args.corpus),
        "corpus_tokens_limit": args.tokens or None, "cores": args.cores, "overrides": base,
        "hyperparameters": hyperparameters(cfg0), "shared_seconds": shared, "ours": rows,
        "mllib": mllib,
    }
    section = args.section or ("blocks-quick" if args.quick else "blocks")
    publish(section, data, markdown(data), args.json, not args.no_write)


if __name__ == "__main__":
    main()
