"""The executor side of the blocked top-k search, run on Arrow batches without Spark.

Spark deals rows into partitions, cross-joins the packed blocks and ranks the partial lists
with a window; here each of those steps is played by a few lines of Python, so that the packing
(:func:`_pack`), the scoring and merging (:func:`_search`) are checked against brute force.
"""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pytest

from w2v_spark.core.ranking import unit_rows
from w2v_spark.io.schemas import (
    NEIGHBOR_CANDIDATES_SCHEMA,
    RECOMMENDATION_CANDIDATES_SCHEMA,
    VECTOR_BLOCKS_ARROW,
    arrow_schema,
)
from w2v_spark.stages.block_search import _deserialize, _pack, _search, score_block


def _rows(ids: list, vectors: np.ndarray, blocks: list[int], excluded: list | None,
          id_type: pa.DataType, excluded_type: pa.DataType | None = None) -> pa.RecordBatch:
    columns = {
        "id": pa.array(ids, id_type),
        "vector": pa.array([v.tolist() for v in vectors], pa.list_(pa.float32())),
        "block": pa.array(blocks, pa.int32()),
    }
    if excluded is not None:
        columns["excluded"] = pa.array(excluded, pa.list_(excluded_type or id_type))
    return pa.RecordBatch.from_pydict(columns)


def _packed(ids: list, vectors: np.ndarray, n_blocks: int, partitions: int,
            excluded: list | None, id_type: pa.DataType, rng: np.random.Generator,
            excluded_type: pa.DataType | None = None) -> list[list[dict]]:
    """Packed blocks, partition by partition, as Spark's repartition and mapInArrow give."""
    blocks = rng.integers(0, n_blocks, size=len(ids))
    out = []
    for p in range(partitions):
        rows = [i for i in rng.permutation(len(ids)) if blocks[i] % partitions == p]
        batches = [
            _rows([ids[i] for i in chunk], vectors[list(chunk)],
                  [int(blocks[i]) for i in chunk],
                  None if excluded is None else [excluded[i] for i in chunk], id_type,
                  excluded_type)
            for chunk in (rows[s : s + 3] for s in range(0, len(rows), 3))
        ]
        out.append([r for b in _pack(iter(batches)) for r in b.to_pylist()])
    return out


def _ranked(q_parts: list[list[dict]], c_parts: list[list[dict]], k: int, schema
            ) -> dict[object, list[tuple[object, float]]]:
    """The cartesian product task by task, then each query's best k by (score desc, id asc)."""
    arrow = arrow_schema(schema)
    partials = []
    for q_part, c_part in itertools.product(q_parts, c_parts):
        rows = [{"q_block": q["block"], **{f"q_{c}": q[c] for c in ("rows", "dim", "units")},
                 **{f"c_{c}": c_[c] for c in ("rows", "dim", "units")}}
                for q in q_part for c_ in c_part]
        if not rows:
            continue
        for batch in _search(iter([pa.RecordBatch.from_pylist(rows[:2]),
                                   pa.RecordBatch.from_pylist(rows[2:])]), k=k, schema=arrow):
            assert batch.schema.equals(arrow)
            partials += batch.to_pylist()
    query, candidate, score = schema.fieldNames()
    out: dict[object, list[tuple[object, float]]] = {}
    for row in partials:
        out.setdefault(row[query], []).append((row[candidate], row[score]))
    return {q: sorted(c, key=lambda x: (-x[1], x[0]))[:k] for q, c in out.items()}


