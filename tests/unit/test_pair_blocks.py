"""Pair blocks: the rows of the pairs table, and reading their ids back."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from w2v_spark.errors import SchemaError
from w2v_spark.stages.pairs import block_ids, pair_blocks


def _pairs(sizes: list[int], seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    shard = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
    center = rng.integers(0, 1 << 30, shard.size).astype(np.int32)
    context = rng.integers(-5, 5, shard.size).astype(np.int32)
    return center, context, shard


@pytest.mark.parametrize("block", [1, 3, 4, 100])
def test_blocks_cut_each_shard_run_and_read_back_in_order(block: int) -> None:
    center, context, shard = _pairs([5, 0, 8, 1])
    batch = pair_blocks(center, context, shard, block)
    sizes = batch.column("pairs").to_numpy()
    shards = batch.column("shard").to_numpy()
    # No row mixes shards and none is longer than the block.
    assert sizes.max() <= block and sizes.min() >= 1
    np.testing.assert_array_equal(np.repeat(shards, sizes), shard)
    expected_rows = sum(-(-n // block) for n in (5, 8, 1))
    assert batch.num_rows == expected_rows
    np.testing.assert_array_equal(block_ids(batch.column("center")), center)
    np.testing.assert_array_equal(block_ids(batch.column("context")), context)
    for i, value in enumerate(batch.column("center").to_pylist()):
        start = int(sizes[:i].sum())
        assert value == center[start:start + sizes[i]].astype("<i4").tobytes()


def test_sliced_chunked_and_large_binary_columns() -> None:
    center, context, shard = _pairs([9, 4])
    batch = pair_blocks(center, context, shard, 2)
    sizes = batch.column("pairs").to_numpy()
    sliced = batch.slice(2, 3).column("center")
    first = int(sizes[:2].sum())
    np.testing.assert_array_equal(block_ids(sliced), center[first:first + int(sizes[2:5].sum())])
    chunked = pa.chunked_array([batch.slice(0, 2).column("center"),
                                batch.slice(2).column("center")])
    np.testing.assert_array_equal(block_ids(chunked), center)
    large = batch.column("center").cast(pa.large_binary())
    np.testing.assert_array_equal(block_ids(large), center)


def test_empty_inputs() -> None:
    empty = np.empty(0, dtype=np.int32)
    batch = pair_blocks(empty, empty, empty)
    assert batch.num_rows == 0
    assert block_ids(batch.column("center")).size == 0
    assert block_ids(pa.chunked_array([], pa.binary())).size == 0


@pytest.mark.parametrize(
    ("column", "message"),
    [
        (pa.array([b"\x00" * 8, b"\x00" * 3]), "multiple of 4 bytes"),
        (pa.array([b"\x00" * 4, None]), "null"),
        (pa.array([1, 2], pa.int32()), "binary blocks"),
    ],
)
def test_malformed_blocks_are_refused(column: pa.Array, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        block_ids(column)


def test_block_must_be_positive() -> None:
    center, context, shard = _pairs([3])
    with pytest.raises(ValueError, match="at least 1"):
        pair_blocks(center, context, shard, 0)
