"""The skip-gram negative-sampling (SGNS) update on minibatches of (center, context) pairs.

Notation: ``V`` vocabulary size, ``d`` vector size, ``B`` pairs in a minibatch, ``k`` negatives
per pair. ``w_in`` (V, d) holds the input ("word") vectors, ``w_out`` (V, d) the output
("context") vectors, both float32 and updated in place.

For a pair (c, o) with negatives n_1..n_k the loss is

    L = -log sigmoid(w_in[c] . w_out[o]) - sum_j log sigmoid(-w_in[c] . w_out[n_j])

and one SGD step with learning rate ``lr`` moves every touched row by ``-lr * dL/drow``.
Within a minibatch all gradients are computed from the same parameters and then applied
once, with contributions to the same row summed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from w2v_spark.core.scatter import ScatterPlan, scatter_add_rows


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, elementwise, as ``1 / (1 + exp(-x))``; ``exp`` overflows to
    infinity for x below about -88 (float32), which gives the right limit 0. Returns a new
    array. NumPy vectorises float32 ``exp`` on x86 machines with AVX2, ``tanh`` only with
    AVX-512, so this form is the faster on the machines without it."""
    out = np.negative(x)
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1.0
    np.reciprocal(out, out=out)
    return out


def sgns_loss(
    w_in: np.ndarray,
    w_out: np.ndarray,
    centers: np.ndarray,
    contexts: np.ndarray,
    negatives: np.ndarray,
) -> float:
    """Total SGNS loss of a minibatch (no update), in float64.

    Args:
        w_in, w_out: (V, d) parameters.
        centers, contexts: (B,) int word ids.
        negatives: (B, k) int word ids.
    """
    h = w_in[centers].astype(np.float64)
    pos = np.einsum("bd,bd->b", h, w_out[contexts].astype(np.float64))
    neg = np.einsum("bd,bkd->bk", h, w_out[negatives].astype(np.float64))
    return float(np.logaddexp(0.0, -pos).sum() + np.logaddexp(0.0, neg).sum())


def sgns_step(
    w_in: np.ndarray,
    w_out: np.ndarray,
    centers: np.ndarray,
    contexts: np.ndarray,
    negatives: np.ndarray,
    lr: float,
    compute_loss: bool = True,
    row_cap: float = 0.0,
) -> float:
    """One SGD step on a minibatch of pairs, each with its own k negatives.

    A negative equal to its pair's context word is ignored, as in the original word2vec.

    Args:
        w_in, w_out: (V, d) float32 parameters, updated in place.
        centers, contexts: (B,) int word ids.
        negatives: (B, k) int word ids.
        lr: learning rate of this step.
        compute_loss: whether to compute the loss (a log and a sum over the (B, k+1) sigmoids).
        row_cap: above 0, a row that takes more than this many gradient terms (one per
            occurrence) has its update scaled to this many (:class:`ScatterPlan`).

    Returns:
        The minibatch loss before the update, summed over its B pairs; 0.0 without
        ``compute_loss``.
    """
    batch = centers.shape[0]
    dim = w_in.shape[1]
    targets = np.empty((batch, negatives.shape[1] + 1), dtype=np.int64)
    targets[:, 0] = contexts
    targets[:, 1:] = negatives
    h = np.take(w_in, centers, axis=0)  # (B, d)
    u = np.take(w_out, targets, axis=0)  # (B, k+1, d)
    scores = np.matmul(u, h[:, :, None])[:, :, 0]  # (B, k+1)
    sig = _sigmoid(scores)
    loss = _batch_loss(sig) if compute_loss else 0.0
    grad = np.negative(sig, out=sig)  # label - sigmoid(score)
    grad[:, 0] += 1.0
    grad[:, 1:][negatives == contexts[:, None]] = 0.0
    grad *= np.float32(lr)
    d_h = np.matmul(grad[:, None, :], u)[:, 0, :]  # (B, d)
    d_u = grad[:, :, None] * h[:, None, :]  # (B, k+1, d)
    scatter_add_rows(w_out, targets.reshape(-1), d_u.reshape(-1, dim), cap=row_cap)
    scatter_add_rows(w_in, centers, d_h, cap=row_cap)
    return loss


