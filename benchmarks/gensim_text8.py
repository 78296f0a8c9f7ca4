"""gensim skip-gram on the same corpus and cores, scored by the same evaluator.

    .venv/bin/python -m benchmarks.gensim_text8 [--corpus PATH] [--json out.json]

The corpus is read as one stream of whitespace-separated tokens cut into 10,000-token sentences
(gensim's Text8Corpus); the parameters are this project's defaults, which are gensim's skip-gram
defaults: sg=1, negative=5, window=5, vector_size=100, min_count=5, sample=1e-3, epochs=5,
alpha=0.025, min_alpha=0.0001, workers=2. Needs the ``bench`` extra.
"""

from __future__ import annotations

import argparse
import gzip
import time
from pathlib import Path

import numpy as np

from benchmarks.evaluate import report, score
from w2v_spark.similarity import Embeddings

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


def main() -> None:
    from gensim.models import Word2Vec

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args()
    sentences = read_sentences(args.corpus)
    started = time.perf_counter()
    model = Word2Vec(
        sentences, sg=1, negative=5, window=5, vector_size=100, min_count=5, sample=1e-3,
        epochs=5, alpha=0.025, min_alpha=0.0001, workers=args.workers, seed=1,
    )
    seconds = time.perf_counter() - started
    wv = model.wv
    emb = Embeddings(list(wv.index_to_key), np.asarray(wv.vectors),
                     np.array([wv.get_vecattr(w, "count") for w in wv.index_to_key]))
    result = {"train_seconds": seconds, **score(emb)}
    report(result, args.json, label=f"gensim: vocabulary + training {seconds:.0f} s, ")

if __name__ == "__main__":
    main()
