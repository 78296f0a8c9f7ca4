"""Merging the model copies that P partitions trained from the same starting point.

A partition reports only the rows it touched: ``rows`` (n,) and their new ``values`` (n, d).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MERGE_MODES = ("mean", "sum", "average")


@dataclass(frozen=True)
class TouchedRows:
    """Rows (n,) int and their new values (n, d) float32 from one partition."""

    rows: np.ndarray
    values: np.ndarray


def merge_touched(
    base: np.ndarray, parts: Sequence[TouchedRows], mode: str, num_partitions: int | None = None
) -> None:
    """Merge partition results into ``base`` (V, d) in place.

    ``mean``: every row moves by the mean change over all ``num_partitions`` partitions, a
    partition that did not touch the row counting as no change. Paired with training each
    partition at ``num_partitions`` times the learning rate, this matches sequential SGD both for
    rows every partition updates many times (each partition's change is already the whole
    correction, so they are averaged, not added) and for rows one partition updates a few times
    (its change is scaled back to one learning rate).

    ``average``: every row becomes the mean of the values reported by the partitions that
    touched it (parameter averaging restricted to touched rows; rows nobody touched keep
    their value). ``sum``: every row moves by the sum of the partitions' changes, ``base +
    sum_p (value_p - base)``, which is first-order equal to training the slices one after the
    other. Partitions are combined in the given order, so the result is deterministic.
    """
    if mode not in MERGE_MODES:
        raise ValueError(f"merge mode must be one of {MERGE_MODES}, got {mode!r}")
    if not parts:
        return
    if mode == "mean":
        count = num_partitions if num_partitions is not None else len(parts)
        if count < len(parts):
            raise ValueError(f"num_partitions={count} is less than the {len(parts)} parts")
        delta = np.zeros_like(base)
        for part in parts:
            delta[part.rows] += part.values - base[part.rows]
        base += delta / base.dtype.type(count)
        return
    if mode == "sum":
        delta = np.zeros_like(base)
        for part in parts:
            delta[part.rows] += part.values - base[part.rows]
        base += delta
        return
    total = np.zeros_like(base)
    seen = np.zeros(base.shape[0], dtype=np.int32)
    for part in parts:
        total[part.rows] += part.values
        seen[part.rows] += 1
    touched = seen > 0
    base[touched] = total[touched] / seen[touched, None].astype(base.dtype)
