"""Row scatter-add with duplicate indices summed, without ``np.add.at``."""

from __future__ import annotations

import numpy as np

_ONE_HOT_LIMIT = 1 << 16


def scatter_add_rows(target: np.ndarray, index: np.ndarray, values: np.ndarray) -> None:
    """Add ``values[i]`` to ``target[index[i]]`` for every i, summing duplicates.

    Equivalent to ``np.add.at(target, index, values)`` but several times faster: the indices
    are sorted once; rows whose index occurs once are added with one gather and one
    fancy-indexed write, and only the runs of repeated indices are summed first (whose cost
    is per run), so every target row is read and written once. Rows are gathered with
    ``np.take``, which copies whole rows and costs about half of fancy indexing.

    Args:
        target: (V, d) array, updated in place.
        index: (n,) integer row indices into ``target``.
        values: (n, d) rows to add, same dtype as ``target``.
    """
    n = index.shape[0]
    if n == 0:
        return
    order = np.argsort(index)
    sorted_index = index[order]
    differs = sorted_index[1:] != sorted_index[:-1]  # (n-1,)
    is_start = np.empty(n, dtype=bool)
    is_start[0] = True
    is_start[1:] = differs
    is_end = np.empty(n, dtype=bool)
    is_end[-1] = True
    is_end[:-1] = differs
    single = is_start & is_end
    rows = order[single]
    _add_to_rows(target, index[rows], np.take(values, rows, axis=0))
    repeated = ~single
    if repeated.any():
        rows = order[repeated]
        starts = np.flatnonzero(is_start[repeated])
        sums = _run_sums(np.take(values, rows, axis=0), starts)
        _add_to_rows(target, index[rows[starts]], sums)


def _add_to_rows(target: np.ndarray, rows: np.ndarray, values: np.ndarray) -> None:
    """``target[rows] += values`` for (m,) distinct ``rows`` and (m, d) ``values``, which it
    overwrites."""
    values += np.take(target, rows, axis=0)
    target[rows] = values


def _run_sums(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sums of the runs of rows of (m, d) ``values`` that begin at the (R,) ``starts``.

    Few, short runs (the usual case: a handful of frequent words) are summed as one (R, m)
    one-hot matrix product, which costs less than ``np.add.reduceat``'s per-run overhead;
    large cases fall back to ``reduceat``.
    """
    m = values.shape[0]
    runs = starts.shape[0]
    if runs * m > _ONE_HOT_LIMIT:
        return np.add.reduceat(values, starts, axis=0)
    run_of_row = np.zeros(m, dtype=np.intp)
    run_of_row[starts[1:]] = 1
    np.cumsum(run_of_row, out=run_of_row)
    one_hot = np.zeros((runs, m), dtype=values.dtype)
    one_hot[run_of_row, np.arange(m)] = 1.0
    return one_hot @ values
