"""Tests for the learning-rate schedule and the slice trainer (no Spark)."""

from __future__ import annotations

import copy
import dataclasses
import itertools

import numpy as np
import pytest

from w2v_spark.core import training
from w2v_spark.core.sampling import NegativeSampler
from w2v_spark.core.sgns import sgns_step, sgns_step_shared
from w2v_spark.core.training import LearningRate, SliceTrainer

VOCAB, DIM = 40, 8


def test_learning_rate_is_linear_and_clipped() -> None:
    schedule = LearningRate(alpha=0.025, min_alpha=0.0001, total_pairs=1000)
    assert schedule.at(0) == pytest.approx(0.025)
    assert schedule.at(1000) == pytest.approx(0.0001)
    assert schedule.at(250) == pytest.approx(0.025 - 0.0249 * 0.25)
    assert schedule.at(500) == pytest.approx((0.025 + 0.0001) / 2)
    assert schedule.at(-50) == pytest.approx(0.025)
    assert schedule.at(5000) == pytest.approx(0.0001)
    values = [schedule.at(x) for x in range(0, 1001, 50)]
    np.testing.assert_allclose(np.diff(values), np.full(20, -0.0249 / 20), rtol=1e-9)


def test_learning_rate_with_zero_total() -> None:
    schedule = LearningRate(alpha=0.5, min_alpha=0.1, total_pairs=0)
    assert schedule.at(0) == pytest.approx(0.5)
    assert schedule.at(1) == pytest.approx(0.1)


def _pairs(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, VOCAB // 2, size=n).astype(np.int32),
        rng.integers(0, VOCAB // 2, size=n).astype(np.int32),
    )


def _trainer(
    seed: int = 0,
    *,
    batch_size: int = 16,
    progress_start: float = 0.0,
    progress_scale: float = 1.0,
    total_pairs: int = 1000,
    shuffle_window: int = 0,
    cls: type[SliceTrainer] = SliceTrainer,
) -> SliceTrainer:
    rng = np.random.default_rng(123)
    counts = rng.integers(1, 100, size=VOCAB).astype(np.float64)
    return cls(
        w_in=rng.normal(0.0, 0.1, size=(VOCAB, DIM)).astype(np.float32),
        w_out=rng.normal(0.0, 0.1, size=(VOCAB, DIM)).astype(np.float32),
        sampler=NegativeSampler(counts, 0.75),
        rng=np.random.default_rng(seed),
        schedule=LearningRate(0.025, 0.0001, total_pairs),
        negative=3,
        batch_size=batch_size,
        progress_start=progress_start,
        progress_scale=progress_scale,
        shuffle_window=shuffle_window,
    )


def test_same_seed_gives_identical_parameters() -> None:
    centers, contexts = _pairs(1, 300)
    first, second = _trainer(7), _trainer(7)
    first.train(centers, contexts)
    second.train(centers, contexts)
    np.testing.assert_array_equal(first.w_in, second.w_in)
    np.testing.assert_array_equal(first.w_out, second.w_out)
    assert first.loss_sum == second.loss_sum
    assert first.pairs_done == second.pairs_done == 300

    third = _trainer(8)
    third.train(centers, contexts)
    assert not np.array_equal(first.w_out, third.w_out)


def test_train_all_equals_train_on_concatenation() -> None:
    centers, contexts = _pairs(2, 96)
    whole, batched = _trainer(3), _trainer(3)
    whole.train(centers, contexts)
    cuts = [0, 13, 13, 50, 83, 96]  # pieces that are not multiples of the batch size
    batched.train_all(
        (centers[a:b], contexts[a:b]) for a, b in itertools.pairwise(cuts)
    )
    np.testing.assert_array_equal(whole.w_in, batched.w_in)
    np.testing.assert_array_equal(whole.w_out, batched.w_out)


def _cut(centers: np.ndarray, contexts: np.ndarray, cuts: list[int]
         ) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(centers[a:b], contexts[a:b]) for a, b in itertools.pairwise(cuts)]


@dataclasses.dataclass
class _Recorder(SliceTrainer):
    """Keeps the (centers, contexts) of every call to ``train`` instead of training."""

    calls: list[tuple[np.ndarray, np.ndarray]] = dataclasses.field(default_factory=list)

    def train(self, centers: np.ndarray, contexts: np.ndarray) -> None:
        self.calls.append((centers.copy(), contexts.copy()))


