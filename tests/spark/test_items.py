"""Stage 1 for items on Spark: events and baskets to ordered sequences and tokens."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import numpy as np
import pytest
from pyspark.sql import functions as F

from w2v_spark.config import InputConfig
from w2v_spark.errors import SchemaError
from w2v_spark.stages.items import (
    basket_sequences,
    check_order_values,
    event_sequences,
    event_stats,
    sequence_stats,
    sequence_tokens,
    typed_events,
)
from w2v_spark.vectors.item_eval import hold_out_baskets, leave_last_out

pytestmark = pytest.mark.spark

CFG = InputConfig(format="events", sequence_col="user", item_col="song", order_col="ts")


def _events(seed: int, users: int = 40) -> list[tuple[str, str, int]]:
    """Random (user, song, ts) events with many timestamp ties and repeated songs."""
    rng = np.random.default_rng(seed)
    out = []
    for u in range(users):
        for _ in range(int(rng.integers(1, 25))):
            out.append((f"u{u}", f"s{int(rng.integers(0, 30))}", int(rng.integers(0, 12)) * 100))
    return out


def _reference_sequences(events, gap: float = 0.0) -> dict[tuple[str, int], list[str]]:
    by_user: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for user, song, ts in events:
        by_user[user].append((ts, song))
    out: dict[tuple[str, int], list[str]] = {}
    for user, evs in by_user.items():
        evs.sort()
        session, previous = 0, None
        for ts, song in evs:
            if gap > 0 and previous is not None and ts - previous > gap:
                session += 1
            out.setdefault((user, session), []).append(song)
            previous = ts
    return out


def _collect(sequences) -> dict[tuple[str, int], list[str]]:
    return {(r["sequence"], r["session"]): list(r["items"]) for r in sequences.collect()}


@pytest.mark.parametrize("gap", [0.0, 250.0])
def test_sequences_are_ordered_by_time_then_item_and_split_at_gaps(spark, gap: float) -> None:
    events = _events(1)
    frame = spark.createDataFrame(events, "user string, song string, ts long").repartition(3)
    got = _collect(event_sequences(typed_events(frame, CFG), gap))
    want = _reference_sequences(events, gap)
    assert got == want
    if gap:
        assert len(want) > 40  # some users have several sessions


def test_line_ids_are_stable_and_distinct(spark) -> None:
    events = _events(2)
    frames = [spark.createDataFrame(events, "user string, song string, ts long").repartition(n)
              for n in (1, 4)]
    ids = [
        {(r["sequence"], r["session"]): r["line_id"]
         for r in event_sequences(typed_events(f, CFG), 250.0).collect()}
        for f in frames
    ]
    assert ids[0] == ids[1]
    assert len(set(ids[0].values())) == len(ids[0])


def test_order_column_types(spark) -> None:
    day = dt.datetime(2024, 1, 1, 12, 0, 0)
    stamps = [(f"u{i % 2}", f"s{i}", day + dt.timedelta(hours=5 - i)) for i in range(6)]
    as_timestamps = spark.createDataFrame(stamps, "user string, song string, ts timestamp")
    as_strings = spark.createDataFrame(
        [(u, s, t.isoformat() + "Z") for u, s, t in stamps], "user string, song string, ts string"
    )
    as_dates = spark.createDataFrame(
        [(u, s, (t - dt.timedelta(days=i)).date()) for i, (u, s, t) in enumerate(stamps)],
        "user string, song string, ts date",
    )
    as_numbers = spark.createDataFrame(
        [(u, s, f" {5 - i}.5") for i, (u, s, _) in enumerate(stamps)],
        "user string, song string, ts string",
    )
    want = {("u0", 0): ["s4", "s2", "s0"], ("u1", 0): ["s5", "s3", "s1"]}
    for frame in (as_timestamps, as_strings, as_dates, as_numbers):
        assert _collect(event_sequences(typed_events(frame, CFG))) == want
    # Hours become seconds: a gap of 2 hours splits at 7200 s, not at 2.
    split = _collect(event_sequences(typed_events(as_timestamps, CFG), 7199.0))
    assert split == {("u0", 0): ["s4"], ("u0", 1): ["s2"], ("u0", 2): ["s0"],
                     ("u1", 0): ["s5"], ("u1", 1): ["s3"], ("u1", 2): ["s1"]}


def test_null_values_are_counted_and_skipped(spark) -> None:
    rows = [("u1", "a", 1), ("u1", None, 2), (None, "b", 3), ("u1", "c", None), ("u1", "d", 5),
            ("u2", "a", 1)]
    frame = spark.createDataFrame(rows, "user string, song string, ts long")
    typed = typed_events(frame, CFG)
    stats = event_stats(typed)
    assert (stats.rows, stats.valid, stats.skipped) == (6, 3, 3)
    assert (stats.null_sequence, stats.null_item, stats.null_order) == (1, 1, 1)
    assert stats.invalid_order == 0
    assert _collect(event_sequences(typed)) == {("u1", 0): ["a", "d"], ("u2", 0): ["a"]}


def test_unreadable_order_values_are_an_error(spark) -> None:
    frame = spark.createDataFrame(
        [("u1", "a", "3"), ("u1", "b", "yesterday"), ("u1", "c", None)],
        "user string, song string, ts string",
    )
    stats = event_stats(typed_events(frame, CFG))
    assert (stats.invalid_order, stats.invalid_example, stats.null_order) == (1, "yesterday", 1)
    with pytest.raises(SchemaError, match=r"'ts' .* 1 value\(s\) .* 'yesterday'"):
        check_order_values(stats, "ts")


def test_wrong_column_types_and_missing_columns(spark) -> None:
    flags = spark.createDataFrame([("u1", "a", True)], "user string, song string, ts boolean")
    with pytest.raises(SchemaError, match=r"ordering column 'ts' .* type boolean"):
        typed_events(flags, CFG)
    arrays = spark.createDataFrame([("u1", ["a"], 1)], "user string, song array<string>, ts int")
    with pytest.raises(SchemaError, match=r"item column 'song' .* array<string>"):
        typed_events(arrays, CFG)
    other = spark.createDataFrame([("u1", "a", 1)], "userId string, movieId string, ts int")
    with pytest.raises(SchemaError, match=r"no sequence id column 'user'.*userId, movieId, ts"
                       r".*input\.sequence_col"):
        typed_events(other, CFG)
    upper = spark.createDataFrame([("u1", "a", 1)], "USER string, Song string, TS int")
    assert _collect(event_sequences(typed_events(upper, CFG))) == {("u1", 0): ["a"]}


def test_numeric_ids_become_strings(spark) -> None:
    frame = spark.createDataFrame([(7, 101, 2.0), (7, 100, 1.0)], "user int, song long, ts double")
    assert _collect(event_sequences(typed_events(frame, CFG))) == {("7", 0): ["100", "101"]}


def test_tokens_skip_single_items_and_cut_long_sequences(spark) -> None:
    rows = [("long", 0, 11, [f"i{k}" for k in range(7)]), ("one", 0, 12, ["x"]),
            ("two", 0, 13, ["a", "b"])]
    sequences = spark.createDataFrame(rows, "sequence string, session int, line_id long, "
                                            "items array<string>")
    tokens = sequence_tokens(sequences, 3, 2)
    got = sorted((r["line_id"], r["chunk"], list(r["tokens"])) for r in tokens.collect())
    assert got == [(11, 0, ["i0", "i1", "i2"]), (11, 1, ["i3", "i4", "i5"]), (11, 2, ["i6"]),
                   (13, 0, ["a", "b"])]
    assert sequence_stats(sequences) == {"sequences": 3, "single_item_sequences": 1,
                                         "events": 10, "distinct_sequences": 3}


def test_baskets_split_trim_and_skip_empty_items(spark) -> None:
    lines = spark.createDataFrame(
        [("a, b,,c ",), ("",), (" , ",), ("x",), ("tea,milk",)], "value string"
    ).coalesce(1)
    got = [list(r["items"]) for r in basket_sequences(lines, ",").orderBy("line_id").collect()]
    assert got == [["a", "b", "c"], ["x"], ["tea", "milk"]]
    spaces = spark.createDataFrame([("1 2  3 ",)], "value string")
    assert [list(r["items"]) for r in basket_sequences(spaces, " ").collect()] == [["1", "2", "3"]]


def test_leave_last_out_holds_out_the_last_event(spark) -> None:
    events = _events(3)
    frame = typed_events(spark.createDataFrame(events, "user string, song string, ts long"), CFG)
    train, held = leave_last_out(frame)
    want = _reference_sequences(events)
    held_rows = {r["sequence"]: r["item"] for r in held.collect()}
    assert held_rows == {u: items[-1] for (u, _), items in want.items() if len(items) >= 2}
    got_train = _collect(event_sequences(train.withColumn("order_text", F.lit("x"))))
    assert got_train == {(u, 0): items[:-1] if len(items) >= 2 else items
                         for (u, _), items in want.items()}


def test_hold_out_baskets_is_deterministic_and_removes_one_item(spark) -> None:
    rows = [(str(i), [f"i{j}" for j in range(i % 5 + 1)]) for i in range(60)]
    baskets = spark.createDataFrame(rows, "sequence string, items array<string>")
    train, held = hold_out_baskets(baskets, seed=3)
    held_rows = {r["sequence"]: r["item"] for r in held.collect()}
    train_rows = {r["sequence"]: list(r["items"]) for r in train.collect()}
    assert set(held_rows) == {s for s, items in rows if len(items) >= 2}
    for sequence, items in rows:
        if sequence in held_rows:
            rest = list(items)
            rest.remove(held_rows[sequence])
            assert train_rows[sequence] == rest
        else:
            assert train_rows[sequence] == items
    positions = {items.index(held_rows[s]) for s, items in rows if s in held_rows}
    assert len(positions) > 1  # not always the same position
    again = {r["sequence"]: r["item"] for r in hold_out_baskets(baskets, seed=3)[1].collect()}
    assert again == held_rows
