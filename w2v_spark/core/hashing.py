"""Counter-based random numbers: a value drawn from a hash of its coordinates.

Pair generation draws one number per token (keep or drop, window size). Drawing it from a
hash of ``(seed, epoch, sentence, position)`` makes the result depend only on the data, never
on how Spark split it into partitions or batches, and a retried task draws the same numbers.
The mixer is SplitMix64's finaliser, applied with wrapping uint64 arithmetic.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser of a uint64 array (a bijection with good avalanche)."""
    z = np.asarray(x, dtype=np.uint64) + _GOLDEN
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def hash_keys(*keys: np.ndarray | int) -> np.ndarray:
    """Hash broadcastable integer key arrays into one uint64 array, order-sensitively."""
    with np.errstate(over="ignore"):
        h = np.zeros((), dtype=np.uint64)
        for key in keys:
            h = mix64(h ^ np.asarray(key).astype(np.uint64))
    return np.asarray(h)


def uniform01(hashes: np.ndarray) -> np.ndarray:
    """Map uint64 hashes to float64 uniforms in [0, 1) using their top 53 bits."""
    return (hashes >> _S11).astype(np.float64) * (1.0 / 9007199254740992.0)
