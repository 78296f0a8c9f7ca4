"""Tests for frequent-word subsampling and the negative-sampling distribution (no Spark)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from w2v_spark.core.sampling import NegativeSampler, keep_probabilities


def test_keep_probabilities_hand_computed() -> None:
    # total 1000, t = 1e-3: f = 100t, 4t, t and 895t.
    counts = np.array([100, 4, 1, 895])
    keep = keep_probabilities(counts, 1e-3)
    assert keep.dtype == np.float64
    assert keep[0] == pytest.approx((10.0 + 1.0) / 100.0, rel=1e-12)  # 0.11
    assert keep[1] == pytest.approx(0.75, rel=1e-12)
    assert keep[2] == 1.0  # (1 + 1) * 1 = 2, clipped
    assert keep[3] == pytest.approx((math.sqrt(895.0) + 1.0) / 895.0, rel=1e-12)


def test_keep_probabilities_without_subsampling() -> None:
    counts = np.array([1, 10, 100_000])
    np.testing.assert_array_equal(keep_probabilities(counts, 0.0), np.ones(3))
    np.testing.assert_array_equal(keep_probabilities(counts, -1.0), np.ones(3))


def test_keep_probabilities_monotone_and_in_range() -> None:
    rng = np.random.default_rng(0)
    counts = np.sort(rng.integers(1, 1_000_000, size=500))
    keep = keep_probabilities(counts, 1e-4)
    assert np.all(keep > 0.0) and np.all(keep <= 1.0)
    assert np.all(np.diff(keep) <= 0.0)
    below_one = keep < 1.0
    assert below_one.sum() > 10
    assert np.all(np.diff(keep[below_one]) < 0.0)


COUNTS = np.array([1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 7, 0, 40, 1, 400])


@pytest.mark.parametrize("exponent", [0.75, 0.0, 1.0])
def test_negative_sampler_empirical_frequencies(exponent: float) -> None:
    sampler = NegativeSampler(COUNTS, exponent)
    weights = COUNTS.astype(np.float64) ** exponent
    expected = weights / weights.sum()
    np.testing.assert_allclose(sampler.probabilities, expected, rtol=1e-12)

    draws_n = 2_000_000
    draws = sampler.sample(np.random.default_rng(1), draws_n)
    observed = np.bincount(draws, minlength=COUNTS.size) / draws_n
    assert np.abs(observed - expected).max() < 2e-3

    positive = expected > 0
    assert np.all(observed[~positive] == 0.0)
    chi2 = (draws_n * (observed[positive] - expected[positive]) ** 2 / expected[positive]).sum()
    dof = int(positive.sum()) - 1
    assert chi2 < dof + 6.0 * math.sqrt(2.0 * dof)


@pytest.mark.parametrize("exponent", [0.75, 0.0, 1.0, 0.5])
def test_alias_table_is_exact(exponent: float) -> None:
    rng = np.random.default_rng(2)
    counts = np.floor(rng.lognormal(3.0, 2.5, size=1000)) + 1.0
    sampler = NegativeSampler(counts, exponent)
    threshold, alias = sampler.threshold, sampler.alias
    size = counts.size
    assert threshold.shape == (size,) and alias.shape == (size,)
    assert np.all(threshold >= 0.0) and np.all(threshold <= 1.0)
    assert np.all(alias >= 0) and np.all(alias < size)

    partial = threshold < 1.0
    rebuilt = threshold.astype(np.float64).copy()
    rebuilt += np.bincount(
        alias[partial], weights=1.0 - threshold[partial].astype(np.float64), minlength=size
    )
    rebuilt /= size
    np.testing.assert_allclose(rebuilt, sampler.probabilities, rtol=1e-5, atol=1e-6 / size)


def test_sample_dtype_shape_and_seed() -> None:
    sampler = NegativeSampler(COUNTS, 0.75)
    assert len(sampler) == COUNTS.size
    out = sampler.sample(np.random.default_rng(3), (7, 3))
    assert out.dtype == np.int32 and out.shape == (7, 3)
    flat = sampler.sample(np.random.default_rng(3), 5)
    assert flat.dtype == np.int32 and flat.shape == (5,)
    assert np.all((out >= 0) & (out < COUNTS.size))

    first = sampler.sample(np.random.default_rng(42), (1000, 5))
    second = sampler.sample(np.random.default_rng(42), (1000, 5))
    other = sampler.sample(np.random.default_rng(43), (1000, 5))
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


def test_zero_count_words_are_never_drawn() -> None:
    sampler = NegativeSampler(np.array([0, 5, 0, 5, 0]), 0.75)
    draws = sampler.sample(np.random.default_rng(4), 100_000)
    assert set(np.unique(draws).tolist()) == {1, 3}


@pytest.mark.parametrize(
    ("counts", "exponent"),
    [
        pytest.param([], 0.75, id="empty"),
        pytest.param([0, 0, 0], 0.75, id="all-zero-0.75"),
        pytest.param([0, 0, 0], 1.0, id="all-zero-1"),
        pytest.param([[1, 2], [3, 4]], 0.75, id="2d"),
        pytest.param([1.0, float("nan"), 3.0], 0.75, id="nan-0.75"),
        pytest.param([1.0, float("nan"), 3.0], 1.0, id="nan-1"),
        pytest.param([1.0, float("nan"), 3.0], 0.0, id="nan-0"),
        pytest.param([1.0, float("inf"), 3.0], 0.0, id="inf-0"),
        pytest.param([5.0, -1.0, 3.0], 1.0, id="negative-1"),
        pytest.param([5.0, -1.0, 3.0], 0.0, id="negative-0"),
    ],
)
def test_invalid_counts_raise(counts: list[float], exponent: float) -> None:
    with pytest.raises(ValueError):
        NegativeSampler(np.array(counts, dtype=np.float64), exponent)
