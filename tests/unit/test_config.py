"""Tests for the typed TOML configuration (no Spark)."""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
from functools import partial
from pathlib import Path
from typing import get_type_hints

import pytest

from tests.extras import extra
from w2v_spark.config import (
    STABLE_TASK_ALPHA,
    STABLE_TASK_ALPHA_IN_ORDER,
    Config,
    PairsConfig,
    SparkConfig,
    TokenizeConfig,
    TrainConfig,
)
from w2v_spark.config_loading import config_from_dict, load_config, parse_override
from w2v_spark.errors import ConfigError

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"

GENSIM_SKIPGRAM_DEFAULTS = {
    "vector_size": 100,
    "window": 5,
    "negative": 5,
    "sample": 1e-3,
    "min_count": 5,
    "epochs": 5,
    "alpha": 0.025,
    "min_alpha": 0.0001,
    "ns_exponent": 0.75,
}


def _flat(config: Config) -> dict[str, object]:
    return {k: v for section in config.to_dict().values() for k, v in section.items()}


def test_defaults_are_gensim_defaults() -> None:
    flat = _flat(Config())
    for key, value in GENSIM_SKIPGRAM_DEFAULTS.items():
        assert flat[key] == value, key
    assert Config().tokenize.max_sentence_length == 10_000


def test_defaults_match_installed_gensim() -> None:
    word2vec = extra("gensim.models.word2vec")
    params = inspect.signature(word2vec.Word2Vec.__init__).parameters
    flat = _flat(Config())
    for key in GENSIM_SKIPGRAM_DEFAULTS:
        assert flat[key] == params[key].default, key
    assert Config().tokenize.max_sentence_length == word2vec.MAX_WORDS_IN_BATCH


def test_default_toml_equals_dataclass_defaults() -> None:
    assert load_config([CONF_DIR / "default.toml"]) == Config()
    assert load_config() == Config()


@pytest.mark.parametrize("path", sorted(CONF_DIR.glob("*.toml")), ids=lambda p: p.name)
def test_every_conf_file_loads(path: Path) -> None:
    assert isinstance(load_config([path]), Config)
    assert isinstance(load_config([CONF_DIR / "default.toml", path]), Config)


def test_unknown_section_lists_valid_sections() -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict({"trian": {"epochs": 3}})
    message = str(info.value)
    assert "trian" in message
    for section in ("input", "tokenize", "vocab", "pairs", "train", "spark"):
        assert section in message


def test_unknown_key_lists_valid_keys() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(overrides=["train.epoch=3"])
    message = str(info.value)
    assert "epoch" in message
    for field in dataclasses.fields(TrainConfig):
        assert field.name in message
    with pytest.raises(ConfigError) as info:
        config_from_dict({"pairs": {"windw": 3}})
    for field in dataclasses.fields(PairsConfig):
        assert field.name in str(info.value)


