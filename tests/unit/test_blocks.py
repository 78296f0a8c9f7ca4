"""Tests for vocabulary blocks and the strata of stratified SGD (no Spark)."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from tests.extras import extra
from w2v_spark.core.blocks import (
    VocabBlocks,
    block_sampler,
    output_block,
    strata,
    stratum_shard,
    to_local,
    vocab_blocks,
)
from w2v_spark.core.sampling import NegativeSampler
from w2v_spark.core.training import LearningRate, SliceTrainer


def _zipf(size: int, exponent: float = 1.0, top: float = 1e6) -> np.ndarray:
    """(size,) integer counts ``floor(top / rank ** exponent)``, rank 1 first: ids by
    descending count, as the vocabulary numbers them, with ties in the tail."""
    rank = np.arange(1, size + 1, dtype=np.float64)
    return np.floor(top / rank**exponent)


def _check_partition(blocks: VocabBlocks, size: int) -> None:
    """Every id in exactly one block; every block's local rows a bijection onto 0..n_b-1."""
    k = blocks.num_blocks
    assert blocks.block_of.shape == blocks.local_of.shape == (size,)
    assert blocks.block_of.dtype == blocks.local_of.dtype == np.int32
    members = [blocks.ids(b) for b in range(k)]
    assert all(ids.dtype == np.int32 for ids in members)
    np.testing.assert_array_equal(np.sort(np.concatenate(members)), np.arange(size))
    np.testing.assert_array_equal(blocks.sizes, [ids.size for ids in members])
    for b, ids in enumerate(members):
        np.testing.assert_array_equal(blocks.block_of[ids], np.full(ids.size, b))
        np.testing.assert_array_equal(blocks.local_of[ids], np.arange(ids.size))
    words = np.arange(size)
    np.testing.assert_array_equal(
        np.array([members[blocks.block_of[w]][blocks.local_of[w]] for w in words]), words
    )


def test_hand_computed_snake() -> None:
    # By weight, ties by id: 1, 2, 4 (3.0), 3, 6 (2.0), 0 (1.0), 5 (0.0). With K = 3, cycle 0
    # deals them to blocks 0, 1, 2, cycle 1 to 2, 1, 0, cycle 2 to 0.
    blocks = vocab_blocks(np.array([1.0, 3.0, 3.0, 2.0, 3.0, 0.0, 2.0]), 3)
    np.testing.assert_array_equal(blocks.block_of, [0, 0, 1, 2, 2, 0, 1])
    np.testing.assert_array_equal(blocks.local_of, [1, 0, 0, 1, 0, 2, 1])
    np.testing.assert_array_equal(blocks.sizes, [3, 2, 2])
    np.testing.assert_array_equal(blocks.ids(0), [1, 0, 5])
    np.testing.assert_array_equal(blocks.ids(1), [2, 6])
    np.testing.assert_array_equal(blocks.ids(2), [4, 3])
    np.testing.assert_array_equal(blocks.mass(np.arange(7.0)), [0 + 1 + 5, 2 + 6, 4 + 3])


@pytest.mark.parametrize(("size", "k"), [(1, 1), (10, 1), (10, 3), (10, 10), (1000, 7),
                                         (1001, 8), (4096, 64)])
