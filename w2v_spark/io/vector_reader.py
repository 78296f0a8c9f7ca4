"""Streaming readers of word2vec text, word2vec binary and GloVe files (the formats are
described in :mod:`w2v_spark.io.formats`): strict, a chunk at a time, every error a
:class:`~w2v_spark.errors.VectorFormatError` naming the line or record.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

import numpy as np
import numpy.typing as npt

from w2v_spark.errors import VectorFormatError
from w2v_spark.io.formats import CHUNK_BYTES, UNICODE_ERRORS, check_format
from w2v_spark.io.vector_streams import open_input

__all__ = ["VectorBatch", "VectorReader", "read_vectors"]

_MAX_WORD_BYTES = 1 << 16


@dataclass(frozen=True)
class VectorBatch:
    """Consecutive vectors of a file.

    Attributes:
        words: ``n`` words.
        vectors: shape ``(n, d)`` float32.
        start: 0-based index of the first of them among the file's vectors.
    """

    words: list[str]
    vectors: npt.NDArray[np.float32]
    start: int


def _decode(raw: bytes, where: str, unicode_errors: str) -> str:
    try:
        word = raw.decode("utf-8", errors=unicode_errors)
    except UnicodeDecodeError:
        raise VectorFormatError(
            f"{where}: the word {raw!r} is not valid UTF-8; pass unicode_errors='replace' "
            "(command line: --unicode-errors replace) to replace the invalid bytes with U+FFFD"
        ) from None
    if not word:
        raise VectorFormatError(f"{where}: the word is empty")
    return word


def _parse_header(line: bytes, where: str) -> tuple[int, int]:
    parts = line.split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise VectorFormatError(
            f"{where}: expected a header 'V d' (the number of vectors and their dimension), found "
            f"{line[:80]!r}; a file without a header line is GloVe: use the format glove"
        )
    count, dim = int(parts[0]), int(parts[1])
    if count < 1 or dim < 1:
        raise VectorFormatError(f"{where}: the header declares {count} vectors of dimension "
                                f"{dim}; both must be at least 1")
    return count, dim


def _check_finite(vectors: npt.NDArray[np.float32], first: int, unit: str) -> None:
    """Raise naming the first non-finite row (``first`` is the unit number of row 0)."""
    finite = np.isfinite(vectors).all(axis=1)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise VectorFormatError(
            f"{unit} {first + row}: the vector has a NaN or infinite value (or one beyond the "
            "float32 range)"
        )


@contextmanager
def _stream_errors() -> Iterator[None]:
    """Turn the gzip module's errors into VectorFormatError."""
    try:
        yield
    except EOFError as exc:
        raise VectorFormatError(f"the gzip data ends early (truncated file): {exc}") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise VectorFormatError(f"the gzip data is corrupt: {exc}") from None


