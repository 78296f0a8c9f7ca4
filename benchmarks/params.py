"""The hyperparameters every system in a benchmark shares, taken from this project's config.

gensim and Spark MLlib are given the same values as this project's run, so that a ``--set``
override (``train.vector_size=300``, ``train.epochs=1`` ...) applies to all three systems.
"""

from __future__ import annotations

from typing import Any

from w2v_spark.config import Config


def hyperparameters(cfg: Config) -> dict[str, Any]:
    """The shared hyperparameters, under gensim's names."""
    return {
        "vector_size": cfg.train.vector_size,
        "window": cfg.pairs.window,
        "negative": cfg.train.negative,
        "ns_exponent": cfg.train.ns_exponent,
        "min_count": cfg.vocab.min_count,
        "max_vocab_size": cfg.vocab.max_vocab_size,
        "sample": cfg.pairs.sample,
        "alpha": cfg.train.alpha,
        "min_alpha": cfg.train.min_alpha,
        "epochs": cfg.train.epochs,
        "seed": cfg.train.seed,
        "max_sentence_length": cfg.tokenize.max_sentence_length,
    }


def gensim_kwargs(hyper: dict[str, Any], workers: int) -> dict[str, Any]:
    """Keyword arguments of ``gensim.models.Word2Vec``: skip-gram with negative sampling."""
    kwargs = {
        "sg": 1,
        "hs": 0,
        "negative": hyper["negative"],
        "ns_exponent": hyper["ns_exponent"],
        "window": hyper["window"],
        "vector_size": hyper["vector_size"],
        "min_count": hyper["min_count"],
        "sample": hyper["sample"],
        "epochs": hyper["epochs"],
        "alpha": hyper["alpha"],
        "min_alpha": hyper["min_alpha"],
        "seed": hyper["seed"],
        "max_final_vocab": hyper["max_vocab_size"] or None,
        "workers": workers,
    }
    return kwargs


def mllib_kwargs(hyper: dict[str, Any], partitions: int) -> dict[str, Any]:
    """Keyword arguments of ``pyspark.ml.feature.Word2Vec`` (hierarchical softmax; it has no
    negative sampling, subsampling or learning-rate floor)."""
    return {
        "vectorSize": hyper["vector_size"],
        "windowSize": hyper["window"],
        "minCount": hyper["min_count"],
        "numPartitions": partitions,
        "maxIter": hyper["epochs"],
        "stepSize": hyper["alpha"],
        "maxSentenceLength": hyper["max_sentence_length"],
        "seed": hyper["seed"],
    }
