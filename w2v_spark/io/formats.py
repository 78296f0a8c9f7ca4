"""word2vec text, word2vec binary and GloVe text files: streaming readers and writers.

Formats (one vector per word, in the order of the file, which by convention is descending
frequency):

* ``word2vec-text``: a header line ``V d``, then ``V`` lines ``word x1 ... xd`` separated by
  single spaces (a trailing space, as the C tool writes, is allowed);
* ``word2vec-bin``: the header line ``V d``, then ``V`` records: the word's UTF-8 bytes, a
  space, ``d`` little-endian float32 values, and a newline (the C tool's and gensim's layout; a
  reader also accepts records without the newline);
* ``glove``: like ``word2vec-text`` without the header; ``d`` comes from the first line.

Any of them may be gzip-compressed (recognised by its magic bytes, not by the file name).

Reading is strict and safe: nothing in a file is executed (no pickle), the data must agree with
the header (the number of vectors and of values per line or record), a file that ends early is
an error rather than a shorter model, and so are blank lines before the end, empty words,
unparsable or non-finite numbers and (with ``unicode_errors="strict"``, the default) words that
are not valid UTF-8. Every error is a :class:`~w2v_spark.errors.VectorFormatError` naming the
line (text) or record (binary) and what was found.

Readers (:mod:`w2v_spark.io.vector_reader`) hold one chunk of about ``chunk_bytes`` of the
file at a time; they are used both in memory (:func:`~w2v_spark.io.vector_reader.read_vectors`,
for small files) and by the Spark import, which streams a file of any size into a table
(:mod:`w2v_spark.io.vector_files`). Writers (:mod:`w2v_spark.io.vector_writer`) write text
numbers in the shortest form that reads back as the same float32 (so text round trips are exact
too), or with a given number of significant digits. Files are opened, on any file system pyarrow
reads, by :mod:`w2v_spark.io.vector_streams`.
"""

from __future__ import annotations

__all__ = ["FORMATS"]

FORMATS = ("word2vec-text", "word2vec-bin", "glove")
UNICODE_ERRORS = ("strict", "replace", "ignore")

#: About how many bytes of a file a reader holds at a time, and a writer formats at a time.
CHUNK_BYTES = 8 << 20


def check_format(fmt: str) -> str:
    """``fmt`` if it is one of :data:`FORMATS`, else ValueError naming the valid ones."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown vectors format {fmt!r}; use one of {', '.join(FORMATS)}")
    return fmt