class VectorReader:
    """A streaming reader of one vectors file.

    Attributes:
        dim: ``d``, from the header (word2vec) or the first line (GloVe).
        declared: the header's ``V``, ``None`` for GloVe.
    """

    def __init__(self, stream: IO[bytes], fmt: str, unicode_errors: str = "strict",
                 chunk_bytes: int = CHUNK_BYTES) -> None:
        check_format(fmt)
        if unicode_errors not in UNICODE_ERRORS:
            raise ValueError(
                f"unicode_errors must be one of {', '.join(UNICODE_ERRORS)}, got {unicode_errors!r}"
            )
        self._stream = stream
        self._fmt = fmt
        self._errors = unicode_errors
        self._chunk = max(1, chunk_bytes)
        self.declared: int | None = None
        self._pending: list[bytes] = []
        self._line_no = 0
        with _stream_errors():
            self._read_start(fmt)

    def _read_start(self, fmt: str) -> None:
        """Read the header (word2vec) or the first line (GloVe)."""
        if fmt == "glove":
            first = self._stream.readline()
            if not first.strip():
                raise VectorFormatError("line 1: the file is empty or starts with a blank line")
            self.dim = len(first.rstrip(b"\r\n ").split(b" ")) - 1
            if self.dim < 1:
                raise VectorFormatError(f"line 1: {first[:80]!r} has a word but no values")
            self._pending = [first]
        else:
            header = self._stream.readline(256)
            if not header:
                raise VectorFormatError("the file is empty")
            self._line_no = 1
            self.declared, self.dim = _parse_header(header, "line 1")

    def count_rest(self) -> int:
        """Count the vectors of a GloVe file from here to the end (its non-blank lines),
        consuming the stream; for the word2vec formats, the header's count."""
        if self.declared is not None:
            return self.declared
        count = sum(1 for line in self._pending if line.strip())
        with _stream_errors():
            while chunk := self._stream.readlines(self._chunk):
                count += sum(1 for line in chunk if line.strip())
        return count

    def batches(self) -> Iterator[VectorBatch]:
        """The vectors in file order, a chunk at a time; the last check (the count against the
        header, the end of the file) runs when the iterator is exhausted."""
        with _stream_errors():
            if self._fmt == "word2vec-bin":
                yield from self._binary_batches()
            else:
                yield from self._text_batches()

    # -- text ------------------------------------------------------------------------------

    def _lines(self) -> Iterator[list[bytes]]:
        if self._pending:
            yield self._pending
        while True:
            chunk = self._stream.readlines(self._chunk)
            if not chunk:
                return
            yield chunk

    def _parse_line(self, line: bytes, line_no: int) -> tuple[str, npt.NDArray[np.float32]]:
        """One stripped line, slowly and with a precise error."""
        where = f"line {line_no}"
        parts = line.split(b" ")
        if len(parts) != self.dim + 1:
            expected = ("the header declares" if self.declared is not None
                        else "line 1 has")
            hint = "" if self.declared is not None or line_no != 2 else (
                "; if line 1 is a 'V d' header, the format is word2vec-text, not glove")
            raise VectorFormatError(
                f"{where}: {len(parts) - 1} values after the word, but {expected} "
                f"{self.dim}{hint}"
            )
        word = _decode(parts[0], where, self._errors)
        values = np.empty(self.dim, dtype=np.float32)
        for j, field in enumerate(parts[1:]):
            try:
                with np.errstate(over="ignore"):
                    values[j] = float(field)
            except ValueError:
                raise VectorFormatError(
                    f"{where}: value {j + 1} is {field[:40]!r}, not a number"
                ) from None
        _check_finite(values[None, :], line_no, "line")
        return word, values

    def _text_batches(self) -> Iterator[VectorBatch]:
        count = 0
        blank_at = 0
        first_line = self._line_no + 1
        for chunk in self._lines():
            lines = [line.rstrip(b"\r\n ") for line in chunk]
            if blank_at and any(lines):
                raise VectorFormatError(f"line {blank_at} is blank, but data follows it")
            keep = len(lines)
            if not all(lines):
                keep = next(i for i, line in enumerate(lines) if not line)
                if any(lines[keep:]):
                    raise VectorFormatError(
                        f"line {first_line + keep} is blank, but data follows it")
                blank_at = first_line + keep
                lines = lines[:keep]
            if self.declared is not None and count + len(lines) > self.declared:
                extra = first_line + self.declared - count
                raise VectorFormatError(
                    f"line {extra}: the header declares {self.declared} vectors, but the file "
                    "holds more lines"
                )
            if lines:
                words, vectors = self._parse_chunk(lines, first_line)
                yield VectorBatch(words, vectors, count)
                count += len(lines)
            first_line += len(chunk)
        if self.declared is not None and count < self.declared:
            raise VectorFormatError(
                f"the file ends after {count} of the {self.declared} vectors the header declares "
                "(truncated file?)"
            )

    def _parse_chunk(self, lines: list[bytes], first_line: int
                     ) -> tuple[list[str], npt.NDArray[np.float32]]:
        """Fast path with np.loadtxt; the slow per-line parser finds any error."""
        try:
            if any(line.count(b" ") != self.dim for line in lines):
                raise ValueError("wrong number of fields")
            with np.errstate(over="ignore"):
                vectors = np.loadtxt(
                    [line.decode("latin-1") for line in lines], dtype=np.float32,
                    delimiter=" ", usecols=range(1, self.dim + 1), comments=None,
                    quotechar=None, ndmin=2,
                )
            if not np.isfinite(vectors).all():
                raise ValueError("non-finite values")
        except ValueError as exc:
            for i, line in enumerate(lines):
                self._parse_line(line, first_line + i)
            raise VectorFormatError(
                f"lines {first_line}-{first_line + len(lines) - 1}: the values could not be "
                f"parsed as numbers ({exc})"
            ) from None
        words = [
            _decode(line[: line.index(b" ")], f"line {first_line + i}", self._errors)
            for i, line in enumerate(lines)
        ]
        return words, vectors

    # -- binary ----------------------------------------------------------------------------

    def _binary_batches(self) -> Iterator[VectorBatch]:
        assert self.declared is not None
        size = 4 * self.dim
        buf = b""
        pos = 0
        eof = False
        record = 0
        words: list[str] = []
        blobs: list[bytes] = []
        batch_start = 0
        while record < self.declared:
            space = buf.find(b" ", pos, pos + _MAX_WORD_BYTES)
            end = space + 1 + size
            if space < 0 and len(buf) - pos >= _MAX_WORD_BYTES:
                raise VectorFormatError(
                    f"record {record + 1}: no space within {_MAX_WORD_BYTES} bytes after the "
                    "previous record; this is not a word2vec binary file"
                )
            if space < 0 or end > len(buf):
                if eof:
                    raise VectorFormatError(
                        f"the file ends inside record {record + 1} of the {self.declared} the "
                        "header declares (truncated file?)"
                    )
                more = self._stream.read(self._chunk)
                eof = not more
                buf = buf[pos:] + more
                pos = 0
                continue
            where = f"record {record + 1}"
            words.append(_decode(buf[pos:space].lstrip(b"\n"), where, self._errors))
            blobs.append(buf[space + 1 : end])
            pos = end
            record += 1
            if len(blobs) * size >= self._chunk or record == self.declared:
                vectors = np.frombuffer(b"".join(blobs), dtype="<f4").astype(np.float32)
                vectors = vectors.reshape(len(blobs), self.dim)
                _check_finite(vectors, batch_start + 1, "record")
                yield VectorBatch(words, vectors, batch_start)
                batch_start = record
                words, blobs = [], []
        rest = buf[pos:] + self._stream.read(_MAX_WORD_BYTES)
        if rest.strip():
            raise VectorFormatError(
                f"the header declares {self.declared} vectors, but more data follows record "
                f"{self.declared} ({rest[:40]!r}...)"
            )


def read_vectors(path: str, fmt: str, unicode_errors: str = "strict"
                 ) -> tuple[list[str], npt.NDArray[np.float32]]:
    """A whole vectors file in memory: its words and a ``(V, d)`` float32 matrix."""
    with open_input(path) as stream:
        reader = VectorReader(stream, fmt, unicode_errors)
        words: list[str] = []
        parts: list[npt.NDArray[np.float32]] = []
        for batch in reader.batches():
            words.extend(batch.words)
            parts.append(batch.vectors)
    return words, np.concatenate(parts) if parts else np.empty((0, reader.dim), np.float32)
