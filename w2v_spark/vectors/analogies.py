"""Accuracy on Google analogy questions, as gensim 4's ``KeyedVectors.evaluate_word_analogies``.

The vocabulary is restricted and case-folded, and a question with a word outside it is counted
as OOV, by the rules of :mod:`w2v_spark.vectors.evaluation`. An analogy ``a b c d`` is answered
by 3CosAdd over the restricted vocabulary without the rows of ``a``, ``b`` and ``c``; like
gensim, the answer is the best of the top five candidates whose upper-case form is not one of
the question words (other case variants of the question words are passed over).

Analogies are scored in batches with one ``(B, d) @ (d, R)`` product per batch. Where the
batched scores of the deciding candidates are closer than the float32 rounding error of a dot
product, the question is re-scored with exactly gensim's ``np.dot`` call, so that the counts
agree with gensim's even on near-ties.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from w2v_spark.core.ranking import top_k
from w2v_spark.vectors.eval_files import AnalogySection, PathLike, read_analogies
from w2v_spark.vectors.evaluation import case_fold, json_float, ok_vocab, vocab_limit
from w2v_spark.vectors.similarity import Embeddings, combine_unit_rows

__all__ = ["AnalogyResult", "SectionScore", "evaluate_analogies"]

_ANALOGY_CANDIDATES = 5
"""gensim asks ``most_similar`` for this many answers and takes the first acceptable one."""


class SectionScore(NamedTuple):
    """Score of one section: questions answered correctly out of those fully in vocabulary."""

    name: str
    correct: int
    total: int
    accuracy: float



@dataclass(frozen=True)
class AnalogyResult:
    """Outcome of :func:`evaluate_analogies`.

    Attributes:
        accuracy: ``correct / (correct + incorrect)``, 0.0 when nothing was evaluated (gensim's
            "Total accuracy").
        correct: questions answered correctly.
        incorrect: questions evaluated and answered wrongly.
        oov: questions skipped because a word is outside the restricted vocabulary.
        oov_ratio: ``100 * oov / questions``, a percentage, as gensim logs it.
        sections: per-section ``(name, correct, total, accuracy)`` in file order, empty sections
            included; ``total`` excludes OOV questions.
        restrict_vocab: the vocabulary limit actually used (at most ``len(emb)``).
        case_insensitive: whether words were compared upper-cased.
    """

    accuracy: float
    correct: int
    incorrect: int
    oov: int
    oov_ratio: float
    sections: list[SectionScore]
    restrict_vocab: int
    case_insensitive: bool

    @property
    def evaluated(self) -> int:
        """Questions with all four words in vocabulary."""
        return self.correct + self.incorrect

    @property
    def questions(self) -> int:
        """All well-formed questions, OOV ones included."""
        return self.correct + self.incorrect + self.oov

    def to_dict(self) -> dict[str, object]:
        """A JSON-serializable dict of every field."""
        return {
            "accuracy": json_float(self.accuracy),
            "correct": self.correct,
            "incorrect": self.incorrect,
            "evaluated": self.evaluated,
            "oov": self.oov,
            "oov_ratio": json_float(self.oov_ratio),
            "questions": self.questions,
            "restrict_vocab": self.restrict_vocab,
            "case_insensitive": self.case_insensitive,
            "sections": [
                {
                    "name": s.name,
                    "correct": s.correct,
                    "total": s.total,
                    "accuracy": json_float(s.accuracy),
                }
                for s in self.sections
            ],
        }



def _choose(
    candidates: Iterable[int],
    words: Sequence[str],
    fold: Callable[[str], str],
    ignore: tuple[str, str, str],
) -> tuple[str | None, int]:
    """gensim's pick: the first candidate whose folded form is not a question word.

    If every candidate is a question word, the last one is the prediction (as in gensim).

    Returns:
        ``(prediction or None, position of the prediction among the candidates or -1)``.
    """
    predicted: str | None = None
    position = -1
    for position, j in enumerate(candidates):  # noqa: B007
        predicted = fold(words[j])
        if predicted not in ignore:
            break
    return predicted, position


def _exact_candidates(
    emb: Embeddings, limit: int, query: npt.NDArray[np.float32], exclude: Sequence[int]
) -> list[int]:
    """Candidates for one question, computed exactly as gensim's ``most_similar`` does.

    Args:
        query: shape ``(d,)`` float32 unit query vector.
        exclude: rows of the three question words.

    Returns:
        up to five rows, best first.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        dists = np.dot(emb.vectors[:limit], np.ascontiguousarray(query)) / emb.norms[:limit]
    _, best = top_k(dists[None, :], _ANALOGY_CANDIDATES + len(exclude), ties="gensim")
    excluded = set(exclude)
    return [int(j) for j in best[0] if int(j) not in excluded][:_ANALOGY_CANDIDATES]


