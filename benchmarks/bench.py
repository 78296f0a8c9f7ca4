"""Side-by-side benchmark: this project, gensim and Spark MLlib on the same corpus and cores.

    python -m benchmarks.bench                 # text8, 5 epochs: about an hour on 2 cores
    python -m benchmarks.bench --quick         # first 2M tokens, 1 epoch: a smoke run
    python -m benchmarks.bench --ours-config conf/fast.toml   # this project with fast.toml

The systems run one after another, each in its own process (:mod:`benchmarks.systems`) while a
background thread samples the memory of that process and everything it starts
(:mod:`benchmarks.procmem`). This project runs its whole pipeline in ``local[N]`` with the default
config (``train.num_partitions`` = N); gensim trains skip-gram with ``workers`` = N; MLlib fits in
its own ``local[N]`` session with ``numPartitions`` = N; all with the same hyperparameters,
except that ``--ours-config`` layers a config file on this project's alone (the peers keep the
shared settings, so the run compares, say, ``conf/fast.toml`` with gensim as it is usually run).
Every embeddings table is scored by :func:`benchmarks.evaluate.score`. The results go to the
page ``benchmarks/results/NAME.md`` and the JSON file ``benchmarks/results/NAME.json`` (or
``--json``), replacing those of the last run of the same name: ``bench``, ``bench-quick`` for
``--quick`` (so a smoke run never replaces the full results), ``bench-fast`` with
``--ours-config conf/fast.toml``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.bench_report import derive, markdown
from benchmarks.corpus import slice_corpus
from benchmarks.evaluate import SHARED_EVAL, load_table, score, write_table
from benchmarks.gensim_text8 import DEFAULT_CORPUS
from benchmarks.params import hyperparameters
from benchmarks.procmem import run_measured
from benchmarks.results import environment, load_average, publish
from benchmarks.systems import RESULT, SYSTEMS
from w2v_spark.config_loading import load_config
from w2v_spark.errors import ConfigError
from w2v_spark.io.vector_writer import write_vectors
from w2v_spark.vectors.similarity import Embeddings

REPO = Path(__file__).resolve().parents[1]
QUICK_TOKENS = 2_000_000
QUICK_EPOCHS = 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of the benchmark."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS,
                   help="text corpus (.gz or plain); default: text8 from ../shared/data")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: first {QUICK_TOKENS:,} tokens, {QUICK_EPOCHS} epoch")
    p.add_argument("--tokens", type=int, default=None,
                   help="use only the first N tokens of the corpus (0 = all)")
    p.add_argument("--cores", type=int, default=2, help="local[N], workers and partitions")
    p.add_argument("--epochs", type=int, default=None, help="epochs for every system")
    p.add_argument("--systems", default=",".join(SYSTEMS),
                   help="comma-separated subset of ours,gensim,mllib (run in that order)")
    p.add_argument("--set", action="append", default=[], dest="overrides",
                   metavar="SECTION.KEY=VALUE",
                   help="config override for this project; gensim and MLlib get the same "
                        "hyperparameters")
    p.add_argument("--ours-config", action="append", default=[], type=Path, dest="ours_configs",
                   metavar="FILE", help="a TOML file layered on this project's config alone "
                                        "(conf/fast.toml, say); the peers keep the shared "
                                        "hyperparameters"),
    p.add_argument("--json", type=Path, default=None, help="where to write the JSON result")
    p.add_argument("--no-write", action="store_true",
                   help="print the Markdown page; write neither the page nor the JSON")
    p.add_argument("--workdir", type=Path, default=None,
                   help="keep the runs' tables in this directory (default: a temporary "
                        "directory, removed at the end)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--vectors", type=Path, default=None,
                   help="keep every system's vectors here, as SYSTEM/embeddings (the table) and "
                        "SYSTEM/vectors.bin (word2vec binary format), for evaluation by other "
                        "tools (default: benchmarks/runs/bench, or bench-quick with --quick; "
                        "none with --no-write)")
    args = p.parse_args(argv)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    bad = sorted(set(systems) - set(SYSTEMS))
    if bad or not systems:
        p.error(f"--systems: unknown {bad}; choose from {', '.join(SYSTEMS)}")
    args.systems = systems
    if args.tokens is None:
        args.tokens = QUICK_TOKENS if args.quick else 0
    if args.epochs is None and args.quick:
        args.epochs = QUICK_EPOCHS
    if args.vectors is None and not args.no_write:
        args.vectors = REPO / "benchmarks" / "runs" / section_name(args.quick,
                                                                  args.ours_configs)
    return args


def section_name(quick: bool, ours_configs: Sequence[Path] = ()) -> str:
    """The name of a run's page in benchmarks/results/ (and of its default vectors folder):
    ``bench``, with ``-NAME`` for each config file of this project's alone (``bench-fast`` for
    ``conf/fast.toml``), then ``-quick`` for a quick run."""
    name = "-".join(["bench", *(Path(p).stem for p in ours_configs)])
    return f"{name}-quick" if quick else name


def base_overrides(cores: int, epochs: int | None) -> list[str]:
    """Overrides every run gets before the user's ``--set``: local[N], N partitions."""
    out = [f"spark.master=local[{cores}]", f"train.num_partitions={cores}"]
    if epochs is not None:
        out.append(f"train.epochs={epochs}")
    return out


