"""Stage 2 on Spark: counting the vocabulary."""

from __future__ import annotations

import numpy as np
import pytest
from chispa import assert_df_equality

from w2v_spark.config import VocabConfig
from w2v_spark.errors import EmptyCorpusError, EmptyVocabularyError
from w2v_spark.io.schemas import TOKENS_SCHEMA, VOCAB_SCHEMA
from w2v_spark.stages.vocab import check_vocab, count_vocab, counted_vocab

pytestmark = pytest.mark.spark

# Counts: the 5, a 3, zeta 3, b 2, ant 1, yak 1.
_SENTENCES = [
    ["the", "zeta", "a", "the"],
    ["b", "the", "a", "ant"],
    ["zeta", "the", "yak"],
    [],
    ["a", "zeta", "the", "b"],
]


@pytest.fixture(scope="module")
def tokens(spark):
    rows = [(i, 0, s) for i, s in enumerate(_SENTENCES)]
    return spark.createDataFrame(rows, TOKENS_SCHEMA).repartition(2)


def _vocab(spark, rows: list[tuple[str, int, int]]):
    return spark.createDataFrame(rows, VOCAB_SCHEMA)


def test_ids_by_descending_count_then_word(spark, tokens) -> None:
    result = count_vocab(tokens, VocabConfig(min_count=1))
    expected = _vocab(
        spark,
        [("the", 0, 5), ("a", 1, 3), ("zeta", 2, 3), ("b", 3, 2), ("ant", 4, 1), ("yak", 5, 1)],
    )
    assert_df_equality(result, expected, ignore_nullable=True)
    assert [(f.name, f.dataType) for f in result.schema.fields] == [
        (f.name, f.dataType) for f in VOCAB_SCHEMA.fields
    ]


def test_min_count_filter(spark, tokens) -> None:
    result = count_vocab(tokens, VocabConfig(min_count=3))
    expected = _vocab(spark, [("the", 0, 5), ("a", 1, 3), ("zeta", 2, 3)])
    assert_df_equality(result, expected, ignore_nullable=True)


def test_max_vocab_size(spark, tokens) -> None:
    result = count_vocab(tokens, VocabConfig(min_count=1, max_vocab_size=4))
    expected = _vocab(spark, [("the", 0, 5), ("a", 1, 3), ("zeta", 2, 3), ("b", 3, 2)])
    assert_df_equality(result, expected, ignore_nullable=True)


def test_min_count_and_max_vocab_size_together(spark, tokens) -> None:
    result = count_vocab(tokens, VocabConfig(min_count=2, max_vocab_size=10))
    expected = _vocab(spark, [("the", 0, 5), ("a", 1, 3), ("zeta", 2, 3), ("b", 3, 2)])
    assert_df_equality(result, expected, ignore_nullable=True)


def test_check_vocab_returns_the_size(tokens) -> None:
    cfg = VocabConfig(min_count=2)
    assert check_vocab(tokens, count_vocab(tokens, cfg), cfg) == 4


def test_check_vocab_nothing_survives_min_count(tokens) -> None:
    cfg = VocabConfig(min_count=6)
    vocab = count_vocab(tokens, cfg)
    with pytest.raises(EmptyVocabularyError) as info:
        check_vocab(tokens, vocab, cfg)
    message = str(info.value)
    assert "min_count=6" in message
    assert "6 distinct words" in message
    assert "occurs 5 times" in message


@pytest.mark.parametrize("sentences", [[], [[], []]], ids=["no-rows", "empty-sentences"])
def test_check_vocab_empty_corpus(spark, sentences: list[list[str]]) -> None:
    tokens = spark.createDataFrame([(i, 0, s) for i, s in enumerate(sentences)], TOKENS_SCHEMA)
    cfg = VocabConfig(min_count=1)
    with pytest.raises(EmptyCorpusError, match="no tokens"):
        check_vocab(tokens, count_vocab(tokens, cfg), cfg)


def test_ids_match_a_sort_of_many_tied_counts_without_one_global_window(spark) -> None:
    # 3,000 words whose counts repeat a lot (ids depend on the tie-break by word), spread
    # over several partitions; the reference is Python's sort by (-count, word).
    rng = np.random.default_rng(7)
    words = [f"w{i:04d}{'é' if i % 7 == 0 else ''}" for i in rng.permutation(3000)]
    counts = {w: int(c) for w, c in zip(words, rng.zipf(1.6, size=3000).clip(1, 60),
                                        strict=True)}
    stream = [w for w, c in counts.items() for _ in range(c)]
    rng.shuffle(stream)
    rows = [(i, 0, stream[i : i + 50]) for i in range(0, len(stream), 50)]
    tokens = spark.createDataFrame(rows, TOKENS_SCHEMA).repartition(4)

    result = count_vocab(tokens, VocabConfig(min_count=2))
    expected = sorted(((w, c) for w, c in counts.items() if c >= 2), key=lambda x: (-x[1], x[0]))
    assert [(r["word"], r["word_id"], r["count"]) for r in result.collect()] == [
        (w, i, c) for i, (w, c) in enumerate(expected)
    ]
    plan = result._jdf.queryExecution().executedPlan().toString()
    assert "SinglePartition" not in plan


def test_counted_vocab_caches_the_counts_only_inside_its_block(tokens, persisted_rdds) -> None:
    cfg = VocabConfig(min_count=2)
    before = persisted_rdds()
    with counted_vocab(tokens, cfg) as vocab:
        assert_df_equality(vocab, count_vocab(tokens, cfg), ignore_nullable=True)
        assert persisted_rdds() == before + 1
    assert persisted_rdds() == before


def test_counted_vocab_releases_the_cache_on_an_error(tokens, persisted_rdds) -> None:
    before = persisted_rdds()
    with pytest.raises(EmptyVocabularyError), counted_vocab(
        tokens, VocabConfig(min_count=50)
    ) as vocab:
        check_vocab(tokens, vocab, VocabConfig(min_count=50))
    assert persisted_rdds() == before
