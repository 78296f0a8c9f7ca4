"""Top-k selection, exclusion masks and next-item metrics against slow references (no Spark)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.extras import extra
from w2v_spark.core.ranking import (
    exclusion_mask,
    hit_rate,
    merge_top_k,
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
        values, cols = top_k(scores, k, ids=ids)
        rows, at = np.nonzero(values > -np.inf)
        best = ids[cols[rows, at]]
        got = list(zip(rows.tolist(), best.tolist(), values[rows, at].tolist(), strict=True))
        assert got == _reference_top_k(scores, ids, k)


def _sorted_top_k(scores: np.ndarray, k: int, ids: np.ndarray | None = None
                  ) -> tuple[list[list[float]], list[list[int]]]:
    """Every row sorted whole by (score desc, id asc), NaN as -inf; the first k of each."""
    values, columns = [], []
    for r in range(scores.shape[0]):
        def key(c: int, r: int = r) -> tuple[float, object]:
            score = float(scores[r, c])
            tie = c if ids is None else (ids[c] if ids.ndim == 1 else ids[r, c])
            return (np.inf if math.isnan(score) else -score, tie)
        best = sorted(range(scores.shape[1]), key=key)[:k]
        columns.append(best)
        values.append([-key(c)[0] for c in best])
    return values, columns


def _random_scores(rng: np.random.Generator, b: int, m: int) -> np.ndarray:
    kind = rng.integers(0, 3)
    if kind == 0:
        scores = rng.integers(0, 4, size=(b, m)).astype(np.float32)  # ties everywhere
    elif kind == 1:
        scores = rng.standard_normal((b, m))
    else:
        scores = np.full((b, m), 0.5)  # one tie across every group
    scores[rng.random(scores.shape) < rng.random() * 0.6] = -np.inf
    if rng.random() < 0.3:
        scores[rng.random(scores.shape) < 0.05] = np.nan
    return scores


@pytest.mark.parametrize("seed", range(6))
def test_top_k_equals_sorting_every_row(seed: int) -> None:
    """Narrow and wide (pruned) rows, ties, -inf, NaN, k > m, every kind of ids."""
    rng = np.random.default_rng(seed)
    for _ in range(40):
        b, m, k = int(rng.integers(0, 5)), int(rng.integers(1, 1400)), int(rng.integers(0, 30))
        scores = _random_scores(rng, b, m)
        ids = [None, rng.permutation(m), rng.permutation(b * m).reshape(b, m),
               np.array([f"id{i:05d}" for i in rng.permutation(m)])][seed % 4]
        values, columns = top_k(scores, k, ids=ids)
        assert values.shape == columns.shape == (b, min(k, m))
        assert values.dtype == scores.dtype and columns.dtype == np.intp
        want_values, want_columns = _sorted_top_k(scores, k, ids)
        assert columns.tolist() == want_columns
        assert values.tolist() == want_values


def test_top_k_ends_short_rows_in_minus_inf_and_takes_nan_for_minus_inf() -> None:
    scores = np.array([[0.5, -np.inf, np.nan, 0.5, 1.0], [-np.inf] * 5])
    values, columns = top_k(scores, 4)
    assert columns.tolist() == [[4, 0, 3, 1], [0, 1, 2, 3]]
    assert values.tolist() == [[1.0, 0.5, 0.5, -np.inf], [-np.inf] * 4]
    values, columns = top_k(scores, 10, ids=np.array([9, 8, 7, 6, 5]))
    assert columns.tolist() == [[4, 3, 0, 2, 1], [4, 3, 2, 1, 0]]
    assert top_k(scores, 0)[0].shape == (2, 0)
    assert top_k(np.empty((0, 3)), 2)[1].shape == (0, 2)


def test_top_k_gensim_ties_are_gensims_argsort() -> None:
    matutils = extra("gensim.matutils")
    rng = np.random.default_rng(3)
    for m, topn in [(40, 5), (300, 8), (300, 300), (7, 12), (5000, 6)]:
        row = rng.integers(0, 5, size=m).astype(np.float32)  # many equal scores
        row[rng.random(m) < 0.1] = np.nan
        values, columns = top_k(row[None, :], topn, ties="gensim")
        want = matutils.argsort(row, topn=topn, reverse=True)
        assert columns[0].tolist() == list(want)
        np.testing.assert_array_equal(values[0], row[want])


def test_top_k_rejects_bad_arguments() -> None:
    scores = np.zeros((2, 3))
    with pytest.raises(ValueError, match="k must be"):
        top_k(scores, -1)
    with pytest.raises(ValueError, match="shape"):
        top_k(np.zeros(3), 1)
    with pytest.raises(ValueError, match="ids must have shape"):
        top_k(scores, 1, ids=np.arange(4))
    with pytest.raises(ValueError, match="ties"):
        top_k(scores, 1, ties="lowest")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="and ties='id'"):
        top_k(scores, 1, ids=np.arange(3), ties="gensim")


def test_merge_top_k_is_the_top_k_of_both_lists() -> None:
    rng = np.random.default_rng(5)
    for _ in range(50):
        b, ka, kb, k = (int(x) for x in rng.integers(1, 12, size=4))
        ids = np.array([f"k{i:03d}" for i in rng.permutation(b * (ka + kb))]).reshape(b, -1)
        scores = rng.integers(0, 3, size=ids.shape).astype(np.float64)
        scores[rng.random(scores.shape) < 0.2] = -np.inf
        merged, merged_ids = merge_top_k(scores[:, :ka], ids[:, :ka], scores[:, ka:],
                                         ids[:, ka:], k)
        want_values, want_columns = _sorted_top_k(scores, k, ids)
        assert merged.tolist() == want_values
        assert merged_ids.tolist() == [ids[r, c].tolist() for r, c in enumerate(want_columns)]


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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unit_rows_float64_arithmetic_bit_for_bit(dtype: type) -> None:
    """Rows and single vectors: the float64 formula exactly, rounded once; zero rows zero."""
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((500, 37)) * rng.uniform(1e-3, 1e3, (500, 1))).astype(dtype)
    x[[3, 100]] = 0.0
    x[7] = -0.0
    out = unit_rows(x)
    assert out.dtype == np.float32 and out.shape == x.shape
    x64 = x.astype(np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", x64, x64))
    want = np.zeros_like(x64)
    nonzero = norms > 0
    want[nonzero] = x64[nonzero] * (1.0 / norms[nonzero])[:, None]
    np.testing.assert_array_equal(out, want.astype(np.float32))
    assert not out[[3, 7, 100]].any() and np.signbit(out[7]).all()
    for i in (0, 3, 7, 499):
        single = unit_rows(x[i])
        assert single.shape == (37,) and single.dtype == np.float32
        np.testing.assert_array_equal(single, out[i])
    assert unit_rows(x) is not x


def test_unit_rows_float32_arithmetic_is_gensims_normed_vectors() -> None:
    rng = np.random.default_rng(12)
    x = (rng.standard_normal((300, 20)) * rng.uniform(0.1, 10, (300, 1))).astype(np.float32)
    x[5] = 0.0
    out = unit_rows(x, precision="float32")
    with np.errstate(invalid="ignore"):
        want = x / np.linalg.norm(x, axis=1)[:, None]  # gensim's get_normed_vectors
    want[5] = 0.0
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(unit_rows(x[1], precision="float32"), out[1])
    with pytest.raises(ValueError, match="precision"):
        unit_rows(x, precision="float16")  # type: ignore[arg-type]


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
