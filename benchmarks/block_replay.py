"""A replay of training in vocabulary blocks on one machine, in NumPy: the strata of any K and
number of passes, trained one after the other exactly as the tasks of the blocks strategy train
them (the same trainer, samplers and schedule), from the pairs of an existing run. It measures
how the scheme's settings change quality without Spark's per-sub-round cost.

    python -m benchmarks.block_replay --run RUN --blocks 1,4,16 --passes 1,4 --row-cap 0,128

``RUN`` is a run directory with a vocab and a pairs table (of either strategy: the pairs of an
epoch are pooled and put in random order first, then cut into strata and passes). Each
combination is trained from the initial model and scored by :func:`benchmarks.evaluate.score`.
Results go to ``benchmarks/results/NAME.md`` (``block-replay``, or ``--section``).
"""

from __future__ import annotations

import argparse
import time
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from benchmarks.evaluate import score
from benchmarks.results import environment, environment_lines, load_average, md_table, publish
from w2v_spark.core.blocks import block_sampler, output_block, strata, vocab_blocks
from w2v_spark.core.training import LearningRate, SliceTrainer, initial_input_rows
from w2v_spark.stages.pairs import block_ids
from w2v_spark.vectors.similarity import Embeddings


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of the replay."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, required=True, help="a run directory with vocab and pairs")
    p.add_argument("--blocks", default="1,4", help="K values")
    p.add_argument("--passes", default="1", help="passes per epoch")
    p.add_argument("--row-cap", default="128", help="train.row_cap values")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--shared-negatives", type=int, default=64)
    p.add_argument("--vector-size", type=int, default=100)
    p.add_argument("--alpha", type=float, default=0.025)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--section", default="block-replay")
    args = p.parse_args(argv)
    args.blocks, args.passes = _ints(args.blocks), _ints(args.passes)
    args.row_cap = [float(x) for x in args.row_cap.split(",") if x.strip()]
    return args


def read_epochs(run: Path) -> tuple[list[str], np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Words and counts of the vocab table, and every epoch's (center, context) pairs pooled
    from all its shards and put in a random order drawn from the epoch's number."""
    vocab = pq.read_table(run / "vocab").sort_by("word_id")
    epochs = []
    for number, directory in enumerate(sorted((run / "pairs").glob("epoch=*"),
                                              key=lambda p: int(p.name.split("=")[1]))):
        table = pq.read_table(directory, columns=["center", "context"])
        center, context = block_ids(table.column("center")), block_ids(table.column("context"))
        order = np.random.default_rng(number).permutation(center.size)
        epochs.append((center[order], context[order]))
    return vocab.column("word").to_pylist(), vocab.column("count").to_numpy(), epochs


def replay(counts: np.ndarray, epochs: list[tuple[np.ndarray, np.ndarray]], k: int,
           passes: int, row_cap: float, args: argparse.Namespace) -> np.ndarray:
    """The input vectors (V, d) after training every epoch's strata in sub-round order: pass
    ``p`` holds the pairs whose draw (from the epoch's number) is ``p``, and in sub-round ``r``
    of a pass task ``t`` trains input block ``t`` against output block ``(t + r) mod K``."""
    blocks = vocab_blocks(counts, k)
    vocab_size, dim = counts.size, args.vector_size
    w_in = initial_input_rows(np.arange(vocab_size), dim, args.seed)
    w_out = np.zeros((vocab_size, dim), np.float32)
    total = sum(c.size for c, _ in epochs)
    done = 0
    for number, (center, context) in enumerate(epochs):
        sub, task = strata(blocks, context, center)
        piece = np.random.default_rng(100 + number).integers(0, passes, size=center.size)
        for r in range(passes * k):
            in_round = (piece == r // k) & (sub == r % k)
            sizes = [int((in_round & (task == t)).sum()) for t in range(k)]
            for t in range(k):
                chosen = in_round & (task == t)
                out_block = output_block(r, t, k)
                rows_in, rows_out = blocks.ids(t), blocks.ids(out_block)
                trainer = SliceTrainer(
                    w_in=w_in[rows_in].copy(), w_out=w_out[rows_out].copy(),
                    sampler=block_sampler(counts, blocks, out_block, 0.75),
                    rng=np.random.default_rng([args.seed, number, r, t]),
                    schedule=LearningRate(args.alpha, 0.0001, total), negative=5,
                    batch_size=args.batch_size, shared_negatives=args.shared_negatives,
                    shuffle_window=1_000_000, loss_every=16, progress_start=float(done),
                    progress_scale=sum(sizes) / max(sizes[t], 1), row_cap=row_cap,
                )
                trainer.train_all([(blocks.local_of[context[chosen]],
                                    blocks.local_of[center[chosen]])])
                w_in[rows_in], w_out[rows_out] = trainer.w_in, trainer.w_out
            done += sum(sizes)
    return w_in


def markdown(data: dict[str, Any]) -> str:
    """The page of one replay."""
    rows = []
    for r in data["rows"]:
        q = r["quality"]
        figures = (["diverged", "—", "—"] if q is None else
                   [f"{100 * q['analogy_accuracy']:.2f}%", f"{q['ws353_spearman']:.3f}",
                    f"{q['men_spearman']:.3f}"])
        rows.append([r["blocks"], r["passes"], f"{r['row_cap']:g}", r["sub_rounds_per_epoch"],
                     *figures, f"{r['seconds']:,.0f}"])
    lines = [
        "# Training in vocabulary blocks, replayed in NumPy: quality against K, passes and "
        "the row cap", "",
        f"Pairs of the run `{data['run']}` ({data['pairs']:,} pairs in {data['epochs']} "
        f"epochs, {data['words']:,} words), pooled per epoch and put in random order, then cut "
        f"into strata and passes; minibatch {data['batch_size']}, "
        f"{data['shared_negatives']} shared negatives, d = {data['vector_size']}. Every row "
        "starts from the same initial model; one process, one stratum after the other.", "",
        *md_table(["K", "passes", "row_cap", "sub-rounds per epoch", "analogy", "WS353", "MEN",
                   "seconds"], rows), "",
        *environment_lines(data),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    load_at_start = load_average()
    args = parse_args(argv)
    words, counts, epochs = read_epochs(args.run)
    rows = []
    # one block has nothing to interleave: it is trained in one pass
    cells = dict.fromkeys((k, passes if k > 1 else 1, cap)
                          for k, passes, cap in product(args.blocks, args.passes, args.row_cap))
    for k, passes, cap in cells:
        began = time.perf_counter()
        with np.errstate(over="ignore", invalid="ignore"):
            w_in = replay(counts, epochs, k, passes, cap, args)
        finite = bool(np.isfinite(w_in).all())
        quality = score(Embeddings(words, w_in)) if finite else None
        rows.append({"blocks": k, "passes": passes, "row_cap": cap,
                     "sub_rounds_per_epoch": k * passes,
                     "quality": quality, "seconds": time.perf_counter() - began})
        print(rows[-1]["blocks"], rows[-1]["passes"], cap,
              quality and round(100 * quality["analogy_accuracy"], 2), flush=True)
    data = {**environment(load_at_start), "run": str(args.run), "words": len(words),
            "pairs": sum(c.size for c, _ in epochs), "epochs": len(epochs),
            "batch_size": args.batch_size, "shared_negatives": args.shared_negatives,
            "vector_size": args.vector_size, "rows": rows}
    publish(args.section, data, markdown(data), args.json, not args.no_write)


if __name__ == "__main__":
    main()
