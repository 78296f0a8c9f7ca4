"""How long the Google analogy set takes on a 30k x 100 model (the evaluation the benchmarks
run after every training), on random vectors.

    python -m benchmarks.evaluation_speed
"""

from __future__ import annotations

import time

import numpy as np

from w2v_spark.vectors.analogies import evaluate_analogies
from w2v_spark.vectors.eval_files import AnalogySection
from w2v_spark.vectors.similarity import Embeddings


def main() -> None:
    rng = np.random.default_rng(3)
    v, d = 30_000, 100
    emb = Embeddings([f"w{i}" for i in range(v)], rng.normal(size=(v, d)).astype(np.float32))
    questions = [
        (f"w{i}", f"w{j}", f"w{k}", f"w{m}") for i, j, k, m in rng.integers(0, v, (19_544, 4))
    ]
    sections = [AnalogySection(f"s{k}", questions[k::14]) for k in range(14)]
    start = time.perf_counter()
    result = evaluate_analogies(emb, sections, restrict_vocab=30_000)
    elapsed = time.perf_counter() - start
    print(f"{result.evaluated:,} questions on {v:,} x {d} in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
