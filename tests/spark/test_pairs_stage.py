"""Stage 3 on Spark: skip-gram pairs, checked against the NumPy core."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from pyspark.sql.types import BinaryType, IntegerType

from w2v_spark.config import PairsConfig, VocabConfig
from w2v_spark.core.pairs import epoch_pairs
from w2v_spark.core.sampling import keep_probabilities
from w2v_spark.io.schemas import TOKENS_SCHEMA, VOCAB_SCHEMA
from w2v_spark.stages.pairs import block_ids, generate_pairs
from w2v_spark.stages.vocab import Vocabulary, count_vocab

pytestmark = pytest.mark.spark

SEED = 11
SHARDS = 4
CFG = PairsConfig(window=3, sample=1e-2)

Sentence = tuple[int, int, list[str]]


@pytest.fixture(scope="module")
def sentences() -> list[Sentence]:
    """150 sentences over 40 words with a skewed distribution; some lines have 2 chunks."""
    rng = np.random.default_rng(5)
    words = [f"w{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(40)]
    weights = 1.0 / np.arange(1, 41)
    weights /= weights.sum()
    out: list[Sentence] = []
    for line in range(120):
        for chunk in range(1 + (line % 4 == 0)):
            n = int(rng.integers(1, 16))
            out.append((line * 3 + 1, chunk, [words[i] for i in rng.choice(40, n, p=weights)]))
    return out


@pytest.fixture(scope="module")
def vocab(spark, sentences: list[Sentence]) -> Vocabulary:
    tokens = spark.createDataFrame(sentences, TOKENS_SCHEMA)
    result = Vocabulary.from_table(count_vocab(tokens, VocabConfig(min_count=10)))
    distinct = {w for _, _, s in sentences for w in s}
    assert 0 < len(result) < len(distinct)
    return result


def _reference(sentences: list[Sentence], vocab: Vocabulary, cfg: PairsConfig, epoch: int
               ) -> dict[str, np.ndarray]:
    index = {w: i for i, w in enumerate(vocab.words.to_pylist())}
    ids = np.array([index.get(w, -1) for _, _, s in sentences for w in s], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum([len(s) for _, _, s in sentences])])
    result = epoch_pairs(
        ids,
        offsets.astype(np.int64),
        np.array([line for line, _, _ in sentences], dtype=np.int64),
        np.array([chunk for _, chunk, _ in sentences], dtype=np.int32),
        keep_probabilities(vocab.counts, cfg.sample),
        window=cfg.window,
        shrink_windows=cfg.shrink_windows,
        seed=SEED,
        epoch=epoch,
        num_shards=SHARDS,
    )
    return {"center": result.center, "context": result.context, "shard": result.shard}


def _collect(frame) -> dict[str, np.ndarray]:
    """The pairs of a frame of blocks, one array entry per pair, in row order."""
    table = frame.toArrow()
    sizes = table.column("pairs").to_numpy()
    return {
        "center": block_ids(table.column("center")),
        "context": block_ids(table.column("context")),
        "shard": np.repeat(table.column("shard").to_numpy(), sizes).astype(np.int32),
    }


def _triples(pairs: dict[str, np.ndarray]) -> np.ndarray:
    rows = np.stack([pairs["center"], pairs["context"], pairs["shard"]], axis=1)
    return rows[np.lexsort(rows.T[::-1])]


def _single_partition(spark, sentences: list[Sentence]):
    return spark.createDataFrame(sentences, TOKENS_SCHEMA).coalesce(1)


@pytest.mark.parametrize("epoch", [0, 1])
def test_single_partition_equals_core_in_order(spark, sentences, vocab, epoch: int) -> None:
    tokens = _single_partition(spark, sentences)
    assert tokens.rdd.getNumPartitions() == 1
    got = _collect(generate_pairs(tokens, vocab, CFG, seed=SEED, epoch=epoch,
                                  num_shards=SHARDS))
    want = _reference(sentences, vocab, CFG, epoch)
    assert want["center"].size > 200
    assert got["center"].size == want["center"].size
    for shard in range(SHARDS):
        for column in ("center", "context"):
            np.testing.assert_array_equal(
                got[column][got["shard"] == shard], want[column][want["shard"] == shard]
            )


def test_multiset_per_shard_equals_core(spark, sentences, vocab) -> None:
    tokens = spark.createDataFrame(sentences, TOKENS_SCHEMA).repartition(3)
    got = _collect(generate_pairs(tokens, vocab, CFG, seed=SEED, epoch=0, num_shards=SHARDS))
    want = _reference(sentences, vocab, CFG, 0)
    np.testing.assert_array_equal(_triples(got), _triples(want))


def test_types_shards_and_vocabulary(spark, sentences, vocab) -> None:
    frame = generate_pairs(
        spark.createDataFrame(sentences, TOKENS_SCHEMA), vocab, CFG, seed=SEED, epoch=0,
        num_shards=SHARDS,
    )
    assert [(f.name, f.dataType) for f in frame.schema.fields] == [
        ("pairs", IntegerType()), ("center", BinaryType()), ("context", BinaryType()),
        ("shard", IntegerType()),
    ]
    got = _collect(frame)
    assert got["center"].dtype == np.int32 and got["context"].dtype == np.int32
    assert set(np.unique(got["shard"]).tolist()) == set(range(SHARDS))
    for column in ("center", "context"):
        assert got[column].min() >= 0
        assert got[column].max() < len(vocab)


def test_independent_of_tokens_partitioning(spark, sentences, vocab) -> None:
    base = spark.createDataFrame(sentences, TOKENS_SCHEMA)
    results = [
        _triples(_collect(generate_pairs(base.repartition(n), vocab, CFG, seed=SEED, epoch=0,
                                         num_shards=SHARDS)))
        for n in (1, 3)
    ]
    np.testing.assert_array_equal(results[0], results[1])


def test_epochs_draw_anew(spark, sentences, vocab) -> None:
    tokens = _single_partition(spark, sentences)
    first, second = (
        _triples(_collect(generate_pairs(tokens, vocab, CFG, seed=SEED, epoch=e,
                                         num_shards=SHARDS)))
        for e in (0, 1)
    )
    assert first.shape != second.shape or not np.array_equal(first, second)


def test_out_of_vocabulary_words_are_removed_before_windows(spark) -> None:
    vocab = Vocabulary.from_table(
        spark.createDataFrame([("a", 0, 3), ("b", 1, 2), ("c", 2, 1)], VOCAB_SCHEMA)
    )
    assert isinstance(vocab.words, pa.Array)
    tokens = spark.createDataFrame(
        [(0, 0, ["a", "zzz", "b"]), (1, 0, ["zzz", "qqq"]), (2, 0, ["c"]), (3, 0, ["qqq", "c"])],
        TOKENS_SCHEMA,
    )
    got = _collect(generate_pairs(tokens, vocab, PairsConfig(window=1, sample=0.0), seed=SEED,
                                  epoch=0, num_shards=1))
    pairs = sorted(zip(got["center"].tolist(), got["context"].tolist(), strict=True))
    assert pairs == [(0, 1), (1, 0)]
    assert got["shard"].tolist() == [0, 0]


@pytest.mark.parametrize("window", [0, 3])
def test_slices_of_a_batch_give_the_same_pairs(spark, sentences, vocab, window: int) -> None:
    """Forming the pairs a few rows at a time changes nothing, for the whole-sentence window
    too; the core with window 0 is checked against nested loops in the unit tests."""
    cfg = PairsConfig(window=window, sample=1e-2)
    tokens = _single_partition(spark, sentences)
    whole = _collect(generate_pairs(tokens, vocab, cfg, seed=SEED, epoch=0, num_shards=SHARDS))
    sliced = _collect(generate_pairs(tokens, vocab, cfg, seed=SEED, epoch=0, num_shards=SHARDS,
                                     max_pairs_per_slice=40))
    want = _reference(sentences, vocab, cfg, 0)
    assert want["center"].size > 200
    np.testing.assert_array_equal(_triples(whole), _triples(want))
    np.testing.assert_array_equal(_triples(sliced), _triples(want))


def test_small_blocks_keep_the_order_and_one_shard_per_row(spark, sentences, vocab) -> None:
    tokens = _single_partition(spark, sentences)
    frame = generate_pairs(tokens, vocab, CFG, seed=SEED, epoch=0, num_shards=SHARDS,
                           pairs_per_block=7)
    table = frame.toArrow()
    sizes = table.column("pairs").to_numpy()
    assert sizes.max() == 7 and sizes.min() >= 1
    lengths = np.array([len(v) for v in table.column("center").to_pylist()])
    np.testing.assert_array_equal(lengths, 4 * sizes)
    got = _collect(frame)
    want = _reference(sentences, vocab, CFG, 0)
    for shard in range(SHARDS):
        for column in ("center", "context"):
            np.testing.assert_array_equal(
                got[column][got["shard"] == shard], want[column][want["shard"] == shard]
            )
