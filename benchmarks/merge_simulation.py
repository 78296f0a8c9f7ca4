"""How the merge of partition models affects quality: a one-process simulation of
``num_partitions x syncs_per_epoch`` training on the generated corpus, with the same NumPy core
the Spark tasks run, scored by the planted analogies solved.

    .venv/bin/python -m benchmarks.merge_simulation [--sentences 6000] [--epochs 5] [--dim 32]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import numpy as np

from w2v_spark.config import TrainConfig
from w2v_spark.core.averaging import TouchedRows, merge_touched
from w2v_spark.core.pairs import epoch_pairs
from w2v_spark.core.sampling import NegativeSampler, keep_probabilities
from w2v_spark.core.training import LearningRate, SliceTrainer
from w2v_spark.synthetic.text import generate_sentences, planted_structure
from w2v_spark.vectors.similarity import Embeddings

BATCH = TrainConfig().batch_size


class Corpus:
    """The generated corpus encoded as ids, with its vocabulary (min_count 5)."""

    def __init__(self, sentences: int) -> None:
        lines = [s.split() for s in generate_sentences(sentences, seed=0)]
        counts = Counter(w for line in lines for w in line)
        self.words = sorted((w for w, c in counts.items() if c >= 5), key=lambda w: (-counts[w], w))
        index = {w: i for i, w in enumerate(self.words)}
        self.counts = np.array([counts[w] for w in self.words], dtype=np.int64)
        self.ids = np.array([index.get(w, -1) for line in lines for w in line], dtype=np.int32)
        self.offsets = np.concatenate([[0], np.cumsum([len(line) for line in lines])])
        self.line_ids = np.arange(len(lines), dtype=np.int64)


def simulate(corpus: Corpus, partitions: int, rounds: int, merge: str, *, epochs: int,
             dim: int, seed: int) -> int:
    """Train as the Spark job would, in one process; return planted analogies solved."""
    vocab = len(corpus.words)
    rng = np.random.default_rng(seed)
    w_in = (rng.random((vocab, dim), dtype=np.float32) - 0.5) / dim
    w_out = np.zeros_like(w_in)
    sampler = NegativeSampler(corpus.counts, 0.75)
    keep = keep_probabilities(corpus.counts, 1e-3)
    chunks = np.zeros_like(corpus.line_ids)
    shards = partitions * rounds
    per_epoch = [
        epoch_pairs(corpus.ids, corpus.offsets, corpus.line_ids, chunks, keep, window=5,
                    seed=seed, epoch=e, num_shards=shards)
        for e in range(epochs)
    ]
    scale = float(partitions) if merge == "mean" else 1.0
    schedule = LearningRate(0.025 * scale, 0.0001 * scale, sum(p.center.size for p in per_epoch))
    done = 0
    for epoch, pairs in enumerate(per_epoch):
        for rnd in range(rounds):
            masks = [pairs.shard == rnd * partitions + p for p in range(partitions)]
            sizes = [int(m.sum()) for m in masks]
            parts_in, parts_out = [], []
            for p, mask in enumerate(masks):
                trainer = SliceTrainer(
                    w_in.copy(), w_out.copy(), sampler,
                    np.random.default_rng([seed, epoch, rnd, p]), schedule, 5, BATCH,
                    float(done), sum(sizes) / max(sizes[p], 1),
                )
                trainer.train(pairs.context[mask], pairs.center[mask])
                parts_in.append(TouchedRows(np.flatnonzero(trainer.touched_in),
                                            trainer.w_in[trainer.touched_in]))
                parts_out.append(TouchedRows(np.flatnonzero(trainer.touched_out),
                                             trainer.w_out[trainer.touched_out]))
            merge_touched(w_in, parts_in, merge, partitions)
            merge_touched(w_out, parts_out, merge, partitions)
            done += sum(sizes)
    emb = Embeddings(corpus.words, w_in)
    return sum(
        emb.most_similar(positive=[b1, a2], negative=[a1], topn=1)[0][0] == b2
        for a1, b1, a2, b2 in planted_structure().analogies()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=6000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    corpus = Corpus(args.sentences)
    total = len(planted_structure().analogies())
    print(f"| partitions | syncs/epoch | merge | solved of {total} (per seed) | seconds |")
    print("|---|---|---|---|---|")
    for partitions, rounds, merge in [
        (1, 1, "sum"),
        (2, 4, "mean"), (2, 4, "sum"), (2, 4, "average"),
        (4, 4, "mean"), (4, 4, "sum"), (4, 4, "average"),
        (8, 8, "mean"), (8, 8, "sum"),
    ]:
        started = time.perf_counter()
        solved = [simulate(corpus, partitions, rounds, merge, epochs=args.epochs, dim=args.dim,
                           seed=s) for s in args.seeds]
        print(f"| {partitions} | {rounds} | {merge} | {solved} | "
              f"{time.perf_counter() - started:.0f} |", flush=True)


if __name__ == "__main__":
    main()
