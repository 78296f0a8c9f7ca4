"""Top-k selection and next-item ranking metrics, in NumPy.

Ranks everywhere order candidates by descending score and, among equal scores, by ascending
id, so a result never depends on how the candidates were split into blocks.
"""

from __future__ import annotations

import numpy as np


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """(n, d) rows scaled to unit L2 length (norms in float64; zero rows stay zero), float32."""
    x = np.asarray(vectors, dtype=np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return (x * scale[:, None]).astype(np.float32)


def top_k(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` best candidates of every row; ``-inf`` scores are never returned.

    Args:
        scores: (b, m) float scores of ``m`` candidates for ``b`` queries.
        ids: (m,) int ids of the candidates (ties go to the lower id).
        k: how many per row at most.

    Returns:
        ``(rows, candidate_ids, values)``, each (r,): the query row, the candidate id and its
        score, row by row and best first within a row.
    """
    b, m = scores.shape
    kk = min(k, m)
    if b == 0 or kk <= 0:
        return np.empty(0, np.int64), np.empty(0, ids.dtype), np.empty(0, scores.dtype)
    kth = -np.partition(-scores, kk - 1, axis=1)[:, kk - 1]  # (b,) the k-th best per row
    row, col = np.nonzero((scores >= kth[:, None]) & (scores > -np.inf))
    value = scores[row, col]
    order = np.lexsort((ids[col], -value, row))
    row, col, value = row[order], col[order], value[order]
    first = np.searchsorted(row, row, side="left")
    keep = (np.arange(row.size) - first) < kk
    return row[keep].astype(np.int64), ids[col[keep]], value[keep]


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
