"""Vectors files opened on a local path or any URI pyarrow reads (``file:``, ``hdfs:``,
``s3:``): for reading, gzip data recognised by its magic bytes and gunzipped; for writing, a
temporary file moved into place only when everything is written (gzip when the name ends in
``.gz``).
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from w2v_spark.errors import VectorFormatError

__all__ = ["open_input", "open_output"]

_GZIP_MAGIC = b"\x1f\x8b"


def _filesystem(path: str) -> tuple[Any, str]:
    """A pyarrow FileSystem and the path within it (local paths may be relative)."""
    from pyarrow import fs

    if "://" not in path:
        path = os.path.abspath(path)
    return fs.FileSystem.from_uri(path)


class _NativeReader(io.RawIOBase):
    """A pyarrow input stream as a Python raw stream, so that it can be buffered."""

    def __init__(self, native: Any) -> None:
        self._native = native

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._native.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


@contextmanager
def open_input(path: str) -> Iterator[IO[bytes]]:
    """Open a local path or any URI pyarrow can read (``file:``, ``hdfs:``, ``s3:``) as a
    buffered binary stream, transparently gunzipping gzip data."""
    filesystem, inner = _filesystem(path)
    try:
        raw = filesystem.open_input_stream(inner, compression=None)
    except FileNotFoundError:
        raise VectorFormatError(f"the vectors file {path} does not exist") from None
    except OSError as exc:
        raise VectorFormatError(f"cannot open the vectors file {path}: {exc}") from None
    try:
        magic = raw.read(2)
        # Reopen rather than seek: not every stream can seek.
        raw.close()
        raw = filesystem.open_input_stream(inner, compression=None)
        buffered = io.BufferedReader(_NativeReader(raw), buffer_size=1 << 20)
        if magic == _GZIP_MAGIC:
            yield gzip.GzipFile(fileobj=buffered)  # type: ignore[misc]
        else:
            yield buffered
    finally:
        raw.close()


@contextmanager
def open_output(path: str) -> Iterator[IO[bytes]]:
    """A binary stream that becomes ``path`` only when the block ends without an error.

    The data goes to ``path + ".tmp"`` (gzip-compressed when ``path`` ends in ``.gz``, with a
    zero timestamp so equal data gives equal files) and is renamed into place at the end; on an
    error the temporary file is deleted and ``path`` is left as it was.
    """
    filesystem, inner = _filesystem(path)
    tmp = inner + ".tmp"
    raw = filesystem.open_output_stream(tmp, compression=None)
    ok = False
    try:
        if inner.endswith(".gz"):
            with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=6) as zipped:
                yield zipped  # type: ignore[misc]
        else:
            yield raw
        ok = True
    finally:
        raw.close()
        if ok:
            filesystem.move(tmp, inner)
        else:
            filesystem.delete_file(tmp)
