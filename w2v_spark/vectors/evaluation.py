"""Standard intrinsic evaluation of word vectors: the rules that the Google analogy and the
word-pair similarity evaluations share.

The evaluators (:mod:`w2v_spark.vectors.analogies`, :mod:`w2v_spark.vectors.word_pairs`) have
the same semantics as gensim 4's ``KeyedVectors.evaluate_word_analogies`` and
``KeyedVectors.evaluate_word_pairs`` (``dummy4unknown=False``), computed with NumPy only; the
readers of the usual files (``questions-words.txt``, WordSim-353, MEN; plain or ``.gz``) are in
:mod:`w2v_spark.vectors.eval_files`. In both:

* the vocabulary is restricted to the first ``restrict_vocab`` words (the frequency order of
  :class:`~w2v_spark.vectors.similarity.Embeddings`);
* with ``case_insensitive`` every word is upper-cased (``str.upper``, as gensim does); when
  several vocabulary words share an upper-case form, the most frequent one (lowest row) supplies
  the vector;
* a question or pair with a word outside the restricted vocabulary is skipped and counted as
  out-of-vocabulary (OOV).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from w2v_spark.vectors.similarity import Embeddings

__all__ = ["case_fold", "json_float", "ok_vocab", "vocab_limit"]


def json_float(x: float) -> float | None:
    """``x``, or ``None`` when it is NaN or infinite (strict JSON has no NaN)."""
    return x if math.isfinite(x) else None


def _identity(word: str) -> str:
    return word


def case_fold(case_insensitive: bool) -> Callable[[str], str]:
    """How words are compared: upper-cased (``str.upper``) with ``case_insensitive``, else as
    they are."""
    return str.upper if case_insensitive else _identity


def vocab_limit(emb: Embeddings, restrict_vocab: int | None) -> int:
    """How many of the first words are known: ``restrict_vocab`` (``None``: all), at most
    ``len(emb)``; ValueError below 1."""
    if restrict_vocab is None:
        return len(emb)
    if restrict_vocab < 1:
        raise ValueError(f"restrict_vocab must be >= 1 or None, got {restrict_vocab}")
    return min(int(restrict_vocab), len(emb))


def ok_vocab(words: Sequence[str], limit: int, fold: Callable[[str], str]) -> dict[str, int]:
    """Folded form -> lowest row among the first ``limit`` words with that form."""
    ok: dict[str, int] = {}
    for i in range(limit):
        ok.setdefault(fold(words[i]), i)
    return ok
