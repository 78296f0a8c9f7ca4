"""Readers of the standard evaluation files: Google analogies (``questions-words.txt``) and
word-pair similarity (WordSim-353, MEN, SimLex-style 3-column files), plain or ``.gz``.

Reading is strict: a malformed line is an :class:`~w2v_spark.errors.InputError` naming the file
and the line, and so is a file that cannot be read, is not UTF-8 text or holds nothing to
evaluate.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from w2v_spark.errors import InputError

__all__ = ["AnalogySection", "PathLike", "Question", "read_analogies", "read_word_pairs"]

PathLike = str | os.PathLike[str]
Question = tuple[str, str, str, str]


@dataclass
class AnalogySection:
    """One ``: name`` section of an analogy file and its ``a b c d`` questions."""

    name: str
    questions: list[Question] = field(default_factory=list)



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
