"""Tests for one epoch of pairs: subsampling, dynamic windows and shards (no Spark)."""

from __future__ import annotations

import itertools

import numpy as np

from w2v_spark.core.pairs import EpochPairs, epoch_pairs


def _corpus(
    rng: np.random.Generator, sentences: int, max_len: int, vocab: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Random sentences (some empty or of length 1, some OOV tokens) and their identities."""
    lengths = rng.integers(0, max_len + 1, size=sentences)
    lengths[:2] = [0, 1]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    ids = rng.integers(-1, vocab, size=int(offsets[-1])).astype(np.int32)
    line_ids = np.arange(sentences, dtype=np.int64) // 2 + 100
    chunks = np.arange(sentences, dtype=np.int64) % 2
    return ids, offsets, line_ids, chunks


def _run(
    ids: np.ndarray,
    offsets: np.ndarray,
    line_ids: np.ndarray,
    chunks: np.ndarray,
    keep_prob: np.ndarray,
    *,
    window: int = 5,
    seed: int = 1,
    epoch: int = 0,
    num_shards: int = 4,
) -> EpochPairs:
    return epoch_pairs(
        ids, offsets, line_ids, chunks, keep_prob,
        window=window, seed=seed, epoch=epoch, num_shards=num_shards,
    )


def _assert_same(a: EpochPairs, b: EpochPairs) -> None:
    np.testing.assert_array_equal(a.center, b.center)
    np.testing.assert_array_equal(a.context, b.context)
    np.testing.assert_array_equal(a.shard, b.shard)
    assert a.kept_tokens == b.kept_tokens


def test_epoch_pairs_is_deterministic() -> None:
    rng = np.random.default_rng(0)
    ids, offsets, line_ids, chunks = _corpus(rng, 300, 30, 50)
    keep = rng.uniform(0.3, 1.0, size=50)
    first = _run(ids, offsets, line_ids, chunks, keep)
    second = _run(ids.copy(), offsets.copy(), line_ids.copy(), chunks.copy(), keep.copy())
    assert first.center.size > 1000
    assert first.center.dtype == np.int32 and first.context.dtype == np.int32
    assert first.shard.dtype == np.int32
    assert first.center.shape == first.context.shape == first.shard.shape
    _assert_same(first, second)


def test_epoch_pairs_do_not_depend_on_batching() -> None:
    rng = np.random.default_rng(1)
    ids, offsets, line_ids, chunks = _corpus(rng, 200, 25, 40)
    keep = rng.uniform(0.2, 1.0, size=40)
    whole = _run(ids, offsets, line_ids, chunks, keep)
    for k in (1, 57, 123, 199):
        cut = int(offsets[k])
        head = _run(ids[:cut], offsets[: k + 1], line_ids[:k], chunks[:k], keep)
        tail = _run(ids[cut:], offsets[k:] - cut, line_ids[k:], chunks[k:], keep)
        joined = EpochPairs(
            np.concatenate([head.center, tail.center]),
            np.concatenate([head.context, tail.context]),
            np.concatenate([head.shard, tail.shard]),
            head.kept_tokens + tail.kept_tokens,
        )
        _assert_same(joined, whole)


def test_oov_tokens_are_removed_before_windows() -> None:
    ids = np.array([5, -1, 6, -1, -1, 7], dtype=np.int32)
    offsets = np.array([0, 6])
    out = _run(ids, offsets, np.array([0]), np.array([0]), np.ones(10), window=1)
    pairs = list(zip(out.center.tolist(), out.context.tolist(), strict=True))
    assert pairs == [(5, 6), (6, 5), (6, 7), (7, 6)]
    assert out.kept_tokens == 3


def test_different_epochs_and_seeds_draw_differently() -> None:
    rng = np.random.default_rng(2)
    ids, offsets, line_ids, chunks = _corpus(rng, 200, 30, 40)
    keep = rng.uniform(0.3, 1.0, size=40)
    base = _run(ids, offsets, line_ids, chunks, keep, epoch=0)
    other_epoch = _run(ids, offsets, line_ids, chunks, keep, epoch=1)
    other_seed = _run(ids, offsets, line_ids, chunks, keep, seed=2)
    for other in (other_epoch, other_seed):
        assert (
            base.center.size != other.center.size
            or not np.array_equal(base.center, other.center)
            or not np.array_equal(base.context, other.context)
        )
        assert not np.array_equal(base.shard[:50], other.shard[:50])


def test_window_one_without_subsampling_counts() -> None:
    rng = np.random.default_rng(3)
    lengths = rng.integers(0, 20, size=150)
    lengths[:3] = [0, 1, 2]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    ids = np.repeat(np.arange(150, dtype=np.int32), lengths)  # id = sentence
    out = _run(ids, offsets, np.arange(150), np.zeros(150, np.int64), np.ones(150), window=1)
    expected = 2 * np.maximum(lengths - 1, 0)
    assert out.center.size == int(expected.sum())
    np.testing.assert_array_equal(np.bincount(out.center, minlength=150), expected)
    np.testing.assert_array_equal(out.center, out.context)
    assert out.kept_tokens == int(lengths.sum())


def test_subsampling_keeps_about_keep_prob() -> None:
    sentences, length = 400, 500
    offsets = np.arange(sentences + 1, dtype=np.int64) * length
    line_ids = np.arange(sentences, dtype=np.int64)
    chunks = np.zeros(sentences, dtype=np.int64)
    keep = np.array([0.3, 1.0])

    rare = _run(np.zeros(sentences * length, np.int32), offsets, line_ids, chunks, keep)
    assert abs(rare.kept_tokens / (sentences * length) - 0.3) < 0.005

    common = _run(np.ones(sentences * length, np.int32), offsets, line_ids, chunks, keep)
    assert common.kept_tokens == sentences * length

    nothing = _run(np.zeros(sentences * length, np.int32), offsets, line_ids, chunks, keep * 0)
    assert nothing.kept_tokens == 0 and nothing.center.size == 0


def test_shards_are_per_sentence_and_uniform() -> None:
    rng = np.random.default_rng(4)
    sentences, num_shards = 4000, 8
    lengths = rng.integers(2, 8, size=sentences)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    ids = np.repeat(np.arange(sentences, dtype=np.int32), lengths)  # id = sentence
    out = _run(
        ids, offsets, np.arange(sentences), np.zeros(sentences, np.int64),
        np.ones(sentences), num_shards=num_shards,
    )
    assert np.all((out.shard >= 0) & (out.shard < num_shards))
    sentence_shard = np.full(sentences, -1)
    sentence_shard[out.center] = out.shard
    np.testing.assert_array_equal(sentence_shard[out.center], out.shard)
    assert np.all(sentence_shard >= 0)

    counts = np.bincount(sentence_shard, minlength=num_shards)
    expected = sentences / num_shards
    assert np.abs(counts - expected).max() < 0.2 * expected
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 30.0


def test_spans_are_uniform_over_one_to_window() -> None:
    length, window = 50_000, 5
    ids = np.arange(length, dtype=np.int32)  # every token its own word
    out = _run(
        ids, np.array([0, length]), np.array([7]), np.array([0]), np.ones(length),
        window=window,
    )
    per_center = np.bincount(out.center, minlength=length)[window : length - window]
    assert np.all(per_center % 2 == 0)
    spans = per_center // 2
    assert spans.min() == 1 and spans.max() == window
    freq = np.bincount(spans, minlength=window + 1)[1:] / spans.size
    np.testing.assert_allclose(freq, np.full(window, 1.0 / window), atol=0.01)
    # a center pairs with a symmetric, contiguous neighbourhood
    first = int(np.flatnonzero(out.center == 1000)[0])
    ctx = out.context[first : first + per_center[1000 - window]]
    span = int(spans[1000 - window])
    assert ctx.tolist() == [*range(1000 - span, 1000), *range(1001, 1001 + span)]


def test_window_zero_pairs_every_kept_token_of_a_sentence() -> None:
    rng = np.random.default_rng(5)
    ids, offsets, line_ids, chunks = _corpus(rng, 120, 15, 30)
    keep = rng.uniform(0.3, 1.0, size=30)
    whole = _run(ids, offsets, line_ids, chunks, keep, window=0)
    # The same subsampling with a window wider than any sentence and no shrinking.
    wide = epoch_pairs(
        ids, offsets, line_ids, chunks, keep,
        window=15, seed=1, epoch=0, num_shards=4, shrink_windows=False,
    )
    assert whole.center.size > 1000
    _assert_same(whole, wide)


def test_no_shrink_uses_the_full_window_for_every_center() -> None:
    ids = np.arange(8, dtype=np.int32)
    offsets = np.array([0, 8])
    one = np.array([0], dtype=np.int64)
    keep = np.ones(8)
    fixed = epoch_pairs(ids, offsets, one, one, keep, window=2, seed=3, epoch=0, num_shards=1,
                        shrink_windows=False)
    expected = [(c, x) for c in range(8) for x in range(max(0, c - 2), min(8, c + 3)) if x != c]
    assert list(zip(fixed.center.tolist(), fixed.context.tolist(), strict=True)) == expected
    shrunk = epoch_pairs(ids, offsets, one, one, keep, window=2, seed=3, epoch=0, num_shards=1)
    assert shrunk.center.size < len(expected)


def test_row_slices_bound_the_pairs_and_cover_every_row() -> None:
    from w2v_spark.stages.pairs import row_slices

    lengths = np.array([3, 10, 0, 1, 50, 4, 4, 4, 2])
    for window, bound in ((0, 20), (2, 15), (0, 10_000)):
        slices = row_slices(lengths, window, bound)
        assert slices[0][0] == 0 and slices[-1][1] == lengths.size
        assert all(a[1] == b[0] for a, b in itertools.pairwise(slices))
        for start, stop in slices:
            reach = np.maximum(lengths[start:stop] - 1, 0)
            if window:
                reach = np.minimum(reach, 2 * window)
            pairs = int(np.sum(lengths[start:stop] * reach))
            assert stop - start == 1 or pairs <= bound
    assert row_slices(lengths, 0, 10_000) == [(0, lengths.size)]
    assert row_slices(np.array([], dtype=np.int64), 0, 10) == []