def _predict(
    emb: Embeddings,
    limit: int,
    rows: npt.NDArray[np.intp],
    ignore: Sequence[tuple[str, str, str]],
    fold: Callable[[str], str],
    batch_size: int | None,
) -> list[str | None]:
    """Folded 3CosAdd predictions for questions given as rows ``(a, b, c)``.

    Args:
        rows: shape ``(n, 3)``, the rows of ``a``, ``b``, ``c``, all ``< limit``.
        ignore: per question, the folded forms of ``a``, ``b``, ``c``.

    Returns:
        ``n`` predictions (folded words), ``None`` when there is no candidate at all.
    """
    n = rows.shape[0]
    out: list[str | None] = [None] * n
    if n == 0:
        return out
    d = emb.vector_size
    words = emb.words
    normalized = emb.normalized
    cand = normalized[:limit]
    dead = np.flatnonzero(emb.norms[:limit] == 0)
    keep = _ANALOGY_CANDIDATES + 1
    # Largest difference between a batched score and gensim's gemv score: the float32
    # rounding error of a length-d dot product of unit vectors, taken twice, plus slack.
    tol = (4.0 * d + 16.0) * 2.0**-24
    if batch_size is None:
        batch_size = max(1, min(1024, (1 << 24) // limit))
    weights = (1.0, 1.0, -1.0)
    for start in range(0, n, batch_size):
        block = rows[start : start + batch_size]
        b = block.shape[0]
        units = np.stack(
            [normalized[block[:, 1]], normalized[block[:, 2]], normalized[block[:, 0]]], axis=1
        )
        queries = combine_unit_rows(units, weights)
        scores = queries @ cand.T
        r = np.arange(b)
        for col in range(3):
            scores[r, block[:, col]] = -np.inf
        if dead.size:
            scores[:, dead] = -np.inf
        top_val, top_idx = top_k(scores, keep)
        pairs = zip(top_idx.tolist(), top_val.tolist(), strict=True)
        for i, (idx_row, val_row) in enumerate(pairs):
            q = start + i
            finite = sum(1 for v in val_row if v > -math.inf)
            predicted, position = _choose(
                idx_row[: min(finite, _ANALOGY_CANDIDATES)], words, fold, ignore[q]
            )
            last = min(position + 1, finite - 1)
            if any(val_row[k] - val_row[k + 1] < tol for k in range(last)):
                exact = _exact_candidates(emb, limit, queries[i], [int(x) for x in block[i]])
                predicted, _ = _choose(exact, words, fold, ignore[q])
            out[q] = predicted
    return out


def evaluate_analogies(
    emb: Embeddings,
    sections: Sequence[AnalogySection] | PathLike,
    restrict_vocab: int | None = 30_000,
    case_insensitive: bool = True,
    batch_size: int | None = None,
) -> AnalogyResult:
    """Accuracy on analogy questions, as gensim's ``evaluate_word_analogies``.

    Args:
        emb: vectors in frequency order.
        sections: from :func:`~w2v_spark.vectors.eval_files.read_analogies`, or a path to read
            with it.
        restrict_vocab: only the first ``restrict_vocab`` words are known and are candidates;
            ``None`` for all.
        case_insensitive: compare upper-cased words (gensim's default).
        batch_size: questions scored per matrix product; by default about 16M scores.

    Returns:
        the overall and per-section accuracy and the OOV count.
    """
    if isinstance(sections, (str, os.PathLike)):
        sections = read_analogies(sections)
    limit = vocab_limit(emb, restrict_vocab)
    fold = case_fold(case_insensitive)
    ok = ok_vocab(emb.words, limit, fold)

    section_of: list[int] = []
    rows: list[tuple[int, int, int]] = []
    ignore: list[tuple[str, str, str]] = []
    expected: list[str] = []
    oov = 0
    for s_id, section in enumerate(sections):
        for question in section.questions:
            a, b, c, e = fold(question[0]), fold(question[1]), fold(question[2]), fold(question[3])
            if a not in ok or b not in ok or c not in ok or e not in ok:
                oov += 1
                continue
            section_of.append(s_id)
            rows.append((ok[a], ok[b], ok[c]))
            ignore.append((a, b, c))
            expected.append(e)

    row_arr = np.asarray(rows, dtype=np.intp).reshape(-1, 3)
    predictions = _predict(emb, limit, row_arr, ignore, fold, batch_size)

    correct_by = [0] * len(sections)
    total_by = [0] * len(sections)
    for s_id, pred, exp in zip(section_of, predictions, expected, strict=True):
        total_by[s_id] += 1
        if pred == exp:
            correct_by[s_id] += 1
    scores = [
        SectionScore(
            name=section.name,
            correct=correct_by[s_id],
            total=total_by[s_id],
            accuracy=correct_by[s_id] / total_by[s_id] if total_by[s_id] else 0.0,
        )
        for s_id, section in enumerate(sections)
    ]
    correct = sum(correct_by)
    evaluated = sum(total_by)
    questions = evaluated + oov
    return AnalogyResult(
        accuracy=correct / evaluated if evaluated else 0.0,
        correct=correct,
        incorrect=evaluated - correct,
        oov=oov,
        oov_ratio=oov / questions * 100.0 if questions else 0.0,
        sections=scores,
        restrict_vocab=limit,
        case_insensitive=case_insensitive,
    )
