"""The schema of every table the pipeline writes, and the names of its tables and columns."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    DataType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from w2v_spark.errors import SchemaError

# Table directories under a run's output directory.
TOKENS = "tokens"
VOCAB = "vocab"
PAIRS = "pairs"
MODEL = "model"
EMBEDDINGS = "embeddings"
METRICS = "metrics"
# Items runs only.
SEQUENCES = "sequences"
NEIGHBORS = "neighbors"
USER_VECTORS = "user_vectors"
RECOMMENDATIONS = "recommendations"

SUCCESS_MARKER = "_SUCCESS"

#: The placeholder a token longer than ``[tokenize] max_token_length`` leaves in the tokens
#: table: the empty string, which no token pattern may match. It never gets a vector.
LONG_TOKEN = ""

#: Sentences: the tokens of one input line, or of one chunk of a long line.
TOKENS_SCHEMA = StructType(
    [
        StructField("line_id", LongType(), False),
        StructField("chunk", IntegerType(), False),
        StructField("tokens", ArrayType(StringType(), False), False),
    ]
)

#: Vocabulary: ids 0..V-1 by descending count (ties by word).
VOCAB_SCHEMA = StructType(
    [
        StructField("word", StringType(), False),
        StructField("word_id", IntegerType(), False),
        StructField("count", LongType(), False),
    ]
)

#: Skip-gram pairs in blocks; the table is partitioned by ``epoch`` and ``shard`` directories.
#: A row holds ``pairs`` consecutive (center, context) pairs: ``center`` and ``context`` are
#: ``pairs`` word ids each, as raw little-endian int32 (``numpy.frombuffer(b, "<i4")``).
#: Blocks instead of a row per pair keep the hundreds of millions of pairs of an epoch out of
#: the JVM's row-by-row conversions, which cost more than training on them.
PAIRS_SCHEMA = StructType(
    [
        StructField("pairs", IntegerType(), False),
        StructField("center", BinaryType(), False),
        StructField("context", BinaryType(), False),
    ]
)
#: A model checkpoint: consecutive blocks of rows of the input and output matrices as raw
#: little-endian float32, ``rows x dim`` each, rows ``start .. start + rows - 1``.
MODEL_SCHEMA = StructType(
    [
        StructField("start", IntegerType(), False),
        StructField("rows", IntegerType(), False),
        StructField("dim", IntegerType(), False),
        StructField("input", BinaryType(), False),
        StructField("output", BinaryType(), False),
    ]
)

#: Rows a training task sends back: the rows of one matrix it touched, in blocks.
TOUCHED_SCHEMA = StructType(
    [
        StructField("partition", IntegerType(), False),
        StructField("matrix", StringType(), False),
        StructField("rows", BinaryType(), False),
        StructField("values", BinaryType(), False),
        StructField("pairs", LongType(), False),
        StructField("loss", DoubleType(), False),
        StructField("learning_rate", DoubleType(), False),
        StructField("seconds", DoubleType(), False),
        StructField("read_seconds", DoubleType(), False),
    ]
)

#: The word vectors: plain arrays any Parquet reader can use.
EMBEDDINGS_SCHEMA = StructType(
    [
        StructField("word", StringType(), False),
        StructField("word_id", IntegerType(), False),
        StructField("count", LongType(), False),
        StructField("vector", ArrayType(FloatType(), False), False),
    ]
)

#: One row per sync round.
METRICS_SCHEMA = StructType(
    [
        StructField("epoch", IntegerType(), False),
        StructField("round", IntegerType(), False),
        StructField("loss", DoubleType(), False),
        StructField("learning_rate", DoubleType(), False),
        StructField("pairs", LongType(), False),
        StructField("pairs_per_sec", DoubleType(), False),
        StructField("seconds", DoubleType(), False),
    ]
)


def _type_name(data_type: DataType) -> str:
    return str(data_type.simpleString())


def check_columns(actual: StructType, expected: StructType, what: str) -> None:
    """Raise :class:`SchemaError` naming every column of ``expected`` that ``actual`` lacks or
    holds with another type (nullability is not compared; extra columns are allowed)."""
    have = {f.name: f.dataType for f in actual.fields}
    missing = [f.name for f in expected.fields if f.name not in have]
    wrong = [
        f"{f.name} is {_type_name(have[f.name])}, expected {_type_name(f.dataType)}"
        for f in expected.fields
        if f.name in have and _type_name(have[f.name]) != _type_name(f.dataType)
    ]
    problems = []
    if missing:
        problems.append(f"lacks column(s) {missing}")
    if wrong:
        problems.append("has " + "; ".join(wrong))
    if problems:
        raise SchemaError(
            f"{what} {' and '.join(problems)}; it was not written by this version of w2v_spark, "
            "or by another stage: write it again with the stage that makes it"
        )


# ---------------------------------------------------------------------------------------------
# items

#: Whole ordered item sequences (one row per sequence, or per session of one), before chunking.
SEQUENCES_SCHEMA = StructType(
    [
        StructField("sequence", StringType(), False),
        StructField("session", IntegerType(), False),
        StructField("line_id", LongType(), False),
        StructField("items", ArrayType(StringType(), False), False),
    ]
)

#: A user's taste: the weighted mean of the unit vectors of the user's items in the vocabulary.
USER_VECTORS_SCHEMA = StructType(
    [
        StructField("user", StringType(), False),
        StructField("items", LongType(), False),
        StructField("vector", ArrayType(FloatType(), False), False),
    ]
)

#: Each user's top items by cosine with the user's vector, items already seen left out.
RECOMMENDATIONS_SCHEMA = StructType(
    [
        StructField("user", StringType(), False),
        StructField("item", StringType(), False),
        StructField("score", FloatType(), False),
        StructField("rank", IntegerType(), False),
    ]
)


# ---------------------------------------------------------------------------------------------
# Arrow forms, for the tables the driver writes with pyarrow

#: :data:`EMBEDDINGS_SCHEMA` in Arrow.
EMBEDDINGS_ARROW = pa.schema(
    [
        pa.field("word", pa.string(), nullable=False),
        pa.field("word_id", pa.int32(), nullable=False),
        pa.field("count", pa.int64(), nullable=False),
        pa.field("vector", pa.list_(pa.field("element", pa.float32(), nullable=False)),
                 nullable=False),
    ]
)


def vector_column(vectors: np.ndarray) -> pa.Array:
    """The ``vector`` column of the embeddings table from (n, d) vectors: n lists of d
    float32, sharing one flat buffer."""
    n, dim = vectors.shape
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
    offsets = pa.array(np.arange(0, (n + 1) * dim, dim, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, flat).cast(EMBEDDINGS_ARROW.field("vector").type)
