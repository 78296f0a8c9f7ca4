"""Stability of the minibatch SGNS update against batch size, on a real pairs table.

    .venv/bin/python -m benchmarks.batch_stability --run /tmp/t8/run2 [--lr 0.05]

Trains one task, as a Spark training task would, on shard 0 of epoch 0 of a finished run's pairs
with a fixed learning rate, once per batch size, and prints after every million pairs the
held-out loss (200,000 pairs spread over the same shard) and the largest output weight.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from w2v_spark.core.sampling import NegativeSampler
from w2v_spark.core.sgns import sgns_loss
from w2v_spark.core.training import LearningRate, SliceTrainer
from w2v_spark.pairs import block_ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="output directory of a run")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--batches", type=int, nargs="+", default=[1024, 128])
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
    for batch in args.batches:
        rng = np.random.default_rng(1)
        w_in = (rng.random((counts.size, args.dim), dtype=np.float32) - 0.5) / args.dim
        w_out = np.zeros_like(w_in)
        trainer = SliceTrainer(w_in, w_out, sampler, np.random.default_rng(2),
                               LearningRate(args.lr, args.lr, 1), 5, batch, 0.0, 0.0)
        for start in range(0, centers.size, 1_000_000):
            stop = start + 1_000_000
            trainer.train(contexts[start:stop], centers[start:stop])
            loss = sgns_loss(w_in, w_out, held_o, held_c, held_neg) / held_c.size
            print(f"batch {batch}: {min(stop, centers.size):>9,} pairs  held-out loss "
                  f"{loss:.3f}  max |w_out| {np.abs(w_out).max():.2f}", flush=True)


if __name__ == "__main__":
    main()
