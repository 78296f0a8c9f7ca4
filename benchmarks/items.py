"""Next-item HitRate@10 and MRR@10 of item vectors: this pipeline, gensim and popularity.

    .venv/bin/python -m benchmarks.items --dataset movielens [--gensim] [--set pairs.window=0]
    .venv/bin/python -m benchmarks.items --dataset retail --gensim --sweep pairs.window=5,0

MovieLens latest-small: a user's ratings ordered by time form a sequence; the last one is held
out. FIMI retail and groceries: one item of every basket is held out (chosen by a hash of the
basket). The training part is written to a file and trained by the whole pipeline
(``run_pipeline`` with ``conf/items.toml`` plus the ``--set`` overrides); gensim (``--gensim``,
the ``bench`` extra) trains skip-gram on the very sentences of the pipeline's tokens table with
the same parameters.
``--sweep key=v1,v2 ...`` runs every combination of the values on the same split; with
``--gensim-only`` the pipeline runs only its tokenize stage once and every combination is
trained by gensim on those sentences (a quick way to explore settings of the same algorithm).
Every result is printed and appended as a JSON line to ``--json``; with ``--gensim``, a table
pairs the two systems seed by seed (:mod:`benchmarks.items_report`), so
``--sweep train.seed=1,2,3,4,5`` gives the mean difference with its standard error.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from benchmarks.items_report import markdown, paired_seeds
from w2v_spark import pipeline
from w2v_spark.config import Config
from w2v_spark.config_loading import load_config
from w2v_spark.stages.items import basket_sequences, event_sequences, typed_events
from w2v_spark.vectors.item_eval import (
    Case,
    collect_cases,
    hold_out_baskets,
    item_counts,
    leave_last_out,
    score_popularity,
    score_vectors,
)
from w2v_spark.vectors.loading import load_embeddings

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "sequences"
DATASETS = {
    "movielens": DATA / "movielens_latest_small" / "ratings.csv",
    "retail": DATA / "fimi_retail" / "retail.dat",
    "groceries": DATA / "groceries" / "groceries.csv",
}
#: The item separator of each basket data set.
SEPARATORS = {"retail": " ", "groceries": ","}


def split_movielens(spark: SparkSession, work: Path) -> tuple[str, list[str], list[Case], dict]:
    """Leave-last-out on the ratings; the training events go to ``work/train.csv``."""
    cfg = load_config(overrides=["input.format=events", "input.sequence_col=userId",
                                 "input.item_col=movieId", "input.order_col=timestamp"])
    raw = spark.read.option("header", "true").csv(str(DATASETS["movielens"]))
    train, held_out = leave_last_out(typed_events(raw, cfg.input))
    train = train.cache()
    path = str(work / "train_csv")
    train.select(F.col("sequence").alias("sequence_id"), "item",
                 F.col("order").alias("timestamp")).write.csv(path, header=True)
    sequences = event_sequences(train)
    cases = collect_cases(sequences, held_out)
    overrides = ["input.format=events", "input.table_format=csv"]
    return path, overrides, cases, item_counts(sequences)


def split_baskets(spark: SparkSession, work: Path, dataset: str
                  ) -> tuple[str, list[str], list[Case], dict]:
    """One held-out item per basket; the training baskets go to ``work/train_txt``."""
    separator = SEPARATORS[dataset]
    baskets = basket_sequences(spark.read.text(str(DATASETS[dataset])), separator)
    train, held_out = hold_out_baskets(baskets, seed=1)
    train = train.cache()
    path = str(work / "train_txt")
    train.select(F.concat_ws(separator, "items").alias("value")).coalesce(1).write.text(path)
    cases = collect_cases(train, held_out)
    base = ["input.format=baskets", f"input.separator={json.dumps(separator)}"]  # TOML string
    return path, base, cases, item_counts(train)


def gensim_vectors(tokens: DataFrame, cfg: Config) -> tuple[list[str], np.ndarray, float]:
    """gensim skip-gram on the tokens table's sentences with the same parameters."""
    from gensim.models import Word2Vec

    rows = tokens.orderBy("line_id", "chunk").select("tokens").collect()
    sentences = [list(r["tokens"]) for r in rows]
    whole = cfg.pairs.window == 0
    window = max(len(s) for s in sentences) if whole else cfg.pairs.window
    started = time.perf_counter()
    model = Word2Vec(
        sentences, sg=1, hs=0, negative=cfg.train.negative, ns_exponent=cfg.train.ns_exponent,
        window=window, shrink_windows=cfg.pairs.shrink_windows and not whole,
        sample=cfg.pairs.sample, vector_size=cfg.train.vector_size,
        min_count=cfg.vocab.min_count, alpha=cfg.train.alpha, min_alpha=cfg.train.min_alpha,
        epochs=cfg.train.epochs, seed=cfg.train.seed, workers=2,
    )
    seconds = time.perf_counter() - started
    return list(model.wv.index_to_key), np.asarray(model.wv.vectors), seconds