def test_shuffled_training_does_not_depend_on_how_the_stream_is_cut() -> None:
    centers, contexts = _pairs(12, 250)
    whole, cut = _trainer(3, shuffle_window=40), _trainer(3, shuffle_window=40)
    whole.train_all([(centers, contexts)])
    cut.train_all(_cut(centers, contexts, [0, 7, 7, 61, 130, 131, 250]))
    np.testing.assert_array_equal(whole.w_in, cut.w_in)
    np.testing.assert_array_equal(whole.w_out, cut.w_out)
    assert whole.loss_sum == cut.loss_sum and whole.pairs_done == cut.pairs_done == 250

    ordered = _trainer(3)
    ordered.train_all([(centers, contexts)])
    assert not np.array_equal(whole.w_in, ordered.w_in)


def test_shuffling_permutes_within_windows_of_whole_minibatches() -> None:
    n = 250  # a window of 40 pairs is rounded up to 48, three minibatches of 16
    contexts = np.arange(n, dtype=np.int32)  # pair i is identified by its context
    centers = contexts % VOCAB
    trainer = _trainer(4, batch_size=16, shuffle_window=40, cls=_Recorder)
    assert isinstance(trainer, _Recorder)
    trainer.train_all(_cut(centers, contexts, [0, 30, 200, 250]))
    calls = trainer.calls
    assert [o.size for _, o in calls] == [48] * 5 + [10]

    rng = np.random.default_rng(4)  # the trainer's rng, which drew only the permutations
    for (c, o), start in zip(calls, range(0, n, 48), strict=True):
        expected = start + rng.permutation(min(48, n - start))
        np.testing.assert_array_equal(o, expected)
        np.testing.assert_array_equal(c, expected % VOCAB)
    assert all(not np.array_equal(o, np.sort(o)) for _, o in calls)


def test_unshuffled_chunks_are_whole_minibatches_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(training, "_UNSHUFFLED_CHUNK", 50)  # rounded up to 96 pairs
    contexts = np.arange(200, dtype=np.int32)
    trainer = _trainer(4, batch_size=48, cls=_Recorder)
    assert isinstance(trainer, _Recorder)
    trainer.train_all(_cut(contexts % VOCAB, contexts, [0, 5, 60, 100, 200]))
    calls = trainer.calls
    assert [o.size for _, o in calls] == [96, 96, 8]
    np.testing.assert_array_equal(np.concatenate([o for _, o in calls]), contexts)


def test_touched_rows_are_exactly_the_words_used() -> None:
    centers, contexts = _pairs(4, 40)
    trainer = _trainer(5, batch_size=16)
    rng_copy = copy.deepcopy(trainer.rng)
    w_in0, w_out0 = trainer.w_in.copy(), trainer.w_out.copy()
    trainer.train(centers, contexts)

    expected_in = np.zeros(VOCAB, dtype=bool)
    expected_out = np.zeros(VOCAB, dtype=bool)
    negatives = trainer.sampler.sample(rng_copy, (centers.size, 3))  # the call's, at once
    expected_in[centers] = True
    expected_out[contexts] = True
    expected_out[negatives] = True
    np.testing.assert_array_equal(trainer.touched_in, expected_in)
    np.testing.assert_array_equal(trainer.touched_out, expected_out)
    assert expected_in.sum() < VOCAB and expected_out.sum() < VOCAB

    changed_in = np.any(trainer.w_in != w_in0, axis=1)
    changed_out = np.any(trainer.w_out != w_out0, axis=1)
    np.testing.assert_array_equal(changed_in, expected_in)
    np.testing.assert_array_equal(changed_out, expected_out)


