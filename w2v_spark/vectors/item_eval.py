"""Next-item evaluation of item vectors: held-out splits, HitRate@k and MRR@k.

Events: the last event of every sequence with at least two events is held out
(:func:`leave_last_out`); the model trains on the rest. Baskets: one item of every basket with at
least two items is held out, chosen by a hash of the basket and a seed (:func:`hold_out_baskets`).

A case is the held-out ``target`` with the sequence's training ``history`` (in order). Its
query is the mean unit vector of the last ``query_items`` history items that have a vector (0 =
all of them: the rest of a basket); every item of the history is left out of the candidates,
and the target's rank among the remaining items gives HitRate@k (target in the top k) and
MRR@k (1 / rank within the top k, else 0). A target without a vector, or a case whose history
has none, is a miss. The popularity baseline ranks items by their training count with the same
exclusions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from w2v_spark.core.ranking import hit_rate, mrr, target_ranks, unit_rows


@dataclass(frozen=True)
class Case:
    """One held-out item and the training history of its sequence."""

    history: tuple[str, ...]
    target: str


@dataclass(frozen=True)
class Scores:
    """HitRate@k and MRR@k over ``cases`` cases; ``answered`` had a query vector."""

    k: int
    hit_rate: float
    mrr: float
    cases: int
    answered: int

    def as_dict(self) -> dict[str, float | int]:
        """Plain dict for reports."""
        return {f"hit_rate@{self.k}": round(self.hit_rate, 4), f"mrr@{self.k}": round(self.mrr, 4),
                "cases": self.cases, "answered": self.answered}


# ---------------------------------------------------------------------------------------------
# splits (Spark)


def leave_last_out(events: DataFrame) -> tuple[DataFrame, DataFrame]:
    """Split events into training events and the last event of each sequence.

    Args:
        events: ``sequence, item, order`` rows (as
            :func:`w2v_spark.stages.items.typed_events` gives; rows with a null are dropped).

    Returns:
        ``(train, held_out)``: ``train`` has the columns of ``events`` without each held-out
        row; ``held_out`` is ``sequence, item`` for every sequence with two or more events.
        "Last" follows the pipeline's order: by ``order``, then ``item``.
    """
    valid = events.where(
        F.col("sequence").isNotNull() & F.col("item").isNotNull() & F.col("order").isNotNull()
    ).select("sequence", "item", "order")
    latest_first = Window.partitionBy("sequence").orderBy(F.desc("order"), F.desc("item"))
    ranked = valid.withColumn("_back", F.row_number().over(latest_first)).withColumn(
        "_n", F.count(F.lit(1)).over(Window.partitionBy("sequence"))
    )
    is_held = (F.col("_back") == 1) & (F.col("_n") >= 2)
    train = ranked.where(~is_held).select("sequence", "item", "order")
    held_out = ranked.where(is_held).select("sequence", "item")
    return train, held_out


def hold_out_baskets(baskets: DataFrame, seed: int = 1) -> tuple[DataFrame, DataFrame]:
    """Hold out one item of every basket with two or more items.

    Args:
        baskets: ``sequence, items`` rows (the sequences table of a baskets run).
        seed: selects which item (position ``xxhash64(sequence, seed) mod size``).

    Returns:
        ``(train, held_out)``: ``train`` is ``sequence, items`` with the held-out item removed
        (baskets of one item unchanged); ``held_out`` is ``sequence, item``.
    """
    size = F.size("items")
    pick = F.when(size >= 2, F.pmod(F.xxhash64("sequence", F.lit(seed)), size)).cast("int")
    marked = baskets.select("sequence", "items", pick.alias("_pick"))
    train = marked.select(
        "sequence",
        F.when(
            F.col("_pick").isNull(), F.col("items")
        ).otherwise(
            F.filter("items", lambda _x, i: i != F.col("_pick"))
        ).alias("items"),
    )
    held_out = marked.where(F.col("_pick").isNotNull()).select(
        "sequence", F.element_at("items", F.col("_pick") + 1).alias("item")
    )
    return train, held_out


def collect_cases(history: DataFrame, held_out: DataFrame) -> list[Case]:
    """Join each held-out item with its sequence's training history, on the driver.

    Args:
        history: ``sequence, items`` rows (the items of one sequence in order; several rows of
            one sequence, e.g. sessions, are joined in ``session`` order when that column is
            there).
        held_out: ``sequence, item`` rows.
    """
    order = [F.col("session")] if "session" in history.columns else []
    by_sequence = history.groupBy("sequence").agg(
        F.flatten(
            F.transform(
                F.array_sort(F.collect_list(F.struct(*order, F.col("items")))),
                lambda s: s["items"],
            )
        ).alias("history")
    )
    rows = held_out.join(by_sequence, on="sequence", how="left").orderBy("sequence").collect()
    return [Case(tuple(r["history"] or ()), r["item"]) for r in rows]


# ---------------------------------------------------------------------------------------------
# scoring (NumPy, on the driver)


def _queries(cases: Sequence[Case], index: dict[str, int], units: np.ndarray, query_items: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """(b, d) query vectors and (b,) whether each case has one."""
    queries = np.zeros((len(cases), units.shape[1]), dtype=np.float32)
    answered = np.zeros(len(cases), dtype=bool)
    for i, case in enumerate(cases):
        known = [index[w] for w in case.history if w in index]
        if query_items > 0:
            known = known[-query_items:]
        if known:
            queries[i] = units[known].mean(axis=0)
            answered[i] = True
    return queries, answered


def _ranks(cases: Sequence[Case], index: dict[str, int], block_scores: np.ndarray,
           start: int) -> np.ndarray:
    """Ranks of the targets of ``cases[start:start+b]`` given their (b, V) scores; every
    history item is left out (set to -inf) first."""
    b = block_scores.shape[0]
    targets = np.full(b, -1, dtype=np.int64)
    for j in range(b):
        case = cases[start + j]
        seen = [index[w] for w in case.history if w in index]
        block_scores[j, seen] = -np.inf
        targets[j] = index.get(case.target, -1)
    return target_ranks(block_scores, targets)


def score_vectors(cases: Sequence[Case], words: Sequence[str], vectors: np.ndarray, k: int = 10,
                  query_items: int = 1, block: int = 1024) -> Scores:
    """HitRate@k and MRR@k of item vectors on ``cases``.

    Args:
        cases: the held-out cases.
        words: (V,) item of each row of ``vectors``, in id order (ties go to the lower row).
        vectors: (V, d) item vectors.
        k: the cut-off.
        query_items: how many of the latest history items form the query (0 = all).
        block: cases scored per matrix product.
    """
    index = {w: i for i, w in enumerate(words)}
    units = unit_rows(vectors)
    ranks = np.zeros(len(cases), dtype=np.int64)
    answered_total = 0
    for start in range(0, len(cases), block):
        part = cases[start : start + block]
        queries, answered = _queries(part, index, units, query_items)
        scores = queries @ units.T  # (b, V)
        scores[~answered] = -np.inf
        ranks[start : start + len(part)] = _ranks(cases, index, scores, start)
        answered_total += int(answered.sum())
    return Scores(k, hit_rate(ranks, k), mrr(ranks, k), len(cases), answered_total)


def score_popularity(cases: Sequence[Case], counts: dict[str, int], k: int = 10,
                     block: int = 1024) -> Scores:
    """The most-popular baseline: items by descending training count (ties by item), the
    history left out as for vectors."""
    words = sorted(counts, key=lambda w: (-counts[w], w))
    index = {w: i for i, w in enumerate(words)}
    popularity = np.arange(len(words), 0, -1, dtype=np.float64)  # higher = more popular
    ranks = np.zeros(len(cases), dtype=np.int64)
    for start in range(0, len(cases), block):
        part = cases[start : start + block]
        scores = np.tile(popularity, (len(part), 1))
        ranks[start : start + len(part)] = _ranks(cases, index, scores, start)
    return Scores(k, hit_rate(ranks, k), mrr(ranks, k), len(cases), len(cases))


def item_counts(sequences: DataFrame) -> dict[str, int]:
    """Training count of every item of ``sequence, items`` rows (for the popularity baseline)."""
    rows = sequences.select(F.explode("items").alias("item")).groupBy("item").count().collect()
    return {r["item"]: int(r["count"]) for r in rows}
