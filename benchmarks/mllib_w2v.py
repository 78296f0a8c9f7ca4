"""Spark MLlib's ``Word2Vec`` (skip-gram, hierarchical softmax) on the benchmark corpus.

The corpus is read the way gensim reads it: whitespace-separated tokens, a line longer than
``max_sentence_length`` tokens cut into chunks of that many. The chunks are cached in
``partitions`` Spark partitions before the fit, so the fit's time holds only MLlib's own work
(its vocabulary pass and training). MLlib keeps no word counts; :func:`word_counts` computes them
separately so that the analogy evaluation can restrict the vocabulary by frequency as it does for
the other systems.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from benchmarks.params import mllib_kwargs
from w2v_spark.vectors.similarity import Embeddings

TOKENS = "tokens"


def sentences_frame(spark: SparkSession, corpus: str, max_len: int, partitions: int
                    ) -> DataFrame:
    """One row per sentence (a line, or a ``max_len``-token chunk of a longer line), column
    ``tokens`` array<string>, in ``partitions`` partitions; not yet computed."""
    words = F.split(F.trim(F.col("value")), r"\s+")
    chunks = F.expr(
        f"transform(sequence(0, CAST(ceil(size(w) / {max_len}) AS INT) - 1), "
        f"i -> slice(w, i * {max_len} + 1, {max_len}))"
    )
    return (
        spark.read.text(corpus)
        .where(F.length(F.trim(F.col("value"))) > 0)
        .select(words.alias("w"))
        .select(F.explode(chunks).alias(TOKENS))
        .repartition(partitions)
    )


def word_counts(sentences: DataFrame) -> dict[str, int]:
    """Occurrences of every token."""
    rows = sentences.select(F.explode(TOKENS).alias("word")).groupBy("word").count().collect()
    return {r["word"]: int(r["count"]) for r in rows}


def fit(sentences: DataFrame, hyper: dict[str, Any], partitions: int) -> Any:
    """Fit ``pyspark.ml.feature.Word2Vec`` with the shared hyperparameters."""
    from pyspark.ml.feature import Word2Vec

    estimator = Word2Vec(inputCol=TOKENS, outputCol="vector", **mllib_kwargs(hyper, partitions))
    return estimator.fit(sentences)


def model_embeddings(model: Any, counts: dict[str, int]) -> Embeddings:
    """The fitted model's vectors in descending-count order (ties by word)."""
    from pyspark.ml.functions import vector_to_array

    table = model.getVectors().select(
        "word", vector_to_array(F.col("vector"), "float32").alias("vector")
    ).toArrow()
    words = table.column("word").to_pylist()
    dim = len(table.column("vector")[0]) if words else 0
    vectors = table.column("vector").combine_chunks().flatten().to_numpy().reshape(-1, dim)
    order = sorted(range(len(words)), key=lambda i: (-counts.get(words[i], 0), words[i]))
    return Embeddings(
        [words[i] for i in order],
        np.asarray(vectors)[order],
        np.array([counts.get(words[i], 0) for i in order], dtype=np.int64),
    )


def run(spark: SparkSession, corpus: str, hyper: dict[str, Any], partitions: int
        ) -> tuple[Embeddings, dict[str, Any]]:
    """Read, fit and export; returns the embeddings and the facts (seconds per step)."""
    t0 = time.perf_counter()
    sentences = sentences_frame(spark, corpus, hyper["max_sentence_length"], partitions).cache()
    n_sentences = sentences.count()
    t1 = time.perf_counter()
    model = fit(sentences, hyper, partitions)
    t2 = time.perf_counter()
    counts = word_counts(sentences)
    t3 = time.perf_counter()
    emb = model_embeddings(model, counts)
    t4 = time.perf_counter()
    sentences.unpersist()
    facts = {
        "sentences": n_sentences,
        "words": len(emb),
        "tokens": int(sum(counts.values())),
        "seconds": {"read": t1 - t0, "fit": t2 - t1, "export": t4 - t3},
        "count_seconds": t3 - t2,
    }
    return emb, facts
