"""Stability of the minibatch SGNS update against batch size and shared negatives, on a
real pairs table.

    .venv/bin/python -m benchmarks.batch_stability --run /tmp/t8/run [--lr 0.05] \
        [--variants 128:0 256:32 256:64:1000000] [--seeds 2 3]

Trains one task, as a Spark training task would, on shard 0 of epoch 0 of a finished run's pairs
with a fixed learning rate, once per ``batch_size:shared_negatives[:shuffle_window]`` variant
and negative-draw seed, and prints after every million pairs the held-out loss (200,000 pairs
spread over the same shard, 5 negatives of their own) and the largest output weight; at the end
of each, the training seconds and pairs per second (the held-out evaluations left out). The
shuffle window, if given, shuffles within each million pairs. BLAS runs on one thread, as in a
Spark Python worker (Spark sets ``OMP_NUM_THREADS`` to ``spark.task.cpus`` there).
"""

from __future__ import annotations

import benchmarks.single_thread  # noqa: F401 (sets the BLAS threads: before numpy loads)

# isort: split

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from w2v_spark.core.sampling import NegativeSampler
from w2v_spark.core.sgns import sgns_loss
from w2v_spark.core.training import LearningRate, SliceTrainer
from w2v_spark.stages.pairs import block_ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="output directory of a run")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--variants", nargs="+", default=["1024:0", "128:0"],
                        help="batch_size:shared_negatives[:shuffle_window] (window 0 = in order)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[2],
                        help="seeds of the negative draws")
    parser.add_argument("--dim", type=int, default=100)
    args = parser.parse_args()
    counts = pq.read_table(args.run / "vocab").sort_by("word_id").column("count").to_numpy()
    files = sorted((args.run / "pairs" / "epoch=0" / "shard=0").glob("*.parquet"))
    table = pa.concat_tables([pq.read_table(f) for f in files])
    centers = block_ids(table.column("center"))
    contexts = block_ids(table.column("context"))
    sampler = NegativeSampler(counts, 0.75)
    held_c, held_o = centers[::97][:200_000], contexts[::97][:200_000]
    held_neg = sampler.sample(np.random.default_rng(9), (held_c.size, 5))
    print(f"{centers.size:,} pairs; lr {args.lr}")
    for variant in args.variants:
        batch, shared, shuffle = (int(x) for x in (*variant.split(":"), "0")[:3])
        for seed in args.seeds:
            rng = np.random.default_rng(1)
            # word2vec's ±0.5/d start, not Model.initial's ±1/d: the held-out losses in
            # benchmarks/results/batch-stability.md were measured with it and stay comparable.
            w_in = (rng.random((counts.size, args.dim), dtype=np.float32) - 0.5) / args.dim
            w_out = np.zeros_like(w_in)
            trainer = SliceTrainer(w_in, w_out, sampler, np.random.default_rng(seed),
                                   LearningRate(args.lr, args.lr, 1), 5, batch, 0.0, 0.0,
                                   shared_negatives=shared, shuffle_window=shuffle)
            seconds = 0.0
            for start in range(0, centers.size, 1_000_000):
                stop = start + 1_000_000
                began = time.perf_counter()
                trainer.train_all([(contexts[start:stop], centers[start:stop])])
                seconds += time.perf_counter() - began
                loss = sgns_loss(w_in, w_out, held_o, held_c, held_neg) / held_c.size
                print(f"{variant} seed {seed}: {min(stop, centers.size):>9,} pairs  held-out "
                      f"loss {loss:.3f}  max |w_out| {np.abs(w_out).max():.2f}", flush=True)
            print(f"{variant} seed {seed}: trained in {seconds:.1f} s, "
                  f"{centers.size / seconds:,.0f} pairs/s on one core", flush=True)


if __name__ == "__main__":
    main()
