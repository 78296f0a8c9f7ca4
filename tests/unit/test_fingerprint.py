"""The run fingerprint: which settings count, and how inputs are compared (no Spark)."""

from __future__ import annotations

from w2v_spark.config import Config
from w2v_spark.config_loading import load_config
from w2v_spark.fingerprint import (
    HASH_LIMIT,
    SPARK_RESULT_SETTINGS,
    input_differences,
    input_fingerprint,
    result_settings,
    settings_differences,
)

SPARK = {key: "64" for key in SPARK_RESULT_SETTINGS}


def test_every_setting_but_keep_checkpoints_and_the_session_counts() -> None:
    settings = result_settings(Config(), SPARK)
    assert settings["train.vector_size"] == 100
    assert settings["tokenize.max_token_length"] == 100
    assert settings["pairs.sample"] == 1e-3
    assert "train.keep_checkpoints" not in settings
    assert not any(key.startswith("spark.master") or key == "spark.app_name" for key in settings)
    for key in SPARK_RESULT_SETTINGS:
        assert settings[key] == "64"


def test_settings_differences_name_the_key_and_both_values() -> None:
    recorded = result_settings(Config(), SPARK)
    assert settings_differences(recorded, recorded) == []
    assert settings_differences(
        recorded, result_settings(load_config(overrides=["train.keep_checkpoints=3"]), SPARK)
    ) == []
    current = result_settings(load_config(overrides=["train.seed=7", "vocab.min_count=2"]),
                              {**SPARK, "spark.sql.files.maxPartitionBytes": "10"})
    assert settings_differences(recorded, current) == [
        "spark.sql.files.maxPartitionBytes was '64' in the run, '10' now",
        "train.seed was 1 in the run, 7 now",
        "vocab.min_count was 5 in the run, 2 now",
    ]
    assert settings_differences({"items.window": 3}, {}) == [
        "items.window was 3 in the run, '<not set>' now"
    ]


def _fingerprint(files: list[tuple[str, int, int]], contents: dict[str, str]) -> dict:
    calls: list[str] = []

    def digest(path: str) -> str:
        calls.append(path)
        return contents[path]

    found = input_fingerprint("in/", files, digest)
    assert calls == ([p for p, _, _ in files] if found["bytes"] <= HASH_LIMIT else [])
    return found


def test_small_inputs_compare_by_content_not_time() -> None:
    before = _fingerprint([("a", 10, 1), ("b", 20, 2)], {"a": "ha", "b": "hb"})
    assert before["bytes"] == 30
    touched = _fingerprint([("a", 10, 99), ("b", 20, 2)], {"a": "ha", "b": "hb"})
    assert input_differences(before, touched) == []
    edited = _fingerprint([("a", 10, 1), ("b", 20, 2)], {"a": "hx", "b": "hb"})
    assert input_differences(before, edited) == [
        "a has the same size but other content (SHA-256 differs)"
    ]


def test_large_inputs_compare_by_size_and_time() -> None:
    big = HASH_LIMIT // 2 + 1
    before = _fingerprint([("a", big, 1), ("b", big, 2)], {})
    assert "sha256" not in before["files"][0]
    assert input_differences(before, _fingerprint([("a", big, 1), ("b", big, 2)], {})) == []
    assert input_differences(before, _fingerprint([("a", big, 5), ("b", big, 2)], {})) == [
        "a was modified since the run read it"
    ]


def test_files_added_removed_or_resized_are_named() -> None:
    before = _fingerprint([("a", 10, 1), ("b", 20, 2)], {"a": "ha", "b": "hb", "c": "hc"})
    after = _fingerprint([("b", 21, 2), ("c", 5, 3)], {"b": "hb", "c": "hc"})
    assert input_differences(before, after) == [
        "a was read by the run but is gone now",
        "c is new",
        "b had 20 bytes, now 21",
    ]


def test_auto_is_recorded_as_the_strategy_it_chooses() -> None:
    def strategy(*overrides: str) -> object:
        return result_settings(load_config(overrides=list(overrides)), SPARK)["train.strategy"]

    assert strategy() == strategy("train.strategy=merge") == "merge"
    assert strategy("train.num_partitions=8") == "blocks"
    assert strategy("train.num_partitions=8", "train.strategy=blocks") == "blocks"
    assert strategy("train.num_partitions=8", "train.strategy=merge") == "merge"
