"""Quality and time of this project against ``num_partitions`` x ``syncs_per_epoch``, beside
Spark MLlib's Word2Vec at the same partition counts.

    python -m benchmarks.partitions --quick                       # a small grid on a slice
    python -m benchmarks.partitions --partitions 1,2,4,8,16 --syncs 1,2,4,8   # many hours on text8
    python -m benchmarks.partitions --merges mean,average --lr-scale sqrt-p ...
    python -m benchmarks.partitions --merges mean,average,mean/inv-sqrt-p ...  # per-merge scale

Everything runs in one ``local[N]`` session. The corpus is tokenized and counted once; the pairs
depend only on the number of shards ``P x R`` (and the epochs and seed), so they are generated
once per distinct ``P x R`` and every configuration with that product trains on them. For each
configuration the train and export stages run, and the embeddings are scored by
:func:`benchmarks.evaluate.score`. ``--lr-scale`` multiplies ``alpha`` and ``min_alpha`` by a
function of P (``p``, ``sqrt-p``, ``inv-p``, ``inv-sqrt-p``), on top of what ``merge`` does;
a ``--merges`` entry ``merge/scale`` sets the scaling for that entry alone.
Results go to the page ``benchmarks/results/NAME.md`` and the JSON file beside it (or
``--json``), replacing those of the last run of the same name: ``partitions``,
``partitions-quick`` for ``--quick``, or what ``--section`` says.
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
import time
from dataclasses import replace
from itertools import groupby
from pathlib import Path
from typing import Any

from benchmarks import mllib_w2v
from benchmarks.bench import base_overrides, check_inputs
from benchmarks.corpus import slice_corpus
from benchmarks.evaluate import load_table, score
from benchmarks.gensim_text8 import DEFAULT_CORPUS
from benchmarks.params import hyperparameters
from benchmarks.partitions_report import markdown
from benchmarks.results import environment, load_average, publish
from w2v_spark.config import Config
from w2v_spark.config_loading import load_config
from w2v_spark.errors import TrainingDivergedError

LR_SCALES = {
    "none": lambda p: 1.0,
    "p": float,
    "sqrt-p": math.sqrt,
    "inv-p": lambda p: 1.0 / p,
    "inv-sqrt-p": lambda p: 1.0 / math.sqrt(p),
}
QUICK = {"tokens": 1_000_000, "epochs": 1, "partitions": "1,2,4", "syncs": "1,4"}


def int_list(text: str) -> list[int]:
    """The distinct integers of a comma-separated list, ascending."""
    return sorted({int(x) for x in text.split(",") if x.strip()})


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of the grid."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    p.add_argument("--quick", action="store_true",
                   help="first {tokens:,} tokens, {epochs} epoch, partitions {partitions}, "
                        "syncs {syncs}".format(**QUICK))
    p.add_argument("--tokens", type=int, default=None, help="first N tokens only (0 = all)")
    p.add_argument("--cores", type=int, default=2, help="local[N]")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--partitions", default=None, help="num_partitions values (default 1,2,4,8,16)")
    p.add_argument("--syncs", default=None, help="syncs_per_epoch values (default 1,2,4,8)")
    p.add_argument("--merges", default=None,
                   help="merge modes to try, each optionally as merge/lr-scale "
                        "(default: the config's)")
    p.add_argument("--lr-scale", choices=sorted(LR_SCALES), default="none",
                   help="multiply alpha and min_alpha by this function of num_partitions")
    p.add_argument("--set", action="append", default=[], dest="overrides",
                   metavar="SECTION.KEY=VALUE")
    p.add_argument("--no-mllib", action="store_true", help="skip MLlib")
    p.add_argument("--mllib-only", action="store_true",
                   help="only MLlib at each --partitions value (no grid of this project)")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--section", default=None,
                   help="name of the page benchmarks/results/NAME.md and its JSON to write "
                        "(default partitions, or partitions-quick)")
    p.add_argument("--workdir", type=Path, default=None,
                   help="keep the tables in this directory (default: a temporary one)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = p.parse_args(argv)
    if args.mllib_only and args.no_mllib:
        p.error("--mllib-only and --no-mllib leave nothing to run")
    quick = QUICK if args.quick else {"tokens": 0, "epochs": None,
                                      "partitions": "1,2,4,8,16", "syncs": "1,2,4,8"}
    args.tokens = quick["tokens"] if args.tokens is None else args.tokens
    args.epochs = quick["epochs"] if args.epochs is None else args.epochs
    args.partitions = int_list(args.partitions or str(quick["partitions"]))
    args.syncs = int_list(args.syncs or str(quick["syncs"]))
    return args


def grid_config(base: list[str], p: int, r: int, merge: str, lr_scale: str, cfg0: Config
                ) -> Config:
    """The config of one cell of the grid."""
    f = LR_SCALES[lr_scale](p)
    return load_config([], [
        *base, "train.strategy=merge", f"train.num_partitions={p}", f"train.syncs_per_epoch={r}",
        f"train.merge={merge}",
        f"train.alpha={cfg0.train.alpha * f!r}", f"train.min_alpha={cfg0.train.min_alpha * f!r}",
    ])


def variants(text: str, default_scale: str) -> list[tuple[str, str, str]]:
    """(label, merge, lr_scale) of every comma-separated ``merge`` or ``merge/lr-scale``."""
    out = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        merge, _, scale = entry.partition("/")
        scale = scale or default_scale
        if scale not in LR_SCALES:
            raise SystemExit(f"unknown learning-rate scaling {scale!r} in --merges {entry!r}; "
                             f"use one of {', '.join(sorted(LR_SCALES))}")
        out.append((entry, merge, scale))
    return out


def run_grid(spark: Any, args: argparse.Namespace, corpus: str, run_dir: str, base: list[str],
             cfg0: Config) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Tokenize and count once, then pairs per P x R and train + export per cell."""
    from w2v_spark import pipeline

    shared = {
        "tokenize": pipeline.tokenize_stage(spark, cfg0, corpus, run_dir, True)["seconds"],
        "vocab": pipeline.vocab_stage(spark, cfg0, run_dir, True)["seconds"],
    }
    merges = variants(args.merges or cfg0.train.merge, args.lr_scale)
    cells = sorted((p * r, p, r) for p in args.partitions for r in args.syncs)
    rows: list[dict[str, Any]] = []
    for shards, group in groupby(cells, key=lambda c: c[0]):
        members = list(group)
        cfg_s = grid_config(base, members[0][1], members[0][2], merges[0][1], "none", cfg0)
        pairs = pipeline.pairs_stage(spark, cfg_s, run_dir, True)
        for _, p, r in members:
            for label, merge, scale in merges:
                cfg = grid_config(base, p, r, merge, scale, cfg0)
                print(f"\n== num_partitions={p} syncs_per_epoch={r} merge={merge} "
                      f"alpha={cfg.train.alpha:g} ==", flush=True)
                row = {"num_partitions": p, "syncs_per_epoch": r, "merge": merge,
                       "variant": label, "lr_scale": scale, "alpha": cfg.train.alpha,
                       "shards": shards, "pairs": pairs["pairs"]}
                began = time.perf_counter()
                try:
                    train = pipeline.train_stage(spark, cfg, run_dir, True)
                except TrainingDivergedError as exc:
                    print(f"diverged: {exc}", flush=True)
                    rows.append({**row, "diverged": str(exc).split(";")[0], "quality": None,
                                 "seconds": {**shared, "pairs": pairs["seconds"],
                                             "train": time.perf_counter() - began}})
                    continue
                export = pipeline.export_stage(spark, cfg, run_dir, True)
                quality = score(load_table(Path(run_dir) / "embeddings"))
                rows.append({
                    **row,
                    "seconds": {**shared, "pairs": pairs["seconds"], "train": train["seconds"],
                                "export": export["seconds"]},
                    "pairs_per_sec": train["pairs_per_sec"], "final_loss": train["final_loss"],
                    "quality": quality,
                })
    return shared, rows