def _batch_loss(sig: np.ndarray) -> float:
    """Summed loss from the sigmoids of a (B, k+1) score matrix whose column 0 is positive."""
    eps = np.float32(1e-7)
    pos = np.log(np.maximum(sig[:, 0], eps))
    neg = np.log(np.maximum(1.0 - sig[:, 1:], eps))
    return -float(pos.sum(dtype=np.float64) + neg.sum(dtype=np.float64))


def sgns_loss_shared(
    w_in: np.ndarray,
    w_out: np.ndarray,
    centers: np.ndarray,
    contexts: np.ndarray,
    negatives: np.ndarray,
    negative_weight: float,
) -> float:
    """Total loss of a minibatch whose groups of pairs share negatives (no update), float64.

    The B pairs are cut into G consecutive groups (:func:`group_size` pairs each, the last
    maybe shorter); every pair of group g is scored against the K negatives ``negatives[g]``,
    each term weighted by ``negative_weight``; a negative equal to the pair's context is left
    out.

    Args:
        w_in, w_out: (V, d) parameters.
        centers, contexts: (B,) int word ids.
        negatives: (G, K) int word ids, or (K,) for one group.
        negative_weight: weight of every negative term (``negative / K`` in training).
    """
    negatives = np.atleast_2d(negatives)
    size = group_size(centers.shape[0], negatives.shape[0])
    per_pair = negatives[np.arange(centers.shape[0]) // size]  # (B, K)
    h = w_in[centers].astype(np.float64)
    pos = np.einsum("bd,bd->b", h, w_out[contexts].astype(np.float64))
    neg = np.einsum("bd,bkd->bk", h, w_out[per_pair].astype(np.float64))
    keep = per_pair != contexts[:, None]
    neg_terms = np.where(keep, np.logaddexp(0.0, neg), 0.0)
    return float(np.logaddexp(0.0, -pos).sum() + negative_weight * neg_terms.sum())


def group_size(batch: int, groups: int) -> int:
    """Pairs per group when ``batch`` pairs are cut into ``groups`` consecutive groups of this
    size: the last non-empty group may be shorter, and with few pairs the groups after it are
    empty (3 pairs in 5 groups: 1, 1, 1, 0, 0)."""
    return max(-(-batch // groups), 1)


@dataclass(frozen=True)
class StepPlans:
    """The scatter plans of a stack of minibatches of :func:`sgns_step_shared`: for the input
    rows (the B centers) and for the output rows (the B contexts, then the G x K negatives)."""

    w_in: ScatterPlan
    w_out: ScatterPlan

    @classmethod
    def build(cls, centers: np.ndarray, contexts: np.ndarray, negatives: np.ndarray,
              negative_weight: float = 1.0, row_cap: float = 0.0) -> StepPlans:
        """Plans for n minibatches: (n, B) ``centers`` and ``contexts``, (n, G, K)
        ``negatives``. With ``row_cap > 0`` a row's update is capped at that many gradient
        terms (:class:`ScatterPlan`): a center or context occurrence is one term, a shared
        negative stands for the ``B / G`` pairs of its group, each weighted
        ``negative_weight``."""
        n, batch = centers.shape
        groups = negatives.shape[1]
        outputs = np.concatenate([contexts, negatives.reshape(n, -1)], axis=1)
        weights = None
        if row_cap > 0:
            weights = np.ones(outputs.shape[1])
            weights[batch:] = group_size(batch, groups) * negative_weight
        return cls(ScatterPlan.build(centers, cap=row_cap),
                   ScatterPlan.build(outputs, weights, row_cap))


def sgns_step_shared(
    w_in: np.ndarray,
    w_out: np.ndarray,
    centers: np.ndarray,
    contexts: np.ndarray,
    negatives: np.ndarray,
    lr: float,
    negative_weight: float,
    compute_loss: bool = True,
    plans: tuple[StepPlans, int] | None = None,
    row_cap: float = 0.0,
) -> float:
    """One SGD step on a minibatch whose groups of pairs share negatives.

    This is the HogBatch idea (Ji et al., 2016), per group: the B pairs are cut into G
    consecutive groups of :func:`group_size` pairs, and the negative scores of group g are one
    (B/G, d) x (d, K) matrix product with the K negatives ``negatives[g]``. With
    ``negative_weight = k / K`` every pair gets, in expectation, the same push away from the
    noise distribution as with k negatives of its own. A negative equal to a pair's context is
    ignored for that pair, as in the original word2vec; a negative drawn twice counts twice.

    A shared negative row receives (B / G) x K gradient terms computed at one point, each
    weighted ``negative_weight``: more groups make fewer, smaller terms per row (closer to
    per-pair negatives) and fewer negative scores per pair, at the cost of more rows to update.

    Args:
        w_in, w_out: (V, d) float32 parameters, updated in place.
        centers, contexts: (B,) int word ids.
        negatives: (G, K) int word ids, or (K,) for one group.
        lr: learning rate of this step.
        negative_weight: weight of every (pair, negative) term.
        compute_loss: whether to compute the loss (a log and a sum over the sigmoids).
        plans: the scatter plans of a stack of minibatches and this minibatch's place in it
            (:meth:`StepPlans.build`, which a trainer builds once for many minibatches);
            without them the step plans its own scatters. The update is the same.
        row_cap: the cap of :meth:`StepPlans.build`, when the step plans its own scatters.

    Returns:
        The minibatch loss before the update (:func:`sgns_loss_shared`), summed over B pairs;
        0.0 without ``compute_loss``.
    """
    negatives = np.atleast_2d(negatives)
    groups, shared = negatives.shape
    batch, dim = centers.shape[0], w_in.shape[1]
    size = group_size(batch, groups)
    padded = groups * size
    if plans is None:
        plans = (StepPlans.build(centers[None], contexts[None], negatives[None],
                                 negative_weight, row_cap), 0)
    h = np.take(w_in, centers, axis=0)  # (B, d)
    u_pos = np.take(w_out, contexts, axis=0)  # (B, d)
    u_neg = np.take(w_out, negatives.reshape(-1), axis=0).reshape(groups, shared, dim)
    if padded != batch:  # zero rows of h: no scores, no gradients
        h = np.concatenate([h, np.zeros((padded - batch, dim), h.dtype)])
        contexts = np.concatenate([contexts, np.full(padded - batch, -1, contexts.dtype)])
    h_groups = h.reshape(groups, size, dim)
    sig_pos = _sigmoid(np.linalg.vecdot(h[:batch], u_pos))  # (B,)
    sig_neg = _sigmoid(np.matmul(h_groups, u_neg.transpose(0, 2, 1)))  # (G, B/G, K)
    sig_neg[negatives[:, None, :] == contexts.reshape(groups, size)[:, :, None]] = 0.0
    if padded != batch:
        sig_neg.reshape(padded, shared)[batch:] = 0.0
    loss = _shared_loss(sig_pos, sig_neg, negative_weight) if compute_loss else 0.0
    step = w_in.dtype.type(lr)
    g_pos = (1.0 - sig_pos) * step  # (B,)
    g_neg = sig_neg * w_in.dtype.type(-lr * negative_weight)  # (G, B/G, K)
    d_h = g_pos[:, None] * u_pos  # (B, d)
    d_h += np.matmul(g_neg, u_neg).reshape(padded, dim)[:batch]
    d_out = np.empty((batch + groups * shared, dim), dtype=w_out.dtype)  # contexts, negatives
    np.multiply(g_pos[:, None], h[:batch], out=d_out[:batch])
    np.matmul(g_neg.transpose(0, 2, 1), h_groups, out=d_out[batch:].reshape(groups, shared, dim))
    step_plans, index = plans
    step_plans.w_out.add(w_out, d_out, index)
    step_plans.w_in.add(w_in, d_h, index)
    return loss


def _shared_loss(sig_pos: np.ndarray, sig_neg: np.ndarray, weight: float) -> float:
    """Loss from (B,) positive sigmoids and (G, B/G, K) negative ones (0 where ignored)."""
    eps = np.float32(1e-7)
    pos = np.log(np.maximum(sig_pos, eps)).sum(dtype=np.float64)
    neg = np.log(np.maximum(1.0 - sig_neg, eps)).sum(dtype=np.float64)
    return -float(pos + weight * neg)
