"""gensim skip-gram on the same corpus and cores, scored by the same evaluator.

    .venv/bin/python -m benchmarks.gensim_text8 [--corpus PATH] [--json out.json]

The corpus is read as one stream of whitespace-separated tokens cut into 10,000-token sentences
(gensim's Text8Corpus); the parameters are this project's defaults, which are gensim's skip-gram
defaults: sg=1, negative=5, window=5, vector_size=100, min_count=5, sample=1e-3, epochs=5,
alpha=0.025, min_alpha=0.0001, workers=2. Needs the ``bench`` extra. ``benchmarks.bench`` runs
the same functions beside this project and Spark MLlib.
"""

from __future__ import annotations

import argparse
import gzip
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.evaluate import report, score
from benchmarks.params import gensim_kwargs, hyperparameters
from w2v_spark.config import Config
from w2v_spark.vectors.similarity import Embeddings

DEFAULT_CORPUS = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "text"
    / "wiki_text8style_100M.txt.gz"
)


def read_sentences(path: Path, length: int = 10_000) -> list[list[str]]:
    """The whole corpus as consecutive sentences of ``length`` tokens."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        tokens = fh.read().split()
    return [tokens[i : i + length] for i in range(0, len(tokens), length)]


def train_gensim(sentences: list[list[str]], hyper: dict[str, Any], workers: int
                 ) -> tuple[Any, dict[str, float]]:
    """Build the vocabulary and train; returns the model and the seconds of both steps."""
    from gensim.models import Word2Vec

    model = Word2Vec(**gensim_kwargs(hyper, workers))
    started = time.perf_counter()
    model.build_vocab(sentences)
    vocab_done = time.perf_counter()
    model.train(sentences, total_examples=model.corpus_count, epochs=model.epochs)
    trained = time.perf_counter()
    return model, {"vocab": vocab_done - started, "train": trained - vocab_done}


def gensim_embeddings(model: Any) -> Embeddings:
    """A trained gensim model's word vectors, in gensim's (descending count) order."""
    wv = model.wv
    counts = np.array([wv.get_vecattr(w, "count") for w in wv.index_to_key], dtype=np.int64)
    return Embeddings(list(wv.index_to_key), np.asarray(wv.vectors), counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args()
    hyper = hyperparameters(Config())
    sentences = read_sentences(args.corpus, hyper["max_sentence_length"])
    model, seconds = train_gensim(sentences, hyper, args.workers)
    total = seconds["vocab"] + seconds["train"]
    result = {"train_seconds": total, **score(gensim_embeddings(model))}
    report(result, args.json, label=f"gensim: vocabulary + training {total:.0f} s, ")


if __name__ == "__main__":
    main()
