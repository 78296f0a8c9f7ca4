"""The rows a model block is stored in, and the check that they tile the block."""

from __future__ import annotations

import numpy as np
import pytest

from w2v_spark.stages import block_train
from w2v_spark.stages.block_train import assemble, block_table, tiles


def _parts(w: np.ndarray, monkeypatch: pytest.MonkeyPatch, row_bytes: int
           ) -> list[tuple[int, int, int, bytes]]:
    monkeypatch.setattr(block_train, "_ROW_BYTES", row_bytes)
    table = block_table(w)
    return list(zip(*(table.column(c).to_pylist() for c in ("start", "rows", "dim", "values")),
                    strict=True))


def test_a_block_comes_back_from_its_rows_in_any_order(monkeypatch: pytest.MonkeyPatch) -> None:
    w = np.random.default_rng(0).standard_normal((23, 5)).astype(np.float32)
    parts = _parts(w, monkeypatch, row_bytes=4 * 5 * 4)
    assert [p[1] for p in parts] == [4, 4, 4, 4, 4, 3]
    np.testing.assert_array_equal(assemble(parts[::-1], 23), w)


@pytest.mark.parametrize("change", ["gap", "overlap", "short", "long", "dim", "bytes", "none"])
def test_rows_that_do_not_tile_the_block_are_refused(change: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    w = np.arange(40, dtype=np.float32).reshape(10, 4)
    parts = _parts(w, monkeypatch, row_bytes=3 * 4 * 4)
    if change == "gap":
        del parts[1]
    elif change == "overlap":
        parts.insert(1, parts[0])
    elif change == "short":
        del parts[-1]
    elif change == "long":
        parts.append((10, 1, 4, bytes(16)))
    elif change == "dim":
        start, rows, _, values = parts[1]
        parts[1] = (start, rows * 2, 2, values)
    elif change == "bytes":
        start, rows, dim, values = parts[2]
        parts[2] = (start, rows, dim, values[:-4])
    else:
        parts = []
    with pytest.raises(ValueError, match="do not tile its 10 rows exactly once"):
        list(tiles(parts, 10))
    with pytest.raises(ValueError, match="do not tile"):
        assemble(parts, 10)


def test_the_check_passes_rows_on_as_they_come() -> None:
    """A stream of rows is checked without being held: the rows before a bad one are given."""
    good = (0, 2, 1, bytes(8))
    bad = (5, 1, 1, bytes(4))
    seen = []
    with pytest.raises(ValueError):
        for part in tiles(iter([good, bad]), 3):
            seen.append(part)
    assert seen == [good]
