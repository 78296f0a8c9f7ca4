"""Importing vectors files into embeddings tables and exporting tables to files, with Spark."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pyspark.sql import DataFrame, SparkSession

from w2v_spark.errors import (
    IncompleteTableError,
    OutputError,
    SchemaError,
    VectorFormatError,
)
from w2v_spark.io.schemas import EMBEDDINGS_SCHEMA, SUCCESS_MARKER
from w2v_spark.io.vector_files import export_vectors, import_vectors
from w2v_spark.io.vector_reader import read_vectors
from w2v_spark.io.vector_writer import write_vectors
from w2v_spark.vectors.loading import load_embeddings

pytestmark = pytest.mark.spark


def _words(n: int) -> list[str]:
    return [f"w{i}" if i % 7 else f"mot{i}é" for i in range(n)]


def _vectors(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, d)) * np.exp(rng.uniform(-20, 20, (n, 1)))).astype(
        np.float32)


def _table(spark: SparkSession, words: list[str], vectors: np.ndarray) -> DataFrame:
    rows = [(w, i, 1000 - i, [float(x) for x in v])
            for i, (w, v) in enumerate(zip(words, vectors, strict=True))]
    return spark.createDataFrame(rows, EMBEDDINGS_SCHEMA)


def _bits(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float32).view(np.uint32)


@pytest.mark.parametrize(("fmt", "name"), [("word2vec-text", "v.txt.gz"),
                                           ("word2vec-bin", "v.bin"), ("glove", "g.txt")])
def test_table_to_file_to_table_is_exact(spark, tmp_path: Path, fmt: str, name: str) -> None:
    words, vectors = _words(150), _vectors(150, 6)
    path = str(tmp_path / name)
    report = export_vectors(_table(spark, words, vectors).repartition(3), path, fmt)
    assert report["vectors"] == 150 and report["dim"] == 6
    file_words, file_vectors = read_vectors(path, fmt)
    assert file_words == words
    np.testing.assert_array_equal(_bits(file_vectors), _bits(vectors))

    dest = str(tmp_path / "imported")
    facts = import_vectors(spark, path, fmt, dest)
    assert facts["vectors"] == 150
    assert (tmp_path / "imported" / SUCCESS_MARKER).is_file()
    assert not (tmp_path / "imported._importing").exists()
    table = spark.read.parquet(dest)
    assert table.schema.simpleString() == EMBEDDINGS_SCHEMA.simpleString()
    rows = table.orderBy("word_id").collect()
    assert [r["word"] for r in rows] == words
    assert [r["word_id"] for r in rows] == list(range(150))
    assert [r["count"] for r in rows] == list(range(150, 0, -1))
    np.testing.assert_array_equal(_bits(np.array([r["vector"] for r in rows])), _bits(vectors))


def test_malformed_file_publishes_nothing(spark, tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    lines = [f"w{i} {i} 1" for i in range(300)]
    lines[250] = "w250 1"
    path.write_text("300 2\n" + "\n".join(lines) + "\n", encoding="utf-8")
    dest = tmp_path / "out"
    with pytest.raises(VectorFormatError, match=r"bad.txt: line 252: 1 values after the word"):
        import_vectors(spark, str(path), "word2vec-text", str(dest))
    assert not dest.exists()
    assert not (tmp_path / "out._importing").exists()


def test_truncated_binary_and_duplicates_are_refused(spark, tmp_path: Path) -> None:
    path = tmp_path / "v.bin"
    write_vectors(str(path), _words(40), _vectors(40, 4), "word2vec-bin")
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(VectorFormatError, match="ends inside record 40 of the 40"):
        import_vectors(spark, str(path), "word2vec-bin", str(tmp_path / "t"))
    assert not (tmp_path / "t").exists()
    dup = tmp_path / "dup.txt"
    dup.write_text("a 1\nb 2\nc 3\nb 4\n", encoding="utf-8")
    with pytest.raises(VectorFormatError, match=r"'b' appears 2 times \(vectors 2, 4\)"):
        import_vectors(spark, str(dup), "glove", str(tmp_path / "d"))
    assert not (tmp_path / "d").exists()


def test_existing_destination_needs_overwrite(spark, tmp_path: Path) -> None:
    path = tmp_path / "g.txt"
    path.write_text("a 1 2\nb 3 4\n", encoding="utf-8")
    dest = str(tmp_path / "emb")
    import_vectors(spark, str(path), "glove", dest)
    with pytest.raises(OutputError, match="--overwrite"):
        import_vectors(spark, str(path), "glove", dest)
    path.write_text("c 1 2\nd 1\n", encoding="utf-8")
    with pytest.raises(VectorFormatError, match="line 2"):
        import_vectors(spark, str(path), "glove", dest, overwrite=True)
    assert [r["word"] for r in spark.read.parquet(dest).orderBy("word_id").collect()] == [
        "a", "b"]
    path.write_text("c 1 2\n", encoding="utf-8")
    import_vectors(spark, str(path), "glove", dest, overwrite=True)
    assert [r["word"] for r in spark.read.parquet(dest).collect()] == ["c"]


def test_export_refuses_unwritable_words_and_leaves_no_file(spark, tmp_path: Path) -> None:
    table = _table(spark, ["ok", "two words"], _vectors(2, 3))
    with pytest.raises(SchemaError, match=r"'two words' \(word_id 1\) cannot be written"):
        export_vectors(table, str(tmp_path / "v.txt"), "word2vec-text")
    assert list(tmp_path.iterdir()) == []


def test_load_embeddings_from_table_path_run_dir_and_name(spark, tmp_path: Path) -> None:
    words, vectors = _words(20), _vectors(20, 3)
    table = _table(spark, words, vectors)
    table.write.parquet(str(tmp_path / "run" / "embeddings"))
    for source in (str(tmp_path / "run"), str(tmp_path / "run" / "embeddings")):
        emb = load_embeddings(spark, source)
        assert emb.words == words
        np.testing.assert_array_equal(_bits(emb.vectors), _bits(vectors))
    table.createOrReplaceTempView("w2v_test_embeddings")
    assert load_embeddings(spark, "w2v_test_embeddings").words == words
    (tmp_path / "run" / "embeddings" / SUCCESS_MARKER).unlink()
    with pytest.raises(IncompleteTableError, match="no _SUCCESS"):
        load_embeddings(spark, str(tmp_path / "run"))


@pytest.mark.shared_data
def test_import_glove_6b_and_solve_king_queen(spark, shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "vectors" / "glove.6B.50d.word2vec.txt.gz"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    facts = import_vectors(spark, str(path), "word2vec-text", str(tmp_path / "glove"))
    assert (facts["vectors"], facts["dim"]) == (400_000, 50)
    emb = load_embeddings(spark, str(tmp_path / "glove"))
    assert emb.words[:3] == ["the", ",", "."]
    answer = emb.most_similar(positive=["king", "woman"], negative=["man"], topn=3)
    assert answer[0][0] == "queen"
