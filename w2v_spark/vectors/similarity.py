"""In-memory word vectors with the query verbs gensim users know.

:class:`Embeddings` holds ``V`` words in ``word_id`` order (descending frequency) and their
``(V, d)`` float32 vectors, and answers ``most_similar``, ``most_similar_cosmul``,
``doesnt_match``, ``similarity`` and ``analogy`` queries with pure NumPy.

The arithmetic follows gensim 4 ``KeyedVectors`` step by step (same operand order, same
float32/float64 promotions, the same ``np.dot`` calls), so that rankings and scores agree with
gensim bit for bit on the same vectors. The one deliberate difference: an all-zero vector has a
zero unit vector and a cosine of 0 with everything, where gensim divides by a zero norm and
produces NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from w2v_spark.core.ranking import top_k, unit_rows
from w2v_spark.errors import VectorFormatError, WordNotInVocabularyError
from w2v_spark.io.vector_reader import read_vectors
from w2v_spark.io.vector_writer import write_vectors

__all__ = ["Embeddings"]

FloatArray = npt.NDArray[np.float32]


def combine_unit_rows(units: npt.NDArray[np.float32], weights: Sequence[float]) -> FloatArray:
    """Weighted mean of unit vectors, normalized, with gensim's ``get_mean_vector`` arithmetic.

    Each accumulation step is done in float64 and rounded to float32 (``mean += w * vec`` with
    a float32 ``mean``), the mean is divided by the total absolute weight in float64 and then
    scaled to unit length in float64 and rounded to float32.

    Args:
        units: shape ``(B, k, d)`` float32, the unit vectors of ``k`` query words for ``B``
            queries.
        weights: ``k`` weights (``+1`` for positive words, ``-1`` for negative ones).

    Returns:
        shape ``(B, d)`` float32; a row whose combination is exactly zero stays zero.
    """
    b, k, d = units.shape
    if k != len(weights):
        raise ValueError(f"{k} unit vectors per query but {len(weights)} weights")
    acc = np.zeros((b, d), dtype=np.float32)
    total = 0.0
    for j, w in enumerate(weights):
        acc = (acc.astype(np.float64) + float(w) * units[:, j, :].astype(np.float64)).astype(
            np.float32
        )
        total += abs(float(w))
    mean = acc.astype(np.float64)
    if total > 0.0:
        mean = mean / total
    return unit_rows(mean)


def _as_word_list(value: str | Sequence[str] | None) -> list[str]:
    """Accept one word or a sequence of words and return a list of words."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


