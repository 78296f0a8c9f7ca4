"""Tests for the SGNS minibatch kernel and the row scatter-add it relies on (no Spark)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import pytest

from w2v_spark.core.sampling import NegativeSampler
from w2v_spark.core.scatter import ScatterPlan, scatter_add_rows
from w2v_spark.core.sgns import (
    StepPlans,
    group_size,
    sgns_loss,
    sgns_loss_shared,
    sgns_step,
    sgns_step_shared,
)
from w2v_spark.core.sgns import _sigmoid as sigmoid
from w2v_spark.core.training import LearningRate, SliceTrainer


def _batch_without_collisions(
    rng: np.random.Generator, vocab: int, batch: int, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centers, contexts and negatives with many repeated ids but no negative equal to the
    context of its own pair."""
    centers = rng.integers(0, vocab // 3, size=batch)
    contexts = rng.integers(0, vocab // 3, size=batch)
    negatives = rng.integers(0, vocab // 2, size=(batch, k))
    clash = negatives == contexts[:, None]
    while clash.any():
        negatives[clash] = rng.integers(0, vocab // 2, size=int(clash.sum()))
        clash = negatives == contexts[:, None]
    return centers, contexts, negatives


def _numerical_gradient(
    loss: Callable[[np.ndarray, np.ndarray], float],
    w_in: np.ndarray,
    w_out: np.ndarray,
    eps: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Central finite differences of ``loss(w_in, w_out)`` w.r.t. every entry of both."""
    grads = []
    for which in (0, 1):
        params = [w_in.copy(), w_out.copy()]
        target = params[which]
        grad = np.zeros_like(target)
        for idx in np.ndindex(*target.shape):
            saved = target[idx]
            target[idx] = saved + eps
            up = loss(params[0], params[1])
            target[idx] = saved - eps
            down = loss(params[0], params[1])
            target[idx] = saved
            grad[idx] = (up - down) / (2.0 * eps)
        grads.append(grad)
    return grads[0], grads[1]


def test_step_is_minus_lr_times_gradient_float64() -> None:
    rng = np.random.default_rng(3)
    vocab, dim, batch, k = 30, 8, 6, 3
    w_in = rng.normal(0.0, 0.3, size=(vocab, dim))
    w_out = rng.normal(0.0, 0.3, size=(vocab, dim))
    centers, contexts, negatives = _batch_without_collisions(rng, vocab, batch, k)
    assert len(set(centers.tolist())) < batch
    assert len(set(negatives.ravel().tolist())) < negatives.size

    grad_in, grad_out = _numerical_gradient(
        lambda a, b: sgns_loss(a, b, centers, contexts, negatives), w_in, w_out, 1e-6
    )
    expected_loss = sgns_loss(w_in, w_out, centers, contexts, negatives)

    lr = 0.05
    new_in, new_out = w_in.copy(), w_out.copy()
    loss = sgns_step(new_in, new_out, centers, contexts, negatives, lr)

    assert new_in.dtype == np.float64 and new_out.dtype == np.float64
    np.testing.assert_allclose((new_in - w_in) / -lr, grad_in, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose((new_out - w_out) / -lr, grad_out, rtol=1e-6, atol=1e-8)
    assert loss == pytest.approx(expected_loss, rel=1e-9)
    assert np.abs(grad_in).max() > 1e-2 and np.abs(grad_out).max() > 1e-2


def test_returned_loss_is_loss_before_step_float32() -> None:
    rng = np.random.default_rng(4)
    vocab, dim, batch, k = 40, 16, 64, 5
    w_in = rng.normal(0.0, 0.5, size=(vocab, dim)).astype(np.float32)
    w_out = rng.normal(0.0, 0.5, size=(vocab, dim)).astype(np.float32)
    centers, contexts, negatives = _batch_without_collisions(rng, vocab, batch, k)
    expected = sgns_loss(w_in, w_out, centers, contexts, negatives)
    loss = sgns_step(w_in, w_out, centers, contexts, negatives, 0.025)
    assert isinstance(loss, float)
    assert loss == pytest.approx(expected, rel=1e-4)
    assert sgns_loss(w_in, w_out, centers, contexts, negatives) < expected


def _reference_step(
    w_in: np.ndarray,
    w_out: np.ndarray,
    centers: np.ndarray,
    contexts: np.ndarray,
    negatives: np.ndarray,
    lr: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Plain loops: every gradient from the parameters before the step, summed, then applied.
    A negative equal to its pair's context is skipped."""
    old_in = w_in.astype(np.float64)
    old_out = w_out.astype(np.float64)
    delta_in = np.zeros_like(old_in)
    delta_out = np.zeros_like(old_out)
    for b in range(centers.shape[0]):
        c = int(centers[b])
        o = int(contexts[b])
        targets = [(o, 1.0)]
        for j in range(negatives.shape[1]):
            n = int(negatives[b, j])
            if n != o:
                targets.append((n, 0.0))
        for word, label in targets:
            score = float(old_in[c] @ old_out[word])
            g = lr * (label - 1.0 / (1.0 + math.exp(-score)))
            delta_in[c] += g * old_out[word]
            delta_out[word] += g * old_in[c]
    return old_in + delta_in, old_out + delta_out


def test_matches_slow_reference_with_duplicates() -> None:
    rng = np.random.default_rng(5)
    vocab, dim, batch, k = 50, 16, 512, 5
    w_in = rng.normal(0.0, 0.3, size=(vocab, dim)).astype(np.float32)
    w_out = rng.normal(0.0, 0.3, size=(vocab, dim)).astype(np.float32)
    centers = rng.integers(0, vocab, size=batch).astype(np.int32)
    contexts = rng.integers(0, vocab, size=batch).astype(np.int32)
    negatives = rng.integers(0, vocab, size=(batch, k)).astype(np.int32)
    negatives[:40, 0] = contexts[:40]
    assert (negatives == contexts[:, None]).sum() >= 40

    lr = 0.025
    exp_in, exp_out = _reference_step(w_in, w_out, centers, contexts, negatives, lr)
    sgns_step(w_in, w_out, centers, contexts, negatives, lr)
    assert w_in.dtype == np.float32 and w_out.dtype == np.float32
    np.testing.assert_allclose(w_in, exp_in, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(w_out, exp_out, rtol=1e-4, atol=1e-6)


def test_negative_equal_to_context_is_ignored() -> None:
    rng = np.random.default_rng(6)
    vocab, dim, batch, k = 25, 8, 32, 4
    w_in = rng.normal(0.0, 0.3, size=(vocab, dim)).astype(np.float32)
    w_out = rng.normal(0.0, 0.3, size=(vocab, dim)).astype(np.float32)
    centers = rng.integers(0, vocab, size=batch)
    contexts = rng.integers(0, vocab, size=batch)
    negatives = rng.integers(0, vocab, size=(batch, k))
    negatives[:, 2] = contexts

    with_col_in, with_col_out = w_in.copy(), w_out.copy()
    sgns_step(with_col_in, with_col_out, centers, contexts, negatives, 0.05)
    dropped = np.delete(negatives, 2, axis=1)
    without_in, without_out = w_in.copy(), w_out.copy()
    sgns_step(without_in, without_out, centers, contexts, dropped, 0.05)

    np.testing.assert_allclose(with_col_in, without_in, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(with_col_out, without_out, rtol=1e-6, atol=1e-7)
    assert not np.array_equal(with_col_in, w_in)


def test_all_negatives_equal_to_context_only_pull_positive() -> None:
    w_in = np.array([[0.1, 0.2], [0.3, -0.1]], dtype=np.float64)
    w_out = np.array([[0.0, 0.5], [0.2, 0.4]], dtype=np.float64)
    centers = np.array([0])
    contexts = np.array([1])
    negatives = np.array([[1, 1, 1]])
    new_in, new_out = w_in.copy(), w_out.copy()
    sgns_step(new_in, new_out, centers, contexts, negatives, 0.1)
    g = 0.1 * (1.0 - 1.0 / (1.0 + math.exp(-float(w_in[0] @ w_out[1]))))
    np.testing.assert_allclose(new_in[0], w_in[0] + g * w_out[1], rtol=1e-7)
    np.testing.assert_allclose(new_out[1], w_out[1] + g * w_in[0], rtol=1e-7)
    np.testing.assert_array_equal(new_in[1], w_in[1])
    np.testing.assert_array_equal(new_out[0], w_out[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scatter_add_rows_matches_add_at_with_duplicates(dtype: type) -> None:
    rng = np.random.default_rng(7)
    target = rng.normal(size=(20, 6)).astype(dtype)
    index = rng.integers(0, 5, size=1000)
    index[:10] = 19
    values = rng.normal(size=(1000, 6)).astype(dtype)
    expected = target.copy()
    np.add.at(expected, index, values)
    scatter_add_rows(target, index, values)
    rtol = 1e-4 if dtype is np.float32 else 1e-12
    np.testing.assert_allclose(target, expected, rtol=rtol, atol=rtol)


def test_scatter_add_rows_empty_and_single_row() -> None:
    rng = np.random.default_rng(8)
    target = rng.normal(size=(7, 3))
    before = target.copy()
    scatter_add_rows(target, np.empty(0, dtype=np.int64), np.empty((0, 3)))
    np.testing.assert_array_equal(target, before)

    value = np.array([[1.0, -2.0, 0.5]])
    scatter_add_rows(target, np.array([4]), value)
    expected = before.copy()
    expected[4] += value[0]
    np.testing.assert_array_equal(target, expected)

    one_row = np.array([[1.5, 2.5]])
    scatter_add_rows(one_row, np.array([0, 0, 0]), np.ones((3, 2)))
    np.testing.assert_array_equal(one_row, [[4.5, 5.5]])


def test_scatter_add_rows_many_runs_matches_add_at() -> None:
    """Enough repeated rows that the sums take the ``reduceat`` path, not the one-hot one."""
    rng = np.random.default_rng(11)
    target = rng.normal(size=(400, 5)).astype(np.float32)
    index = np.concatenate([rng.integers(0, 300, size=3000), np.arange(300, 400)])
    values = rng.normal(size=(index.size, 5)).astype(np.float32)
    expected = target.astype(np.float64)
    np.add.at(expected, index, values.astype(np.float64))
    scatter_add_rows(target, index, values)
    np.testing.assert_allclose(target, expected, rtol=1e-4, atol=1e-4)


def test_sigmoid_is_exact_and_quiet_at_extreme_scores() -> None:
    """``exp`` overflows for scores below about -88 in float32: the result is still 0, with
    no warning."""
    x = np.array([-1e4, -100.0, -89.0, -20.0, -1.0, 0.0, 1e-3, 3.0, 40.0, 1e4], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = sigmoid(x)
    expected = 0.5 * (1.0 + np.tanh(0.5 * x.astype(np.float64)))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-30)
    assert got[0] == 0.0 and got[-1] == 1.0


@pytest.mark.parametrize("width", [6, 400])
def test_scatter_plan_of_several_minibatches_matches_add_at(width: int) -> None:
    """One plan for a stack of minibatches: one with no repeated index, one with a single
    index repeated throughout, and random ones; a width of 400 rows with many repeats takes
    the ``reduceat`` path."""
    rng = np.random.default_rng(21)
    index = rng.integers(0, 30 if width == 6 else 300, size=(5, width))
    index[1] = rng.permutation(width) + 30
    index[2] = 7
    target = rng.normal(size=(30 + width, 4))
    plan = ScatterPlan.build(index)
    expected = target.copy()
    for batch in (3, 0, 2, 1, 4):
        values = rng.normal(size=(width, 4))
        np.add.at(expected, index[batch], values)
        plan.add(target, values, batch)
        np.testing.assert_allclose(target, expected, rtol=1e-12, atol=1e-12)
    assert plan.repeated_start[2] == plan.repeated_start[1]  # minibatch 1: no repeats


def test_group_size_cuts_a_minibatch_into_consecutive_groups() -> None:
    assert group_size(512, 8) == 64
    assert group_size(10, 4) == 3  # 3, 3, 3 and 1
    assert group_size(3, 5) == 1  # 1, 1, 1 and two empty groups
    assert group_size(0, 4) == 1


@pytest.mark.parametrize(("batch", "groups"), [(12, 3), (10, 4), (3, 5)])
def test_grouped_step_is_minus_lr_times_gradient_float64(batch: int, groups: int) -> None:
    """Groups of equal size, a short last group, and more groups than pairs."""
    rng = np.random.default_rng(22)
    vocab, dim, shared, weight = 20, 5, 4, 5 / 4
    w_in = rng.normal(0.0, 0.3, size=(vocab, dim))
    w_out = rng.normal(0.0, 0.3, size=(vocab, dim))
    centers = rng.integers(0, vocab // 2, size=batch)
    contexts = rng.integers(0, vocab // 2, size=batch)
    negatives = rng.integers(0, vocab, size=(groups, shared))
    negatives[0, 1] = negatives[0, 0]
    negatives[-1, 0] = contexts[-1]
    _assert_shared_step_is_minus_lr_times_gradient(
        w_in, w_out, centers, contexts, negatives, weight
    )


def test_grouped_step_equals_per_pair_step_with_its_groups_negatives() -> None:
    """With weight 1, pairs of group g sharing ``negatives[g]`` is the per-pair kernel with
    every pair of group g drawing those K negatives."""
    rng = np.random.default_rng(23)
    vocab, dim, batch, groups, shared = 60, 16, 300, 7, 6
    w_in = rng.normal(0.0, 0.3, size=(vocab, dim)).astype(np.float32)
    w_out = rng.normal(0.0, 0.3, size=(vocab, dim)).astype(np.float32)
    centers = rng.integers(0, vocab // 2, size=batch)
    contexts = rng.integers(0, vocab // 2, size=batch)
    negatives = rng.integers(0, vocab // 2, size=(groups, shared))
    per_pair = negatives[np.arange(batch) // group_size(batch, groups)]
    assert (per_pair == contexts[:, None]).any()

    per_in, per_out = w_in.copy(), w_out.copy()
    sgns_step(per_in, per_out, centers, contexts, per_pair, 0.03)
    sgns_step_shared(w_in, w_out, centers, contexts, negatives, 0.03, 1.0)

    np.testing.assert_allclose(w_in, per_in, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(w_out, per_out, rtol=1e-4, atol=1e-6)


def test_step_with_plans_of_a_stack_makes_the_same_update() -> None:
    """Scatter plans built once for a stack of minibatches give the update the step plans
    for itself, bit for bit."""
    rng = np.random.default_rng(24)
    vocab, dim, n, batch, groups, shared = 50, 8, 4, 64, 4, 8
    w_in = rng.normal(0.0, 0.3, size=(vocab, dim)).astype(np.float32)
    w_out = rng.normal(0.0, 0.3, size=(vocab, dim)).astype(np.float32)
    centers = rng.integers(0, vocab // 3, size=(n, batch))
    contexts = rng.integers(0, vocab // 3, size=(n, batch))
    negatives = rng.integers(0, vocab, size=(n, groups, shared))
    plans = StepPlans.build(centers, contexts, negatives)
    planned_in, planned_out = w_in.copy(), w_out.copy()
    for i in range(n):
        args = (centers[i], contexts[i], negatives[i], 0.05, 0.5)
        sgns_step_shared(w_in, w_out, *args)
        sgns_step_shared(planned_in, planned_out, *args, plans=(plans, i))
    np.testing.assert_array_equal(planned_in, w_in)
    np.testing.assert_array_equal(planned_out, w_out)


def _shared_batch(
    rng: np.random.Generator, vocab: int, batch: int, shared: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centers, contexts and shared negatives with repeats, a negative drawn twice, and some
    negatives equal to some pairs' contexts."""
    centers = rng.integers(0, vocab // 2, size=batch)
    contexts = rng.integers(0, vocab // 2, size=batch)
    negatives = rng.integers(0, vocab, size=shared)
    negatives[1] = negatives[0]
    negatives[2] = contexts[0]
    return centers, contexts, negatives


def test_shared_step_is_minus_lr_times_gradient_float64() -> None:
    rng = np.random.default_rng(12)
    vocab, dim, batch, shared, weight = 24, 6, 10, 5, 5 / 4
    w_in = rng.normal(0.0, 0.3, size=(vocab, dim))
    w_out = rng.normal(0.0, 0.3, size=(vocab, dim))
    centers, contexts, negatives = _shared_batch(rng, vocab, batch, shared)
    grad_out = _assert_shared_step_is_minus_lr_times_gradient(
        w_in, w_out, centers, contexts, negatives, weight
    )
    assert np.abs(grad_out[negatives[0]]).max() > 1e-3


def _assert_shared_step_is_minus_lr_times_gradient(
    w_in: np.ndarray, w_out: np.ndarray, centers: np.ndarray, contexts: np.ndarray,
    negatives: np.ndarray, weight: float,
) -> np.ndarray:
    """One float64 step of :func:`sgns_step_shared` moves every row by ``-lr`` times the
    finite-difference gradient of :func:`sgns_loss_shared` and returns the loss before it;
    returns that gradient for ``w_out``."""
    grad_in, grad_out = _numerical_gradient(
        lambda a, b: sgns_loss_shared(a, b, centers, contexts, negatives, weight), w_in, w_out,
        1e-6,
    )
    expected_loss = sgns_loss_shared(w_in, w_out, centers, contexts, negatives, weight)

    lr = 0.05
    new_in, new_out = w_in.copy(), w_out.copy()
    loss = sgns_step_shared(new_in, new_out, centers, contexts, negatives, lr, weight)

    np.testing.assert_allclose((new_in - w_in) / -lr, grad_in, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose((new_out - w_out) / -lr, grad_out, rtol=1e-6, atol=1e-8)
    assert loss == pytest.approx(expected_loss, rel=1e-9)
    return grad_out


def test_shared_step_equals_per_pair_step_with_the_same_negatives() -> None:
    """Sharing K negatives with weight 1 is the per-pair kernel with every pair drawing those
    same K negatives."""
    rng = np.random.default_rng(13)
    vocab, dim, batch, shared = 60, 16, 300, 12
    w_in = rng.normal(0.0, 0.3, size=(vocab, dim)).astype(np.float32)
    w_out = rng.normal(0.0, 0.3, size=(vocab, dim)).astype(np.float32)
    centers, contexts, negatives = _shared_batch(rng, vocab, batch, shared)
    tiled = np.tile(negatives, (batch, 1))

    per_in, per_out = w_in.copy(), w_out.copy()
    sgns_step(per_in, per_out, centers, contexts, tiled, 0.03)
    sgns_step_shared(w_in, w_out, centers, contexts, negatives, 0.03, 1.0)

    np.testing.assert_allclose(w_in, per_in, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(w_out, per_out, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("shared", [0, 12])
def test_step_without_loss_makes_the_same_update(shared: int) -> None:
    rng = np.random.default_rng(16)
    vocab, dim, batch = 60, 16, 300
    w_in = rng.normal(0.0, 0.3, size=(vocab, dim)).astype(np.float32)
    w_out = rng.normal(0.0, 0.3, size=(vocab, dim)).astype(np.float32)
    centers, contexts, negatives = _shared_batch(rng, vocab, batch, shared or 5)
    if not shared:
        negatives = rng.integers(0, vocab, size=(batch, 5))
    updated = []
    for compute_loss in (True, False):
        new_in, new_out = w_in.copy(), w_out.copy()
        if shared:
            loss = sgns_step_shared(new_in, new_out, centers, contexts, negatives, 0.05, 0.4,
                                    compute_loss)
        else:
            loss = sgns_step(new_in, new_out, centers, contexts, negatives, 0.05, compute_loss)
        assert (loss > 0) if compute_loss else (loss == 0.0)
        updated.append((new_in, new_out))
    np.testing.assert_array_equal(updated[0][0], updated[1][0])
    np.testing.assert_array_equal(updated[0][1], updated[1][1])
    assert not np.array_equal(updated[0][1], w_out)


def test_shared_step_weight_scales_only_the_negative_push() -> None:
    rng = np.random.default_rng(14)
    vocab, dim, batch, shared = 30, 8, 40, 6
    w_in = rng.normal(0.0, 0.3, size=(vocab, dim))
    w_out = rng.normal(0.0, 0.3, size=(vocab, dim))
    centers, contexts, negatives = _shared_batch(rng, vocab, batch, shared)
    deltas = []
    for weight in (0.0, 1.0, 2.0):
        new_in, new_out = w_in.copy(), w_out.copy()
        sgns_step_shared(new_in, new_out, centers, contexts, negatives, 0.1, weight)
        deltas.append((new_in - w_in, new_out - w_out))
    for part in (0, 1):
        positive = deltas[0][part]
        negative_push = deltas[1][part] - positive
        np.testing.assert_allclose(deltas[2][part] - positive, 2 * negative_push, atol=1e-12)
        assert np.abs(negative_push).max() > 1e-3


def _planted_pairs(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs whose words 0-9 only co-occur with each other, and 10-19 likewise."""
    group = rng.integers(0, 2, size=n)
    centers = rng.integers(0, 10, size=n) + 10 * group
    contexts = (centers - 10 * group + rng.integers(1, 10, size=n)) % 10 + 10 * group
    return centers.astype(np.int32), contexts.astype(np.int32)


def _cosine_matrix(vectors: np.ndarray) -> np.ndarray:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return unit @ unit.T


@pytest.mark.parametrize("shared", [0, 8])
def test_training_recovers_planted_groups(shared: int) -> None:
    rng = np.random.default_rng(9)
    vocab, dim, epochs, n = 20, 16, 6, 4000
    w_in = ((rng.random((vocab, dim)) - 0.5) / dim).astype(np.float32)
    w_out = np.zeros((vocab, dim), dtype=np.float32)
    trainer = SliceTrainer(
        w_in=w_in,
        w_out=w_out,
        sampler=NegativeSampler(np.full(vocab, 100.0), 0.75),
        rng=np.random.default_rng(10),
        schedule=LearningRate(0.025, 0.0001, epochs * n),
        negative=5,
        batch_size=64,
        progress_start=0.0,
        progress_scale=1.0,
        shared_negatives=shared,
    )
    pass_losses = []
    for _ in range(epochs):
        centers, contexts = _planted_pairs(rng, n)
        before = trainer.loss_sum
        trainer.train(centers, contexts)
        pass_losses.append(trainer.loss_sum - before)
    assert pass_losses[-1] < 0.9 * pass_losses[0]

    cos = _cosine_matrix(trainer.w_in.astype(np.float64))
    group = np.arange(vocab) // 10
    same = group[:, None] == group[None, :]
    np.fill_diagonal(same, False)
    other = group[:, None] != group[None, :]
    for word in range(vocab):
        assert cos[word, same[word]].min() > cos[word, other[word]].max(), word
    assert cos[same].mean() > cos[other].mean() + 0.5


def _capped_reference(target: np.ndarray, index: np.ndarray, values: np.ndarray,
                      weights: np.ndarray, cap: float) -> np.ndarray:
    """Row by row: the sum of a row's values, times ``min(1, cap / its weights' sum)``."""
    out = target.astype(np.float64)
    for row in np.unique(index):
        mask = index == row
        terms = weights[mask].sum()
        out[row] += values[mask].sum(axis=0) * min(1.0, cap / terms)
    return out


@pytest.mark.parametrize("width", [6, 400])
def test_capped_scatter_plan_scales_only_the_rows_above_the_cap(width: int) -> None:
    """Rows whose weights add up to more than the cap move by the capped sum; the others,
    single or repeated, by their exact sum (one-hot and ``reduceat`` paths both)."""
    rng = np.random.default_rng(31)
    index = rng.integers(0, 12 if width == 6 else 300, size=(3, width))
    index[0, : width // 2] = 5  # one row far above the cap
    weights = rng.choice([1.0, 2.5, 40.0], size=width)
    cap = 8.0
    target = rng.normal(size=(300, 4))
    plan = ScatterPlan.build(index, weights, cap)
    for batch in range(3):
        values = rng.normal(size=(width, 4))
        expected = _capped_reference(target, index[batch], values, weights, cap)
        plan.add(target, values, batch)
        np.testing.assert_allclose(target, expected, rtol=1e-6, atol=1e-6)  # float32 factors
    assert plan.run_scale is not None and plan.run_scale.min() < 1.0


def test_a_cap_no_row_reaches_leaves_the_scatter_exact() -> None:
    rng = np.random.default_rng(32)
    index = rng.integers(0, 50, size=200)
    values = rng.normal(size=(200, 3))
    plain, capped = np.zeros((50, 3)), np.zeros((50, 3))
    scatter_add_rows(plain, index, values)
    scatter_add_rows(capped, index, values, cap=float(np.bincount(index).max()))
    np.testing.assert_array_equal(capped, plain)


def test_row_cap_bounds_the_step_of_a_negative_drawn_throughout_a_minibatch() -> None:
    """A shared negative drawn for every slot of a minibatch moves by at most ``row_cap``
    gradient terms of its pairs (each ``lr * negative_weight * |h|`` at most), and with the cap
    above every row's terms the step is the uncapped one, bit for bit."""
    rng = np.random.default_rng(33)
    batch, shared, dim = 64, 8, 5
    w_in = rng.normal(size=(100, dim)).astype(np.float32)
    w_out = rng.normal(size=(100, dim)).astype(np.float32)
    centers = rng.integers(0, 100, size=batch)
    contexts = rng.integers(1, 100, size=batch)
    negatives = np.zeros(shared, dtype=np.int64)  # word 0 every time
    weight, lr, cap = 5 / shared, 0.5, 10.0
    out = w_out.copy()
    sgns_step_shared(w_in.copy(), out, centers, contexts, negatives, lr, weight, row_cap=cap)
    bound = cap * lr * np.linalg.norm(w_in[centers], axis=1).max()
    assert np.linalg.norm(out[0] - w_out[0]) <= bound * (1 + 1e-5)
    free = w_out.copy()
    sgns_step_shared(w_in.copy(), free, centers, contexts, negatives, lr, weight)
    assert np.linalg.norm(free[0] - w_out[0]) > 2 * bound  # the cap did something
    loose = w_out.copy()
    sgns_step_shared(w_in.copy(), loose, centers, contexts, negatives, lr, weight,
                     row_cap=float(batch * shared * weight + batch))
    np.testing.assert_array_equal(loose, free)