@pytest.mark.parametrize(
    ("data", "key", "type_name"),
    [
        ({"train": {"epochs": "five"}}, "epochs", "int"),
        ({"pairs": {"window": 2.5}}, "window", "int"),
        ({"train": {"negative": True}}, "negative", "int"),
        ({"pairs": {"sample": "1e-3"}}, "sample", "float"),
        ({"pairs": {"sample": False}}, "sample", "float"),
        ({"tokenize": {"lowercase": 1}}, "lowercase", "bool"),
        ({"spark": {"master": 4}}, "master", "str"),
        ({"tokenize": {"max_token_length": "100"}}, "max_token_length", "int"),
        ({"train": {"vector_size": 1.5}}, "vector_size", "int"),
    ],
)
def test_wrong_type_names_key_and_type(data: dict, key: str, type_name: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict(data)
    message = str(info.value)
    assert key in message
    assert type_name in message


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("pairs.window=-1", "window"),
        ("pairs.sample=-1", "sample"),
        ("pairs.sample=1", "sample"),
        ("train.negative=0", "negative"),
        ("train.min_alpha=0.5", "min_alpha"),
        ("train.merge=median", "merge"),
        ("train.epochs=0", "epochs"),
        ("train.vector_size=0", "vector_size"),
        ("vocab.min_count=0", "min_count"),
        ("tokenize.token_pattern=\"[a-z\"", "token_pattern"),
        ("tokenize.token_pattern=\"a*\"", "token_pattern"),
        ("input.format=parquet", "format"),
        ("spark.driver_memory=lots", "driver_memory"),
        ("train.vector_size=-5", "vector_size"),
        ("train.num_partitions=0", "num_partitions"),
        ("train.num_partitions=-2", "num_partitions"),
        ("train.syncs_per_epoch=0", "syncs_per_epoch"),
        ("train.batch_size=0", "batch_size"),
        ("train.shuffle_window=-1", "shuffle_window"),
        ("train.negative_groups=0", "negative_groups"),
        ("train.negative_groups=513", "negative_groups"),
        ("train.alpha=0", "alpha"),
        ("train.alpha=-0.1", "alpha"),
        ("train.seed=-1", "seed"),
        ("train.keep_checkpoints=-1", "keep_checkpoints"),
        ("train.negative=-3", "negative"),
        ("vocab.min_count=-1", "min_count"),
        ("vocab.max_vocab_size=-1", "max_vocab_size"),
        ("tokenize.max_sentence_length=1", "max_sentence_length"),
        ("tokenize.max_token_length=0", "max_token_length"),
        ("tokenize.max_token_length=-10", "max_token_length"),
    ],
)
def test_out_of_range_names_key(override: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(overrides=[override])
    assert key in str(info.value)


def test_config_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        PairsConfig(window=-1)


def test_parse_override_values() -> None:
    sample = parse_override("train.sample=1e-4")
    assert sample == {"train": {"sample": 1e-4}}
    assert isinstance(sample["train"]["sample"], float)
    assert parse_override("spark.master=local[2]") == {"spark": {"master": "local[2]"}}
    assert parse_override("train.epochs=7") == {"train": {"epochs": 7}}
    assert parse_override("tokenize.lowercase=false") == {"tokenize": {"lowercase": False}}
    assert parse_override("spark.conf.spark.sql.shuffle.partitions=4") == {
        "spark": {"conf": {"spark.sql.shuffle.partitions": "4"}}
    }


@pytest.mark.parametrize("text", ["nokey=1", "a.b.c=1", "train.epochs", "train.=1", ".x=1"])
def test_parse_override_rejects_malformed(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_override(text)


def test_layering_later_wins(tmp_path: Path) -> None:
    first = tmp_path / "first.toml"
    first.write_text(
        '[train]\nepochs = 3\nnegative = 7\n[spark]\nmaster = "local[1]"\n'
        '[spark.conf]\n"spark.a" = "1"\n"spark.b" = "2"\n'
    )
    second = tmp_path / "second.toml"
    second.write_text('[train]\nepochs = 4\n[spark.conf]\n"spark.b" = "3"\n')
    config = load_config(
        [CONF_DIR / "default.toml", first, second],
        ["train.negative=9", "spark.conf.spark.c=x", "train.negative=10"],
    )
    assert config.train.epochs == 4
    assert config.train.negative == 10
    assert config.spark.master == "local[1]"
    assert dict(config.spark.conf) == {"spark.a": "1", "spark.b": "3", "spark.c": "x"}
    assert config.pairs == PairsConfig()


def test_local_toml_on_top_of_default() -> None:
    config = load_config([CONF_DIR / "default.toml", CONF_DIR / "local.toml"])
    assert config.spark.master == "local[*]"
    assert config.train == TrainConfig()


def test_ints_accepted_for_float_fields() -> None:
    config = load_config(overrides=["train.alpha=1", "train.min_alpha=0", "pairs.sample=0"])
    assert config.train.alpha == 1.0 and isinstance(config.train.alpha, float)
    assert isinstance(config.train.min_alpha, float)
    assert isinstance(config.pairs.sample, float)


def test_missing_or_malformed_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config([tmp_path / "nope.toml"])
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nepochs = 3\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config([bad])


def test_config_is_frozen() -> None:
    config = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.train = TrainConfig()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.train.epochs = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("input.format=events2", r"format.*text, events, baskets"),
        ("input.table_format=json", r"table_format.*csv, parquet, table"),
        ("input.csv_delimiter=;;", r"csv_delimiter.*one character"),
        ("input.item_col=sequence_id", r"three different columns"),
        ("input.session_gap=-1", r"session_gap = -1.0 is invalid: must be a finite number >= 0"),
        ("input.order_col=\" \"", r"order_col.*must name a column"),
        ("items.neighbors=-1", r"neighbors = -1 is invalid: must be in \[0, 100000\]"),
        ("items.recency_half_life=-2",
         r"recency_half_life = -2.0 is invalid: must be a finite number >= 0"),
        ("items.block_rows=0", r"block_rows = 0 is invalid: must be in \[1, 16384\]"),
    ],
)
def test_items_settings_are_checked(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=[override])