class Embeddings:
    """Word vectors in memory with the query verbs gensim users know.

    Attributes:
        words: the ``V`` words in ``word_id`` order (descending frequency).
        vectors: shape ``(V, d)`` float32, C-contiguous, read-only (a private copy).
        counts: shape ``(V,)`` int64 corpus counts, or ``None``.
        index: word -> row of ``vectors``.
    """

    def __init__(
        self,
        words: Sequence[str],
        vectors: npt.ArrayLike,
        counts: npt.ArrayLike | None = None,
    ) -> None:
        """Build from words and vectors.

        Args:
            words: ``V`` distinct strings, row order of ``vectors``.
            vectors: shape ``(V, d)``, converted to a float32 C-contiguous copy.
            counts: shape ``(V,)`` integers or ``None``.

        Raises:
            ValueError: on a shape mismatch, a duplicate or non-string word, non-finite vector
                values, or negative counts.
        """
        word_list = list(words)
        for i, w in enumerate(word_list):
            if not isinstance(w, str):
                raise ValueError(f"words[{i}] is {type(w).__name__}, not str")
        with np.errstate(over="ignore", invalid="ignore"):
            arr = np.array(vectors, dtype=np.float32, order="C", copy=True)
        if arr.ndim != 2:
            raise ValueError(f"vectors must be a 2-D (V, d) array, got shape {arr.shape}")
        if arr.shape[0] != len(word_list):
            raise ValueError(
                f"{len(word_list)} words but vectors has {arr.shape[0]} rows (shape {arr.shape})"
            )
        if arr.shape[1] < 1:
            raise ValueError(f"vectors must have at least one column, got shape {arr.shape}")
        finite = np.isfinite(arr)
        if not finite.all():
            row = int(np.flatnonzero(~finite.all(axis=1))[0])
            raise ValueError(
                f"vectors must be finite (after conversion to float32); row {row} "
                f"({word_list[row]!r}) is not"
            )
        index: dict[str, int] = {}
        for i, w in enumerate(word_list):
            if w in index:
                raise ValueError(f"duplicate word {w!r} at rows {index[w]} and {i}")
            index[w] = i
        count_arr: npt.NDArray[np.int64] | None = None
        if counts is not None:
            count_arr = np.array(counts, dtype=np.int64, copy=True)
            if count_arr.shape != (len(word_list),):
                raise ValueError(
                    f"counts must have shape ({len(word_list)},), got {count_arr.shape}"
                )
            if (count_arr < 0).any():
                raise ValueError("counts must not be negative")
            count_arr.setflags(write=False)
        arr.setflags(write=False)
        self.words: list[str] = word_list
        self.vectors: FloatArray = arr
        self.counts: npt.NDArray[np.int64] | None = count_arr
        self.index: dict[str, int] = index
        self._norms: FloatArray | None = None
        self._normalized: FloatArray | None = None

    @classmethod
    def from_arrow(cls, table: Any) -> Embeddings:
        """Embeddings from a pyarrow Table with the embeddings-table columns
        (``word``, ``word_id``, ``count``, ``vector``: list of float, all of one length d)."""
        table = table.sort_by("word_id")
        vectors = table.column("vector").combine_chunks()
        dim = len(vectors[0]) if len(vectors) else 0
        matrix = vectors.flatten().to_numpy().astype(np.float32).reshape(-1, dim)
        return cls(table.column("word").to_pylist(), matrix, table.column("count").to_numpy())

    @classmethod
    def from_file(cls, path: str, fmt: str, unicode_errors: str = "strict") -> Embeddings:
        """A word2vec text (``"word2vec-text"``), word2vec binary (``"word2vec-bin"``) or
        GloVe (``"glove"``) file, plain or gzip, read directly into memory (no Spark).

        The file order is taken as the frequency order; counts are ``V - row`` as in gensim.

        Raises:
            VectorFormatError: the file is malformed or truncated (the message names the line
                or record).
        """
        words, vectors = read_vectors(path, fmt, unicode_errors)
        return cls._from_file_rows(words, vectors, path)

    @classmethod
    def _from_file_rows(cls, words: list[str], vectors: FloatArray, path: str) -> Embeddings:
        seen: dict[str, int] = {}
        for i, w in enumerate(words):
            if w in seen:
                raise VectorFormatError(
                    f"{path}: the word {w!r} appears twice (vectors {seen[w] + 1} and {i + 1}); "
                    "each word must have one vector"
                )
            seen[w] = i
        return cls(words, vectors, np.arange(len(words), 0, -1, dtype=np.int64))

    @classmethod
    def load_word2vec_format(cls, path: str, binary: bool = False,
                             unicode_errors: str = "strict") -> Embeddings:
        """A word2vec file in memory, as gensim's ``KeyedVectors.load_word2vec_format``."""
        return cls.from_file(path, "word2vec-bin" if binary else "word2vec-text", unicode_errors)

    @classmethod
    def load_glove(cls, path: str, unicode_errors: str = "strict") -> Embeddings:
        """A GloVe text file (no header line) in memory."""
        return cls.from_file(path, "glove", unicode_errors)

    def save_word2vec_format(self, path: str, binary: bool = False,
                             precision: int | None = None) -> None:
        """Write the vectors in row order as a word2vec file (gzip when ``path`` ends in
        ``.gz``); text values in the shortest form that reads back as the same float32 unless
        ``precision`` (significant digits) is given. The file appears only when complete."""
        write_vectors(path, self.words, self.vectors,
                      "word2vec-bin" if binary else "word2vec-text", precision)

    def __repr__(self) -> str:
        return f"Embeddings(V={len(self.words)}, d={self.vector_size})"

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and word in self.index

    def __getitem__(self, word: str) -> FloatArray:
        """The vector of ``word``, shape ``(d,)`` float32 (read-only view)."""
        return self.vectors[self.word_index(word)]

    @property
    def vector_size(self) -> int:
        """The dimension ``d``."""
        return int(self.vectors.shape[1])

    @property
    def norms(self) -> FloatArray:
        """L2 norms of the rows, shape ``(V,)`` float32, computed once."""
        if self._norms is None:
            norms = np.linalg.norm(self.vectors, axis=1).astype(np.float32, copy=False)
            norms.setflags(write=False)
            self._norms = norms
        return self._norms

    @property
    def normalized(self) -> FloatArray:
        """Rows scaled to unit length, shape ``(V, d)`` float32, computed once.

        In float32, dividing by :attr:`norms`, as gensim's ``get_normed_vectors``; zero rows
        stay zero (no NaN).
        """
        if self._normalized is None:
            out = unit_rows(self.vectors, precision="float32")
            out.setflags(write=False)
            self._normalized = out
        return self._normalized

    def word_index(self, word: str) -> int:
        """Row of ``word``; raises :class:`WordNotInVocabularyError` when absent."""
        try:
            return self.index[word]
        except (KeyError, TypeError):
            raise WordNotInVocabularyError(word) from None

    def vector(self, word: str, norm: bool = False) -> FloatArray:
        """The vector of ``word``, shape ``(d,)`` float32; unit length when ``norm``."""
        i = self.word_index(word)
        return self.normalized[i] if norm else self.vectors[i]

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two words (0.0 when either vector is zero)."""
        va = self.vectors[self.word_index(a)]
        vb = self.vectors[self.word_index(b)]
        return float(np.dot(unit_rows(va), unit_rows(vb)))

    def _restrict(self, restrict_vocab: int | None) -> int:
        """Number of leading rows searched by a query."""
        if restrict_vocab is None:
            return len(self.words)
        if restrict_vocab < 1:
            raise ValueError(f"restrict_vocab must be >= 1 or None, got {restrict_vocab}")
        return min(int(restrict_vocab), len(self.words))

    def _cosines(self, query: FloatArray, limit: int) -> FloatArray:
        """Cosine of unit ``query`` (shape ``(d,)``) with rows ``[0, limit)``, shape ``(limit,)``.

        Computed as ``(vectors @ query) / norms`` like gensim; zero rows get 0.
        """
        dots = np.dot(self.vectors[:limit], query)
        norms = self.norms[:limit]
        out = np.zeros(limit, dtype=np.float32)
        np.divide(dots, norms, out=out, where=norms > 0)
        return out

    def _query(
        self, positive: str | Sequence[str] | None, negative: str | Sequence[str] | None
    ) -> tuple[list[int], list[int]]:
        """Rows of the positive and negative query words."""
        pos = [self.word_index(w) for w in _as_word_list(positive)]
        neg = [self.word_index(w) for w in _as_word_list(negative)]
        if not pos and not neg:
            raise ValueError("cannot compute similarity with no input: give positive or negative")
        return pos, neg

    def _ranked(
        self, scores: npt.NDArray[np.floating], exclude: Sequence[int], topn: int
    ) -> list[tuple[str, float]]:
        """The ``topn`` best rows of ``scores`` (shape ``(n,)``) that are not in ``exclude``."""
        masked = np.array(scores, copy=True)
        excl = [i for i in exclude if i < masked.shape[0]]
        masked[excl] = -np.inf
        values, cols = top_k(masked[None, :], topn)
        best = cols[0][values[0] > -np.inf]
        return [(self.words[int(i)], float(scores[int(i)])) for i in best]

    def most_similar(
        self,
        positive: str | Sequence[str] = (),
        negative: str | Sequence[str] = (),
        topn: int = 10,
        restrict_vocab: int | None = None,
    ) -> list[tuple[str, float]]:
        """The ``topn`` words closest to a combination of words (3CosAdd), best first.

        The query is the mean of the unit vectors of the ``positive`` words (weight +1) and the
        ``negative`` words (weight -1), scaled to unit length; candidates are ranked by cosine
        with it. The query words are never returned, and only the first ``restrict_vocab`` rows
        are candidates.

        Args:
            positive: one word or a sequence of words.
            negative: one word or a sequence of words.
            topn: number of results; 0 gives ``[]``.
            restrict_vocab: search only rows ``[0, restrict_vocab)``; ``None`` for all.

        Returns:
            up to ``topn`` ``(word, cosine)`` pairs, cosine descending, ties by word_id.

        Raises:
            WordNotInVocabularyError: a query word is unknown.
            ValueError: no query words, ``topn < 0`` or ``restrict_vocab < 1``.
        """
        if topn < 0:
            raise ValueError(f"topn must be >= 0, got {topn}")
        pos, neg = self._query(positive, negative)
        limit = self._restrict(restrict_vocab)
        if topn == 0:
            return []
        rows = pos + neg
        weights = [1.0] * len(pos) + [-1.0] * len(neg)
        units = self.normalized[np.asarray(rows, dtype=np.intp)][None, :, :]
        query = combine_unit_rows(units, weights)[0]
        return self._ranked(self._cosines(query, limit), rows, topn)

    def most_similar_cosmul(
        self,
        positive: str | Sequence[str] = (),
        negative: str | Sequence[str] = (),
        topn: int = 10,
        restrict_vocab: int | None = None,
    ) -> list[tuple[str, float]]:
        """The ``topn`` best words by Levy & Goldberg's multiplicative objective (3CosMul).

        Score of a candidate ``x`` is ``prod_p s(x, p) / (prod_n s(x, n) + 1e-6)`` where
        ``s = (1 + cos) / 2`` shifts cosines to ``[0, 1]``, as in gensim. Query words are not
        returned.

        Args:
            positive: one word or a sequence of words; at least one is required.
            negative: one word or a sequence of words.
            topn: number of results; 0 gives ``[]``.
            restrict_vocab: search only rows ``[0, restrict_vocab)``; ``None`` for all.

        Returns:
            up to ``topn`` ``(word, score)`` pairs, score descending.
        """
        if topn < 0:
            raise ValueError(f"topn must be >= 0, got {topn}")
        pos, neg = self._query(positive, negative)
        if not pos:
            raise ValueError("most_similar_cosmul needs at least one positive word")
        limit = self._restrict(restrict_vocab)
        if topn == 0:
            return []
        pos_s = [(1 + self._cosines(self.normalized[i], limit)) / 2 for i in pos]
        neg_s = [(1 + self._cosines(self.normalized[i], limit)) / 2 for i in neg]
        scores = np.prod(pos_s, axis=0) / (np.prod(neg_s, axis=0) + 0.000001)
        return self._ranked(np.asarray(scores), pos + neg, topn)

    def doesnt_match(self, words: Sequence[str]) -> str:
        """The word furthest (by cosine) from the normalized mean of the words' unit vectors.

        Raises:
            WordNotInVocabularyError: a word is unknown.
            ValueError: ``words`` is empty.
        """
        word_list = _as_word_list(words)
        if not word_list:
            raise ValueError("cannot select a word from an empty list")
        rows = np.asarray([self.word_index(w) for w in word_list], dtype=np.intp)
        units = self.normalized[rows]
        mean = unit_rows(units.mean(axis=0, dtype=np.float64))
        dists = units @ mean
        return word_list[int(np.argmin(dists))]

    def analogy(self, a: str, b: str, c: str, topn: int = 1) -> list[tuple[str, float]]:
        """Answers to "``a`` is to ``b`` as ``c`` is to ?" by 3CosAdd.

        Same as ``most_similar(positive=[b, c], negative=[a], topn=topn)``.
        """
        return self.most_similar(positive=[b, c], negative=[a], topn=topn)