def test_pack_sorts_each_block_and_scales_to_unit_length() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(7, 3)).astype(np.float32)
    vectors[2] = 0.0
    ids = ["g", "b", "e", "a", "f", "c", "d"]
    blocks = [1, 0, 1, 1, 0, 1, 1]
    excluded = [[i] for i in ids]
    batches = [_rows(ids[:4], vectors[:4], blocks[:4], excluded[:4], pa.string()),
               _rows([], vectors[:0], [], [], pa.string()),
               _rows(ids[4:], vectors[4:], blocks[4:], excluded[4:], pa.string())]
    packed = [r for b in _pack(iter(batches)) for r in b.to_pylist()]
    assert [r["block"] for r in packed] == [0, 1]
    for row in packed:
        table = _deserialize(row["rows"])
        keys = table.column("id").to_pylist()
        assert keys == sorted(ids[i] for i in range(7) if blocks[i] == row["block"])
        assert table.column("excluded").to_pylist() == [[key] for key in keys]
        units = np.frombuffer(row["units"], np.float32).reshape(len(keys), row["dim"])
        np.testing.assert_array_equal(units, unit_rows(vectors[[ids.index(x) for x in keys]]))
    assert list(_pack(iter([]))) == []
    assert pa.RecordBatch.from_pylist(packed, schema=VECTOR_BLOCKS_ARROW).num_rows == 2


def test_score_block_leaves_exclusions_out_and_ties_to_the_lower_id() -> None:
    c_ids = np.array([3, 5, 8, 9], dtype=np.int32)
    c_units = unit_rows(np.array([[1, 0], [1, 0], [0, 1], [1, 0]], dtype=np.float32))
    q_units = unit_rows(np.array([[1, 0], [0, 1]], dtype=np.float32))
    offsets = np.array([0, 2, 2])
    scores, ids = score_block(q_units, c_units, c_ids, offsets, np.array([3, 7], np.int32), 3,
                              np.float32)
    assert ids.tolist() == [[5, 9, 8], [8, 3, 5]]
    assert scores.dtype == np.float32 and scores.tolist() == [[1, 1, 0], [1, 0, 0]]
    few, _ = score_block(q_units[:1], c_units[:1], c_ids[:1], np.array([0, 1]),
                         np.array([3], np.int32), 2, np.float64)
    assert few.tolist() == [[-np.inf]]


@pytest.mark.parametrize(("n_blocks", "partitions", "k"), [(1, 1, 5), (4, 2, 3), (7, 3, 40)])
def test_neighbours_equal_brute_force(n_blocks: int, partitions: int, k: int) -> None:
    rng = np.random.default_rng(n_blocks)
    keys = [f"w{i:03d}" for i in range(40)]
    vectors = rng.integers(-2, 3, size=(40, 4)).astype(np.float32)  # many equal cosines
    vectors[5] = 0.0
    q_parts = _packed(keys, vectors, n_blocks, n_blocks, [[key] for key in keys], pa.string(),
                      rng)
    c_parts = _packed(keys, vectors, n_blocks, partitions, None, pa.string(), rng)
    got = _ranked(q_parts, c_parts, k, NEIGHBOR_CANDIDATES_SCHEMA)
    units = unit_rows(vectors).astype(np.float64)
    scores = units @ units.T
    for i, key in enumerate(keys):
        want = sorted(((keys[j], scores[i, j]) for j in range(40) if j != i),
                      key=lambda x: (-x[1], x[0]))[:k]
        assert got[key] == want, key


def test_recommendations_equal_brute_force_in_float32() -> None:
    rng = np.random.default_rng(1)
    items = rng.normal(size=(30, 5)).astype(np.float32)
    items[7] = 2 * items[6]  # a tie
    users = rng.normal(size=(12, 5)).astype(np.float32)
    names = [f"user{u}" for u in range(12)]
    seen = [sorted({int(x) for x in rng.integers(0, 30, size=rng.integers(0, 6))})
            for _ in range(12)]
    q_parts = _packed(names, users, 3, 3, seen, pa.string(), rng, pa.int32())
    c_parts = _packed(list(range(30)), items, 4, 2, None, pa.int32(), rng)
    got = _ranked(q_parts, c_parts, 4, RECOMMENDATION_CANDIDATES_SCHEMA)
    scores = unit_rows(users) @ unit_rows(items).T  # float32, as the search computes them
    for u, name in enumerate(names):
        want = sorted(((i, float(scores[u, i])) for i in range(30) if i not in seen[u]),
                      key=lambda x: (-x[1], x[0]))[:4]
        assert got[name] == want, name
