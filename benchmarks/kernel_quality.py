"""Quality and speed of kernel settings on one epoch of a run's real pairs, in one process.

    .venv/bin/python -m benchmarks.kernel_quality --run out/text8 \\
        [--variants 128:0 512:64 512:16:8] [--epoch 0] [--max-pairs N] [--alpha 0.025] \\
        [--shuffle 1000000]

Reads the ``vocab`` table and the pairs of one epoch of a finished run (all shards, in shard
order), trains a fresh model on them with :class:`SliceTrainer` (one partition, the learning rate
decaying from ``--alpha`` to ``--alpha`` / 250 over those pairs, the pairs shuffled within
windows of ``--shuffle`` as a training task does) once per variant, and scores each model with
the standard evaluation (``benchmarks/evaluate.py``). A variant ``B:K[:G]`` is a minibatch of B
pairs cut into G groups (default 1) with K shared negatives each (``K = 0``: 5 negatives per
pair). Every variant trains on the same pairs from the same initial model, so the differences
are the kernel's. A task of a 2-partition run with ``merge = "mean"`` trains at twice the
config's ``alpha``: ``--alpha 0.1`` is what ``conf/fast.toml`` gives it.
"""

from __future__ import annotations

import benchmarks.single_thread  # noqa: F401 (sets the BLAS threads: before numpy loads)

# isort: split

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from benchmarks.evaluate import score
from benchmarks.kernel import parse_variant
from w2v_spark.core.sampling import NegativeSampler
from w2v_spark.core.training import LearningRate, SliceTrainer
from w2v_spark.stages.pairs import block_ids
from w2v_spark.stages.train import LOSS_EVERY, Model
from w2v_spark.vectors.similarity import Embeddings


def read_pairs(run: Path, epoch: int, max_pairs: int) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, outputs) int32 of one epoch: the context word's vector predicts the center."""
    epoch_dir = run / "pairs" / f"epoch={epoch}"
    shards = sorted(epoch_dir.glob("shard=*"), key=lambda p: int(p.name.split("=")[1]))
    centers, contexts = [], []
    for shard in shards:
        for part in sorted(shard.glob("*.parquet")):
            table = pq.read_table(part, columns=["center", "context"])
            centers.append(block_ids(table["center"]))
            contexts.append(block_ids(table["context"]))
    center = np.concatenate(centers)[:max_pairs]
    context = np.concatenate(contexts)[:max_pairs]
    return context.astype(np.int32), center.astype(np.int32)


def train_variant(counts: np.ndarray, inputs: np.ndarray, outputs: np.ndarray, variant: str,
                  dim: int, seed: int, alpha: float, shuffle: int) -> tuple[np.ndarray, float]:
    """The input vectors after one pass, and the pairs per second of the pass."""
    batch, shared, groups = parse_variant(variant)
    model = Model.initial(counts.size, dim, seed)
    trainer = SliceTrainer(
        model.w_in, model.w_out, NegativeSampler(counts, 0.75), np.random.default_rng(seed),
        LearningRate(alpha, alpha / 250, inputs.size), 5, batch, 0.0, 1.0, shared,
        negative_groups=groups, shuffle_window=shuffle, loss_every=LOSS_EVERY,
    )
    started = time.perf_counter()
    step = 1 << 20
    trainer.train_all((inputs[s : s + step], outputs[s : s + step])
                      for s in range(0, inputs.size, step))
    return trainer.w_in, inputs.size / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, type=Path, help="output directory of a run")
    parser.add_argument("--variants", nargs="+", default=["128:0", "512:64", "512:16:8"],
                        help="batch_size:shared_negatives[:negative_groups]")
    parser.add_argument("--epoch", type=int, default=0)
    parser.add_argument("--max-pairs", type=int, default=1 << 62)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--alpha", type=float, default=0.025,
                        help="starting learning rate (decays to alpha / 250)")
    parser.add_argument("--shuffle", type=int, default=0,
                        help="shuffle the pairs within windows of this many (0 = table order)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    vocab = pq.read_table(args.run / "vocab", columns=["word", "word_id", "count"])
    order = np.argsort(vocab["word_id"].to_numpy())
    words = [vocab["word"][int(i)].as_py() for i in order]
    counts = vocab["count"].to_numpy()[order].astype(np.int64)
    inputs, outputs = read_pairs(args.run, args.epoch, args.max_pairs)
    print(f"{inputs.size:,} pairs, {counts.size:,} words", flush=True)
    print("| batch_size | shared_negatives | negative_groups | pairs/s (one core) | analogy "
          "| WS353 | MEN |")
    print("|---|---|---|---|---|---|---|")
    results = []
    for variant in args.variants:
        batch, shared, groups = parse_variant(variant)
        w_in, rate = train_variant(counts, inputs, outputs, variant, args.dim, args.seed,
                                   args.alpha, args.shuffle)
        head = f"| {batch} | {shared} | {groups} | {rate:,.0f} |"
        if not np.all(np.isfinite(w_in)):
            print(f"{head} diverged | | |", flush=True)
            continue
        result = score(Embeddings(words, w_in))
        results.append({"batch_size": batch, "shared_negatives": shared,
                        "negative_groups": groups, "pairs_per_sec": rate,
                        **{k: result[k] for k in ("analogy_accuracy", "ws353_spearman",
                                                  "men_spearman")}})
        print(f"{head} {100 * result['analogy_accuracy']:.1f}% "
              f"| {result['ws353_spearman']:.3f} | {result['men_spearman']:.3f} |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
