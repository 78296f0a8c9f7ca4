"""Pairs per second of the NumPy SGNS kernel alone, on one core.

    .venv/bin/python -m benchmarks.kernel [--pairs 400000]

Pairs are drawn from a Zipf-like distribution over a 70,000-word vocabulary (text8's size), with
5 negatives each from the same distribution raised to 0.75; the timing covers negative sampling
and the update, as a training task runs them.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from w2v_spark.core.sampling import NegativeSampler  # noqa: E402
from w2v_spark.core.training import LearningRate, SliceTrainer  # noqa: E402

VOCAB = 70_000


def measure(pairs: int, dim: int, batch: int, seed: int = 0) -> float:
    """Pairs per second of :class:`SliceTrainer` on ``pairs`` random pairs."""
    rng = np.random.default_rng(seed)
    counts = (1e7 / np.arange(1, VOCAB + 1)).astype(np.int64) + 1
    prob = counts / counts.sum()
    centers = rng.choice(VOCAB, pairs, p=prob).astype(np.int32)
    contexts = rng.choice(VOCAB, pairs, p=prob).astype(np.int32)
    w_in = (rng.random((VOCAB, dim), dtype=np.float32) - 0.5) / dim
    trainer = SliceTrainer(
        w_in, np.zeros_like(w_in), NegativeSampler(counts, 0.75), rng,
        LearningRate(0.025, 0.0001, pairs), 5, batch, 0.0, 1.0,
    )
    started = time.perf_counter()
    trainer.train(centers, contexts)
    return pairs / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=400_000)
    args = parser.parse_args()
    print("| vector_size | batch_size | pairs/s (one core) |")
    print("|---|---|---|")
    for dim in (100, 300):
        for batch in (128, 1024, 4096):
            rate = measure(args.pairs, dim, batch)
            print(f"| {dim} | {batch} | {rate:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