def test_learning_rate_of_each_minibatch() -> None:
    centers, contexts = _pairs(6, 35)
    start, scale, total = 100.0, 3.0, 400
    trainer = _trainer(9, batch_size=10, progress_start=start, progress_scale=scale,
                       total_pairs=total)
    schedule = trainer.schedule
    assert trainer.last_lr == pytest.approx(schedule.at(start))

    rng_copy = copy.deepcopy(trainer.rng)
    w_in, w_out = trainer.w_in.copy(), trainer.w_out.copy()
    trainer.train(centers, contexts)
    # minibatches start after 0, 10, 20 and 30 pairs; the last one is at 100 + 30 * 3
    assert trainer.last_lr == pytest.approx(schedule.at(190.0))
    assert trainer.last_lr == pytest.approx(0.025 - 0.0249 * 190.0 / 400.0)
    assert trainer.pairs_done == 35

    negatives = trainer.sampler.sample(rng_copy, (35, 3))  # all minibatches' at once
    for done in (0, 10, 20, 30):
        lr = schedule.at(start + done * scale)
        sgns_step(w_in, w_out, centers[done : done + 10], contexts[done : done + 10],
                  negatives[done : done + 10], lr)
    np.testing.assert_array_equal(trainer.w_in, w_in)
    np.testing.assert_array_equal(trainer.w_out, w_out)


def test_loss_sum_accumulates_step_losses() -> None:
    centers, contexts = _pairs(10, 40)
    trainer = _trainer(11, batch_size=40)
    rng_copy = copy.deepcopy(trainer.rng)
    w_in, w_out = trainer.w_in.copy(), trainer.w_out.copy()
    negatives = trainer.sampler.sample(rng_copy, (40, 3))
    expected = sgns_step(w_in, w_out, centers, contexts, negatives, trainer.schedule.at(0))
    trainer.train(centers, contexts)
    assert trainer.loss_sum == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("shared", "groups"), [(0, 1), (4, 1), (4, 3)])
def test_loss_is_measured_on_every_nth_minibatch_and_scaled(shared: int, groups: int) -> None:
    """A replay of the minibatches; with 3 groups of negatives the last minibatch of 4 pairs
    has groups of 2, 2 and none."""
    centers, contexts = _pairs(13, 100)  # minibatches of 16: six full and one of 4
    exact = dataclasses.replace(_trainer(14), shared_negatives=shared, negative_groups=groups)
    sampled = dataclasses.replace(
        _trainer(14), shared_negatives=shared, negative_groups=groups, loss_every=3
    )
    rng_copy = copy.deepcopy(exact.rng)
    w_in, w_out = exact.w_in.copy(), exact.w_out.copy()
    exact.train(centers, contexts)
    sampled.train(centers, contexts)

    np.testing.assert_array_equal(sampled.w_in, exact.w_in)  # the loss changes nothing
    np.testing.assert_array_equal(sampled.w_out, exact.w_out)
    shape = (7, groups, shared) if shared else (100, 3)
    negatives = exact.sampler.sample(rng_copy, shape)
    losses = []
    for i, start in enumerate(range(0, 100, 16)):
        lr = exact.schedule.at(start)
        c, o = centers[start : start + 16], contexts[start : start + 16]
        if shared:
            loss = sgns_step_shared(w_in, w_out, c, o, negatives[i], lr, 3 / shared)
        else:
            loss = sgns_step(w_in, w_out, c, o, negatives[start : start + 16], lr)
        losses.append(loss)
    np.testing.assert_array_equal(exact.w_in, w_in)
    assert exact.loss_sum == pytest.approx(sum(losses), rel=1e-12)
    measured = losses[0] + losses[3] + losses[6]  # minibatches 0, 3 and 6 (16 + 16 + 4 pairs)
    assert sampled.loss_pairs == 36 and sampled.pairs_done == 100
    assert sampled.loss_sum == pytest.approx(measured * 100 / 36, rel=1e-12)
    assert sampled.loss_sum != pytest.approx(exact.loss_sum, rel=1e-6)


def test_loss_of_an_untrained_trainer_is_zero() -> None:
    assert _trainer(15).loss_sum == 0.0


def test_initial_rows_are_drawn_the_same_alone_as_in_the_whole_matrix() -> None:
    from w2v_spark.core.training import initial_input_rows

    whole = initial_input_rows(np.arange(5000), 16, seed=7)
    rows = np.array([4999, 3, 2048, 0])
    assert np.array_equal(initial_input_rows(rows, 16, seed=7), whole[rows])
    assert whole.dtype == np.float32 and whole.shape == (5000, 16)
    assert whole.min() >= -1 / 16 and whole.max() < 1 / 16
    assert abs(float(whole.mean())) < 1e-3 and abs(float(whole.std()) * 16 * np.sqrt(3) - 1) < 0.02
    assert not np.array_equal(initial_input_rows(rows, 16, seed=8), whole[rows])
