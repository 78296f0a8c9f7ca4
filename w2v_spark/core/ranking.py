"""Unit rows, top-k selection and next-item ranking metrics, in NumPy.

Ranks everywhere order candidates by descending score and, among equal scores, by ascending
id, so a result never depends on how the candidates were split into blocks. The one exception
is :func:`top_k` with ``ties="gensim"``, which reproduces the order gensim's
``matutils.argsort`` gives, for the checks that compare with gensim answer for answer.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

#: Columns per group in the pruning pass of :func:`top_k`.
_GROUP = 64


def unit_rows(
    vectors: npt.ArrayLike, *, precision: Literal["float64", "float32"] = "float64"
) -> npt.NDArray[np.float32]:
    """Vectors scaled to unit L2 length; zero vectors stay zero.

    Args:
        vectors: shape ``(n, d)`` rows, or ``(d,)`` one vector; any float dtype.
        precision: ``"float64"``: the sum of squares and the scaling in float64, the result
            rounded to float32 once, as gensim's ``matutils.unitvec`` does (its BLAS norm can
            differ in the last float64 bit, which the rounding to float32 hides but for rare
            halfway cases); the arithmetic of every table the pipeline writes.
            ``"float32"``: float32 norms (``np.linalg.norm``) and a float32 division, the
            arithmetic of gensim's ``KeyedVectors.get_normed_vectors``.

    Returns:
        a new float32 array of the shape of ``vectors``.
    """
    if precision == "float32":
        x32 = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(x32, axis=-1)[..., None]
        out = np.zeros_like(x32)
        np.divide(x32, norms, out=out, where=norms > 0)
        return out
    if precision != "float64":
        raise ValueError(f"precision must be 'float64' or 'float32', got {precision!r}")
    x = np.asarray(vectors, dtype=np.float64)
    norms = np.sqrt(np.einsum("...j,...j->...", x, x))
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return (x * scale[..., None]).astype(np.float32)


def top_k(
    scores: npt.ArrayLike,
    k: int,
    *,
    ids: np.ndarray | None = None,
    ties: Literal["id", "gensim"] = "id",
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best candidates of every row, best first.

    With ``ties="id"`` (the rule of every ranking of the package) candidates are ordered by
    descending score and equal scores by ascending id; NaN counts as ``-inf``. A row with
    fewer than ``kk`` candidates above ``-inf`` ends in ``-inf`` entries (their columns are
    those of its ``-inf`` scores, lowest id first): callers that want only real candidates
    drop the entries whose value is ``-inf``.

    With ``ties="gensim"`` the order is exactly that of gensim's
    ``matutils.argsort(row, topn=k, reverse=True)`` (``np.argpartition`` then ``np.argsort``
    of the negated scores), whose order among equal scores is NumPy's; nothing is treated
    specially (NaN sorts last).

    Wide rows are first pruned: their columns are dealt into ``_GROUP`` groups (column
    ``t * G + g`` into group ``g``) and only the groups whose maximum can hold a top-k entry
    are searched; rows where a tie or a NaN makes the pruning unsafe are searched whole.

    Args:
        scores: shape ``(b, m)``, float.
        k: how many per row, ``>= 0``.
        ids: the ids breaking ties with ``ties="id"``: shape ``(m,)`` for the columns, or
            ``(b, m)`` per entry; any sortable dtype (strings too). ``None``: the column
            index.
        ties: ``"id"`` or ``"gensim"`` (then ``ids`` must be ``None``).

    Returns:
        ``(values, columns)``, each of shape ``(b, kk)`` with ``kk = min(k, m)``: the scores
        (NaN as ``-inf`` with ``ties="id"``) and their columns in ``scores``.
    """
    s = np.asarray(scores)
    if s.ndim != 2:
        raise ValueError(f"scores must have shape (b, m), got {s.shape}")
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    if ties not in ("id", "gensim"):
        raise ValueError(f"ties must be 'id' or 'gensim', got {ties!r}")
    b, m = s.shape
    kk = min(k, m)
    ids = None if ids is None else np.asarray(ids)
    if ids is not None and (ties == "gensim" or ids.shape not in ((m,), (b, m))):
        raise ValueError(f"ids must have shape ({m},) or ({b}, {m}) and ties='id', got shape "
                         f"{ids.shape} and ties={ties!r}")
    if b == 0 or kk == 0:
        return np.empty((b, kk), s.dtype), np.empty((b, kk), np.intp)
    if ties == "gensim":
        return _argsort_top_k(s, kk)
    groups = m // _GROUP
    if groups <= 2 * kk:
        return _exact_top_k(s, kk, ids)
    return _pruned_top_k(s, kk, ids, groups)


