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

import numpy as np

from w2v_spark.core.scatter import scatter_add_rows


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, elementwise, as ``(1 + tanh(x / 2)) / 2``: no ``exp`` to overflow
    and fewer passes over the array than ``1 / (1 + exp(-x))``. Returns a new array."""
    out = np.multiply(x, 0.5, dtype=x.dtype)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
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
) -> float:
    """One SGD step on a minibatch of pairs, each with its own k negatives.

    A negative equal to its pair's context word is ignored, as in the original word2vec.

    Args:
        w_in, w_out: (V, d) float32 parameters, updated in place.
        centers, contexts: (B,) int word ids.
        negatives: (B, k) int word ids.
        lr: learning rate of this step.
        compute_loss: whether to compute the loss (a log and a sum over the (B, k+1) sigmoids).

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
    scatter_add_rows(w_out, targets.reshape(-1), d_u.reshape(-1, dim))
    scatter_add_rows(w_in, centers, d_h)
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
    """Total loss of a minibatch whose pairs share one set of negatives (no update), float64.

    Every pair is scored against all ``K`` shared negatives, each term weighted by
    ``negative_weight``; a negative equal to the pair's context is left out.

    Args:
        w_in, w_out: (V, d) parameters.
        centers, contexts: (B,) int word ids.
        negatives: (K,) int word ids shared by the B pairs.
        negative_weight: weight of every negative term (``negative / K`` in training).
    """
    h = w_in[centers].astype(np.float64)
    pos = np.einsum("bd,bd->b", h, w_out[contexts].astype(np.float64))
    neg = h @ w_out[negatives].astype(np.float64).T  # (B, K)
    keep = negatives[None, :] != contexts[:, None]
    neg_terms = np.where(keep, np.logaddexp(0.0, neg), 0.0)
    return float(np.logaddexp(0.0, -pos).sum() + negative_weight * neg_terms.sum())


def sgns_step_shared(
    w_in: np.ndarray,
    w_out: np.ndarray,
    centers: np.ndarray,
    contexts: np.ndarray,
    negatives: np.ndarray,
    lr: float,
    negative_weight: float,
    compute_loss: bool = True,
) -> float:
    """One SGD step on a minibatch of pairs that share one set of ``K`` negatives.

    This is the HogBatch idea (Ji et al., 2016): the negative scores of the whole minibatch are
    one (B, d) x (d, K) matrix product, and the output rows that receive gradients are the B
    contexts plus at most K negatives instead of B x (k + 1) rows. With
    ``negative_weight = k / K`` every pair gets, in expectation, the same push away from the
    noise distribution as with k negatives of its own. A negative drawn twice is one row with
    twice the weight, so the shared rows are distinct and updated without a scatter. A negative
    equal to a pair's context is ignored for that pair, as in the original word2vec.

    Args:
        w_in, w_out: (V, d) float32 parameters, updated in place.
        centers, contexts: (B,) int word ids.
        negatives: (K,) int word ids shared by the B pairs.
        lr: learning rate of this step.
        negative_weight: weight of every (pair, negative) term.
        compute_loss: whether to compute the loss (it costs about a tenth of the step).

    Returns:
        The minibatch loss before the update (:func:`sgns_loss_shared`), summed over B pairs;
        0.0 without ``compute_loss``.
    """
    noise, drawn = np.unique(negatives, return_counts=True)  # (K',) distinct, sorted
    weight = drawn.astype(w_in.dtype) * w_in.dtype.type(negative_weight)  # (K',)
    h = np.take(w_in, centers, axis=0)  # (B, d)
    u_pos = np.take(w_out, contexts, axis=0)  # (B, d)
    u_neg = np.take(w_out, noise, axis=0)  # (K', d)
    sig_pos = _sigmoid(np.linalg.vecdot(h, u_pos))  # (B,)
    sig_neg = _sigmoid(h @ u_neg.T)  # (B, K')
    pair, slot = _context_in_noise(contexts, noise)
    sig_neg[pair, slot] = 0.0
    loss = _shared_loss(sig_pos, sig_neg, weight) if compute_loss else 0.0
    step = w_in.dtype.type(lr)
    g_pos = (1.0 - sig_pos) * step  # (B,)
    g_neg = sig_neg * (weight * -step)  # (B, K')
    d_h = g_pos[:, None] * u_pos  # (B, d)
    d_h += g_neg @ u_neg
    u_neg += g_neg.T @ h  # the noise rows after the update: distinct rows, written back
    w_out[noise] = u_neg
    scatter_add_rows(w_out, contexts, g_pos[:, None] * h)
    scatter_add_rows(w_in, centers, d_h)
    return loss


def _context_in_noise(contexts: np.ndarray, noise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (pair, slot) of every pair whose context is one of the (K',) sorted, distinct
    ``noise`` words, and that word's slot: two (H,) arrays. A binary search per pair, not a
    (B, K') comparison."""
    slot = np.minimum(np.searchsorted(noise, contexts), noise.size - 1)  # (B,)
    pair = np.flatnonzero(noise[slot] == contexts)  # (H,)
    return pair, slot[pair]


def _shared_loss(sig_pos: np.ndarray, sig_neg: np.ndarray, weight: np.ndarray) -> float:
    """Loss from (B,) positive sigmoids and (B, K') negative ones (0 where ignored)."""
    eps = np.float32(1e-7)
    pos = np.log(np.maximum(sig_pos, eps)).sum(dtype=np.float64)
    neg = np.log(np.maximum(1.0 - sig_neg, eps)) @ weight
    return -float(pos + neg.sum(dtype=np.float64))
