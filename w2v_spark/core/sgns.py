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

_MAX_SCORE = 30.0


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, elementwise, clipped so that ``exp`` never overflows."""
    out = np.clip(x, -_MAX_SCORE, _MAX_SCORE)
    np.negative(out, out=out)
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
) -> float:
    """One SGD step on a minibatch of pairs, each with its own k negatives.

    A negative equal to its pair's context word is ignored, as in the original word2vec.

    Args:
        w_in, w_out: (V, d) float32 parameters, updated in place.
        centers, contexts: (B,) int word ids.
        negatives: (B, k) int word ids.
        lr: learning rate of this step.

    Returns:
        The minibatch loss before the update, summed over its B pairs.
    """
    batch = centers.shape[0]
    dim = w_in.shape[1]
    targets = np.empty((batch, negatives.shape[1] + 1), dtype=np.int64)
    targets[:, 0] = contexts
    targets[:, 1:] = negatives
    h = w_in[centers]  # (B, d)
    u = w_out[targets]  # (B, k+1, d)
    scores = np.matmul(u, h[:, :, None])[:, :, 0]  # (B, k+1)
    sig = _sigmoid(scores)
    loss = _batch_loss(sig)
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
