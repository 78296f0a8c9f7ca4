"""Correlation of cosine similarity with human word-pair scores, as gensim 4's
``KeyedVectors.evaluate_word_pairs`` (``dummy4unknown=False``): Spearman's rho and Pearson's r
(:mod:`w2v_spark.core.correlation`) over the pairs whose words are both in the restricted
vocabulary (:mod:`w2v_spark.vectors.evaluation`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from w2v_spark.core.correlation import pearson, spearman
from w2v_spark.core.ranking import unit_rows
from w2v_spark.vectors.eval_files import PathLike, read_word_pairs
from w2v_spark.vectors.evaluation import case_fold, json_float, ok_vocab, vocab_limit
from w2v_spark.vectors.similarity import Embeddings

__all__ = ["WordPairResult", "evaluate_word_pairs"]


@dataclass(frozen=True)
class WordPairResult:
    """Outcome of :func:`evaluate_word_pairs`.

    Attributes:
        spearman: Spearman rho of model cosine vs human score (average ranks for ties).
        pearson: Pearson r of model cosine vs human score.
        pairs: pairs evaluated (both words in the restricted vocabulary).
        oov: pairs skipped.
        oov_ratio: ``100 * oov / (pairs + oov)``, a percentage, as gensim returns it.
        restrict_vocab: the vocabulary limit actually used.
        case_insensitive: whether words were compared upper-cased.
    """

    spearman: float
    pearson: float
    pairs: int
    oov: int
    oov_ratio: float
    restrict_vocab: int
    case_insensitive: bool

    def to_dict(self) -> dict[str, object]:
        """A JSON-serializable dict of every field (NaN becomes ``None``)."""
        out: dict[str, object] = asdict(self)
        for key in ("spearman", "pearson", "oov_ratio"):
            out[key] = json_float(float(getattr(self, key)))
        return out


def evaluate_word_pairs(
    emb: Embeddings,
    pairs: Sequence[tuple[str, str, float]] | PathLike,
    restrict_vocab: int | None = 300_000,
    case_insensitive: bool = True,
) -> WordPairResult:
    """Correlation of cosine similarity with human judgements, as gensim's
    ``evaluate_word_pairs``.

    Args:
        emb: vectors in frequency order.
        pairs: ``(word1, word2, score)`` from
            :func:`~w2v_spark.vectors.eval_files.read_word_pairs`, or a path to read.
        restrict_vocab: only the first ``restrict_vocab`` words are known; ``None`` for all.
        case_insensitive: compare upper-cased words (gensim's default).

    Returns:
        Spearman rho, Pearson r and the OOV ratio.

    Raises:
        ValueError: no pair has both words in the restricted vocabulary.
    """
    if isinstance(pairs, (str, os.PathLike)):
        pairs = read_word_pairs(pairs)
    limit = vocab_limit(emb, restrict_vocab)
    fold = case_fold(case_insensitive)
    ok = ok_vocab(emb.words, limit, fold)
    units: dict[int, npt.NDArray[np.float32]] = {}

    def unit(row: int) -> npt.NDArray[np.float32]:
        if row not in units:
            units[row] = unit_rows(emb.vectors[row])
        return units[row]

    gold: list[float] = []
    model: list[np.float32] = []
    oov = 0
    for w1, w2, score in pairs:
        k1, k2 = fold(w1), fold(w2)
        if k1 not in ok or k2 not in ok:
            oov += 1
            continue
        gold.append(float(score))
        model.append(np.float32(np.dot(unit(ok[k1]), unit(ok[k2]))))
    if not gold:
        raise ValueError(
            f"no word pair has both words among the first {limit} words of the vocabulary "
            f"({oov} pairs out of vocabulary)"
        )
    g = np.asarray(gold, dtype=np.float64)
    m = np.asarray(model, dtype=np.float32).astype(np.float64)
    return WordPairResult(
        spearman=spearman(g, m),
        pearson=pearson(g, m),
        pairs=len(gold),
        oov=oov,
        oov_ratio=oov / (len(gold) + oov) * 100.0,
        restrict_vocab=limit,
        case_insensitive=case_insensitive,
    )
