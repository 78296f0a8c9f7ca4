"""word2vec text/binary and GloVe files: round trips, malformed files, gensim interop (no Spark)."""

from __future__ import annotations

import gzip
import io
import struct
from pathlib import Path

import numpy as np
import pytest

from tests.extras import extra
from w2v_spark.errors import VectorFormatError
from w2v_spark.io.vector_reader import VectorReader, read_vectors
from w2v_spark.io.vector_writer import write_vectors
from w2v_spark.vectors.similarity import Embeddings

WORDS = ["the", "café", "日本", "x", "-0", "'s"]


def _vectors(n: int = len(WORDS), d: int = 7, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = (rng.standard_normal((n, d)) * np.exp(rng.uniform(-30, 30, (n, d)))).astype(np.float32)
    v[0, :4] = np.array([-0.0, 1e-45, 3.4028235e38, 0.1], dtype=np.float32)
    return v


def _bits(a: np.ndarray) -> np.ndarray:
    assert a.dtype == np.float32
    return a.view(np.uint32)


@pytest.mark.parametrize("fmt", ["word2vec-text", "word2vec-bin", "glove"])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip_is_bit_exact(tmp_path: Path, fmt: str, suffix: str) -> None:
    vectors = _vectors()
    path = str(tmp_path / f"v{suffix}")
    write_vectors(path, WORDS, vectors, fmt)
    assert (Path(path).read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")
    words, back = read_vectors(path, fmt)
    assert words == WORDS
    np.testing.assert_array_equal(_bits(back), _bits(vectors))
    assert not list(tmp_path.glob("*.tmp"))


def test_text_layout_and_precision(tmp_path: Path) -> None:
    vectors = np.array([[0.1, -2.0], [1 / 3, 1e-45]], dtype=np.float32)
    path = tmp_path / "v.txt"
    write_vectors(str(path), ["a", "b"], vectors, "word2vec-text")
    assert path.read_text() == "2 2\na 0.1 -2.0\nb 0.33333334 1e-45\n"
    write_vectors(str(path), ["a", "b"], vectors, "word2vec-text", precision=3)
    assert path.read_text() == "2 2\na 0.1 -2\nb 0.333 1.4e-45\n"
    _, back = read_vectors(str(path), "word2vec-text")
    np.testing.assert_allclose(back, vectors, rtol=5e-3)


def test_binary_layout_is_the_c_tools(tmp_path: Path) -> None:
    path = tmp_path / "v.bin"
    write_vectors(str(path), ["ab", "é"], np.array([[1.0, -2.0], [0.5, 0.0]], np.float32),
                  "word2vec-bin")
    expected = (b"2 2\nab " + struct.pack("<2f", 1.0, -2.0) + b"\n"
                + "é".encode() + b" " + struct.pack("<2f", 0.5, 0.0) + b"\n")
    assert path.read_bytes() == expected


def test_binary_records_without_newlines_are_read(tmp_path: Path) -> None:
    path = tmp_path / "v.bin"
    path.write_bytes(b"2 1\na " + struct.pack("<f", 1.5) + b"b " + struct.pack("<f", 2.5))
    words, vectors = read_vectors(str(path), "word2vec-bin")
    assert words == ["a", "b"] and vectors.tolist() == [[1.5], [2.5]]


def test_small_chunks_read_the_same(tmp_path: Path) -> None:
    vectors = _vectors(n=300, d=5)
    words = [f"w{i}" for i in range(300)]
    for fmt in ("word2vec-text", "word2vec-bin", "glove"):
        path = tmp_path / fmt
        write_vectors(str(path), words, vectors, fmt)
        with path.open("rb") as stream:
            reader = VectorReader(stream, fmt, chunk_bytes=50)
            batches = list(reader.batches())
        assert len(batches) > 10
        assert [b.start for b in batches] == np.cumsum([0] + [len(b.words) for b in batches])[
            :-1].tolist()
        np.testing.assert_array_equal(np.concatenate([b.vectors for b in batches]), vectors)


def _read_bytes(data: bytes, fmt: str, **kwargs: object) -> tuple[list[str], np.ndarray]:
    reader = VectorReader(io.BytesIO(data), fmt, **kwargs)  # type: ignore[arg-type]
    words: list[str] = []
    parts = []
    for batch in reader.batches():
        words += batch.words
        parts.append(batch.vectors)
    return words, np.concatenate(parts)


BIN_A = b"a " + struct.pack("<2f", 1.0, 2.0) + b"\n"
BIN_B = b"b " + struct.pack("<2f", 3.0, 4.0) + b"\n"


@pytest.mark.parametrize(
    ("fmt", "data", "match"),
    [
        ("word2vec-text", b"", "the file is empty"),
        ("word2vec-text", b"a 1 2\nb 3 4\n", r"line 1: expected a header 'V d'.*glove"),
        ("word2vec-text", b"0 2\n", "both must be at least 1"),
        ("word2vec-text", b"3 2\na 1 2\nb 3 4\n", "ends after 2 of the 3 vectors"),
        ("word2vec-text", b"1 2\na 1 2\nb 3 4\n", "line 3: the header declares 1 vectors"),
        ("word2vec-text", b"2 2\na 1 2\nb 3\n", "line 3: 1 values after the word, but the "
                                                 "header declares 2"),
        ("word2vec-text", b"2 2\na 1 2\nb 3 4 5\n", "line 3: 3 values"),
        ("word2vec-text", b"2 2\na 1 2\nb 3 x4\n", "line 3: value 2 is b'x4', not a number"),
        ("word2vec-text", b"2 2\na 1 nan\nb 3 4\n", "line 2: .*NaN or infinite"),
        ("word2vec-text", b"2 2\na 1 1e39\nb 3 4\n", "line 2: .*float32 range"),
        ("word2vec-text", b"2 2\na 1 2\n\nb 3 4\n", "line 3 is blank, but data follows"),
        ("word2vec-text", b"2 2\n 1 2\nb 3 4\n", "line 2: .*"),
        ("word2vec-text", b"2 2\n\xff\xfe 1 2\nb 3 4\n", r"line 2: the word b'\\xff\\xfe' is "
                                                       "not valid UTF-8.*--unicode-errors"),
        ("glove", b"", "empty"),
        ("glove", b"2 2\na 1 2\n", "line 2: 2 values after the word, but line 1 has 1; if "
                                   "line 1 is a 'V d' header, the format is word2vec-text"),
        ("word2vec-bin", b"2 2\n" + BIN_A + BIN_B[:-3], "ends inside record 2 of the 2"),
        ("word2vec-bin", b"3 2\n" + BIN_A + BIN_B, "ends inside record 3 of the 3"),
        ("word2vec-bin", b"1 2\n" + BIN_A + BIN_B, "declares 1 vectors, but more data follows"),
        ("word2vec-bin", b"1 2\n\x80x " + struct.pack("<2f", 1, 2), "record 1: the word b'"
                                                                   "\\\\x80x' is not valid"),
        ("word2vec-bin", b"1 2\na " + struct.pack("<2f", 1, np.inf), "record 1: .*infinite"),
        ("word2vec-bin", b"abc\n", "expected a header"),
    ],
)
def test_malformed_files_are_named_errors(fmt: str, data: bytes, match: str) -> None:
    with pytest.raises(VectorFormatError, match=match):
        _read_bytes(data, fmt)


def test_trailing_blank_lines_and_spaces_are_accepted() -> None:
    words, vectors = _read_bytes(b"2 2\r\na 1 2 \r\nb 3 4\n\n\n", "word2vec-text")
    assert words == ["a", "b"] and vectors.tolist() == [[1, 2], [3, 4]]


def test_invalid_utf8_can_be_replaced() -> None:
    words, _ = _read_bytes(b"1 1\n\xffa 1\n", "word2vec-text", unicode_errors="replace")
    assert words == ["\ufffda"]


def test_truncated_gzip_is_an_error_not_a_shorter_model(tmp_path: Path) -> None:
    path = tmp_path / "v.txt.gz"
    write_vectors(str(path), [f"w{i}" for i in range(2000)], _vectors(2000, 20), "word2vec-text")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(VectorFormatError, match="gzip data ends early"):
        read_vectors(str(path), "word2vec-text")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(VectorFormatError, match=r"nowhere\.txt does not exist"):
        read_vectors(str(tmp_path / "nowhere.txt"), "glove")


def test_unwritable_word_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "v.txt"
    with pytest.raises(VectorFormatError, match="'a b' cannot be written"):
        write_vectors(str(path), ["ok", "a b"], np.ones((2, 2), np.float32), "word2vec-text")
    assert list(tmp_path.iterdir()) == []


def test_embeddings_file_api(tmp_path: Path) -> None:
    vectors = _vectors()
    emb = Embeddings(WORDS, vectors)
    emb.save_word2vec_format(str(tmp_path / "v.bin"), binary=True)
    back = Embeddings.load_word2vec_format(str(tmp_path / "v.bin"), binary=True)
    assert back.words == WORDS
    np.testing.assert_array_equal(_bits(back.vectors), _bits(vectors))
    assert back.counts is not None and back.counts.tolist() == [6, 5, 4, 3, 2, 1]
    (tmp_path / "g.txt").write_text("king 1 0\nqueen 0 1\n", encoding="utf-8")
    glove = Embeddings.load_glove(str(tmp_path / "g.txt"))
    assert glove.similarity("king", "queen") == 0.0
    (tmp_path / "dup.txt").write_text("a 1 0\nb 0 1\na 1 1\n", encoding="utf-8")
    with pytest.raises(VectorFormatError, match=r"'a' appears twice \(vectors 1 and 3\)"):
        Embeddings.load_glove(str(tmp_path / "dup.txt"))


@pytest.mark.parametrize("binary", [False, True])
def test_gensim_reads_what_we_write(tmp_path: Path, binary: bool) -> None:
    gensim_kv = extra("gensim.models.keyedvectors")
    vectors = _vectors(d=5)
    path = str(tmp_path / ("v.bin" if binary else "v.txt.gz"))
    write_vectors(path, WORDS, vectors, "word2vec-bin" if binary else "word2vec-text")
    kv = gensim_kv.KeyedVectors.load_word2vec_format(path, binary=binary)
    assert list(kv.index_to_key) == WORDS
    np.testing.assert_array_equal(_bits(kv.vectors.astype(np.float32)), _bits(vectors))


@pytest.mark.parametrize("binary", [False, True])
def test_we_read_what_gensim_writes(tmp_path: Path, binary: bool) -> None:
    gensim_kv = extra("gensim.models.keyedvectors")
    vectors = _vectors(d=5)
    kv = gensim_kv.KeyedVectors(5)
    kv.add_vectors(WORDS, vectors)
    path = str(tmp_path / "g.out")
    kv.save_word2vec_format(path, binary=binary)
    emb = Embeddings.load_word2vec_format(path, binary=binary)
    assert emb.words == WORDS
    np.testing.assert_array_equal(_bits(emb.vectors), _bits(vectors))


def test_gzip_is_recognised_by_content_not_name(tmp_path: Path) -> None:
    path = tmp_path / "vectors.txt"
    path.write_bytes(gzip.compress(b"1 2\nw 1 2\n"))
    assert read_vectors(str(path), "word2vec-text")[0] == ["w"]
