"""Pairs per second of the NumPy SGNS kernel alone, on one core, beside gensim's per-core rate.

    .venv/bin/python -m benchmarks.kernel [--corpus PATH] [--tokens 2000000] [--dims 100 300]
    .venv/bin/python -m benchmarks.kernel --profile 256:32   # where one variant's time goes
    .venv/bin/python -m benchmarks.kernel --lines 512:16:8   # the same, line by line

Both train one epoch of skip-gram with negative sampling on the same corpus slice (the first
``--tokens`` tokens, cut into 10,000-token sentences), with the same vocabulary (min_count 5),
window 5, sample 1e-3 and 5 negatives, on one thread:

- the kernel: the pairs of that epoch are generated first by the project's pair generator
  (not timed), then :class:`SliceTrainer` trains on them (timed: negative sampling and updates)
  for each ``batch_size:shared_negatives[:negative_groups]`` variant;
- gensim: ``Word2Vec(sg=1, workers=1)`` trains one epoch on the same sentences (timed: its
  ``train`` call, which generates its pairs on the fly). Its pairs/s is the number of pairs the
  same window and subsampling produce (the kernel's count) over its training time.

Needs the ``bench`` extra for gensim (the gensim column is left out without it) and for
``--lines`` (line_profiler).
"""

from __future__ import annotations

import benchmarks.single_thread  # noqa: F401 (sets the BLAS threads: before numpy loads)

# isort: split

import argparse
import cProfile
import gzip
import pstats
import time
from collections import Counter
from pathlib import Path

import numpy as np

from w2v_spark.core import scatter, sgns
from w2v_spark.core.pairs import epoch_pairs
from w2v_spark.core.sampling import NegativeSampler, keep_probabilities
from w2v_spark.core.training import LearningRate, SliceTrainer
from w2v_spark.stages.train import LOSS_EVERY, Model

DEFAULT_CORPUS = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "text"
    / "wiki_text8style_100M.txt.gz"
)
SENTENCE = 10_000


def read_tokens(path: Path, limit: int) -> list[str]:
    """The first ``limit`` whitespace-separated tokens of a (gzipped) text file."""
    opener = gzip.open if path.suffix == ".gz" else open
    tokens: list[str] = []
    with opener(path, "rt", encoding="utf-8") as fh:
        while len(tokens) < limit:
            piece = fh.read(1 << 22)
            if not piece:
                break
            tokens.extend(piece.split())
    return tokens[:limit]


class Slice:
    """A corpus slice as sentences, word ids and the epoch's skip-gram pairs."""

    def __init__(self, tokens: list[str]) -> None:
        counts = Counter(tokens)
        self.words = sorted((w for w, c in counts.items() if c >= 5),
                            key=lambda w: (-counts[w], w))
        index = {w: i for i, w in enumerate(self.words)}
        self.counts = np.array([counts[w] for w in self.words], dtype=np.int64)
        self.sentences = [tokens[i : i + SENTENCE] for i in range(0, len(tokens), SENTENCE)]
        ids = np.array([index.get(w, -1) for w in tokens], dtype=np.int32)
        offsets = np.append(np.arange(0, len(tokens), SENTENCE), len(tokens))
        lines = np.arange(offsets.size - 1, dtype=np.int64)
        pairs = epoch_pairs(ids, offsets, lines, np.zeros_like(lines),
                            keep_probabilities(self.counts, 1e-3), window=5, seed=1, epoch=0,
                            num_shards=1)
        self.inputs = pairs.context.astype(np.int32)
        self.outputs = pairs.center.astype(np.int32)


def parse_variant(variant: str) -> tuple[int, int, int]:
    """``B:K`` or ``B:K:G`` as (batch_size, shared_negatives, negative_groups); G defaults
    to 1."""
    parts = [int(x) for x in variant.split(":")]
    if len(parts) not in (2, 3):
        raise SystemExit(f"a variant is batch_size:shared_negatives[:negative_groups], got "
                         f"{variant!r}")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else 1


def kernel_rate(data: Slice, dim: int, variant: str, shuffle: int = 0) -> float:
    """Pairs per second of one pass of :class:`SliceTrainer` over the slice's pairs, in table
    order or (``shuffle`` > 0) shuffled within windows of that many pairs as in training."""
    batch, shared, groups = parse_variant(variant)
    model = Model.initial(data.counts.size, dim, 1)
    trainer = SliceTrainer(
        model.w_in, model.w_out, NegativeSampler(data.counts, 0.75), np.random.default_rng(1),
        LearningRate(0.025, 0.0001, data.inputs.size), 5, batch, 0.0, 1.0, shared,
        negative_groups=groups, shuffle_window=shuffle,
        loss_every=LOSS_EVERY,  # as a training task computes it
    )
    started = time.perf_counter()
    trainer.train_all([(data.inputs, data.outputs)])
    return data.inputs.size / (time.perf_counter() - started)


