"""Row scatter-add with duplicate indices summed, without ``np.add.at``.

The index work of a scatter (sorting, finding the runs of repeated rows) depends only on the
indices, which a trainer knows for many minibatches ahead. :class:`ScatterPlan` does that work
for a stack of minibatches at once, in a few vectorised calls, and :meth:`ScatterPlan.add` then
moves only the values of one minibatch. :func:`scatter_add_rows` plans and adds one scatter.

A plan may also cap what one row takes from a minibatch: with position weights ``w`` (how many
gradient terms each value stands for) and a cap ``c``, the summed update of a row whose terms
add up to ``t > c`` is scaled by ``c / t``. A minibatch's gradients are all computed at the
same point, so a row that occurs many times in it moves by the sum of many steps that a
sequential SGD would have taken one after the other, each smaller than the last; the cap bounds
that overshoot for the few rows concerned and leaves every other row's sum exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_ONE_HOT_LIMIT = 1 << 16


@dataclass(frozen=True)
class ScatterPlan:
    """How to add ``values[i]`` to ``target[index[i]]`` for each of n minibatches of m indices.

    Within a minibatch, rows whose index occurs once are added with one gather and one
    fancy-indexed write; the rows of an index that occurs several times are summed first, so
    every target row is read and written once per minibatch. All arrays are flat, minibatch
    after minibatch; ``*_start`` (n + 1,) are the offsets of each minibatch's slice.

    Attributes:
        single_rows, single_targets: (S,) position in the minibatch and target row of every
            row whose index occurs once in its minibatch.
        repeated_rows: (Q,) positions of the rows whose index repeats, sorted by index.
        repeated_run: (Q,) the run (0, 1, ... within its minibatch) each of them belongs to.
        run_targets: (R,) target row of each run.
        single_scale, run_scale: (S,) and (R,) factors of the capped rows' updates (1 for
            the others), or None for a plan without a cap (``single_scale`` also when no
            single position's weight exceeds the cap).
    """

    single_rows: np.ndarray
    single_targets: np.ndarray
    single_start: np.ndarray
    repeated_rows: np.ndarray
    repeated_run: np.ndarray
    repeated_start: np.ndarray
    run_targets: np.ndarray
    run_start: np.ndarray
    single_scale: np.ndarray | None = None
    run_scale: np.ndarray | None = None

    @classmethod
    def build(cls, index: np.ndarray, weights: np.ndarray | None = None,
              cap: float = 0.0) -> ScatterPlan:
        """Plan the scatters of an (n, m) integer index: row i is minibatch i.

        Args:
            index: (n, m) target rows.
            weights: (m,) gradient terms each position of a minibatch stands for (all 1 when
                omitted); used only with ``cap``.
            cap: above 0, a row's update is scaled by ``cap / terms`` when its positions'
                weights in a minibatch add up to more than ``cap``.
        """
        n, m = index.shape
        order = np.argsort(index, axis=1, kind="stable")  # (n, m)
        ordered = np.take_along_axis(index, order, axis=1)
        differs = ordered[:, 1:] != ordered[:, :-1]  # (n, m-1)
        is_start = np.ones((n, m), dtype=bool)
        is_start[:, 1:] = differs
        is_end = np.ones((n, m), dtype=bool)
        is_end[:, :-1] = differs
        single = is_start & is_end
        repeated = ~single
        run_first = is_start & repeated
        runs = run_first.sum(axis=1)  # (n,)
        run_start = _offsets(runs)
        # The run number of a repeated row, counted from 0 within its minibatch.
        run_global = np.cumsum(run_first[repeated]) - 1  # (Q,)
        repeats = repeated.sum(axis=1)
        repeated_run = run_global - np.repeat(run_start[:-1], repeats)
        single_scale = run_scale = None
        if cap > 0:
            w = np.ones(m) if weights is None else np.asarray(weights, dtype=np.float64)
            ordered_w = w[order]  # (n, m)
            single_w = ordered_w[single]
            if (single_w > cap).any():  # none, unless one position outweighs the cap
                single_scale = _capped(single_w, cap)
            terms = np.bincount(run_global, weights=ordered_w[repeated],
                                minlength=int(run_start[-1]))
            run_scale = _capped(terms, cap)
        return cls(
            single_rows=order[single],
            single_targets=ordered[single],
            single_start=_offsets(single.sum(axis=1)),
            repeated_rows=order[repeated],
            repeated_run=repeated_run,
            repeated_start=_offsets(repeats),
            run_targets=ordered[run_first],
            run_start=run_start,
            single_scale=single_scale,
            run_scale=run_scale,
        )

    def add(self, target: np.ndarray, values: np.ndarray, batch: int = 0) -> None:
        """``target[index[batch, j]] += values[j]`` for every j, duplicates summed.

        Args:
            target: (V, d) array, updated in place.
            values: (m, d) rows of minibatch ``batch``, same dtype as ``target``.
            batch: which minibatch of the plan.
        """
        lo, hi = self.single_start[batch], self.single_start[batch + 1]
        rows = self.single_targets[lo:hi]
        singles = np.take(values, self.single_rows[lo:hi], axis=0)
        if self.single_scale is not None:
            singles *= self.single_scale[lo:hi, None]
        _add_to_rows(target, rows, singles)
        lo, hi = self.repeated_start[batch], self.repeated_start[batch + 1]
        if hi == lo:
            return
        first, last = self.run_start[batch], self.run_start[batch + 1]
        sums = _run_sums(
            np.take(values, self.repeated_rows[lo:hi], axis=0), self.repeated_run[lo:hi],
            int(last - first),
        )
        if self.run_scale is not None:
            sums *= self.run_scale[first:last, None]
        _add_to_rows(target, self.run_targets[first:last], sums)


def _capped(terms: np.ndarray, cap: float) -> np.ndarray:
    """float32 factors ``min(1, cap / terms)`` of (k,) ``terms``."""
    return np.minimum(1.0, cap / np.maximum(terms, 1e-12)).astype(np.float32)


def scatter_add_rows(target: np.ndarray, index: np.ndarray, values: np.ndarray,
                     weights: np.ndarray | None = None, cap: float = 0.0) -> None:
    """Add ``values[i]`` to ``target[index[i]]`` for every i, summing duplicates.

    Equivalent to ``np.add.at(target, index, values)``, which is correct but slow, through one
    :class:`ScatterPlan`.

    Args:
        target: (V, d) array, updated in place.
        index: (n,) integer row indices into ``target``.
        values: (n, d) rows to add, same dtype as ``target``.
        weights, cap: the row cap of :meth:`ScatterPlan.build` (none by default).
    """
    if index.shape[0]:
        ScatterPlan.build(index[None, :], weights, cap).add(target, values)


def _offsets(sizes: np.ndarray) -> np.ndarray:
    """(n + 1,) start offsets of n consecutive slices of the given (n,) sizes."""
    out = np.zeros(sizes.shape[0] + 1, dtype=np.intp)
    np.cumsum(sizes, out=out[1:])
    return out


def _add_to_rows(target: np.ndarray, rows: np.ndarray, values: np.ndarray) -> None:
    """``target[rows] += values`` for (m,) distinct ``rows`` and (m, d) ``values``, which it
    overwrites. Rows are gathered with ``np.take``, which copies whole rows and is faster than
    fancy indexing."""
    values += np.take(target, rows, axis=0)
    target[rows] = values


def _run_sums(values: np.ndarray, run: np.ndarray, runs: int) -> np.ndarray:
    """(runs, d) sums of the rows of (m, d) ``values`` by their (m,) ``run`` number, which
    is non-decreasing.

    Few, short runs (the usual case: a handful of frequent words) are summed as one
    (runs, m) one-hot matrix product, which costs less than ``np.add.reduceat``'s per-run
    overhead; large cases fall back to ``reduceat``.
    """
    m = values.shape[0]
    if runs * m > _ONE_HOT_LIMIT:
        starts = np.flatnonzero(np.r_[True, run[1:] != run[:-1]])
        return np.add.reduceat(values, starts, axis=0)
    one_hot = np.zeros((runs, m), dtype=values.dtype)
    one_hot[run, np.arange(m)] = 1.0
    return one_hot @ values