def test_items_conf_reads_events_with_a_bounded_window() -> None:
    cfg = load_config([CONF_DIR / "items.toml"], ["input.item_col=movieId"])
    assert cfg.input.is_items and cfg.input.format == "events"
    assert cfg.input.item_col == "movieId"
    assert cfg.pairs.window >= 1
    assert not Config().input.is_items
    assert load_config(overrides=["pairs.window=0"]).pairs.window == 0


def test_stability_warning_names_the_task_learning_rate() -> None:
    assert TrainConfig().stability_warning() is None  # 2 x 0.025
    merging = partial(TrainConfig, strategy="merge")
    assert merging(num_partitions=8).stability_warning() is None  # 8 x 0.025 = 0.2
    assert merging(num_partitions=16, merge="average").stability_warning() is None
    message = merging(num_partitions=16).stability_warning()
    assert message is not None
    assert message.startswith("a training task starts at learning rate 0.4 (alpha=0.025 x "
                              'num_partitions=16 with merge = "mean"); above 0.2 training')
    assert f"Lower train.alpha to {STABLE_TASK_ALPHA / 16:.3g}" in message
    assert merging(num_partitions=16, alpha=STABLE_TASK_ALPHA / 16).stability_warning() is None


def test_stability_warning_in_table_order_has_the_lower_limit() -> None:
    assert TrainConfig(shuffle_window=0).stability_warning() is None  # 2 x 0.025
    message = TrainConfig(strategy="merge", num_partitions=8, shuffle_window=0).stability_warning()
    assert message is not None
    assert "above 0.075, with the pairs in table order, training diverged" in message
    assert f"Lower train.alpha to {STABLE_TASK_ALPHA_IN_ORDER / 8:.3g}" in message
    assert TrainConfig(
        strategy="merge", num_partitions=8, shuffle_window=0, alpha=STABLE_TASK_ALPHA_IN_ORDER / 8,
    ).stability_warning() is None


@pytest.mark.parametrize("name", ["default.toml", "local.toml", "cluster.toml", "items.toml"])
def test_shipped_configs_train_at_a_stable_task_learning_rate(name: str) -> None:
    assert load_config([CONF_DIR / name], []).train.stability_warning() is None


# ---------------------------------------------------------------- numeric ranges

