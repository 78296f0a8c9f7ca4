"""Standard intrinsic evaluation of word vectors: Google analogies and word-pair similarity.

Readers for the usual files (``questions-words.txt``, WordSim-353, MEN; plain or ``.gz``) and
evaluators with the same semantics as gensim 4's ``KeyedVectors.evaluate_word_analogies`` and
``KeyedVectors.evaluate_word_pairs`` (``dummy4unknown=False``), computed with NumPy only:

* the vocabulary is restricted to the first ``restrict_vocab`` words (the frequency order of
  :class:`~w2v_spark.vectors.similarity.Embeddings`);
* with ``case_insensitive`` every word is upper-cased (``str.upper``, as gensim does); when
  several vocabulary words share an upper-case form, the most frequent one (lowest row) supplies
  the vector;
* a question or pair with a word outside the restricted vocabulary is skipped and counted as
  out-of-vocabulary (OOV);
* an analogy ``a b c d`` is answered by 3CosAdd over the restricted vocabulary without the rows
  of ``a``, ``b`` and ``c``; like gensim, the answer is the best of the top five candidates whose
  upper-case form is not one of the question words (other case variants of the question words
  are passed over).

Analogies are scored in batches with one ``(B, d) @ (d, R)`` product per batch. Where the
batched scores of the deciding candidates are closer than the float32 rounding error of a dot
product, the question is re-scored with exactly gensim's ``np.dot`` call, so that the counts
agree with gensim's even on near-ties.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, NamedTuple

import numpy as np
import numpy.typing as npt

from w2v_spark.core.ranking import top_k, unit_rows
from w2v_spark.errors import InputError
from w2v_spark.vectors.similarity import Embeddings, combine_unit_rows

__all__ = [
    "AnalogyResult",
    "AnalogySection",
    "SectionScore",
    "WordPairResult",
    "evaluate_analogies",
    "evaluate_word_pairs",
    "pearson",
    "rankdata",
    "read_analogies",
    "read_word_pairs",
    "spearman",
]

PathLike = str | os.PathLike[str]
Question = tuple[str, str, str, str]

_ANALOGY_CANDIDATES = 5
"""gensim asks ``most_similar`` for this many answers and takes the first acceptable one."""


@dataclass
class AnalogySection:
    """One ``: name`` section of an analogy file and its ``a b c d`` questions."""

    name: str
    questions: list[Question] = field(default_factory=list)


class SectionScore(NamedTuple):
    """Score of one section: questions answered correctly out of those fully in vocabulary."""

    name: str
    correct: int
    total: int
    accuracy: float


def _json_float(x: float) -> float | None:
    """``x``, or ``None`` when it is NaN or infinite (strict JSON has no NaN)."""
    return x if math.isfinite(x) else None


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
            "accuracy": _json_float(self.accuracy),
            "correct": self.correct,
            "incorrect": self.incorrect,
            "evaluated": self.evaluated,
            "oov": self.oov,
            "oov_ratio": _json_float(self.oov_ratio),
            "questions": self.questions,
            "restrict_vocab": self.restrict_vocab,
            "case_insensitive": self.case_insensitive,
            "sections": [
                {
                    "name": s.name,
                    "correct": s.correct,
                    "total": s.total,
                    "accuracy": _json_float(s.accuracy),
                }
                for s in self.sections
            ],
        }


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
            out[key] = _json_float(float(getattr(self, key)))
        return out


def _open_text(path: PathLike) -> IO[str]:
    """Open a UTF-8 text file for reading, transparently gunzipping ``*.gz``."""
    p = Path(path)
    if p.suffix == ".gz":
        return gzip.open(p, "rt", encoding="utf-8-sig")
    return open(p, encoding="utf-8-sig")


def _is_gzip(path: PathLike) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(2) == b"\x1f\x8b"
    except OSError:
        return False


def _numbered_lines(path: PathLike) -> Iterator[tuple[int, str]]:
    """The 1-based numbered lines of a UTF-8 text file (``*.gz`` gunzipped).

    Raises:
        InputError: naming the file, when it cannot be opened, is not UTF-8 text (a binary
            file, gzip data under a name without ``.gz``, UTF-16 text) or is a damaged gzip file.
    """
    line_no = 0
    try:
        with _open_text(path) as fh:
            for line_no, raw in enumerate(fh, start=1):
                if "\x00" in raw:
                    raise InputError(
                        f"{path}: line {line_no}: not a text file: it holds NUL bytes (a binary "
                        "file, or text in UTF-16 rather than UTF-8?)"
                    )
                yield line_no, raw
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start : exc.start + 1]
        hint = (
            "it holds gzip data: name it *.gz to read it compressed"
            if Path(path).suffix != ".gz" and _is_gzip(path) else "is it a binary file?"
        )
        raise InputError(
            f"{path}: not a UTF-8 text file: byte {byte!r} at or after line {line_no + 1} "
            f"cannot be decoded ({hint})"
        ) from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise InputError(f"{path}: not a readable gzip file: {exc}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file: {exc.strerror or exc}") from None


def read_analogies(path: PathLike) -> list[AnalogySection]:
    """Read a Google ``questions-words.txt`` style file.

    ``: name`` lines start a section; the other non-blank lines are ``a b c d`` questions
    (whitespace-separated). Blank lines are ignored.

    Raises:
        InputError: naming the file, when it holds no question at all (empty, or only section
            headers), cannot be read or is not UTF-8 text (:func:`_numbered_lines`); naming
            the 1-based line number too, for a question before the first section header, a
            header without a name, or a line that does not hold exactly four words.
    """
    sections: list[AnalogySection] = []
    current: AnalogySection | None = None
    for line_no, raw in _numbered_lines(path):
        line = raw.strip()
        if not line:
            continue
        if line.startswith(":"):
            name = line.lstrip(": \t").strip()
            if not name:
                raise InputError(f"{path}: line {line_no}: section header without a name")
            current = AnalogySection(name)
            sections.append(current)
            continue
        if current is None:
            raise InputError(
                f"{path}: line {line_no}: question before the first ': section' header"
            )
        parts = line.split()
        if len(parts) != 4:
            raise InputError(
                f"{path}: line {line_no}: expected 4 words, got {len(parts)}: {line!r}"
            )
        current.questions.append((parts[0], parts[1], parts[2], parts[3]))
    if not any(section.questions for section in sections):
        what = (f"holds only {len(sections)} section header(s)" if sections
                else "is empty (or holds only blank lines)")
        raise InputError(f"{path}: the file has no analogy questions: it {what}")
    return sections


def read_word_pairs(path: PathLike) -> list[tuple[str, str, float]]:
    """Read a word-similarity file: WordSim-353 (tsv), MEN, SimLex-style 3-column files.

    Lines starting with ``#`` and blank lines are ignored. A line holding a tab is split on
    tabs (so words may contain spaces), other lines on runs of whitespace; each must give
    ``word1 word2 score``. A first data line whose score is not a number is taken as a column
    header and skipped.

    Returns:
        ``(word1, word2, score)`` in file order.

    Raises:
        InputError: naming the file, when it holds no pair at all (empty, or only comments and
            a header), cannot be read or is not UTF-8 text (:func:`_numbered_lines`); naming
            the 1-based line number too, for a line without exactly three fields, an empty
            word, or a score that is not a finite number.
    """
    pairs: list[tuple[str, str, float]] = []
    header_seen = False
    for line_no, raw in _numbered_lines(path):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")] if "\t" in line else line.split()
        if len(fields) != 3:
            raise InputError(
                f"{path}: line {line_no}: expected 'word1 word2 score', "
                f"got {len(fields)} fields: {line!r}"
            )
        w1, w2, score_text = fields
        try:
            score = float(score_text)
        except ValueError:
            if not pairs and not header_seen:
                header_seen = True
                continue
            raise InputError(
                f"{path}: line {line_no}: score {score_text!r} is not a number"
            ) from None
        if not math.isfinite(score):
            raise InputError(f"{path}: line {line_no}: score {score_text!r} is not finite")
        if not w1 or not w2:
            raise InputError(f"{path}: line {line_no}: empty word in {line!r}")
        pairs.append((w1, w2, score))
    if not pairs:
        what = ("holds only a header line (and comments)" if header_seen
                else "is empty (or holds only comments and blank lines)")
        raise InputError(f"{path}: the file has no word pairs: it {what}")
    return pairs


def rankdata(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """1-based ranks with ties given their average rank (``scipy.stats.rankdata`` 'average').

    Args:
        values: shape ``(n,)``.

    Returns:
        shape ``(n,)`` float64.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    n = x.shape[0]
    if n == 0:
        return np.empty(0, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    new_group = np.empty(n, dtype=bool)
    new_group[0] = True
    np.not_equal(xs[1:], xs[:-1], out=new_group[1:])
    starts = np.flatnonzero(new_group)
    ends = np.append(starts[1:], n)
    average = (starts + ends + 1) / 2.0
    group = np.cumsum(new_group) - 1
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = average[group]
    return ranks


def _paired_samples(
    x: npt.ArrayLike, y: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None:
    """Two equally long float64 samples, or None when a correlation is undefined (fewer than
    two values or a non-finite one); unequal lengths raise ValueError."""
    a = np.asarray(x, dtype=np.float64).ravel()
    b = np.asarray(y, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"samples differ in length: {a.shape[0]} and {b.shape[0]}")
    if a.shape[0] < 2 or not (np.isfinite(a).all() and np.isfinite(b).all()):
        return None
    return a, b


def pearson(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Pearson correlation of two equally long samples (float64); NaN when undefined.

    Args:
        x: shape ``(n,)``.
        y: shape ``(n,)``.
    """
    samples = _paired_samples(x, y)
    if samples is None:
        return math.nan
    a, b = samples
    am = a - a.mean()
    bm = b - b.mean()
    na = float(np.linalg.norm(am))
    nb = float(np.linalg.norm(bm))
    if na == 0.0 or nb == 0.0:
        return math.nan
    r = float(np.dot(am / na, bm / nb))
    return max(-1.0, min(1.0, r))


def spearman(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Spearman rank correlation (Pearson of average ranks), as ``scipy.stats.spearmanr``.

    Args:
        x: shape ``(n,)``.
        y: shape ``(n,)``.

    Returns:
        rho, or NaN when a sample is constant, shorter than 2 or holds NaN.
    """
    samples = _paired_samples(x, y)
    if samples is None:
        return math.nan
    a, b = samples
    return pearson(rankdata(a), rankdata(b))


def _identity(word: str) -> str:
    return word


def _fold(case_insensitive: bool) -> Callable[[str], str]:
    return str.upper if case_insensitive else _identity


def _limit(emb: Embeddings, restrict_vocab: int | None) -> int:
    if restrict_vocab is None:
        return len(emb)
    if restrict_vocab < 1:
        raise ValueError(f"restrict_vocab must be >= 1 or None, got {restrict_vocab}")
    return min(int(restrict_vocab), len(emb))


def _ok_vocab(words: Sequence[str], limit: int, fold: Callable[[str], str]) -> dict[str, int]:
    """Folded form -> lowest row among the first ``limit`` words with that form."""
    ok: dict[str, int] = {}
    for i in range(limit):
        ok.setdefault(fold(words[i]), i)
    return ok


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
        sections: from :func:`read_analogies`, or a path to read with it.
        restrict_vocab: only the first ``restrict_vocab`` words are known and are candidates;
            ``None`` for all.
        case_insensitive: compare upper-cased words (gensim's default).
        batch_size: questions scored per matrix product; by default about 16M scores.

    Returns:
        the overall and per-section accuracy and the OOV count.
    """
    if isinstance(sections, (str, os.PathLike)):
        sections = read_analogies(sections)
    limit = _limit(emb, restrict_vocab)
    fold = _fold(case_insensitive)
    ok = _ok_vocab(emb.words, limit, fold)

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
        pairs: ``(word1, word2, score)`` from :func:`read_word_pairs`, or a path to read.
        restrict_vocab: only the first ``restrict_vocab`` words are known; ``None`` for all.
        case_insensitive: compare upper-cased words (gensim's default).

    Returns:
        Spearman rho, Pearson r and the OOV ratio.

    Raises:
        ValueError: no pair has both words in the restricted vocabulary.
    """
    if isinstance(pairs, (str, os.PathLike)):
        pairs = read_word_pairs(pairs)
    limit = _limit(emb, restrict_vocab)
    fold = _fold(case_insensitive)
    ok = _ok_vocab(emb.words, limit, fold)
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
