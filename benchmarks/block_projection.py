"""A projection of the blocks strategy's epoch time on K executor cores (one task per core),
from the strata of a real run's pairs and the rates measured by ``benchmarks.blocks``.

    python -m benchmarks.block_projection --run RUN --facts benchmarks/results/blocks-slice.json

``RUN`` is a run directory with a vocab and a pairs table (either strategy; its first epoch's
pairs are cut into the strata of each projected K with the same blocks training would deal).
``--facts`` is the JSON of a ``benchmarks.blocks`` run: its blocks row at ``--rate-at`` gives
the training rate of one task on one core and Spark's time per sub-round beyond the slowest
task, both measured where every task had a core of its own. The model of one epoch at K:

    sum over the passes x K sub-rounds of (largest stratum of the sub-round / rate + overhead)
    + the model bytes one core reads and writes per epoch / --bandwidth

The strata are measured, not assumed: their imbalance (the sum of every sub-round's largest
stratum over the sum of their means) is what a sub-round waits for. What is assumed is said on
the page: the rate and overhead stay those measured on 2 cores, each pass holds an equal share
of every stratum, and every core reads and writes its blocks at ``--bandwidth``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.block_replay import read_epochs
from benchmarks.partitions import int_list
from benchmarks.results import environment, environment_lines, load_average, md_table, publish
from w2v_spark.config_loading import load_config
from w2v_spark.core.blocks import strata, vocab_blocks


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of the projection."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, required=True, help="a run directory with vocab and pairs")
    p.add_argument("--facts", type=Path, required=True,
                   help="the JSON of a benchmarks.blocks run (rates and overheads)")
    p.add_argument("--rate-at", type=int, default=2,
                   help="K of the blocks row whose rate and overhead to use (default 2: one "
                        "task per core on 2 cores)")
    p.add_argument("--blocks", default="2,16,64,256", help="K values (= executor cores)")
    p.add_argument("--vector-size", type=int, default=100)
    p.add_argument("--bandwidth", type=float, default=200.0,
                   help="MB/s one core reads and writes its blocks at (default 200)")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--section", default="block-projection")
    args = p.parse_args(argv)
    args.blocks = int_list(args.blocks)
    return args


def measured(facts: dict[str, Any], k: int) -> dict[str, float]:
    """Per-task rate (pairs/s) and sub-round overhead (s) of the blocks row at ``k``."""
    row = next((r for r in facts["ours"] if r["strategy"] == "blocks" and r["partitions"] == k),
               None)
    if row is None:
        raise SystemExit(f"{k} is not a K of the blocks rows of the facts file")
    b = row["blocks"]
    return {"rate": row["pairs"] / b["task_seconds_sum"],
            "overhead": b["sub_round_overhead_mean"]}


def stratum_matrix(counts: np.ndarray, center: np.ndarray, context: np.ndarray,
                   k: int) -> np.ndarray:
    """(K, K) pairs of every stratum: ``[t, s]`` holds the pairs whose input (the context
    word) is in block ``t`` and that sub-round ``s`` of a pass trains."""
    blocks = vocab_blocks(counts, k)
    sub, task = strata(blocks, context, center)
    matrix = np.zeros((k, k), np.int64)
    np.add.at(matrix, (task, sub), 1)
    return matrix


def project(matrix: np.ndarray, passes: int, rate: float, overhead: float, model_bytes: int,
            bandwidth: float) -> dict[str, Any]:
    """One epoch at K = ``matrix.shape[0]`` cores under the model of the module docstring."""
    k = matrix.shape[0]
    largest = matrix.max(axis=0) / passes  # per sub-round of a pass
    mean = matrix.mean(axis=0) / passes
    compute = passes * float(largest.sum()) / rate
    # every sub-round, each task reads and writes its two blocks: 16 V d / K bytes per core
    moved_per_core = passes * k * model_bytes * 2 / k
    return {
        "blocks": k,
        "passes": passes,
        "sub_rounds": passes * k,
        "imbalance": float(largest.sum() / mean.sum()),
        "compute_s": compute,
        "overhead_s": passes * k * overhead,
        "io_s": moved_per_core / (bandwidth * 1e6),
        "moved_per_core_mib": moved_per_core / 2**20,
        "epoch_s": compute + passes * k * overhead + moved_per_core / (bandwidth * 1e6),
    }


def markdown(data: dict[str, Any]) -> str:
    """The page of one projection."""
    one = data["one_core_s"]
    rows = [[r["blocks"], r["sub_rounds"], f"{r['imbalance']:.2f}", f"{r['compute_s']:,.1f}",
             f"{r['overhead_s']:,.1f}", f"{r['io_s']:,.1f}", f"{r['moved_per_core_mib']:,.0f}",
             f"{r['epoch_s']:,.1f}", f"{one / r['epoch_s']:.1f}x"] for r in data["rows"]]
    m = data["measured"]
    lines = [
        "# Training in vocabulary blocks: projected epoch time on K executor cores", "",
        f"Strata of the first epoch of the run `{data['run']}` ({data['pairs']:,} pairs, "
        f"{data['words']:,} words, d = {data['vector_size']}), cut with the blocks training "
        f"deals at each K; one task per core, auto passes. Measured in "
        f"`{data['facts']}` at K = {data['rate_at']} (every task on a core of its own): "
        f"{m['rate']:,.0f} pairs/s per task and {m['overhead']:.2f} s of Spark per sub-round "
        f"beyond its slowest task. Assumed: that rate and overhead at every K, an equal share "
        f"of each stratum per pass, and {data['bandwidth']:g} MB/s per core for the blocks a "
        "task reads and writes. One core training every pair at that rate takes "
        f"{one:,.1f} s.", "",
        *md_table(["K = cores", "sub-rounds", "stratum imbalance", "training s",
                   "Spark overhead s", "model I/O s", "model MiB per core", "epoch s",
                   "speed-up over one core"], rows), "",
        "The overhead term grows with K (K x passes sub-rounds of a fixed cost), the training "
        "term shrinks as 1 / K times the imbalance: past the K where they cross, more cores "
        "make an epoch of this corpus slower, and a larger corpus moves that K up in "
        "proportion to its pairs.", "",
        *environment_lines(data),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    load_at_start = load_average()
    args = parse_args(argv)
    facts = json.loads(args.facts.read_text(encoding="utf-8"))
    rates = measured(facts, args.rate_at)
    words, counts, epochs = read_epochs(args.run)
    center, context = epochs[0]
    model_bytes = 8 * counts.size * args.vector_size  # both matrices, float32
    rows = []
    for k in args.blocks:
        passes = load_config([], ["train.strategy=blocks", f"train.num_partitions={k}"]
                             ).train.passes
        rows.append(project(stratum_matrix(counts, center, context, k), passes,
                            rates["rate"], rates["overhead"], model_bytes, args.bandwidth))
        print(rows[-1])
    data = {
        **environment(load_at_start), "run": str(args.run), "facts": str(args.facts),
        "rate_at": args.rate_at, "measured": rates, "bandwidth": args.bandwidth,
        "vector_size": args.vector_size, "words": len(words), "pairs": int(center.size),
        "one_core_s": center.size / rates["rate"], "rows": rows,
    }
    publish(args.section, data, markdown(data), args.json, not args.no_write)


if __name__ == "__main__":
    main()
