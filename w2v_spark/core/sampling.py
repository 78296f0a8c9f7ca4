"""Frequent-word subsampling and the negative-sampling distribution."""

from __future__ import annotations

import numpy as np


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """Probability of keeping each occurrence of a word, as in word2vec and gensim.

    With ``f = count / total`` and threshold ``t = sample``, a word is kept with
    probability ``min(1, (sqrt(f / t) + 1) * t / f)``. ``sample <= 0`` keeps everything.

    Args:
        counts: (V,) word counts of the retained vocabulary.
        sample: the threshold ``t``.

    Returns:
        (V,) float64 probabilities in (0, 1].
    """
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0:
        return np.ones_like(counts)
    freq = counts / counts.sum()
    keep = (np.sqrt(freq / sample) + 1.0) * sample / freq
    return np.minimum(keep, 1.0)


class NegativeSampler:
    """Draws word ids from ``count ** exponent`` (normalised) in O(1) each (Walker's alias method).

    Args:
        counts: (V,) word counts.
        exponent: the ``ns_exponent``; 0.75 in word2vec, 0 is uniform, 1 is the unigram.
    """

    def __init__(self, counts: np.ndarray, exponent: float) -> None:
        counts = np.asarray(counts, dtype=np.float64)
        if counts.ndim != 1 or counts.size == 0 or not np.all(np.isfinite(counts)):
            raise ValueError("counts must be a non-empty 1-D array of finite values")
        if np.any(counts < 0):
            raise ValueError("counts must be non-negative")
        weights = counts**exponent
        if not np.all(np.isfinite(weights)):
            raise ValueError(f"counts ** {exponent} is not finite (a zero count?)")
        if weights.sum() <= 0:
            raise ValueError("counts must have a positive sum")
        self.probabilities: np.ndarray = weights / weights.sum()
        self.threshold, self.alias = _alias_table(self.probabilities)

    def __len__(self) -> int:
        return int(self.probabilities.size)

    def sample(self, rng: np.random.Generator, shape: int | tuple[int, ...]) -> np.ndarray:
        """Draw int32 word ids of the given shape."""
        size = len(self)
        slots = rng.integers(0, size, size=shape, dtype=np.int64)
        coins = rng.random(size=shape, dtype=np.float32)
        take_alias = coins >= self.threshold[slots]
        out = slots.astype(np.int32)
        out[take_alias] = self.alias[slots[take_alias]]
        return out


def _alias_table(prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker/Vose alias table for a (V,) distribution: (threshold float32, alias int32)."""
    size = prob.size
    scaled = prob * size
    threshold = np.ones(size, dtype=np.float64)
    alias = np.arange(size, dtype=np.int32)
    small = [int(i) for i in np.flatnonzero(scaled < 1.0)]
    large = [int(i) for i in np.flatnonzero(scaled >= 1.0)]
    while small and large:
        s = small.pop()
        g = large[-1]
        threshold[s] = scaled[s]
        alias[s] = g
        scaled[g] = scaled[g] + scaled[s] - 1.0
        if scaled[g] < 1.0:
            large.pop()
            small.append(g)
    return threshold.astype(np.float32), alias