#: Every numeric setting: (lowest, highest, lowest excluded, highest excluded, the range as the
#: error states it). ``None`` as highest: any finite number. The highest of ``min_alpha`` and
#: ``negative_groups`` are the defaults of ``alpha`` and ``batch_size``.
NUMERIC_RANGES: dict[tuple[str, str], tuple[float, float | None, bool, bool, str]] = {
    ("input", "session_gap"): (0, None, False, False, "must be a finite number >= 0"),
    ("tokenize", "max_sentence_length"): (2, 10_000_000, False, False,
                                          "must be in [2, 10000000]"),
    ("tokenize", "max_token_length"): (1, 1_000_000, False, False, "must be in [1, 1000000]"),
    ("tokenize", "max_invalid_share"): (0, 1, False, False, "must be in [0, 1]"),
    ("vocab", "min_count"): (1, 2**31 - 1, False, False, "must be in [1, 2147483647]"),
    ("vocab", "max_vocab_size"): (0, 2**31 - 1, False, False, "must be in [0, 2147483647]"),
    ("pairs", "window"): (0, 100_000, False, False, "must be in [0, 100000]"),
    ("pairs", "sample"): (0, 1, False, True, "must be in [0, 1)"),
    ("train", "vector_size"): (1, 10_000, False, False, "must be in [1, 10000]"),
    ("train", "negative"): (1, 1_000, False, False, "must be in [1, 1000]"),
    ("train", "ns_exponent"): (-2, 2, False, False, "must be in [-2, 2]"),
    ("train", "alpha"): (0, 10, True, False, "must be in (0, 10]"),
    ("train", "min_alpha"): (0, 0.025, False, False, "must be in [0, alpha=0.025]"),
    ("train", "epochs"): (1, 10_000, False, False, "must be in [1, 10000]"),
    ("train", "seed"): (0, 2**32 - 1, False, False, "must be in [0, 4294967295]"),
    ("train", "num_partitions"): (1, 100_000, False, False, "must be in [1, 100000]"),
    ("train", "syncs_per_epoch"): (1, 10_000, False, False, "must be in [1, 10000]"),
    ("train", "batch_size"): (1, 100_000, False, False, "must be in [1, 100000]"),
    ("train", "shared_negatives"): (0, 100_000, False, False, "must be in [0, 100000]"),
    ("train", "negative_groups"): (1, 512, False, False, "must be in [1, batch_size=512]"),
    ("train", "shuffle_window"): (0, 2**31 - 1, False, False, "must be in [0, 2147483647]"),
    ("train", "block_passes"): (0, 1024, False, False, "must be in [0, 1024]"),
    ("train", "row_cap"): (0, None, False, False, "must be a finite number >= 0"),
    ("train", "keep_checkpoints"): (0, 1_000_000, False, False, "must be in [0, 1000000]"),
    ("items", "neighbors"): (0, 100_000, False, False, "must be in [0, 100000]"),
    ("items", "recommendations"): (0, 100_000, False, False, "must be in [0, 100000]"),
    ("items", "recency_half_life"): (0, None, False, False, "must be a finite number >= 0"),
    ("items", "block_rows"): (1, 16_384, False, False, "must be in [1, 16384]"),
}


def _numeric_settings() -> dict[tuple[str, str], type]:
    out = {}
    for section, cls in get_type_hints(Config).items():
        for name, kind in get_type_hints(cls).items():
            if kind in (int, float):
                out[(section, name)] = kind
    return out


NUMERIC = _numeric_settings()
FLOATS = sorted(key for key, kind in NUMERIC.items() if kind is float)
INTS = sorted(key for key, kind in NUMERIC.items() if kind is int)


def _as_toml(value: float) -> str:
    return repr(value)  # inf, -inf, nan, 1e+300 and plain numbers are TOML as Python prints them


def _out_of_range() -> list[tuple[str, str, float]]:
    cases = []
    for (section, key), (low, high, low_open, high_open, _) in NUMERIC_RANGES.items():
        kind = NUMERIC.get((section, key), float)
        cases.append((section, key, kind(low if low_open else low - 1)))
        if high is not None:
            cases.append((section, key, kind(high if high_open else high + 1)))
    return cases