def run_one(spark: SparkSession, work: Path, name: str, split: tuple, overrides: list[str],
            with_gensim: bool, query_items: int) -> dict[str, Any]:
    """Train on the split with ``conf/items.toml`` + overrides and score every method."""
    path, base, cases, counts = split
    cfg = load_config([ROOT / "conf" / "items.toml"],
                      [*base, "items.neighbors=0", "items.recommendations=0", *overrides])
    out = str(work / f"run-{abs(hash(tuple(overrides)))}")
    started = time.perf_counter()
    pipeline.run_pipeline(spark, cfg, path, out, overwrite=True)
    seconds = time.perf_counter() - started
    emb = load_embeddings(spark, out)
    result: dict[str, Any] = {
        "dataset": name, "overrides": overrides, "query_items": query_items,
        "vocabulary": len(emb.words), "pipeline_seconds": round(seconds, 1),
        "ours": score_vectors(cases, emb.words, emb.vectors, 10, query_items).as_dict(),
        "popularity": score_popularity(cases, counts, 10).as_dict(),
    }
    if with_gensim:
        tokens = spark.read.parquet(str(Path(out) / "tokens"))
        words, vectors, g_seconds = gensim_vectors(tokens, cfg)
        result["gensim"] = score_vectors(cases, words, vectors, 10, query_items).as_dict()
        result["gensim_seconds"] = round(g_seconds, 1)
    return result


def run_gensim_only(spark: SparkSession, work: Path, name: str, split: tuple,
                    combos: list[list[str]], query_items: int) -> list[dict[str, Any]]:
    """Tokenize once with the pipeline, then train and score gensim for every combination."""
    path, base, cases, counts = split
    out = str(work / "tokens-only")
    cfg = load_config([ROOT / "conf" / "items.toml"], base)
    pipeline.tokenize_stage(spark, cfg, path, out, overwrite=True)
    tokens = spark.read.parquet(str(Path(out) / "tokens"))
    results = []
    for overrides in combos:
        cfg = load_config([ROOT / "conf" / "items.toml"], [*base, *overrides])
        words, vectors, seconds = gensim_vectors(tokens, cfg)
        results.append({
            "dataset": name, "overrides": overrides, "query_items": query_items,
            "vocabulary": len(words), "gensim_seconds": round(seconds, 1),
            "gensim": score_vectors(cases, words, vectors, 10, query_items).as_dict(),
            "popularity": score_popularity(cases, counts, 10).as_dict(),
        })
        print(json.dumps(results[-1]), flush=True)
    return results


def _grid(sweep: list[str]) -> list[list[str]]:
    axes = []
    for spec in sweep:
        key, _, values = spec.partition("=")
        axes.append([f"{key}={v}" for v in values.split(",")])
    return [list(combo) for combo in itertools.product(*axes)] if axes else [[]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), required=True)
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--sweep", action="append", default=[], metavar="KEY=V1,V2")
    parser.add_argument("--gensim", action="store_true", help="also train gensim (bench extra)")
    parser.add_argument("--gensim-only", action="store_true",
                        help="sweep with gensim on the pipeline's tokens (no training here)")
    parser.add_argument("--query-items", type=int, default=None,
                        help="latest history items in a query (default 1 for movielens, "
                             "0 = the whole rest of the basket for baskets)")
    parser.add_argument("--json", help="append each result as a JSON line here")
    args = parser.parse_args()
    if not DATASETS[args.dataset].is_file():
        sys.exit(f"{DATASETS[args.dataset]} not found: this benchmark needs ../shared/data")
    from w2v_spark.config import SparkConfig
    from w2v_spark.spark.session import build_session

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = build_session(SparkConfig(master="local[2]", conf={
        "spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "4"}))
    query_items = args.query_items
    if query_items is None:
        query_items = 1 if args.dataset == "movielens" else 0
    with tempfile.TemporaryDirectory(prefix="w2v-items-") as tmp:
        work = Path(tmp)
        if args.dataset == "movielens":
            split = split_movielens(spark, work)
        else:
            split = split_baskets(spark, work, args.dataset)
        print(f"{args.dataset}: {len(split[2])} held-out cases", flush=True)
        combos = [[*args.overrides, *combo] for combo in _grid(args.sweep)]
        if args.gensim_only:
            results = run_gensim_only(spark, work, args.dataset, split, combos, query_items)
        else:
            results = []
            for combo in combos:
                results.append(run_one(spark, work, args.dataset, split, combo, args.gensim,
                                       query_items))
                print(json.dumps(results[-1]), flush=True)
        if args.json:
            with open(args.json, "a", encoding="utf-8") as fh:
                fh.writelines(json.dumps(r) + "\n" for r in results)
        summaries = paired_seeds(results)
        if summaries:
            print(markdown(summaries), flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
