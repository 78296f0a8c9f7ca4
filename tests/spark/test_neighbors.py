"""Blocked top-k neighbours in Spark against a brute-force NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.sql import DataFrame, SparkSession

from w2v_spark.errors import InputError, SchemaError, WordNotInVocabularyError
from w2v_spark.stages.neighbors import block_top_k, merge_top_k, nearest_neighbors, unit_rows

pytestmark = pytest.mark.spark


def _frame(spark: SparkSession, keys: list[str], vectors: np.ndarray) -> DataFrame:
    rows = [(key, [float(x) for x in vec]) for key, vec in zip(keys, vectors, strict=True)]
    return spark.createDataFrame(rows, "word string, vector array<float>")


def _reference(keys: list[str], vectors: np.ndarray, k: int, queries: list[str] | None = None
               ) -> dict[str, list[tuple[str, float]]]:
    """Every pair scored, sorted by (score desc, key asc), the query itself dropped."""
    units = unit_rows(vectors.astype(np.float32)).astype(np.float64)
    scores = units @ units.T
    out = {}
    for i, key in enumerate(keys):
        if queries is not None and key not in queries:
            continue
        ranked = sorted((-scores[i, j], keys[j]) for j in range(len(keys)) if j != i)
        out[key] = [(name, -neg) for neg, name in ranked[:k]]
    return out


def _collect(result: DataFrame) -> dict[str, list[tuple[str, float]]]:
    out: dict[str, list[tuple[str, float]]] = {}
    for row in result.orderBy("word", "rank").collect():
        assert row["rank"] == len(out.get(row["word"], [])) + 1
        out.setdefault(row["word"], []).append((row["neighbor"], row["score"]))
    return out


def _assert_same(got: dict[str, list[tuple[str, float]]],
                 want: dict[str, list[tuple[str, float]]]) -> None:
    assert set(got) == set(want)
    for key in want:
        assert [n for n, _ in got[key]] == [n for n, _ in want[key]], key
        np.testing.assert_allclose([s for _, s in got[key]], [s for _, s in want[key]],
                                   rtol=0, atol=1e-12)


@pytest.fixture(scope="module")
def random_vectors() -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(7)
    keys = [f"w{i:03d}" for i in rng.permutation(48)]
    vectors = rng.standard_normal((48, 6)) * rng.uniform(0.1, 4.0, size=(48, 1))
    return keys, vectors.astype(np.float32)


@pytest.mark.parametrize("block_rows", [4, 16, 4096])
def test_all_rows_match_brute_force(spark, random_vectors, block_rows: int) -> None:
    keys, vectors = random_vectors
    result = nearest_neighbors(_frame(spark, keys, vectors), k=5, block_rows=block_rows)
    assert result.columns == ["word", "neighbor", "score", "rank"]
    assert dict(result.dtypes) == {"word": "string", "neighbor": "string", "score": "double",
                                   "rank": "int"}
    _assert_same(_collect(result), _reference(keys, vectors, 5))


def test_queries_subset_with_duplicates_and_other_column_names(spark, random_vectors) -> None:
    keys, vectors = random_vectors
    rows = [(key, [float(x) for x in vec], 1) for key, vec in zip(keys, vectors, strict=True)]
    items = spark.createDataFrame(rows, "item string, emb array<float>, other int")
    wanted = [keys[3], keys[40], keys[3], keys[47]]
    queries = spark.createDataFrame([(w,) for w in wanted], "item string")
    result = nearest_neighbors(items, k=4, queries=queries, key_col="item", vector_col="emb",
                               block_rows=9)
    got = _collect(result.withColumnRenamed("item", "word"))
    _assert_same(got, _reference(keys, vectors, 4, queries=wanted))


def test_ties_go_to_the_smaller_key_and_zero_vectors_score_zero(spark) -> None:
    keys = ["d", "b", "a", "c", "zero", "e"]
    vectors = np.array(
        [[1, 0, 0], [1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 0], [2, 0, 0]], dtype=np.float32
    )
    for block_rows in (1, 2, 100):
        got = _collect(nearest_neighbors(_frame(spark, keys, vectors), k=3,
                                         block_rows=block_rows))
        assert got["d"] == [("b", 1.0), ("c", 1.0), ("e", 1.0)]
        assert got["e"] == [("b", 1.0), ("c", 1.0), ("d", 1.0)]
        assert got["zero"] == [("a", 0.0), ("b", 0.0), ("c", 0.0)]
        assert got["a"] == [("b", 0.0), ("c", 0.0), ("d", 0.0)]


def test_k_larger_than_the_vocabulary_gives_every_other_key(spark) -> None:
    keys = ["x", "y", "z"]
    vectors = np.array([[1, 0], [1, 1], [0, 1]], dtype=np.float32)
    got = _collect(nearest_neighbors(_frame(spark, keys, vectors), k=10, block_rows=2))
    assert [n for n, _ in got["y"]] == ["x", "z"]
    assert [n for n, _ in got["x"]] == ["y", "z"]
    assert got["x"][1][1] == 0.0


def test_unknown_query_key_is_named(spark, random_vectors) -> None:
    keys, vectors = random_vectors
    queries = spark.createDataFrame([(keys[0],), ("nosuchword",)], "word string")
    with pytest.raises(WordNotInVocabularyError, match="'nosuchword' is not in the vocabulary"):
        nearest_neighbors(_frame(spark, keys, vectors), queries=queries)


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ([("a", [1.0, 0.0]), ("a", [0.0, 1.0])], "duplicates"),
        ([("a", [1.0, 0.0]), ("b", [0.0, 1.0, 2.0])], "one length"),
        ([("a", [1.0, float("nan")]), ("b", [0.0, 1.0])], "NaN"),
        ([("a", None), ("b", [0.0, 1.0])], "null"),
    ],
)
def test_bad_embeddings_are_refused(spark, rows, match: str) -> None:
    frame = spark.createDataFrame(rows, "word string, vector array<float>")
    with pytest.raises(SchemaError, match=match):
        nearest_neighbors(frame)


def test_bad_arguments(spark) -> None:
    frame = spark.createDataFrame([("a", [1.0])], "word string, vector array<float>")
    with pytest.raises(ValueError, match="k must be >= 1"):
        nearest_neighbors(frame, k=0)
    with pytest.raises(SchemaError, match="no column 'item'"):
        nearest_neighbors(frame, key_col="item")
    with pytest.raises(InputError, match="empty"):
        nearest_neighbors(frame.limit(0))


def test_block_top_k_excludes_self_and_breaks_ties_by_column() -> None:
    c_keys = np.array(["a", "b", "c", "d"])
    c_units = unit_rows(np.array([[1, 0], [1, 0], [0, 1], [1, 0]], dtype=np.float32))
    q_keys = np.array(["b", "q"])
    q_units = unit_rows(np.array([[1, 0], [0, 1]], dtype=np.float32))
    scores, keys = block_top_k(q_keys, q_units, c_keys, c_units, k=2)
    assert keys.tolist() == [["a", "d"], ["c", "a"]]
    assert scores.tolist() == [[1.0, 1.0], [1.0, 0.0]]
    merged_s, merged_k = merge_top_k(scores, keys, np.array([[1.0], [0.5]]),
                                     np.array([["0"], ["z"]]), k=2)
    assert merged_k.tolist() == [["0", "a"], ["c", "z"]]
    assert merged_s.tolist() == [[1.0, 1.0], [1.0, 0.5]]
