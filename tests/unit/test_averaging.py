"""Tests for merging the touched rows reported by the partitions (no Spark)."""

from __future__ import annotations

import numpy as np
import pytest

from w2v_spark.core.averaging import MERGE_MODES, TouchedRows, merge_touched


def _base() -> np.ndarray:
    return np.arange(12, dtype=np.float32).reshape(4, 3)


def _parts() -> list[TouchedRows]:
    # partition A touches rows 0 and 1, partition B rows 1 and 2; row 3 is untouched
    a = TouchedRows(
        np.array([0, 1]), np.array([[10.0, 10.0, 10.0], [20.0, 20.0, 20.0]], dtype=np.float32)
    )
    b = TouchedRows(
        np.array([1, 2]), np.array([[40.0, 0.0, 4.0], [-6.0, -7.0, -8.0]], dtype=np.float32)
    )
    return [a, b]


def test_average_mode() -> None:
    base = _base()
    merge_touched(base, _parts(), "average")
    expected = np.array(
        [
            [10.0, 10.0, 10.0],  # only A: its value
            [30.0, 10.0, 12.0],  # A and B: their mean
            [-6.0, -7.0, -8.0],  # only B: its value
            [9.0, 10.0, 11.0],  # untouched
        ],
        dtype=np.float32,
    )
    np.testing.assert_array_equal(base, expected)
    assert base.dtype == np.float32


def test_sum_mode() -> None:
    base = _base()
    original = base.copy()
    merge_touched(base, _parts(), "sum")
    expected = original.copy()
    expected[0] += np.array([10.0, 10.0, 10.0]) - original[0]
    expected[1] += np.array([20.0, 20.0, 20.0]) - original[1]
    expected[1] += np.array([40.0, 0.0, 4.0]) - original[1]
    expected[2] += np.array([-6.0, -7.0, -8.0]) - original[2]
    np.testing.assert_allclose(base, expected, rtol=1e-6)
    np.testing.assert_array_equal(base[1], [57.0, 16.0, 19.0])
    np.testing.assert_array_equal(base[3], original[3])


@pytest.mark.parametrize("partitions", [2, 4])
def test_mean_mode(partitions: int) -> None:
    base = _base()
    original = base.copy()
    merge_touched(base, _parts(), "mean", partitions)
    expected = original.copy()
    # each row moves by the sum of the partitions' changes over ALL partitions
    expected[0] += (np.array([10.0, 10.0, 10.0]) - original[0]) / partitions
    expected[1] += (
        np.array([20.0, 20.0, 20.0]) + np.array([40.0, 0.0, 4.0]) - 2 * original[1]
    ) / partitions
    expected[2] += (np.array([-6.0, -7.0, -8.0]) - original[2]) / partitions
    np.testing.assert_allclose(base, expected, rtol=1e-6)
    np.testing.assert_array_equal(base[3], original[3])
    if partitions == 2:  # a row both partitions touched becomes their mean
        np.testing.assert_allclose(base[1], [30.0, 10.0, 12.0])


def test_mean_mode_needs_enough_partitions() -> None:
    base = _base()
    with pytest.raises(ValueError, match="num_partitions=1"):
        merge_touched(base, _parts(), "mean", 1)
    np.testing.assert_array_equal(base, _base())


@pytest.mark.parametrize("mode", MERGE_MODES)
def test_single_partition_is_its_own_result(mode: str) -> None:
    base = _base()
    part = TouchedRows(np.array([3, 0]), np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], np.float32))
    merge_touched(base, [part], mode)
    expected = _base()
    expected[3] = [1.0, 2.0, 3.0]
    expected[0] = [4.0, 5.0, 6.0]
    np.testing.assert_allclose(base, expected, rtol=1e-6)


@pytest.mark.parametrize("mode", MERGE_MODES)
def test_no_parts_and_empty_parts_change_nothing(mode: str) -> None:
    base = _base()
    merge_touched(base, [], mode)
    empty = TouchedRows(np.empty(0, dtype=np.int64), np.empty((0, 3), dtype=np.float32))
    merge_touched(base, [empty, empty], mode)
    np.testing.assert_array_equal(base, _base())


def test_unknown_mode_raises() -> None:
    base = _base()
    with pytest.raises(ValueError, match="median"):
        merge_touched(base, _parts(), "median")
    np.testing.assert_array_equal(base, _base())


@pytest.mark.parametrize("mode", MERGE_MODES)
def test_merge_is_deterministic(mode: str) -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=(200, 8)).astype(np.float32)
    parts = []
    for _ in range(5):
        rows = np.sort(rng.choice(200, size=80, replace=False))
        parts.append(TouchedRows(rows, rng.normal(size=(80, 8)).astype(np.float32)))
    first, second = base.copy(), base.copy()
    merge_touched(first, parts, mode)
    merge_touched(second, parts, mode)
    np.testing.assert_array_equal(first, second)


def test_average_of_random_parts_matches_reference() -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(size=(50, 4))
    parts = []
    for _ in range(4):
        rows = rng.choice(50, size=20, replace=False)
        parts.append(TouchedRows(rows, rng.normal(size=(20, 4))))
    expected = base.copy()
    for row in range(50):
        values = [p.values[i] for p in parts for i in np.flatnonzero(p.rows == row)]
        if values:
            expected[row] = np.mean(values, axis=0)
    merge_touched(base, parts, "average")
    np.testing.assert_allclose(base, expected, rtol=1e-12)
