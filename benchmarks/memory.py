"""Peak memory of the pipeline against vocabulary size and vector_size, on generated Zipf
corpora, beside the README's estimates.

    python -m benchmarks.memory --quick                                  # V 10k, 30k; d 50, 100
    python -m benchmarks.memory --vocab 10000,100000,1000000 --dims 50,100,300

For every vocabulary size V a corpus over exactly V words is generated
(:func:`benchmarks.corpus.zipf_corpus`: each word ``min_count`` times plus ``--extra-per-word``
x V Zipf-drawn tokens); for every ``vector_size`` d the whole pipeline runs in its own process
(:mod:`benchmarks.systems`) under the memory sampler (:mod:`benchmarks.procmem`). The README
estimates a training worker at ``40 V d`` bytes and the Python driver at ``(16 + 16 P) V d``
plus 512 bytes per word (:func:`w2v_spark.spark.memory.estimate`);
the table puts the measured peaks above the smallest run's (the fixed cost of Python, Spark and
the libraries) beside them. A configuration whose estimate does not fit in ``--max-ram`` of this
machine's memory is skipped and listed as such. The JVM's heap is ``[spark] driver_memory``
(4g by default) and every round's broadcast model and collected rows pass through it: with
V = 1,000,000 and d = 50 a run with the default 4g stopped with ``OutOfMemoryError: Java heap
space`` while collecting the second round's rows, so pass ``--set spark.driver_memory=...`` for
large vocabularies.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.bench import base_overrides, measure_system
from benchmarks.corpus import zipf_corpus
from benchmarks.memory_report import markdown
from benchmarks.procmem import MB
from benchmarks.results import environment, load_average, publish
from w2v_spark.config_loading import load_config
from w2v_spark.spark.memory import estimate

QUICK = {"vocab": "10000,30000", "dims": "50,100"}
FULL = {"vocab": "10000,100000,1000000", "dims": "50,100,300"}
JVM_AND_BASE_BYTES = 5 << 30  # the JVM's heap (driver_memory 4g) and the fixed cost, for skipping


def estimates(vocab: int, dim: int, partitions: int, strategy: str = "merge",
              cores: int = 2) -> dict[str, float]:
    """The train stage's estimates in MB: one training worker and the Python driver."""
    est = estimate(vocab, dim, partitions, local=True, strategy=strategy,
                   concurrent_tasks=cores)
    return {"worker_mb": est.worker_python / MB, "driver_mb": est.driver_python / MB}


def fits(vocab: int, dim: int, partitions: int, ram_bytes: float, strategy: str = "merge",
         cores: int = 2) -> bool:
    """Whether the estimates for the driver and the workers running at once, plus the JVM,
    fit in ``ram_bytes``."""
    est = estimates(vocab, dim, partitions, strategy, cores)
    workers = partitions if strategy == "merge" else min(cores, partitions)
    need = (est["driver_mb"] + workers * est["worker_mb"]) * MB + JVM_AND_BASE_BYTES
    return need <= ram_bytes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of the memory benchmark."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help=f"vocabularies {QUICK['vocab']}, dims {QUICK['dims']}")
    p.add_argument("--vocab", default=None, help=f"vocabulary sizes (default {FULL['vocab']})")
    p.add_argument("--dims", default=None, help=f"vector sizes (default {FULL['dims']})")
    p.add_argument("--extra-per-word", type=float, default=5.0,
                   help="Zipf-drawn tokens per vocabulary word, besides min_count each")
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--max-ram", type=float, default=0.8,
                   help="skip a configuration whose estimate exceeds this fraction of RAM")
    p.add_argument("--set", action="append", default=[], dest="overrides",
                   metavar="SECTION.KEY=VALUE")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--section", default=None,
                   help="name of the page benchmarks/results/NAME.md and its JSON to write "
                        "(default memory, or memory-quick)")
    args = p.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    args.vocab = sorted({int(v) for v in (args.vocab or defaults["vocab"]).split(",")})
    args.dims = sorted({int(v) for v in (args.dims or defaults["dims"]).split(",")})
    return args


def run_config(corpus: Path, work: Path, cores: int, overrides: list[str]) -> dict[str, Any]:
    """One pipeline run in its own process under the sampler; its tables are removed after."""
    out = work / "run"
    result = measure_system("ours", corpus, out, cores, overrides)
    shutil.rmtree(out, ignore_errors=True)
    keep = ("error", "process_seconds", "memory", "words", "tokens", "pairs", "seconds",
            "total_seconds")
    return {k: result[k] for k in keep if k in result}


def main(argv: list[str] | None = None) -> None:
    import psutil

    load_at_start = load_average()
    args = parse_args(argv)
    base = [*base_overrides(args.cores, args.epochs), "train.keep_checkpoints=1",
            *args.overrides]
    cfg = load_config([], base)
    partitions, min_count = cfg.train.num_partitions, cfg.vocab.min_count
    strategy = cfg.train.resolved_strategy
    ram = psutil.virtual_memory().total * args.max_ram
    work = args.workdir or Path(tempfile.mkdtemp(prefix="w2v-memory-"))
    rows: list[dict[str, Any]] = []
    try:
        for vocab in args.vocab:
            corpus = None
            for dim in args.dims:
                row: dict[str, Any] = {"vocab_asked": vocab, "vector_size": dim,
                                       "estimates": estimates(vocab, dim, partitions, strategy,
                                                             args.cores)}
                if not fits(vocab, dim, partitions, ram, strategy, args.cores):
                    row["skipped"] = (f"the estimate exceeds {args.max_ram:.0%} of this "
                                      "machine's RAM")
                    rows.append(row)
                    continue
                if corpus is None:
                    print(f"\ngenerating a Zipf corpus over {vocab:,} words", flush=True)
                    corpus = zipf_corpus(work / f"zipf-{vocab}.txt", vocab, min_count,
                                         args.extra_per_word, seed=cfg.train.seed)
                print(f"\n== V={vocab:,} d={dim} ==", flush=True)
                row.update(run_config(corpus.path, work, args.cores,
                                      [*base, f"train.vector_size={dim}"]))
                row["estimates"] = estimates(row.get("words") or vocab, dim, partitions,
                                             strategy, args.cores)
                rows.append(row)
            if corpus is not None:
                corpus.path.unlink()
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    data = {**environment(load_at_start), "quick": args.quick, "cores": args.cores,
            "partitions": partitions, "strategy": strategy, "overrides": base,
            "extra_per_word": args.extra_per_word,
            "runs": rows}
    section = args.section or ("memory-quick" if args.quick else "memory")
    publish(section, data, markdown(data), args.json, not args.no_write)


if __name__ == "__main__":
    main()
