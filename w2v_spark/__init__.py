"""word2vec (skip-gram with negative sampling) trained on Apache Spark, for words and items.

The Python API (see :mod:`w2v_spark.api`)::

    from w2v_spark import train, load_embeddings, session

    spark = session()
    emb = train(spark, "corpus.txt", "runs/first")       # or a DataFrame of lines or events
    emb.most_similar("king", topn=5)
    emb = load_embeddings(spark, "runs/first")           # later, without training again

The command line is ``w2v-spark`` (:mod:`w2v_spark.cli`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Config", "Embeddings", "load_config", "load_embeddings", "session",
           "show_progress", "train", "write_demo_corpus"]


def __getattr__(name: str) -> Any:
    """The API's names, imported on first use: importing the package (as every Spark worker
    does) does not import the pipeline."""
    if name in __all__:
        from w2v_spark import api

        return getattr(api, name)
    raise AttributeError(f"module 'w2v_spark' has no attribute {name!r}")