def test_blocks_partition_the_vocabulary(size: int, k: int) -> None:
    weights = np.random.default_rng(size + k).lognormal(2.0, 2.0, size=size)
    blocks = vocab_blocks(weights, k)
    assert blocks.num_blocks == k and blocks.vocab_size == size
    _check_partition(blocks, size)
    assert blocks.sizes.max() - blocks.sizes.min() <= 1
    assert blocks.sizes.sum() == size
    # The local row of a word is its cycle in the order by weight.
    rank = np.empty(size, dtype=np.int64)
    rank[np.argsort(-weights, kind="stable")] = np.arange(size)
    np.testing.assert_array_equal(blocks.local_of, rank // k)


def test_same_weights_give_equal_blocks() -> None:
    weights = _zipf(500)
    first, second = vocab_blocks(weights, 6), vocab_blocks(weights.copy(), 6)
    np.testing.assert_array_equal(first.block_of, second.block_of)
    np.testing.assert_array_equal(first.local_of, second.local_of)
    for b in range(6):
        np.testing.assert_array_equal(first.ids(b), second.ids(b))


def test_distinct_weights_move_with_their_words() -> None:
    weights = np.random.default_rng(3).permutation(np.arange(1.0, 301.0))
    perm = np.random.default_rng(4).permutation(300)
    blocks, moved = vocab_blocks(weights, 7), vocab_blocks(weights[perm], 7)
    np.testing.assert_array_equal(moved.block_of, blocks.block_of[perm])
    np.testing.assert_array_equal(moved.local_of, blocks.local_of[perm])


def test_equal_weights_are_dealt_by_id() -> None:
    size, k = 23, 4
    cycle, place = np.divmod(np.arange(size), k)
    snake = np.where(cycle % 2 == 0, place, k - 1 - place)
    for weights in (np.full(size, 5.0), np.zeros(size)):
        blocks = vocab_blocks(weights, k)
        np.testing.assert_array_equal(blocks.block_of, snake)
        np.testing.assert_array_equal(blocks.local_of, cycle)


def test_one_block_numbers_rows_by_id_in_vocabulary_order() -> None:
    counts = _zipf(1000, top=1e4)  # descending, with ties in the tail
    assert np.any(counts[1:] == counts[:-1])
    blocks = vocab_blocks(counts, 1)
    np.testing.assert_array_equal(blocks.block_of, np.zeros(1000))
    np.testing.assert_array_equal(blocks.local_of, np.arange(1000))
    np.testing.assert_array_equal(blocks.ids(0), np.arange(1000))
    # With vocabulary ids, every block's ids ascend with its local rows.
    for b in range(8):
        assert np.all(np.diff(vocab_blocks(counts, 8).ids(b)) > 0)


def test_increasing_functions_of_the_counts_give_the_same_blocks() -> None:
    counts = _zipf(5000)
    blocks = vocab_blocks(counts, 8)
    kept = np.minimum(counts, np.sqrt(counts * 1e-3 * counts.sum()) + 1e-3 * counts.sum())
    for weights in (counts**0.75, kept, np.log1p(counts)):
        other = vocab_blocks(weights, 8)
        np.testing.assert_array_equal(other.block_of, blocks.block_of)
        np.testing.assert_array_equal(other.local_of, blocks.local_of)


@pytest.mark.parametrize(("weights", "k", "message"), [
    (np.ones(5), 0, "num_blocks must be between 1 and the 5 words, got 0"),
    (np.ones(5), -2, "num_blocks must be between 1 and the 5 words, got -2"),
    (np.ones(5), 6, "num_blocks must be between 1 and the 5 words, got 6"),
    (np.ones(0), 1, r"non-empty 1-D array, got shape \(0,\)"),
    (np.ones((2, 3)), 1, r"non-empty 1-D array, got shape \(2, 3\)"),
    (np.array([1.0, -0.5, 2.0]), 1, r"1 of 3 are not, the first is weights\[1\] = -0.5"),
    (np.array([1.0, 2.0, np.nan, np.inf]), 1, r"2 of 4 are not, the first is weights\[2\] = nan"),
    (np.array(["a", "b"]), 1, "weights must be real numbers, got dtype <U1"),
])
def test_bad_arguments_are_errors_naming_them(weights: np.ndarray, k: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        vocab_blocks(weights, k)


def test_blocks_that_are_not_a_partition_are_refused() -> None:
    with pytest.raises(ValueError, match=r"number the words of every block 0 \.\. n_b - 1"):
        VocabBlocks(2, np.array([0, 0, 1]), np.array([0, 2, 0]))
    with pytest.raises(ValueError, match="number the words of every block"):
        VocabBlocks(2, np.array([0, 0, 1]), np.array([1, 1, 0]))
    with pytest.raises(ValueError, match=r"blocks in 0..1, got values in 0..2"):
        VocabBlocks(2, np.array([0, 2, 1]), np.array([0, 0, 0]))
    with pytest.raises(ValueError, match="between 1 and the 3 words, got 4"):
        VocabBlocks(4, np.array([0, 1, 2]), np.array([0, 0, 0]))
    good = VocabBlocks(2, np.array([1, 0, 1]), np.array([1, 0, 0]))
    np.testing.assert_array_equal(good.ids(1), [2, 0])
    with pytest.raises(ValueError, match="block must be between 0 and 1, got 2"):
        good.ids(2)
    with pytest.raises(ValueError, match=r"weights must have shape \(3,\), got \(4,\)"):
        good.mass(np.ones(4))


def test_blocks_are_read_only_copies() -> None:
    block_of, local_of = np.array([1, 0, 1]), np.array([1, 0, 0])
    blocks = VocabBlocks(2, block_of, local_of)
    block_of[0] = 0
    assert blocks.block_of[0] == 1
    with pytest.raises(ValueError, match="read-only"):
        blocks.ids(1)[0] = 1
    with pytest.raises(ValueError, match="read-only"):
        blocks.local_of[0] = 0


@pytest.mark.parametrize("k", [2, 8, 32])
def test_block_mass_on_a_zipf_vocabulary(k: int) -> None:
    """Mass balance on Zipf(1.0) counts of 100,000 words, in counts and in counts ** 0.75.

    Let ``p`` be the top word's share of the mass. Whatever the partition, the top word's
    block weighs at least ``p`` of it, so ``max / mean >= K p`` (about 2.6 for counts at
    K = 32, where the top word alone is over 1/K of the mass). Dealing the sorted words one
    per cycle, a block's word in cycle ``c >= 1`` weighs no more than each of the K words at
    positions ``(c - 1) K + 1 .. c K``, windows that are disjoint and leave out the top word;
    so a block weighs at most ``w_top + (W - w_top) / K``: ``max / mean <= 1 + (K - 1) p``.
    Likewise a block's word of cycle ``c`` weighs at least each word of cycle ``c + 1``, so
    ``min / mean >= 1 - q`` with ``q`` the share of the top K words.
    """
    size = 100_000
    rank = np.arange(1, size + 1, dtype=np.float64)
    counts = 1.0 / rank
    blocks = vocab_blocks(counts, k)
    for weights in (counts, counts**0.75):
        mass = blocks.mass(weights)
        assert mass.sum() == pytest.approx(weights.sum(), rel=1e-12)
        p = weights[0] / weights.sum()
        q = weights[:k].sum() / weights.sum()
        ratio = mass.max() / mass.mean()
        assert max(1.0, k * p) <= ratio <= 1.0 + (k - 1) * p
        assert mass.min() / mass.mean() >= 1.0 - q
        # No worse than dealing in plain round-robin order (block r % K), which the
        # reversal of every other cycle improves on Zipf weights.
        round_robin = np.bincount(np.arange(size) % k, weights=weights, minlength=k)
        assert ratio < round_robin.max() / round_robin.mean()
        if k * p > 1.0:
            assert np.argmax(mass) == blocks.block_of[0]


@pytest.mark.parametrize("k", [1, 2, 3, 4, 7, 32])
def test_the_strata_of_a_sub_round_are_disjoint(k: int) -> None:
    seen: set[tuple[int, int]] = set()
    for s in range(k):
        outputs = [output_block(s, t, k) for t in range(k)]
        assert sorted(outputs) == list(range(k))  # inputs are the tasks 0..K-1
        seen.update((t, o) for t, o in enumerate(outputs))
        assert [stratum_shard(s, t, k) for t in range(k)] == list(range(s * k, s * k + k))
    assert seen == {(i, o) for i in range(k) for o in range(k)}


def test_strata_of_pairs() -> None:
    counts = _zipf(300)
    blocks = vocab_blocks(counts, 5)
    rng = np.random.default_rng(0)
    inputs = rng.integers(0, 300, size=2000).astype(np.int32)
    outputs = rng.integers(0, 300, size=2000).astype(np.int32)
    sub_round, task = strata(blocks, inputs, outputs)
    assert sub_round.dtype == task.dtype == np.int32
    np.testing.assert_array_equal(task, blocks.block_of[inputs])
    assert sub_round.min() >= 0 and sub_round.max() < 5
    np.testing.assert_array_equal(output_block(sub_round, task, 5), blocks.block_of[outputs])
    for i in range(0, 2000, 97):
        s, t = int(sub_round[i]), int(task[i])
        assert (s, t) == (
            (int(blocks.block_of[outputs[i]]) - int(blocks.block_of[inputs[i]])) % 5,
            int(blocks.block_of[inputs[i]]),
        )
    shard = stratum_shard(sub_round, task, 5)
    np.testing.assert_array_equal(np.divmod(shard, 5), (sub_round, task))
    assert set(np.unique(shard)) == set(range(25))  # 2000 pairs fill the 25 strata


def test_strata_refuse_bad_ids() -> None:
    blocks = vocab_blocks(np.ones(10), 2)
    with pytest.raises(ValueError, match=r"inputs must be word ids in 0..9, got values in -1..3"):
        strata(blocks, np.array([-1, 3]), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"outputs must be word ids in 0..9, got values in 0..10"):
        strata(blocks, np.array([0, 3]), np.array([0, 10]))
    with pytest.raises(ValueError, match=r"one shape, got \(2,\) and \(3,\)"):
        strata(blocks, np.array([0, 3]), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="integer word ids, got dtype float64"):
        strata(blocks, np.array([0.0, 3.0]), np.array([0, 1]))


def test_to_local_maps_ids_of_one_block_to_its_rows() -> None:
    blocks = vocab_blocks(_zipf(50), 4)
    for b in range(4):
        ids = blocks.ids(b)
        order = np.random.default_rng(b).permutation(np.repeat(ids, 3))
        local = to_local(blocks, order)
        assert local.dtype == np.int32
        np.testing.assert_array_equal(ids[local], order)
        np.testing.assert_array_equal(to_local(blocks, order, block=b), local)
    assert to_local(blocks, np.zeros(0, dtype=np.int32), block=2).shape == (0,)


def test_to_local_refuses_ids_of_another_block() -> None:
    blocks = vocab_blocks(np.ones(8), 2)  # even cycles 0, 1; odd 1, 0: blocks 0 1 1 0 0 1 1 0
    np.testing.assert_array_equal(blocks.block_of, [0, 1, 1, 0, 0, 1, 1, 0])
    with pytest.raises(ValueError, match=(r"1 of 3 ids are not in the block of the first id, 0: "
                                          r"the first is id 2 at position 1, in block 1")):
        to_local(blocks, np.array([0, 2, 3]))
    with pytest.raises(ValueError, match=(r"2 of 3 ids are not in block 1: the first is id 0 at "
                                          r"position 0, in block 0")):
        to_local(blocks, np.array([0, 2, 3]), block=1)
    with pytest.raises(ValueError, match=r"ids must be word ids in 0..7, got values in 0..8"):
        to_local(blocks, np.array([0, 8]))
    with pytest.raises(ValueError, match="block must be between 0 and 1, got 5"):
        to_local(blocks, np.array([0]), block=5)


def _wilson_hilferty(dof: int, level: float) -> float:
    """Upper ``level`` quantile of chi-square with ``dof`` degrees of freedom by the
    Wilson-Hilferty approximation: (X / dof) ** (1/3) is about normal with mean
    ``1 - 2 / (9 dof)`` and variance ``2 / (9 dof)``."""
    a = 2.0 / (9.0 * dof)
    z = NormalDist().inv_cdf(1.0 - level)
    return dof * (1.0 - a + z * math.sqrt(a)) ** 3


def _chi_square_critical(dof: int, level: float) -> float:
    """Upper ``level`` quantile of chi-square: scipy's when it is installed."""
    try:
        from scipy.stats import chi2
    except ImportError:
        return _wilson_hilferty(dof, level)
    return float(chi2.isf(level, dof))


def test_wilson_hilferty_against_scipy() -> None:
    chi2 = extra("scipy.stats").chi2
    # The approximation is good to about 1% at 10 degrees of freedom and improves with more.
    for dof, rel in ((10, 1e-2), (124, 1e-3), (249, 1e-3), (1000, 1e-4)):
        for level in (0.05, 1e-3):
            exact = float(chi2.isf(level, dof))
            assert _wilson_hilferty(dof, level) == pytest.approx(exact, rel=rel)


def _chi_square(draws: np.ndarray, probabilities: np.ndarray) -> tuple[float, int]:
    """Pearson's statistic of (n,) draws of 0..B-1 against (B,) probabilities, all of which
    expect at least 5 draws, and its degrees of freedom."""
    expected = draws.size * probabilities
    assert expected.min() >= 5.0
    observed = np.bincount(draws, minlength=probabilities.size)
    assert observed.size == probabilities.size
    return float(((observed - expected) ** 2 / expected).sum()), probabilities.size - 1


LEVEL = 1e-3  # of the chi-square tests, each run with a fixed seed


def test_block_negatives_follow_the_counts_within_the_block() -> None:
    counts = _zipf(2000)
    blocks = vocab_blocks(counts, 8)
    b, draws_n = 3, 100_000
    ids = blocks.ids(b)
    sampler = block_sampler(counts, blocks, b, 0.75)
    assert len(sampler) == ids.size == 250
    weights = counts[ids] ** 0.75
    expected = weights / weights.sum()
    np.testing.assert_allclose(sampler.probabilities, expected, rtol=1e-12)

    local = sampler.sample(np.random.default_rng(11), draws_n)
    assert local.dtype == np.int32 and local.min() >= 0 and local.max() < ids.size
    np.testing.assert_array_equal(blocks.block_of[ids[local]], np.full(draws_n, b))
    stat, dof = _chi_square(local, expected)
    critical = _chi_square_critical(dof, LEVEL)
    assert stat < critical

    # Negative controls. The global sampler draws words of every block ...
    global_draws = NegativeSampler(counts, 0.75).sample(np.random.default_rng(11), draws_n)
    outside = blocks.block_of[global_draws] != b
    assert outside.mean() > 0.8
    # ... and read as local rows (a task handed the global sampler) they fail the test.
    stat, _ = _chi_square(blocks.local_of[global_draws], expected)
    assert stat > critical
    # So do draws in proportion to the counts themselves within the block.
    unigram = block_sampler(counts, blocks, b, 1.0).sample(np.random.default_rng(11), draws_n)
    stat, _ = _chi_square(unigram, expected)
    assert stat > critical


def test_block_sampler_refuses_counts_of_another_vocabulary() -> None:
    blocks = vocab_blocks(np.ones(10), 2)
    with pytest.raises(ValueError, match=r"counts must have shape \(10,\), got \(9,\)"):
        block_sampler(np.ones(9), blocks, 0, 0.75)


def test_slice_trainer_takes_blocks_of_different_sizes() -> None:
    rng = np.random.default_rng(0)
    w_in = rng.normal(0.0, 0.1, size=(5, 4)).astype(np.float32)
    w_out = rng.normal(0.0, 0.1, size=(7, 4)).astype(np.float32)
    trainer = SliceTrainer(
        w_in=w_in, w_out=w_out, sampler=NegativeSampler(np.arange(1.0, 8.0), 0.75),
        rng=np.random.default_rng(1), schedule=LearningRate(0.025, 0.0001, 100),
        negative=2, batch_size=4, progress_start=0.0, progress_scale=1.0,
    )
    assert trainer.touched_in.shape == (5,) and trainer.touched_out.shape == (7,)
    trainer.train(np.array([0, 4, 4], dtype=np.int32), np.array([6, 0, 6], dtype=np.int32))
    np.testing.assert_array_equal(trainer.touched_in, [True, False, False, False, True])
    assert trainer.touched_out[[0, 6]].all()


# --- one epoch of stratified training, simulated task by task -------------------------------

VOCAB, DIM, K, PAIRS = 302, 8, 4, 4000  # 302 words: blocks of 75, 75, 76 and 76 rows


def _model(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Counts, (VOCAB, DIM) w_in and w_out, and (PAIRS,) input and output ids drawn from the
    counts."""
    rng = np.random.default_rng(seed)
    counts = _zipf(VOCAB, top=1e4)
    w_in = rng.normal(0.0, 0.3, size=(VOCAB, DIM)).astype(np.float32)
    w_out = rng.normal(0.0, 0.3, size=(VOCAB, DIM)).astype(np.float32)
    p = counts / counts.sum()
    inputs = rng.choice(VOCAB, size=PAIRS, p=p).astype(np.int32)
    outputs = rng.choice(VOCAB, size=PAIRS, p=p).astype(np.int32)
    return counts, w_in, w_out, inputs, outputs


def _stratified_epoch(
    counts: np.ndarray,
    w_in: np.ndarray,
    w_out: np.ndarray,
    inputs: np.ndarray,
    outputs: np.ndarray,
    num_blocks: int,
    *,
    sub_rounds: list[int] | None = None,
    task_order: list[list[int]] | None = None,
    parallel: bool = False,
    shared_negatives: int = 0,
    seed: int = 9,
) -> tuple[np.ndarray, np.ndarray]:
    """One epoch: in every sub-round, every task gathers its input and output blocks, trains
    its stratum with local ids and its block's sampler, and writes the blocks back. In order,
    task after task, or, ``parallel``, every task of a sub-round from the model the sub-round
    started with and all written back at its end. Returns the new (w_in, w_out)."""
    w_in, w_out = w_in.copy(), w_out.copy()
    blocks = vocab_blocks(counts, num_blocks)
    sub_round, task = strata(blocks, inputs, outputs)
    schedule = LearningRate(0.05, 0.0001, inputs.size)
    done = 0
    for s in sub_rounds if sub_rounds is not None else range(num_blocks):
        in_round = sub_round == s
        round_pairs = int(in_round.sum())
        start_in, start_out = (w_in.copy(), w_out.copy()) if parallel else (w_in, w_out)
        results = []
        for t in task_order[s] if task_order is not None else range(num_blocks):
            o = output_block(s, t, num_blocks)
            mine = in_round & (task == t)
            trainer = SliceTrainer(
                w_in=start_in[blocks.ids(t)],
                w_out=start_out[blocks.ids(o)],
                sampler=block_sampler(counts, blocks, o, 0.75),
                rng=np.random.default_rng(np.random.SeedSequence([seed, 0, s, t])),
                schedule=schedule,
                negative=3,
                batch_size=16,
                progress_start=float(done),
                progress_scale=round_pairs / max(int(mine.sum()), 1),
                shared_negatives=shared_negatives,
                negative_groups=2,
            )
            trainer.train_all(
                [(to_local(blocks, inputs[mine], t), to_local(blocks, outputs[mine], o))]
            )
            results.append((t, o, trainer.w_in, trainer.w_out))
            if not parallel:
                w_in[blocks.ids(t)], w_out[blocks.ids(o)] = trainer.w_in, trainer.w_out
        for t, o, block_in, block_out in results:
            w_in[blocks.ids(t)], w_out[blocks.ids(o)] = block_in, block_out
        done += round_pairs
    return w_in, w_out


@pytest.mark.parametrize("shared_negatives", [0, 4])
def test_tasks_of_a_sub_round_commute(shared_negatives: int) -> None:
    counts, w_in, w_out, inputs, outputs = _model()
    blocks = vocab_blocks(counts, K)
    np.testing.assert_array_equal(blocks.sizes, [75, 75, 76, 76])  # cycle 75 is odd
    sub_round, task = strata(blocks, inputs, outputs)
    assert np.bincount(stratum_shard(sub_round, task, K), minlength=K * K).min() > 0

    args = (counts, w_in, w_out, inputs, outputs, K)
    in_order = _stratified_epoch(*args, shared_negatives=shared_negatives)
    rng = np.random.default_rng(1)
    shuffled = [list(rng.permutation(K)) for _ in range(K)]
    assert any(order != list(range(K)) for order in shuffled)
    reordered = _stratified_epoch(*args, task_order=shuffled, shared_negatives=shared_negatives)
    parallel = _stratified_epoch(*args, parallel=True, shared_negatives=shared_negatives)
    for got in (reordered, parallel):
        assert np.array_equal(got[0], in_order[0]) and np.array_equal(got[1], in_order[1])

    # The comparison can fail: the epoch moved every matrix, and sub-rounds do not commute.
    assert np.any(in_order[0] != w_in, axis=1).mean() > 0.5
    assert np.any(in_order[1] != w_out, axis=1).mean() > 0.5
    backwards = _stratified_epoch(*args, sub_rounds=list(range(K))[::-1],
                                  shared_negatives=shared_negatives)
    assert not np.array_equal(backwards[0], in_order[0])


@pytest.mark.parametrize("shared_negatives", [0, 4])
def test_one_block_is_plain_training_on_the_whole_model(shared_negatives: int) -> None:
    counts, w_in, w_out, inputs, outputs = _model(1)
    blocked = _stratified_epoch(counts, w_in, w_out, inputs, outputs, 1, seed=5,
                                shared_negatives=shared_negatives)
    whole = SliceTrainer(
        w_in=w_in.copy(),
        w_out=w_out.copy(),
        sampler=NegativeSampler(counts, 0.75),
        rng=np.random.default_rng(np.random.SeedSequence([5, 0, 0, 0])),
        schedule=LearningRate(0.05, 0.0001, inputs.size),
        negative=3,
        batch_size=16,
        progress_start=0.0,
        progress_scale=1.0,
        shared_negatives=shared_negatives,
        negative_groups=2,
    )
    whole.train_all([(inputs, outputs)])
    assert np.array_equal(blocked[0], whole.w_in) and np.array_equal(blocked[1], whole.w_out)
    assert not np.array_equal(whole.w_in, w_in)
