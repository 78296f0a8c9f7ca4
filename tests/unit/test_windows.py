"""Tests for the vectorised skip-gram window and the counter-based hashing (no Spark)."""

from __future__ import annotations

import numpy as np
import pytest

from w2v_spark.core.hashing import hash_keys, mix64, uniform01
from w2v_spark.core.windows import sentence_index, skipgram_pairs, whole_sentence_pairs


def _reference_pairs(
    ids: np.ndarray, offsets: np.ndarray, spans: np.ndarray
) -> tuple[list[int], list[int], list[int]]:
    """Nested loops: sentence by sentence, center by center, contexts left to right."""
    centers: list[int] = []
    contexts: list[int] = []
    positions: list[int] = []
    for s in range(offsets.size - 1):
        start, end = int(offsets[s]), int(offsets[s + 1])
        for i in range(start, end):
            span = int(spans[i])
            for j in range(max(start, i - span), min(end, i + span + 1)):
                if j != i:
                    centers.append(int(ids[i]))
                    contexts.append(int(ids[j]))
                    positions.append(i)
    return centers, contexts, positions


def _random_corpus(
    rng: np.random.Generator, sentences: int, max_len: int, vocab: int
) -> tuple[np.ndarray, np.ndarray]:
    lengths = rng.integers(0, max_len + 1, size=sentences)
    lengths[:3] = [0, 1, 0]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    ids = rng.integers(0, vocab, size=int(offsets[-1])).astype(np.int32)
    return ids, offsets


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_skipgram_pairs_match_nested_loops(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ids, offsets = _random_corpus(rng, sentences=60, max_len=15, vocab=30)
    spans = rng.integers(0, 6, size=ids.size)
    centers, contexts, positions = skipgram_pairs(ids, sentence_index(offsets), spans)
    exp_centers, exp_contexts, exp_positions = _reference_pairs(ids, offsets, spans)

    assert centers.dtype == np.int32 and contexts.dtype == np.int32
    assert positions.dtype == np.int64
    assert centers.tolist() == exp_centers
    assert contexts.tolist() == exp_contexts
    assert positions.tolist() == exp_positions


def test_pairs_never_cross_sentences() -> None:
    rng = np.random.default_rng(4)
    lengths = rng.integers(0, 12, size=200)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    sentence = sentence_index(offsets)
    ids = sentence.astype(np.int32)  # a token's id is its sentence
    spans = np.full(ids.size, 8)
    centers, contexts, positions = skipgram_pairs(ids, sentence, spans)
    assert centers.size > 0
    np.testing.assert_array_equal(centers, contexts)
    np.testing.assert_array_equal(sentence[positions], centers)


def test_span_one_pairs_only_neighbours() -> None:
    ids = np.arange(10, dtype=np.int32)
    offsets = np.array([0, 4, 4, 5, 10])
    centers, contexts, _ = skipgram_pairs(ids, sentence_index(offsets), np.ones(10, np.int64))
    pairs = list(zip(centers.tolist(), contexts.tolist(), strict=True))
    assert pairs == [
        (0, 1), (1, 0), (1, 2), (2, 1), (2, 3), (3, 2),
        (5, 6), (6, 5), (6, 7), (7, 6), (7, 8), (8, 7), (8, 9), (9, 8),
    ]


def test_skipgram_pairs_empty_and_zero_spans() -> None:
    empty_ids = np.empty(0, dtype=np.int32)
    for out in skipgram_pairs(empty_ids, np.empty(0, np.int64), np.empty(0, np.int64)):
        assert out.size == 0
    ids = np.arange(5, dtype=np.int32)
    out = skipgram_pairs(ids, np.zeros(5, np.int64), np.zeros(5, np.int64))
    assert [a.size for a in out] == [0, 0, 0]


def test_sentence_index() -> None:
    offsets = np.array([0, 2, 2, 5, 6])
    np.testing.assert_array_equal(sentence_index(offsets), [0, 0, 2, 2, 2, 3])


def _splitmix64_reference(x: int) -> int:
    mask = (1 << 64) - 1
    z = (x + 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return z ^ (z >> 31)


def test_mix64_is_splitmix64() -> None:
    values = [0, 1, 2, 12345, 2**63, 2**64 - 1]
    out = mix64(np.array(values, dtype=np.uint64))
    assert out.dtype == np.uint64
    assert [int(v) for v in out] == [_splitmix64_reference(v) for v in values]
    assert int(out[0]) == 0xE220A8397B1DCDAF


def test_mix64_has_no_collisions_on_consecutive_ints() -> None:
    hashes = mix64(np.arange(1_000_000, dtype=np.uint64))
    assert np.unique(hashes).size == 1_000_000


def test_uniform01_range_and_mean() -> None:
    extremes = uniform01(np.array([0, 2**64 - 1], dtype=np.uint64))
    assert extremes[0] == 0.0
    assert extremes[1] < 1.0
    u = uniform01(mix64(np.arange(1_000_000, dtype=np.uint64)))
    assert u.dtype == np.float64
    assert np.all((u >= 0.0) & (u < 1.0))
    assert abs(u.mean() - 0.5) < 0.002
    assert abs(np.mean(u < 0.1) - 0.1) < 0.002


def test_hash_keys_is_order_sensitive_and_broadcasts() -> None:
    a = hash_keys(1, 2, np.arange(4))
    b = hash_keys(2, 1, np.arange(4))
    assert a.shape == (4,)
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, hash_keys(1, 2, np.arange(4)))


def _reference_whole_sentence(ids: np.ndarray, offsets: np.ndarray) -> list[tuple[int, int, int]]:
    """Nested loops: every ordered pair of distinct positions of a sentence."""
    out = []
    for s in range(offsets.size - 1):
        start, end = int(offsets[s]), int(offsets[s + 1])
        for i in range(start, end):
            for j in range(start, end):
                if j != i:
                    out.append((int(ids[i]), int(ids[j]), i))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_whole_sentence_pairs_match_nested_loops(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ids, offsets = _random_corpus(rng, sentences=80, max_len=20, vocab=40)
    centers, contexts, positions = whole_sentence_pairs(ids, sentence_index(offsets))
    expected = _reference_whole_sentence(ids, offsets)
    assert centers.dtype == np.int32 and contexts.dtype == np.int32
    assert positions.dtype == np.int64
    lengths = np.diff(offsets)
    assert centers.size == int(np.sum(lengths * (lengths - 1))) > 0
    got = list(zip(centers.tolist(), contexts.tolist(), positions.tolist(), strict=True))
    assert got == expected


def test_whole_sentence_equals_a_window_as_wide_as_the_longest_sentence() -> None:
    rng = np.random.default_rng(9)
    ids, offsets = _random_corpus(rng, sentences=50, max_len=12, vocab=30)
    sentence = sentence_index(offsets)
    wide = skipgram_pairs(ids, sentence, np.full(ids.size, 12))
    whole = whole_sentence_pairs(ids, sentence)
    for a, b in zip(wide, whole, strict=True):
        np.testing.assert_array_equal(a, b)


def test_whole_sentence_pairs_empty_and_single_tokens() -> None:
    for out in whole_sentence_pairs(np.empty(0, np.int32), np.empty(0, np.int64)):
        assert out.size == 0
    ids = np.arange(3, dtype=np.int32)
    out = whole_sentence_pairs(ids, np.array([0, 1, 2]))
    assert [a.size for a in out] == [0, 0, 0]