def check_inputs(corpus: Path) -> None:
    """Stop with a clear message when the corpus or the evaluation sets are missing."""
    if not corpus.is_file():
        raise SystemExit(
            f"bench: the corpus {corpus} does not exist. The default is text8 from the shared "
            "data beside the repository (../shared/data/text/wiki_text8style_100M.txt.gz); "
            "pass another text file with --corpus."
        )
    if not (SHARED_EVAL / "questions-words.txt").is_file():
        raise SystemExit(f"bench: the evaluation sets are missing from {SHARED_EVAL}")


def measure_system(system: str, corpus: Path, out: Path, cores: int, overrides: list[str],
                   configs: Sequence[Path] = ()) -> dict[str, Any]:
    """Run one system in a child process under the memory sampler; its ``result.json``
    merged with the process's wall time and memory peaks (``error`` if it failed)."""
    (out / RESULT).unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "benchmarks.systems", system, "--corpus", str(corpus),
           "--out", str(out), "--cores", str(cores)]
    for path in configs:
        cmd += ["--config", str(path.resolve())]
    for item in overrides:
        cmd += ["--set", item]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    measured = run_measured(cmd, env=env, cwd=str(REPO))
    result: dict[str, Any] = {"system": system, "process_seconds": measured.seconds,
                              "memory": measured.peaks.to_dict()}
    if measured.returncode != 0 or not (out / RESULT).is_file():
        result["error"] = f"exited with status {measured.returncode}"
    else:
        result.update(json.loads((out / RESULT).read_text()))
    return result


def keep_vectors(emb: Embeddings, dest: Path) -> Path:
    """Write ``emb`` to ``dest`` as ``embeddings/`` (the table) and ``vectors.bin`` (word2vec
    binary format), replacing what a previous run left there; returns the ``vectors.bin`` path.

    The vectors file is written atomically, and the table is removed first and gets its
    ``_SUCCESS`` marker last, so neither looks complete before it is.
    """
    dest.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(dest / "embeddings", ignore_errors=True)
    path = dest / "vectors.bin"
    write_vectors(str(path), emb.words, emb.vectors, "word2vec-bin")
    write_table(dest / "embeddings", emb)
    return path


def repo_relative(path: Path) -> str:
    """``path`` relative to the repository when inside it or beside it (as the shared data
    is), else absolute: how the results pages name files."""
    return os.path.relpath(path.resolve(), REPO)


def run_one(system: str, corpus: Path, work: Path, cores: int, overrides: list[str],
            vectors: Path | None = None, configs: Sequence[Path] = ()
            ) -> dict[str, Any]:
    """Run one system (:func:`measure_system`, with ``configs`` layered on its config),
    then score its embeddings table; with ``vectors``, keep them in ``vectors/SYSTEM``
    (:func:`keep_vectors`)."""
    print(f"\n== {system} ==", flush=True)
    result = measure_system(system, corpus, work / system, cores, overrides, configs)
    if "error" not in result:
        emb = load_table(result["embeddings"])
        result["quality"] = score(emb)
        if vectors is not None:
            result["vectors_file"] = repo_relative(keep_vectors(emb, vectors / system))
    return result


def main(argv: list[str] | None = None) -> None:
    load_at_start = load_average()
    args = parse_args(argv)
    check_inputs(args.corpus)
    overrides = base_overrides(args.cores, args.epochs) + args.overrides
    try:
        cfg = load_config([], overrides)
        ours_cfg = load_config(args.ours_configs, overrides)
    except (ConfigError, OSError) as exc:
        raise SystemExit(f"bench: {exc}") from None
    if args.vectors is not None:
        # Every system's folder goes, not only this run's systems': all vectors left in the
        # folder are then this run's, the ones its results page scores.
        for system in SYSTEMS:
            shutil.rmtree(args.vectors / system, ignore_errors=True)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="w2v-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        corpus = args.corpus
        if args.tokens:
            corpus = work / "corpus.txt"
            print(f"slicing the first {args.tokens:,} tokens of {args.corpus}", flush=True)
            slice_corpus(args.corpus, corpus, args.tokens)
        results = [run_one(s, corpus.resolve(), work, args.cores, overrides, args.vectors,
                           args.ours_configs if s == "ours" else [])
                   for s in args.systems]
    finally:
        if args.workdir is None and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    data = {
        **environment(load_at_start),
        "quick": args.quick,
        "corpus": str(args.corpus),
        "corpus_tokens_limit": args.tokens or None,
        "cores": args.cores,
        "eval_dir": repo_relative(SHARED_EVAL),
        "overrides": overrides,
        "hyperparameters": hyperparameters(cfg),
        "ours_configs": [repo_relative(p) for p in args.ours_configs],
        "ours_hyperparameters": hyperparameters(ours_cfg),
        "systems": results,
    }
    data["derived"] = derive(results, cfg.train.epochs, same_pairs=not args.ours_configs)
    publish(section_name(args.quick, args.ours_configs), data, markdown(data), args.json,
            not args.no_write)


if __name__ == "__main__":
    main()
