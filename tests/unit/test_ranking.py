"""Top-k selection, exclusion masks and next-item metrics against slow references (no Spark)."""

from __future__ import annotations

import numpy as np
import pytest

from w2v_spark.core.ranking import (
    exclusion_mask,
    hit_rate,
    mrr,
    target_ranks,
    top_k,
    unit_rows,
)
from w2v_spark.vectors.item_eval import Case, score_popularity, score_vectors


def _reference_top_k(scores: np.ndarray, ids: np.ndarray, k: int) -> list[tuple[int, int, float]]:
    out = []
    for r in range(scores.shape[0]):
        candidates = [(-float(scores[r, c]), int(ids[c])) for c in range(scores.shape[1])
                      if scores[r, c] > -np.inf]
        for neg, cid in sorted(candidates)[:k]:
            out.append((r, cid, -neg))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_top_k_matches_sorting_with_ties_and_exclusions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, size=(30, 25)).astype(np.float32)  # many ties
    scores[rng.random(scores.shape) < 0.2] = -np.inf
    scores[3] = -np.inf  # a row with nothing left
    ids = rng.permutation(1000)[:25].astype(np.int32)
    for k in (1, 4, 25, 40):
        rows, best, values = top_k(scores, ids, k)
        got = list(zip(rows.tolist(), best.tolist(), values.tolist(), strict=True))
        assert got == _reference_top_k(scores, ids, k)


def test_exclusion_mask_matches_loops() -> None:
    rng = np.random.default_rng(4)
    ids = np.sort(rng.choice(200, size=40, replace=False)).astype(np.int32)
    lists = [rng.choice(200, size=rng.integers(0, 15), replace=False) for _ in range(12)]
    offsets = np.concatenate([[0], np.cumsum([len(x) for x in lists])]).astype(np.int64)
    excluded = np.concatenate(lists).astype(np.int32)
    mask = exclusion_mask((12, 40), ids, offsets, excluded)
    expected = np.array([[int(i) in set(lst.tolist()) for i in ids] for lst in lists])
    np.testing.assert_array_equal(mask, expected)
    assert expected.any()


def _reference_rank(row: np.ndarray, target: int) -> int:
    if target < 0 or row[target] == -np.inf:
        return 0
    order = sorted(range(row.size), key=lambda c: (-row[c], c))
    return order.index(target) + 1


def test_target_ranks_match_sorting() -> None:
    rng = np.random.default_rng(7)
    scores = rng.integers(0, 5, size=(50, 20)).astype(np.float64)
    scores[rng.random(scores.shape) < 0.1] = -np.inf
    targets = rng.integers(-1, 20, size=50)
    ranks = target_ranks(scores, targets)
    assert ranks.tolist() == [_reference_rank(scores[i], int(targets[i])) for i in range(50)]


def test_hit_rate_and_mrr_by_hand() -> None:
    ranks = np.array([1, 3, 0, 10, 11, 2])
    assert hit_rate(ranks, 10) == pytest.approx(4 / 6)
    assert mrr(ranks, 10) == pytest.approx((1 + 1 / 3 + 1 / 10 + 0 + 1 / 2) / 6)
    assert hit_rate(ranks, 1) == pytest.approx(1 / 6)
    assert mrr(ranks, 2) == pytest.approx((1 + 0.5) / 6)
    assert hit_rate(np.array([], dtype=np.int64), 10) == 0.0


def test_unit_rows() -> None:
    out = unit_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])


def test_score_vectors_by_hand() -> None:
    words = ["a", "b", "c", "d", "e"]
    vectors = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9], [-1, 0]], dtype=np.float32)
    cases = [
        Case(("a",), "b"),            # b is a's nearest: rank 1
        Case(("c", "a"), "b"),        # last item a; c and a seen; b rank 1
        Case(("a", "b"), "e"),        # query b; candidates d (0.19..), c, e: e last (rank 3)
        Case(("zzz",), "a"),          # no known history item: a miss
        Case(("c",), "unknown"),      # target without a vector: a miss
    ]
    scores = score_vectors(cases, words, vectors, k=2, query_items=1)
    assert (scores.cases, scores.answered) == (5, 4)
    assert scores.hit_rate == pytest.approx(2 / 5)
    assert scores.mrr == pytest.approx(2 / 5)
    # The mean of c and d (both seen) is nearest to b (0.16), then a (0.06), then e.
    whole = [Case(("c", "d"), "a")]
    assert score_vectors(whole, words, vectors, k=1, query_items=0).hit_rate == 0.0
    two = score_vectors(whole, words, vectors, k=2, query_items=0)
    assert (two.hit_rate, two.mrr) == (1.0, 0.5)
    # With only the last item (d) as the query, a comes after b too: d.b = 0.22, d.a = 0.11.
    assert score_vectors(whole, words, vectors, k=2, query_items=1).mrr == 0.5


def test_popularity_leaves_the_history_out() -> None:
    counts = {"a": 10, "b": 7, "c": 7, "d": 1}
    cases = [Case(("a",), "b"), Case(("b",), "c"), Case((), "c"), Case(("a", "b", "c"), "d")]
    scores = score_popularity(cases, counts, k=1)
    # b after a: rank 1; c after b: a, c -> rank 2; c with no history: a, b, c -> 3; d: rank 1
    assert scores.hit_rate == pytest.approx(2 / 4)
    assert scores.mrr == pytest.approx((1 + 0 + 0 + 1) / 4)
    assert score_popularity(cases, counts, k=3).mrr == pytest.approx((1 + 1 / 2 + 1 / 3 + 1) / 4)
