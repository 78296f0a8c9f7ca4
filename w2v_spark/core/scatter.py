"""Row scatter-add with duplicate indices summed, without ``np.add.at``."""

from __future__ import annotations

import numpy as np


def scatter_add_rows(target: np.ndarray, index: np.ndarray, values: np.ndarray) -> None:
    """Add ``values[i]`` to ``target[index[i]]`` for every i, summing duplicates.

    Equivalent to ``np.add.at(target, index, values)`` but much faster: the rows are
    sorted by index once and each run of equal indices is reduced with ``np.add.reduceat``,
    so every target row is written once.

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
    is_start = np.empty(n, dtype=bool)
    is_start[0] = True
    np.not_equal(sorted_index[1:], sorted_index[:-1], out=is_start[1:])
    starts = np.flatnonzero(is_start)
    sums = np.add.reduceat(values[order], starts, axis=0)
    target[sorted_index[starts]] += sums