def gensim_seconds(data: Slice, dim: int) -> float | None:
    """Seconds of one epoch of gensim skip-gram on one worker, or None without gensim."""
    try:
        from gensim.models import Word2Vec
    except ImportError:
        return None
    model = Word2Vec(vector_size=dim, window=5, min_count=5, sample=1e-3, negative=5, sg=1,
                     workers=1, seed=1)
    model.build_vocab(data.sentences)
    started = time.perf_counter()
    model.train(data.sentences, total_examples=len(data.sentences), epochs=1)
    return time.perf_counter() - started


def profile(data: Slice, dim: int, variant: str) -> None:
    """Print the functions that take the time of one kernel pass (cProfile, own time)."""
    profiler = cProfile.Profile()
    profiler.runcall(kernel_rate, data, dim, variant)
    stats = pstats.Stats(profiler)
    total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
    print(f"| function (vector_size {dim}, variant {variant}) | own time | share |")
    print("|---|---|---|")
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])  # type: ignore[attr-defined]
    for (filename, line, name), row in rows[:12]:
        where = f"{Path(filename).name}:{line} {name}" if line else name
        print(f"| `{where}` | {row[2]:.2f} s | {100 * row[2] / total:.0f}% |")


#: What ``--lines`` times line by line: the minibatch loop and everything it calls per batch.
LINE_PROFILED = (
    SliceTrainer.train, sgns.StepPlans.build, sgns.sgns_step_shared, sgns.sgns_step,
    sgns._sigmoid, sgns._shared_loss, sgns._batch_loss, scatter.ScatterPlan.build,
    scatter.ScatterPlan.add, scatter._run_sums, NegativeSampler.sample,
)


def line_profile(data: Slice, dim: int, variant: str, shuffle: int) -> list[str]:
    """Markdown table of the lines that take the time of one kernel pass, with their share of
    the pass (line_profiler; the pass runs slower under it, the shares are what it shows)."""
    from line_profiler import LineProfiler

    batch, shared, groups = parse_variant(variant)
    profiler = LineProfiler(*LINE_PROFILED)
    started = time.perf_counter()
    profiler.runcall(kernel_rate, data, dim, variant, shuffle)
    elapsed = time.perf_counter() - started
    stats = profiler.get_stats()
    out = [f"Under the line profiler the pass took {elapsed:.1f} s (vector_size {dim}, batch "
           f"{batch}, shared negatives {shared} in {groups} groups, shuffle window "
           f"{shuffle:,}). Lines with at "
           "least 0.5% of the pass, by function in call order; a line that calls another "
           "function listed here includes that function's time.", "",
           "| line | code | hits | seconds | share of the pass |", "|---|---|---|---|---|"]
    by_line = {(Path(filename).resolve(), first): (filename, timings)
               for (filename, first, _), timings in stats.timings.items()}
    for func in LINE_PROFILED:
        code_of = func.__code__
        filename, timings = by_line.get(
            (Path(code_of.co_filename).resolve(), code_of.co_firstlineno), ("", []))
        source = Path(filename).read_text().splitlines() if timings else []
        for lineno, hits, total in sorted(timings):
            seconds = total * stats.unit
            if seconds < 0.005 * elapsed:
                continue
            code = source[lineno - 1].strip().replace("|", "\\|")
            out.append(f"| `{func.__qualname__}` {lineno} | `{code}` | {hits:,} | "
                       f"{seconds:.2f} | {100 * seconds / elapsed:.1f}% |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--tokens", type=int, default=2_000_000)
    parser.add_argument("--dims", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--variants", nargs="+", default=["128:0", "512:64", "512:16:8"],
                        help="batch_size:shared_negatives[:negative_groups] to time")
    parser.add_argument("--profile", metavar="B:K[:G]",
                        help="only profile this variant at the first --dims size")
    parser.add_argument("--lines", metavar="B:K[:G]",
                        help="only profile this variant line by line at the first --dims size")
    parser.add_argument("--shuffle", type=int, default=0,
                        help="shuffle the pairs within windows of this many (training's "
                             "shuffle_window; default 0, table order)")
    args = parser.parse_args()
    if not args.corpus.exists():
        raise SystemExit(f"{args.corpus} not found: pass --corpus")
    data = Slice(read_tokens(args.corpus, args.tokens))
    print(f"{args.tokens:,} tokens, {data.counts.size:,} words, {data.inputs.size:,} pairs")
    if args.profile:
        profile(data, args.dims[0], args.profile)
        return
    if args.lines:
        print("\n".join(line_profile(data, args.dims[0], args.lines, args.shuffle)))
        return
    print("| vector_size | trainer | pairs/s (one core) | vs gensim |")
    print("|---|---|---|---|")
    for dim in args.dims:
        seconds = gensim_seconds(data, dim)
        gensim_rate = data.inputs.size / seconds if seconds else None
        if gensim_rate:
            print(f"| {dim} | gensim sg=1 workers=1 | {gensim_rate:,.0f} | 1.00 |", flush=True)
        for variant in args.variants:
            batch, shared, groups = parse_variant(variant)
            rate = kernel_rate(data, dim, variant, args.shuffle)
            ratio = f"{rate / gensim_rate:.2f}" if gensim_rate else "-"
            in_groups = f" in {groups} groups" if groups > 1 else ""
            print(f"| {dim} | kernel batch {batch}, shared negatives {shared}{in_groups} | "
                  f"{rate:,.0f} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