def _in_range() -> list[tuple[str, str, float]]:
    cases = []
    for (section, key), (low, high, low_open, high_open, _) in NUMERIC_RANGES.items():
        kind = NUMERIC.get((section, key), float)
        if not low_open:
            cases.append((section, key, kind(low)))
        cases.append((section, key, kind(1e300 if high is None else high if not high_open
                                           else (low + high) / 2)))
    return cases


def _error(section: str, key: str, shown: str) -> str:
    fragment = NUMERIC_RANGES[(section, key)][4]
    return rf"^\[{section}\] {key} = {re.escape(shown)} is invalid: {re.escape(fragment)}"


def test_every_numeric_setting_has_a_range_here() -> None:
    assert set(NUMERIC_RANGES) == set(NUMERIC)


@pytest.mark.parametrize(("section", "key", "value"), _out_of_range(),
                         ids=lambda v: str(v))
def test_numeric_setting_out_of_range_names_the_range(section: str, key: str,
                                                      value: float) -> None:
    with pytest.raises(ConfigError, match=_error(section, key, repr(value))):
        load_config(overrides=[f"{section}.{key}={_as_toml(value)}"])


@pytest.mark.parametrize(("section", "key", "value"), _in_range(), ids=lambda v: str(v))
def test_numeric_setting_at_its_bounds_is_accepted(section: str, key: str,
                                                   value: float) -> None:
    config = load_config(overrides=[f"{section}.{key}={_as_toml(value)}"])
    assert getattr(getattr(config, section), key) == value


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan], ids=repr)
@pytest.mark.parametrize(("section", "key"), FLOATS, ids=lambda v: str(v))
def test_float_setting_must_be_finite(section: str, key: str, value: float) -> None:
    with pytest.raises(ConfigError, match=_error(section, key, repr(value))):
        load_config(overrides=[f"{section}.{key}={_as_toml(value)}"])


@pytest.mark.parametrize(("section", "key"), INTS, ids=lambda v: str(v))
def test_int_setting_too_large_for_int64_is_a_range_error(section: str, key: str) -> None:
    with pytest.raises(ConfigError, match=_error(section, key, "99999999999999999999")):
        load_config(overrides=[f"{section}.{key}=99999999999999999999"])


def test_huge_numbers_in_a_file_or_an_override_are_config_errors(tmp_path: Path) -> None:
    conf = tmp_path / "big.toml"
    conf.write_text("[train]\nbatch_size = 99999999999999999999\n")
    with pytest.raises(ConfigError, match=_error("train", "batch_size", "99999999999999999999")):
        load_config([conf])
    with pytest.raises(ConfigError, match=r"^\[train\] alpha = 1000.* is invalid: too large a "
                       r"number \(a float setting must be finite\)"):
        load_config(overrides=["train.alpha=1" + "0" * 400])
    with pytest.raises(ConfigError, match=r"^\[train\] seed = '9999.*\(5000 characters\) is "
                       r"invalid: too many digits for a number$"):
        load_config(overrides=["train.seed=" + "9" * 5000])
    conf.write_text("[train]\nseed = " + "9" * 5000 + "\n")
    with pytest.raises(ConfigError, match=r"big\.toml' is not valid TOML: .*4300 digits"):
        load_config([conf])


def test_max_invalid_share_default_and_range() -> None:
    assert TokenizeConfig().max_invalid_share == 0.05
    assert load_config(overrides=["tokenize.max_invalid_share=1"]).tokenize.max_invalid_share == 1
    assert load_config(overrides=["tokenize.max_invalid_share=0"]).tokenize.max_invalid_share == 0
    with pytest.raises(ConfigError, match=r"max_invalid_share = 1.5 is invalid: must be in "
                       r"\[0, 1\] \(1 = never fail\)"):
        load_config(overrides=["tokenize.max_invalid_share=1.5"])


# ---------------------------------------------------------------- spark.master


