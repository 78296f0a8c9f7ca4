"""Items runs of the whole pipeline: the command line on generated events with planted
clusters, the tables it writes, the next-item quality, determinism and bad input."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from chispa import assert_df_equality

from w2v_spark import pipeline
from w2v_spark.cli import main
from w2v_spark.config_loading import load_config
from w2v_spark.errors import EmptyCorpusError, InputError, SchemaError
from w2v_spark.io.schemas import SUCCESS_MARKER
from w2v_spark.synthetic.items import PlantedEvents, planted_events
from w2v_spark.vectors.item_eval import Case, score_popularity, score_vectors
from w2v_spark.vectors.loading import load_embeddings

pytestmark = [pytest.mark.spark, pytest.mark.usefixtures("keep_session_conf")]

CONF = Path(__file__).resolve().parents[2] / "conf" / "items.toml"
SPARK_SETTINGS = [
    "--set", "spark.master=local[2]",
    "--set", "spark.driver_memory=2g",
    "--set", "spark.conf.spark.sql.shuffle.partitions=2",
    "--set", "spark.conf.spark.sql.execution.arrow.maxRecordsPerBatch=64",
]
SMALL = [
    "input.sequence_col=user", "input.item_col=song", "input.order_col=played_at",
    "vocab.min_count=2", "pairs.window=0", "pairs.sample=0", "train.vector_size=16",
    "train.epochs=3", "train.syncs_per_epoch=1", "train.keep_checkpoints=1",
    "items.block_rows=16", "items.neighbors=5",
]


def _args(*pairs: str) -> list[str]:
    return [arg for p in pairs for arg in ("--set", p)]


def _write_events(path: Path, events: list[tuple[Any, ...]],
                  header: tuple[str, ...] = ("user", "song", "played_at")) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(events)
    return path


@pytest.fixture(scope="module")
def planted() -> PlantedEvents:
    return planted_events(users=300, seed=4)


@pytest.fixture(scope="module")
def split(planted: PlantedEvents) -> tuple[list[tuple[str, str, int]], list[Case]]:
    """Leave-last-out in plain Python: training events (shuffled) and the held-out cases."""
    by_user: dict[str, list[tuple[int, str]]] = {}
    for user, item, t in planted.events:
        by_user.setdefault(user, []).append((t, item))
    train, cases = [], []
    for user, events in sorted(by_user.items()):
        events.sort()
        cases.append(Case(tuple(i for _, i in events[:-1]), events[-1][1]))
        train.extend((user, i, t) for t, i in events[:-1])
    order = np.random.default_rng(0).permutation(len(train))
    return [train[i] for i in order], cases


@pytest.fixture(scope="module")
def runs(tmp_path_factory, split) -> list[Path]:
    """The same items run twice through the command line."""
    base = tmp_path_factory.mktemp("items")
    events = _write_events(base / "input" / "events.csv", split[0])
    outs = []
    for name in ("first", "second"):
        out = base / name
        code = main(["run", "--config", str(CONF), "--input", str(events), "--output", str(out),
                     *_args(*SMALL), *SPARK_SETTINGS])
        assert code == 0
        outs.append(out)
    return outs


def test_items_run_writes_every_table(spark, runs, split) -> None:
    out = runs[0]
    for table in ("sequences", "tokens", "vocab", "embeddings", "neighbors", "user_vectors",
                  "recommendations"):
        assert (out / table / SUCCESS_MARKER).exists(), table
    facts = json.loads((out / "run.json").read_text())["stages"]
    assert facts["tokenize"]["rows"] == len(split[0])
    assert facts["tokenize"]["skipped_null_rows"] == 0
    assert facts["tokenize"]["sequences"] == 300
    assert facts["recommend"]["users"] == 300
    sequences = spark.read.parquet(str(out / "sequences"))
    assert sorted(r["sequence"] for r in sequences.collect()) == sorted(
        {u for u, _, _ in split[0]}
    )


def test_recommendations_leave_seen_items_out_and_follow_the_clusters(
    spark, runs, split, planted
) -> None:
    recs = spark.read.parquet(str(runs[0] / "recommendations")).collect()
    seen: dict[str, set[str]] = {}
    for user, item, _ in split[0]:
        seen.setdefault(user, set()).add(item)
    by_user: dict[str, list[tuple[int, str, float]]] = {}
    for r in recs:
        assert r["item"] not in seen[r["user"]]
        by_user.setdefault(r["user"], []).append((r["rank"], r["item"], r["score"]))
    assert len(by_user) == 300
    for rows in by_user.values():
        rows.sort()
        assert [rank for rank, _, _ in rows] == list(range(1, len(rows) + 1))
        assert all(a[2] >= b[2] for a, b in itertools.pairwise(rows))
    top = [planted.item_cluster[rows[0][1]] == planted.user_cluster[user]
           for user, rows in by_user.items()]
    assert np.mean(top) > 0.8, np.mean(top)


def test_item_neighbours_recover_the_planted_clusters(spark, runs, planted) -> None:
    table = spark.read.parquet(str(runs[0] / "neighbors"))
    assert table.columns == ["item", "neighbor", "score", "rank"]
    rows = table.collect()
    vocab = {r["word"] for r in spark.read.parquet(str(runs[0] / "vocab")).collect()}
    assert {r["item"] for r in rows} == vocab
    assert all(1 <= r["rank"] <= 5 and r["item"] != r["neighbor"] for r in rows)
    same = [planted.item_cluster[r["item"]] == planted.item_cluster[r["neighbor"]]
            for r in rows if r["rank"] <= 3]
    assert np.mean(same) > 0.8, np.mean(same)


def test_next_item_hit_rate_beats_popularity(spark, runs, split) -> None:
    emb = load_embeddings(spark, str(runs[0]))
    cases = split[1]
    ours = score_vectors(cases, emb.words, emb.vectors, k=10, query_items=1)
    counts: dict[str, int] = {}
    for _, item, _ in split[0]:
        counts[item] = counts.get(item, 0) + 1
    popular = score_popularity(cases, counts, k=10)
    assert ours.answered == len(cases)
    assert ours.hit_rate > popular.hit_rate + 0.15, (ours, popular)
    assert ours.mrr > popular.mrr, (ours, popular)


def test_items_run_is_deterministic(spark, runs) -> None:
    for table, order in (("sequences", ["sequence", "session"]), ("embeddings", ["word_id"]),
                         ("neighbors", ["item", "rank"]),
                         ("user_vectors", ["user"]), ("recommendations", ["user", "rank"])):
        first, second = (spark.read.parquet(str(out / table)).orderBy(*order) for out in runs)
        assert_df_equality(first, second)


# ---------------------------------------------------------------------------------------------
# bad input


def _cfg(*extra: str):
    return load_config([CONF], [*SMALL, *extra])


def test_missing_input_path_and_table(spark, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"the input .*nope\.csv does not exist"):
        pipeline.tokenize_stage(spark, _cfg(), str(tmp_path / "nope.csv"), str(tmp_path / "o"))
    with pytest.raises(InputError, match=r"input table no_such_events does not exist"):
        pipeline.tokenize_stage(spark, _cfg("input.table_format=table"), "no_such_events",
                                str(tmp_path / "o"))
    assert not (tmp_path / "o" / "tokens").exists()


def test_missing_column_names_the_columns_found(spark, tmp_path: Path) -> None:
    path = _write_events(tmp_path / "in" / "e.csv", [("u", "a", 1)], ("user", "track", "ts"))
    with pytest.raises(SchemaError, match=r"no item column 'song'.*user, track, ts"):
        pipeline.tokenize_stage(spark, _cfg(), str(path), str(tmp_path / "o"))


def test_a_csv_read_with_the_wrong_delimiter_gets_a_hint(spark, tmp_path: Path) -> None:
    path = tmp_path / "in" / "e.csv"
    path.parent.mkdir(parents=True)
    path.write_text("user;item;ts\nu;a;1\nu;b;2\n", encoding="utf-8")
    cfg = _cfg("input.sequence_col=user", "input.item_col=item", "input.order_col=ts")
    with pytest.raises(SchemaError, match=r"one column, 'user;item;ts'.*separated by ';'.*"
                                          r"csv_delimiter = \";\""):
        pipeline.tokenize_stage(spark, cfg, str(path), str(tmp_path / "o"))
    facts = pipeline.tokenize_stage(spark, _cfg("input.sequence_col=user", "input.item_col=item",
                                                "input.order_col=ts", "input.csv_delimiter=;"),
                                    str(path), str(tmp_path / "o"))
    assert facts["rows"] == 2


def test_order_column_of_words_is_an_error(spark, tmp_path: Path) -> None:
    path = _write_events(tmp_path / "in" / "e.csv", [("u", "a", "1"), ("u", "b", "monday")])
    with pytest.raises(SchemaError, match=r"'played_at'.*neither numbers nor timestamps.*monday"):
        pipeline.tokenize_stage(spark, _cfg(), str(path), str(tmp_path / "o"))


def test_null_ids_are_counted_and_single_items_skipped(spark, tmp_path: Path) -> None:
    events = [("u1", "a", 1), ("u1", "b", 2), ("", "c", 3), ("u2", "", 4), ("u3", "a", 5),
              ("u4", "a", 1), ("u4", "b", "")]
    path = _write_events(tmp_path / "in" / "e.csv", events)
    facts = pipeline.tokenize_stage(spark, _cfg(), str(path), str(tmp_path / "o"))
    assert facts["rows"] == 7
    assert facts["skipped_null_rows"] == 3
    assert (facts["null_sequence_ids"], facts["null_items"], facts["null_order_values"]) == (
        1, 1, 1)
    assert facts["sequences"] == 3 and facts["single_item_sequences"] == 2
    assert (facts["sentences"], facts["tokens"]) == (1, 2)


def test_only_single_item_sequences_is_an_error(spark, tmp_path: Path) -> None:
    path = _write_events(tmp_path / "in" / "e.csv", [("u1", "a", 1), ("u2", "b", 1)])
    with pytest.raises(EmptyCorpusError, match=r"no sequence .* two or more items \(2 sequences"):
        pipeline.tokenize_stage(spark, _cfg(), str(path), str(tmp_path / "o"))
    with pytest.raises(EmptyCorpusError, match=r"session_gap may be too small"):
        path = _write_events(tmp_path / "in2" / "e.csv", [("u1", "a", 1), ("u1", "b", 100)])
        pipeline.tokenize_stage(spark, _cfg("input.session_gap=10"), str(path),
                                str(tmp_path / "o2"))


def test_empty_input_is_an_error(spark, tmp_path: Path) -> None:
    path = tmp_path / "in" / "e.csv"
    path.parent.mkdir()
    path.write_text("")
    with pytest.raises(EmptyCorpusError, match=r"is empty"):
        pipeline.tokenize_stage(spark, _cfg(), str(path), str(tmp_path / "o"))
    header_only = _write_events(tmp_path / "in2" / "e.csv", [])
    with pytest.raises(EmptyCorpusError, match=r"is empty: it has no rows"):
        pipeline.tokenize_stage(spark, _cfg(), str(header_only), str(tmp_path / "o2"))


def test_parquet_table_and_basket_inputs(spark, tmp_path: Path) -> None:
    events = [("u1", "a", 2), ("u1", "b", 1), ("u2", "c", 1), ("u2", "a", 3)]
    frame = spark.createDataFrame(events, "user string, song string, played_at long")
    frame.write.parquet(str(tmp_path / "events.parquet"))
    frame.createOrReplaceTempView("items_test_events")
    want = [["b", "a"], ["c", "a"]]
    for fmt, source in (("parquet", str(tmp_path / "events.parquet")),
                        ("table", "items_test_events")):
        out = tmp_path / f"out-{fmt}"
        pipeline.tokenize_stage(spark, _cfg(f"input.table_format={fmt}"), source, str(out))
        tokens = spark.read.parquet(str(out / "tokens")).collect()
        assert sorted(list(r["tokens"]) for r in tokens) == want
    baskets = tmp_path / "baskets.txt"
    baskets.write_text("a,b,c\n\nd\ne, f\n")
    out = tmp_path / "out-baskets"
    facts = pipeline.tokenize_stage(
        spark, _cfg("input.format=baskets", "input.separator=,"), str(baskets), str(out)
    )
    assert (facts["lines"], facts["blank_lines"], facts["single_item_sequences"]) == (4, 1, 1)
    tokens = spark.read.parquet(str(out / "tokens")).collect()
    assert sorted(list(r["tokens"]) for r in tokens) == [["a", "b", "c"], ["e", "f"]]


def test_cli_reports_bad_input_with_status_2(tmp_path: Path, capsys) -> None:
    path = _write_events(tmp_path / "in" / "e.csv", [("u", "a", 1)], ("user", "track", "ts"))
    code = main(["run", "--config", str(CONF), "--input", str(path),
                 "--output", str(tmp_path / "o"), *_args(*SMALL), *SPARK_SETTINGS])
    assert code == 2
    assert "w2v-spark: error: the events table has no item column 'song'" in (
        capsys.readouterr().err)