def run_mllib(spark: Any, corpus: str, cfg0: Config, partitions: list[int]
              ) -> list[dict[str, Any]]:
    """MLlib Word2Vec at each partition count, same session and hyperparameters."""
    rows = []
    for p in partitions:
        print(f"\n== MLlib numPartitions={p} ==", flush=True)
        emb, facts = mllib_w2v.run(spark, corpus, hyperparameters(cfg0), p)
        rows.append({"num_partitions": p, **facts, "quality": score(emb)})
    return rows


def main(argv: list[str] | None = None) -> None:
    load_at_start = load_average()
    args = parse_args(argv)
    check_inputs(args.corpus)
    base = [*base_overrides(args.cores, args.epochs), "train.keep_checkpoints=1",
            *args.overrides]
    cfg0 = load_config([], base)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="w2v-partitions-"))
    work.mkdir(parents=True, exist_ok=True)
    from w2v_spark.spark.session import build_session

    spark = build_session(replace(cfg0.spark, app_name="w2v_spark-partitions"))
    try:
        corpus = args.corpus
        if args.tokens:
            corpus = work / "corpus.txt"
            slice_corpus(args.corpus, corpus, args.tokens)
        shared, rows = ({}, []) if args.mllib_only else run_grid(
            spark, args, str(corpus.resolve()), str(work / "run"), base, cfg0)
        mllib = [] if args.no_mllib else run_mllib(spark, str(corpus.resolve()), cfg0,
                                                   args.partitions)
    finally:
        spark.stop()
        if args.workdir is None and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    data = {
        **environment(load_at_start), "quick": args.quick, "corpus": str(args.corpus),
        "corpus_tokens_limit": args.tokens or None, "cores": args.cores, "overrides": base,
        "lr_scale": args.lr_scale, "hyperparameters": hyperparameters(cfg0),
        "shared_seconds": shared, "ours": rows, "mllib": mllib,
    }
    section = args.section or ("partitions-quick" if args.quick else "partitions")
    publish(section, data, markdown(data), args.json, not args.no_write)


if __name__ == "__main__":
    main()
