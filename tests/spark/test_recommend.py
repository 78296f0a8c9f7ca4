"""User vectors and blocked recommendations on Spark, against NumPy references."""

from __future__ import annotations

import numpy as np
import pytest

from w2v_spark.io.schemas import EMBEDDINGS_SCHEMA, RECOMMENDATIONS_SCHEMA, USER_VECTORS_SCHEMA
from w2v_spark.stages.recommend import recommendations, seen_items, user_history, user_vectors

pytestmark = pytest.mark.spark

DIM = 6


@pytest.fixture(scope="module")
def model() -> tuple[list[str], np.ndarray]:
    """23 items; items 5 and 6 have the same direction, so their scores tie."""
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(23, DIM)).astype(np.float32)
    vectors[6] = 2 * vectors[5]
    return [f"item{i:02d}" for i in range(23)], vectors


@pytest.fixture(scope="module")
def embeddings(spark, model):
    words, vectors = model
    rows = [(w, i, 100 - i, vectors[i].tolist()) for i, w in enumerate(words)]
    return spark.createDataFrame(rows, EMBEDDINGS_SCHEMA)


@pytest.fixture(scope="module")
def sequences(spark):
    """Users with one or two sessions; 'unknown' has no vector; 'ghost' has none at all."""
    rng = np.random.default_rng(1)
    rows = []
    for u in range(9):
        for session in range(1 + u % 2):
            items = [f"item{int(i):02d}" for i in rng.integers(0, 23, size=rng.integers(1, 6))]
            rows.append((f"user{u}", session, u * 10 + session, items))
    rows.append(("user3", 2, 999, ["unknown", "item05"]))
    rows.append(("ghost", 0, 1000, ["unknown"]))
    return rows


def _histories(rows) -> dict[str, list[str]]:
    out: dict[str, list[tuple[int, list[str]]]] = {}
    for user, session, _, items in rows:
        out.setdefault(user, []).append((session, items))
    return {u: [i for _, items in sorted(s) for i in items] for u, s in out.items()}


def _reference_vectors(rows, model, half_life: float) -> dict[str, np.ndarray]:
    words, vectors = model
    index = {w: i for i, w in enumerate(words)}
    units = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    out = {}
    for user, history in _histories(rows).items():
        total, weight_sum = np.zeros(DIM), 0.0
        for back, item in enumerate(reversed(history)):
            if item in index:
                weight = 0.5 ** (back / half_life) if half_life else 1.0
                total += weight * units[index[item]]
                weight_sum += weight
        if weight_sum:
            out[user] = total / weight_sum
    return out


@pytest.mark.parametrize("half_life", [0.0, 2.0])
def test_user_vectors_are_weighted_means_of_unit_vectors(
    spark, embeddings, sequences, model, half_life: float
) -> None:
    frame = spark.createDataFrame(sequences, "sequence string, session int, line_id long, "
                                             "items array<string>")
    table = user_vectors(user_history(frame), embeddings, half_life)
    assert [f.name for f in table.schema.fields] == USER_VECTORS_SCHEMA.fieldNames()
    got = {r["user"]: (r["items"], np.array(r["vector"])) for r in table.collect()}
    want = _reference_vectors(sequences, model, half_life)
    assert set(got) == set(want) and "ghost" not in got
    known = {u: sum(1 for i in h if i != "unknown") for u, h in _histories(sequences).items()}
    for user, vector in want.items():
        assert got[user][0] == known[user]
        np.testing.assert_allclose(got[user][1], vector, rtol=1e-5, atol=1e-6)


def test_recommendations_equal_brute_force_in_any_block_size(
    spark, embeddings, sequences, model
) -> None:
    words, vectors = model
    frame = spark.createDataFrame(sequences, "sequence string, session int, line_id long, "
                                             "items array<string>")
    history = user_history(frame)
    users = user_vectors(history, embeddings).cache()
    seen = seen_items(history, embeddings)
    units = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    want = []
    histories = _histories(sequences)
    for r in users.collect():
        query = np.array(r["vector"]) / np.linalg.norm(r["vector"])
        scores = units @ query
        candidates = [(-scores[i], i) for i in range(len(words))
                      if words[i] not in histories[r["user"]]]
        for rank, (_, i) in enumerate(sorted(candidates)[:4], start=1):
            want.append((r["user"], words[i], rank))
    assert any(w[1] in ("item05", "item06") for w in want)
    for block_rows in (5, 2048):
        table = recommendations(users, seen, embeddings, 4, block_rows)
        assert [f.name for f in table.schema.fields] == RECOMMENDATIONS_SCHEMA.fieldNames()
        rows = table.collect()
        assert sorted((r["user"], r["item"], r["rank"]) for r in rows) == sorted(want)
        for r in rows:
            query = np.array(next(u["vector"] for u in users.collect() if u["user"] == r["user"]))
            expected = float(units[words.index(r["item"])] @ (query / np.linalg.norm(query)))
            assert r["score"] == pytest.approx(expected, abs=1e-5)
