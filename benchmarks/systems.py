"""Run one benchmarked system in this process and write what it did; the benchmark scripts
start this module once per system, each in its own process, so memory peaks do not mix.

    python -m benchmarks.systems {ours,gensim,mllib} --corpus PATH --out DIR --cores N \\
        [--config FILE ...] [--set section.key=value ...]

Writes ``DIR/embeddings/`` (the embeddings table layout of this project) and ``DIR/result.json``:
seconds per stage, the total from corpus to embeddings, the session start-up, the vocabulary
size, the epochs and (for this project) the training pairs. The ``--config`` files and ``--set``
overrides configure this project; gensim and MLlib get the same hyperparameters
(:mod:`benchmarks.params`).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from benchmarks.evaluate import write_table
from benchmarks.params import hyperparameters
from w2v_spark.config import Config
from w2v_spark.config_loading import load_config

SYSTEMS = ("ours", "gensim", "mllib")
RESULT = "result.json"


def _session(cfg: Config, app_name: str) -> tuple[Any, float]:
    from dataclasses import replace

    from w2v_spark.spark.session import build_session

    started = time.perf_counter()
    spark = build_session(replace(cfg.spark, app_name=app_name))
    return spark, time.perf_counter() - started


def run_ours(cfg: Config, corpus: str, out: Path) -> dict[str, Any]:
    """The whole pipeline in local mode; stage seconds from its own facts."""
    from w2v_spark.pipeline import run_pipeline

    spark, startup = _session(cfg, "w2v_spark-bench")
    try:
        stages = run_pipeline(spark, cfg, corpus, str(out / "run"), overwrite=True)
    finally:
        spark.stop()
    seconds = {name: float(facts["seconds"]) for name, facts in stages.items()}
    return {
        "seconds": seconds,
        "startup_seconds": startup,
        "words": stages["vocab"]["words"],
        "retained_tokens": stages["vocab"]["retained_tokens"],
        "tokens": stages["tokenize"]["tokens"],
        "pairs": stages["pairs"]["pairs"],
        "train_seconds": seconds["train"],
        "embeddings": str(out / "run" / "embeddings"),
        "stages": stages,
    }


def run_gensim(cfg: Config, corpus: str, out: Path, cores: int) -> dict[str, Any]:
    """gensim skip-gram: read the corpus, build the vocabulary, train, write the table."""
    from benchmarks.gensim_text8 import gensim_embeddings, read_sentences, train_gensim

    hyper = hyperparameters(cfg)
    started = time.perf_counter()
    sentences = read_sentences(Path(corpus), hyper["max_sentence_length"])
    read = time.perf_counter() - started
    model, seconds = train_gensim(sentences, hyper, cores)
    started = time.perf_counter()
    emb = gensim_embeddings(model)
    write_table(out / "embeddings", emb)
    export = time.perf_counter() - started
    return {
        "seconds": {"read": read, **seconds, "export": export},
        "startup_seconds": 0.0,
        "words": len(emb),
        "retained_tokens": int(emb.counts.sum()) if emb.counts is not None else None,
        "tokens": int(model.corpus_total_words),
        "train_seconds": seconds["train"],
        "embeddings": str(out / "embeddings"),
    }


def run_mllib(cfg: Config, corpus: str, out: Path, cores: int) -> dict[str, Any]:
    """Spark MLlib Word2Vec in its own local session with ``numPartitions`` = cores."""
    from benchmarks import mllib_w2v

    spark, startup = _session(cfg, "mllib-word2vec-bench")
    try:
        emb, facts = mllib_w2v.run(spark, corpus, hyperparameters(cfg), cores)
    finally:
        spark.stop()
    started = time.perf_counter()
    write_table(out / "embeddings", emb)
    seconds = dict(facts["seconds"])
    seconds["export"] += time.perf_counter() - started
    return {
        "seconds": seconds,
        "startup_seconds": startup,
        "count_seconds": facts["count_seconds"],
        "words": len(emb),
        "retained_tokens": int(emb.counts.sum()) if emb.counts is not None else None,
        "tokens": facts["tokens"],
        "train_seconds": seconds["fit"],
        "embeddings": str(out / "embeddings"),
    }


def run_system(system: str, cfg: Config, corpus: str, out: Path, cores: int) -> dict[str, Any]:
    """Run ``system`` and return its result (also written to ``out/result.json``)."""
    out.mkdir(parents=True, exist_ok=True)
    if system == "ours":
        result = run_ours(cfg, corpus, out)
    elif system == "gensim":
        result = run_gensim(cfg, corpus, out, cores)
    elif system == "mllib":
        result = run_mllib(cfg, corpus, out, cores)
    else:
        raise ValueError(f"unknown system {system!r}; choose from {', '.join(SYSTEMS)}")
    result["system"] = system
    result["epochs"] = cfg.train.epochs
    result["total_seconds"] = sum(result["seconds"].values())
    (out / RESULT).write_text(json.dumps(result, indent=2, default=str) + "\n")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("system", choices=SYSTEMS)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--cores", type=int, required=True)
    parser.add_argument("--config", action="append", default=[], dest="configs")
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    args = parser.parse_args()
    cfg = load_config(args.configs, args.overrides)
    run_system(args.system, cfg, args.corpus, args.out, args.cores)


if __name__ == "__main__":
    main()
