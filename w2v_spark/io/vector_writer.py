"""Writers of word2vec text, word2vec binary and GloVe files (the formats are described in
:mod:`w2v_spark.io.formats`): the header line, the records of a batch of vectors, and a whole
file written atomically.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from w2v_spark.errors import VectorFormatError
from w2v_spark.io.formats import CHUNK_BYTES, check_format
from w2v_spark.io.vector_streams import open_output

__all__ = ["format_records", "header_bytes", "write_vectors"]

_SEPARATORS = frozenset(" \t\n\r\x0b\x0c")


def header_bytes(count: int, dim: int) -> bytes:
    """The ``V d`` header line of both word2vec formats."""
    return f"{count} {dim}\n".encode("ascii")


def check_word(word: str) -> None:
    """Refuse a word the formats cannot represent (empty, or holding a space or line break)."""
    if not word or any(ch in _SEPARATORS for ch in word):
        raise VectorFormatError(
            f"the word {word!r} cannot be written to a word2vec file: words must be non-empty "
            "and hold no spaces, tabs or line breaks"
        )


def format_records(words: Sequence[str], vectors: npt.NDArray[np.floating], fmt: str,
                   precision: int | None = None) -> bytes:
    """The records of ``words`` and ``vectors`` (shape ``(n, d)``) in ``fmt``, no header.

    Args:
        precision: significant digits of text values; ``None`` for the shortest form that
            reads back as the same float32.
    """
    check_format(fmt)
    for word in words:
        check_word(word)
    values = np.ascontiguousarray(vectors, dtype="<f4")
    if fmt == "word2vec-bin":
        return b"".join(
            w.encode("utf-8") + b" " + row.tobytes() + b"\n"
            for w, row in zip(words, values, strict=True)
        )
    if precision is None:
        text = values.astype(np.float32).astype(str)
    else:
        if precision < 1:
            raise ValueError(f"precision must be >= 1 significant digit, got {precision}")
        text = np.char.mod(f"%.{precision}g", values.astype(np.float64))
    return "".join(
        w + " " + " ".join(row) + "\n" for w, row in zip(words, text.tolist(), strict=True)
    ).encode("utf-8")


def write_vectors(path: str, words: Sequence[str], vectors: npt.NDArray[np.floating], fmt: str,
                  precision: int | None = None) -> None:
    """Write a whole vectors file (gzip when ``path`` ends in ``.gz``), atomically."""
    check_format(fmt)
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] != len(words):
        raise ValueError(f"{len(words)} words but vectors of shape {matrix.shape}")
    with open_output(path) as out:
        if fmt != "glove":
            out.write(header_bytes(len(words), matrix.shape[1]))
        step = max(1, CHUNK_BYTES // (16 * max(1, matrix.shape[1])))
        for start in range(0, len(words), step):
            out.write(format_records(words[start : start + step], matrix[start : start + step],
                                     fmt, precision))
