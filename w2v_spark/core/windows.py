"""Skip-gram pairs from sentences with a shrinking ("dynamic") window, vectorised.

Sentences arrive flattened: ``ids`` (n,) holds the word ids of S sentences back to back and
``offsets`` (S + 1,) marks where each starts, as in an Arrow list array. Pairs never cross a
sentence boundary. :func:`skipgram_pairs` pairs each token with its window;
:func:`whole_sentence_pairs` with every other token of its sentence (item2vec).
"""

from __future__ import annotations

import numpy as np


def sentence_index(offsets: np.ndarray) -> np.ndarray:
    """(n,) index of the sentence each token belongs to, from (S + 1,) offsets."""
    lengths = np.diff(offsets)
    return np.repeat(np.arange(lengths.size, dtype=np.int64), lengths)


def skipgram_pairs(
    ids: np.ndarray, sentence: np.ndarray, spans: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (center, context) pairs within each token's window, never across sentences.

    Token ``i`` is paired with every token ``j != i`` of the same sentence with
    ``|i - j| <= spans[i]``. Pairs come out center by center in corpus order, and for one
    center from left to right, the order in which word2vec visits them.

    Args:
        ids: (n,) word ids of the tokens, sentence after sentence.
        sentence: (n,) non-decreasing sentence index of each token.
        spans: (n,) window half-width of each token as center, >= 0.

    Returns:
        ``(centers, contexts, center_positions)``: word ids (m,) int32 of each pair and the
        (m,) int64 position in ``ids`` of its center.
    """
    n = ids.shape[0]
    max_span = int(spans.max()) if n else 0
    if n == 0 or max_span == 0:
        empty = np.empty(0, dtype=np.int32)
        return empty, empty.copy(), np.empty(0, dtype=np.int64)
    offsets = np.concatenate(
        [np.arange(-max_span, 0, dtype=np.int64), np.arange(1, max_span + 1, dtype=np.int64)]
    )
    positions = np.arange(n, dtype=np.int64)[:, None] + offsets[None, :]  # (n, 2w)
    inside = (positions >= 0) & (positions < n)
    clipped = np.where(inside, positions, 0)
    valid = inside & (np.abs(offsets)[None, :] <= spans[:, None])
    valid &= sentence[clipped] == sentence[:, None]
    center_pos, slot = np.nonzero(valid)
    context_pos = center_pos + offsets[slot]
    return (
        ids[center_pos].astype(np.int32),
        ids[context_pos].astype(np.int32),
        center_pos,
    )


def whole_sentence_pairs(
    ids: np.ndarray, sentence: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (center, context) pair of distinct positions within each sentence.

    A sentence of length ``L`` gives ``L * (L - 1)`` pairs, center by center in corpus order
    and for one center from left to right, as :func:`skipgram_pairs` with a window as wide as
    the sentence would.

    Args:
        ids: (n,) word ids of the tokens, sentence after sentence.
        sentence: (n,) non-decreasing sentence index of each token.

    Returns:
        ``(centers, contexts, center_positions)``: word ids (m,) int32 of each pair and the
        (m,) int64 position in ``ids`` of its center.
    """
    n = ids.shape[0]
    if n == 0:
        empty = np.empty(0, dtype=np.int32)
        return empty, empty.copy(), np.empty(0, dtype=np.int64)
    change = np.flatnonzero(np.diff(sentence)) + 1
    starts = np.concatenate([[0], change]).astype(np.int64)
    lengths = np.diff(np.concatenate([starts, [n]]))
    token_start = np.repeat(starts, lengths)  # (n,)
    per_center = np.repeat(lengths, lengths) - 1  # (n,) contexts of each center
    center_pos = np.repeat(np.arange(n, dtype=np.int64), per_center)  # (m,)
    first = np.cumsum(per_center) - per_center  # (n,) first output slot of each center
    k = np.arange(center_pos.size, dtype=np.int64) - first[center_pos]
    local = center_pos - token_start[center_pos]
    context_pos = token_start[center_pos] + k + (k >= local)
    return (
        ids[center_pos].astype(np.int32),
        ids[context_pos].astype(np.int32),
        center_pos,
    )