@pytest.mark.parametrize("master", [
    "", "local", "local[1]", "local[16]", "local[*]", "local[2,3]", "local[*,4]", "local[2, 3]",
    "local-cluster[2,1,1024]", "local-cluster[2, 1, 1024]", "spark://host:7077",
    "spark://10.0.0.1:7077", "spark://h1.example.com:7077,h2.example.com:7077",
    "spark://[::1]:7077", "yarn", "k8s://https://10.0.0.1:6443", "k8s://host:443",
    "mesos://zk://zk1:2181/mesos",
])
def test_spark_master_accepts_spark_master_urls(master: str) -> None:
    assert load_config(overrides=[f'spark.master="{master}"']).spark.master == master
    assert SparkConfig(master=master).master == master


@pytest.mark.parametrize("master", [
    "bogus://x", "local[0]", "local[]", "local[x]", "local[2", "local[2,]", "Local", " local",
    "local ", "local-cluster[2,1]", "spark://host", "spark://", "spark://host:port",
    "spark://h1:7077,", "yarn-cluster", "k8s://", "mesos://", "localhost",
])
def test_spark_master_refuses_anything_else_listing_the_forms(master: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(overrides=[f'spark.master="{master}"'])
    message = str(info.value)
    assert message.startswith(f"[spark] master = {master!r} is invalid: must be one of: ")
    for form in ("local[N]", "local[*]", "local[N,F]", "local[*,F]", "local-cluster[N,C,M]",
                 "spark://HOST:PORT", "yarn", "k8s://URL", "mesos://URL"):
        assert form in message


@pytest.mark.parametrize(("k", "passes"), [(1, 1), (2, 8), (3, 6), (4, 4), (8, 4), (16, 4),
                                           (32, 4)])
def test_blocks_make_four_passes_and_sixteen_sub_rounds_per_epoch(k: int, passes: int) -> None:
    train = load_config([], ["train.strategy=blocks", f"train.num_partitions={k}"]).train
    assert train.passes == passes
    assert train.rounds_per_epoch == k * passes
    assert train.num_shards == k * k * passes
    chosen = load_config([], ["train.strategy=blocks", f"train.num_partitions={k}",
                              "train.block_passes=3"]).train
    assert (chosen.passes, chosen.num_shards) == (3, 3 * k * k)


def test_merge_rounds_ignore_block_passes() -> None:
    train = load_config([], ["train.num_partitions=4", "train.syncs_per_epoch=3",
                             "train.block_passes=5"]).train
    assert (train.rounds_per_epoch, train.num_shards) == (3, 12)


@pytest.mark.parametrize(("partitions", "blocks"), [(1, False), (2, False), (4, False),
                                                    (5, True), (8, True), (64, True)])
def test_auto_merges_few_partitions_and_trains_many_in_blocks(partitions: int,
                                                              blocks: bool) -> None:
    train = load_config([], [f"train.num_partitions={partitions}"]).train
    assert train.strategy == "auto"
    assert train.blocks is blocks
    assert train.resolved_strategy == ("blocks" if blocks else "merge")
    named = load_config([], [f"train.num_partitions={partitions}",
                             f"train.strategy={train.resolved_strategy}"]).train
    assert (train.rounds_per_epoch, train.num_shards, train.task_lr_scale) == (
        named.rounds_per_epoch, named.num_shards, named.task_lr_scale)
    # Named strategies hold whatever the partitions.
    assert load_config([], [f"train.num_partitions={partitions}",
                            "train.strategy=merge"]).train.blocks is False
    assert load_config([], [f"train.num_partitions={partitions}",
                            "train.strategy=blocks"]).train.blocks is True


def test_a_merge_that_may_diverge_names_the_blocks_strategy() -> None:
    train = load_config([], ["train.num_partitions=16", "train.strategy=merge"]).train
    warning = train.stability_warning()
    assert warning is not None and 'strategy = "blocks"' in warning
    assert load_config([], ["train.num_partitions=16"]).train.stability_warning() is None
