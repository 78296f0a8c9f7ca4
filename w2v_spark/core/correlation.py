"""Rank statistics in NumPy: average ranks and the Pearson and Spearman correlations, as
``scipy.stats`` computes them (the word-pair evaluation's figures,
:mod:`w2v_spark.vectors.word_pairs`)."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["pearson", "rankdata", "spearman"]


def rankdata(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """1-based ranks with ties given their average rank (``scipy.stats.rankdata`` 'average').

    Args:
        values: shape ``(n,)``.

    Returns:
        shape ``(n,)`` float64.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    n = x.shape[0]
    if n == 0:
        return np.empty(0, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    new_group = np.empty(n, dtype=bool)
    new_group[0] = True
    np.not_equal(xs[1:], xs[:-1], out=new_group[1:])
    starts = np.flatnonzero(new_group)
    ends = np.append(starts[1:], n)
    average = (starts + ends + 1) / 2.0
    group = np.cumsum(new_group) - 1
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = average[group]
    return ranks


def _paired_samples(
    x: npt.ArrayLike, y: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None:
    """Two equally long float64 samples, or None when a correlation is undefined (fewer than
    two values or a non-finite one); unequal lengths raise ValueError."""
    a = np.asarray(x, dtype=np.float64).ravel()
    b = np.asarray(y, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"samples differ in length: {a.shape[0]} and {b.shape[0]}")
    if a.shape[0] < 2 or not (np.isfinite(a).all() and np.isfinite(b).all()):
        return None
    return a, b


def pearson(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Pearson correlation of two equally long samples (float64); NaN when undefined.

    Args:
        x: shape ``(n,)``.
        y: shape ``(n,)``.
    """
    samples = _paired_samples(x, y)
    if samples is None:
        return math.nan
    a, b = samples
    am = a - a.mean()
    bm = b - b.mean()
    na = float(np.linalg.norm(am))
    nb = float(np.linalg.norm(bm))
    if na == 0.0 or nb == 0.0:
        return math.nan
    r = float(np.dot(am / na, bm / nb))
    return max(-1.0, min(1.0, r))


def spearman(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Spearman rank correlation (Pearson of average ranks), as ``scipy.stats.spearmanr``.

    Args:
        x: shape ``(n,)``.
        y: shape ``(n,)``.

    Returns:
        rho, or NaN when a sample is constant, shorter than 2 or holds NaN.
    """
    samples = _paired_samples(x, y)
    if samples is None:
        return math.nan
    a, b = samples
    return pearson(rankdata(a), rankdata(b))
