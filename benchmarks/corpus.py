"""Corpora for the benchmarks: a slice of a real corpus, and a generated Zipf corpus.

:func:`slice_corpus` keeps the first N whitespace-separated tokens of a text file (``.gz`` or
plain), line structure kept, so that every system reads the same smaller file.

:func:`zipf_corpus` writes a corpus over exactly ``vocab_size`` distinct words: every word occurs
``min_count`` times (so all of them pass ``[vocab] min_count``), and ``extra_per_word * V`` more
tokens are drawn from a Zipf law (probability of rank ``r`` proportional to ``r ** -exponent``),
all shuffled and cut into lines of ``sentence_length`` tokens. Words are letters only
(``a``, ``b``, ..., ``z``, ``aa``, ...), so any tokenizer keeps them whole. The same arguments
write the same file.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


def slice_corpus(src: Path, dst: Path, max_tokens: int, block: int = 1 << 20) -> int:
    """Write the first ``max_tokens`` tokens of ``src`` to ``dst`` (plain text, the lines of
    ``src`` kept, blank lines dropped, tokens joined by single spaces); return how many tokens
    were written. Reads ``block`` characters at a time, so a corpus on one long line is never
    held in memory whole."""
    written = 0
    open_line = False
    carry = ""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with _open_text(src) as fin, dst.open("w", encoding="utf-8") as fout:
        while written < max_tokens:
            chunk = fin.read(block)
            text = carry + chunk
            cut = len(text)
            if chunk:  # keep a token that may continue in the next block for later
                while cut > 0 and not text[cut - 1].isspace():
                    cut -= 1
            text, carry = text[:cut], text[cut:]
            pieces = text.split("\n")
            for i, piece in enumerate(pieces):
                tokens = piece.split()[: max_tokens - written]
                if tokens:
                    fout.write((" " if open_line else "") + " ".join(tokens))
                    open_line = True
                    written += len(tokens)
                if i < len(pieces) - 1 and open_line:
                    fout.write("\n")
                    open_line = False
            if not chunk:
                break
        if open_line:
            fout.write("\n")
    return written


def word_name(index: int) -> str:
    """The ``index``-th word of the generated vocabulary: bijective base 26 over ``a``-``z``
    (0 -> ``a``, 25 -> ``z``, 26 -> ``aa``)."""
    if index < 0:
        raise ValueError(f"index must be >= 0, got {index}")
    letters = []
    n = index + 1
    while n > 0:
        n, rem = divmod(n - 1, 26)
        letters.append(chr(ord("a") + rem))
    return "".join(reversed(letters))


@dataclass(frozen=True)
class ZipfCorpus:
    """What :func:`zipf_corpus` wrote."""

    path: Path
    vocab_size: int
    tokens: int
    sentences: int


def zipf_ids(vocab_size: int, min_count: int = 5, extra_per_word: float = 5.0,
             exponent: float = 1.0, seed: int = 0) -> np.ndarray:
    """The token stream as word indices, shape ``(V * min_count + round(V * extra_per_word),)``
    int32; index 0 is the most frequent word."""
    if vocab_size < 1 or min_count < 1 or extra_per_word < 0:
        raise ValueError("vocab_size and min_count must be >= 1 and extra_per_word >= 0")
    rng = np.random.default_rng(np.random.SeedSequence([seed, vocab_size]))
    weights = np.arange(1, vocab_size + 1, dtype=np.float64) ** -exponent
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    extra = np.searchsorted(cdf, rng.random(round(vocab_size * extra_per_word)), side="right")
    base = np.repeat(np.arange(vocab_size), min_count)
    ids = np.concatenate([base, np.minimum(extra, vocab_size - 1)]).astype(np.int32)
    return rng.permutation(ids)


def zipf_corpus(path: Path, vocab_size: int, min_count: int = 5, extra_per_word: float = 5.0,
                exponent: float = 1.0, sentence_length: int = 1000, seed: int = 0
                ) -> ZipfCorpus:
    """Write the Zipf corpus to ``path`` (see the module docstring)."""
    ids = zipf_ids(vocab_size, min_count, extra_per_word, exponent, seed)
    names = np.array([word_name(i) for i in range(vocab_size)], dtype=object)
    path.parent.mkdir(parents=True, exist_ok=True)
    sentences = 0
    with path.open("w", encoding="utf-8") as fh:
        for start in range(0, ids.size, sentence_length):
            fh.write(" ".join(names[ids[start : start + sentence_length]]) + "\n")
            sentences += 1
    return ZipfCorpus(path, vocab_size, int(ids.size), sentences)
