"""The files block-training tasks read and write themselves: written whole with the size and
SHA-256 of what is on disk, found as Spark finds them, read back bit for bit; and the check
that a sub-round's tasks wrote every block exactly once."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from w2v_spark.errors import ConfigError, SchemaError
from w2v_spark.io import task_files
from w2v_spark.stages import block_train
from w2v_spark.stages.block_train import (
    BlockWritten,
    StratumTrained,
    block_dir,
    block_table,
    read_block,
    stratum_pairs,
    written_blocks,
)
from w2v_spark.stages.pairs import pair_block_key

FS = pafs.LocalFileSystem()


def test_a_written_file_is_whole_with_its_size_and_digest(tmp_path: Path) -> None:
    table = pa.table({"x": pa.array(range(1000), pa.int64())})
    facts = task_files.write_parquet(FS, str(tmp_path / "a" / "b"), "part-00000.parquet", table)
    path = tmp_path / "a" / "b" / "part-00000.parquet"
    data = path.read_bytes()
    assert facts == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert [p.name for p in path.parent.iterdir()] == ["part-00000.parquet"]  # no temporary
    assert pq.read_table(path).equals(table)


def test_parquet_files_are_found_as_spark_finds_them(tmp_path: Path) -> None:
    for name in ("part-1.parquet", "part-0.parquet", "_hidden.parquet", ".part-2.parquet.tmp",
                 ".x.parquet", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub.parquet").mkdir()
    assert [Path(p).name for p in task_files.parquet_files(FS, str(tmp_path))] == [
        "part-0.parquet", "part-1.parquet"]
    assert task_files.parquet_files(FS, str(tmp_path / "missing")) == []


def test_a_location_pyarrow_cannot_open_is_a_config_error() -> None:
    fs, path = task_files.filesystem("file:/tmp/run/model")
    assert isinstance(fs, pafs.LocalFileSystem) and path == "/tmp/run/model"
    with pytest.raises(ConfigError, match=r"reachable by pyarrow .* nosuch://host/run"):
        task_files.filesystem("nosuch://host/run")


@pytest.mark.parametrize("rows_reversed", [False, True])
def test_a_block_comes_back_bit_for_bit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        rows_reversed: bool) -> None:
    monkeypatch.setattr(block_train, "_ROW_BYTES", 3 * 7 * 4)
    w = np.random.default_rng(1).standard_normal((20, 7)).astype(np.float32)
    table = block_table(w)
    if rows_reversed:
        table = table.take(list(reversed(range(table.num_rows))))
    stored = sorted(zip(*(table.column(c).to_pylist() for c in ("start", "rows", "dim",
                                                                "values")), strict=True))
    assert stored == [(s, min(3, 20 - s), 7, w[s:s + 3].astype("<f4").tobytes())
                      for s in range(0, 20, 3)]  # seven rows of at most three local rows
    task_files.write_parquet(FS, block_dir(str(tmp_path), "output", 2), "part-00000.parquet",
                             table)
    back = read_block(FS, str(tmp_path), "output", 2, 20)
    assert back.dtype == np.float32 and back.flags.writeable
    assert np.array_equal(back.view(np.uint32), w.view(np.uint32))
    with pytest.raises(ValueError, match="do not tile its 21 rows"):
        read_block(FS, str(tmp_path), "output", 2, 21)


def _pair_block(rng: np.random.Generator, n: int) -> tuple[int, bytes, bytes]:
    return (n, rng.integers(0, 50, n).astype("<i4").tobytes(),
            rng.integers(0, 50, n).astype("<i4").tobytes())


def test_the_pair_blocks_of_a_shard_come_in_content_order_whatever_their_files(
        tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    blocks = [_pair_block(rng, n) for n in (5, 9, 1, 7, 3, 8)]
    expected = sorted(blocks, key=lambda b: pair_block_key(b[1], b[2], b[0]))

    def write(directory: Path, files: list[list[tuple[int, bytes, bytes]]]) -> list[tuple]:
        for number, part in enumerate(files):
            task_files.write_parquet(FS, str(directory), f"part-{number}.parquet", pa.table({
                "pairs": pa.array([b[0] for b in part], pa.int32()),
                "center": pa.array([b[1] for b in part], pa.binary()),
                "context": pa.array([b[2] for b in part], pa.binary())}))
        return [(b.column("pairs")[0].as_py(), b.column("center")[0].as_py(),
                 b.column("context")[0].as_py()) for b in stratum_pairs(FS, str(directory))]

    one = write(tmp_path / "one", [blocks[:2], blocks[2:]])
    other = write(tmp_path / "other", [blocks[5:], blocks[3:5], blocks[:3][::-1]])
    assert one == other == expected
    assert list(stratum_pairs(FS, str(tmp_path / "none"))) == []


def test_pair_files_without_the_pair_columns_are_a_schema_error(tmp_path: Path) -> None:
    task_files.write_parquet(FS, str(tmp_path), "part-0.parquet",
                             pa.table({"center": pa.array([b"1234"], pa.binary())}))
    with pytest.raises(SchemaError, match="does not have the columns pairs, center, context"):
        list(stratum_pairs(FS, str(tmp_path)))


def _reports(k: int, shift: int) -> list[tuple]:
    out: list[tuple] = []
    for t in range(k):
        out.append(BlockWritten("input", t, "part-00000.parquet", 10 + t, f"in{t}"))
        out.append(BlockWritten("output", (t + shift) % k, "part-00000.parquet", 20 + t,
                                f"o{t}"))
        out.append(StratumTrained(t, 5, 1.0, 0.01, 0.1, 0.0, True, 0))
    return out


def test_the_checksums_of_a_sub_round_name_every_block_once() -> None:
    sums = written_blocks(_reports(3, 1), 3, "sub-round 1")
    assert sums["matrix=output/block=2/part-00000.parquet"] == {"size": 21, "sha256": "o1"}
    assert sorted(sums) == sorted(f"matrix={m}/block={b}/part-00000.parquet"
                                  for m in ("input", "output") for b in range(3))


@pytest.mark.parametrize("damage", ["twice", "missing"])
def test_tasks_that_touched_the_same_block_are_refused(damage: str) -> None:
    out = _reports(3, 1)
    if damage == "twice":  # two tasks trained output block 2
        out[1] = BlockWritten("output", 2, "part-00000.parquet", 1, "x")
    else:
        del out[0]
    with pytest.raises(RuntimeError, match=r"the tasks of sub-round 1 wrote (output|input) "
                                           r"blocks \[.*\], not each of the 3 blocks once"):
        written_blocks(out, 3, "sub-round 1")