def merge_top_k(
    scores_a: np.ndarray, ids_a: np.ndarray, scores_b: np.ndarray, ids_b: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Merge two per-row candidate lists into the best ``k`` of both (:func:`top_k`'s rule).

    Args:
        scores_a, ids_a: shape ``(b, ka)``; the ids of a row are distinct across both lists.
        scores_b, ids_b: shape ``(b, kb)``.
        k: how many per row.

    Returns:
        ``(scores, ids)``, each of shape ``(b, min(k, ka + kb))``, best first.
    """
    scores = np.concatenate([scores_a, scores_b], axis=1)
    ids = np.concatenate([ids_a, ids_b], axis=1)
    values, cols = top_k(scores, k, ids=ids)
    return values, np.take_along_axis(ids, cols, axis=1)


def _without_nan(scores: np.ndarray) -> np.ndarray:
    """``scores``, or a copy with NaN replaced by ``-inf`` when it holds any."""
    nan = np.isnan(scores)
    return np.where(nan, -np.inf, scores).astype(scores.dtype, copy=False) if nan.any() else scores


def _select(values: np.ndarray, keys: np.ndarray | None, kk: int) -> np.ndarray:
    """(r, kk) positions of the best ``kk`` entries of every row of ``values`` (r, c), which
    holds no NaN, by descending value and ascending key.

    ``keys`` is ``None`` (the position is the key), shape ``(c,)`` or ``(r, c)``.
    """
    kth = -np.partition(-values, kk - 1, axis=1)[:, kk - 1]  # (r,) the kk-th best per row
    row, pos = np.nonzero(values >= kth[:, None])  # every row has at least kk of them
    if keys is None:
        key = pos
    elif keys.ndim == 1:
        key = keys[pos]
    else:
        key = keys[row, pos]
    order = np.lexsort((key, -values[row, pos], row))
    row, pos = row[order], pos[order]
    first = np.searchsorted(row, row, side="left")
    return pos[(np.arange(row.size) - first) < kk].reshape(values.shape[0], kk)


def _exact_top_k(
    scores: np.ndarray, kk: int, ids: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`top_k` with ``ties="id"`` over every column of (b, m) ``scores``."""
    clean = _without_nan(scores)
    cols = _select(clean, ids, kk)
    return np.take_along_axis(clean, cols, axis=1), cols


def _pruned_top_k(
    scores: np.ndarray, kk: int, ids: np.ndarray | None, groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`top_k` with ``ties="id"`` over the ``kk`` groups of (b, m) ``scores`` with the
    largest maxima (and the last ``m % _GROUP`` columns, in no group).

    The ``kk``-th best value ``v`` of a row lies in those groups, and so does every entry
    ``>= v`` unless another group's maximum also reaches ``v``; such rows (and rows holding a
    NaN, which hides a group's maximum) are searched whole by :func:`_exact_top_k`.
    """
    b, m = scores.shape
    width = groups * _GROUP
    dealt = scores[:, :width].reshape(b, _GROUP, groups)  # dealt[i, t, g] = scores[i, t*G + g]
    group_max = np.maximum.reduce(dealt, axis=1)  # (b, groups)
    chosen = np.argpartition(-group_max, kk - 1, axis=1)[:, :kk]  # (b, kk)
    values = dealt[np.arange(b)[:, None], :, chosen].reshape(b, kk * _GROUP)
    cols = (chosen[:, :, None] + np.arange(_GROUP) * groups).reshape(b, kk * _GROUP)
    if width < m:
        values = np.concatenate([values, scores[:, width:]], axis=1)
        tail = np.broadcast_to(np.arange(width, m), (b, m - width))
        cols = np.concatenate([cols, tail], axis=1)
    values[np.isnan(values)] = -np.inf
    if ids is None:
        keys = cols
    elif ids.ndim == 1:
        keys = ids[cols]
    else:
        keys = np.take_along_axis(ids, cols, axis=1)
    pos = _select(values, keys, kk)
    top = np.take_along_axis(values, pos, axis=1)
    top_cols = np.take_along_axis(cols, pos, axis=1)
    unsafe = np.isnan(group_max).any(axis=1) | (
        np.count_nonzero(group_max >= top[:, -1:], axis=1) > kk
    )
    if unsafe.any():
        rows = np.flatnonzero(unsafe)
        row_ids = ids if ids is None or ids.ndim == 1 else ids[rows]
        top[rows], top_cols[rows] = _exact_top_k(scores[rows], kk, row_ids)
    return top, top_cols


def _argsort_top_k(scores: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`top_k` with ``ties="gensim"``: gensim's ``matutils.argsort`` row by row."""
    x = -scores
    if kk >= scores.shape[1]:
        cols = np.argsort(x, axis=1)[:, :kk]
    else:
        most = np.argpartition(x, kk, axis=1)[:, :kk]
        order = np.argsort(np.take_along_axis(x, most, axis=1), axis=1)
        cols = np.take_along_axis(most, order, axis=1)
    return np.take_along_axis(scores, cols, axis=1), cols


def exclusion_mask(
    shape: tuple[int, int], ids: np.ndarray, offsets: np.ndarray, excluded: np.ndarray
) -> np.ndarray:
    """(b, m) bool mask of the candidates each query must not get.

    Args:
        shape: ``(b, m)``.
        ids: (m,) sorted candidate ids.
        offsets: (b + 1,) start of each query's excluded ids in ``excluded``.
        excluded: the excluded ids of all queries back to back.
    """
    mask = np.zeros(shape, dtype=bool)
    if excluded.size == 0 or ids.size == 0:
        return mask
    row = np.repeat(np.arange(shape[0]), np.diff(offsets))
    pos = np.searchsorted(ids, excluded)
    inside = pos < ids.size
    hit = np.zeros(excluded.size, dtype=bool)
    hit[inside] = ids[pos[inside]] == excluded[inside]
    mask[row[hit], pos[hit]] = True
    return mask


def target_ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """1-based rank of each row's target among its candidates (ties to the lower column).

    Args:
        scores: (b, m) scores; ``-inf`` marks candidates that are left out.
        targets: (b,) column of the target in each row, or -1 when it is not a candidate.

    Returns:
        (b,) int64 ranks; 0 where the target is -1 or its score is ``-inf``.
    """
    b, m = scores.shape
    ranks = np.zeros(b, dtype=np.int64)
    rows = np.flatnonzero(targets >= 0)
    if rows.size == 0:
        return ranks
    target_score = scores[rows, targets[rows]]
    sub = scores[rows]
    better = (sub > target_score[:, None]).sum(axis=1)
    columns = np.arange(m)[None, :]
    tied_before = ((sub == target_score[:, None]) & (columns < targets[rows, None])).sum(axis=1)
    ranks[rows] = np.where(target_score > -np.inf, 1 + better + tied_before, 0)
    return ranks


def hit_rate(ranks: np.ndarray, k: int) -> float:
    """Share of cases whose target is in the top ``k`` (rank 0 = not found counts as a miss)."""
    ranks = np.asarray(ranks)
    return float(np.mean((ranks >= 1) & (ranks <= k))) if ranks.size else 0.0


def mrr(ranks: np.ndarray, k: int) -> float:
    """Mean reciprocal rank at ``k``: ``1 / rank`` within the top ``k``, else 0."""
    ranks = np.asarray(ranks)
    if ranks.size == 0:
        return 0.0
    inside = (ranks >= 1) & (ranks <= k)
    return float(np.sum(1.0 / ranks[inside]) / ranks.size)
