"""The schema of every table the pipeline writes or passes between its tasks, and the names of
its tables.

Each schema is declared once, as a Spark ``StructType``; where a task builds the same rows with
pyarrow, its Arrow form is derived by :func:`arrow_schema`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    BooleanType,
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


def _columns(**types: DataType) -> StructType:
    """A schema of non-null columns of these names and types, in this order."""
    return StructType([StructField(name, data_type, False) for name, data_type in types.items()])


#: Sentences: the tokens of one input line, or of one chunk of a long line.
TOKENS_SCHEMA = _columns(
    line_id=LongType(), chunk=IntegerType(), tokens=ArrayType(StringType(), False)
)

#: Vocabulary: ids 0..V-1 by descending count (ties by word).
VOCAB_SCHEMA = _columns(word=StringType(), word_id=IntegerType(), count=LongType())

#: Skip-gram pairs in blocks; the table is partitioned by ``epoch`` and ``shard`` directories.
#: A row holds ``pairs`` consecutive (center, context) pairs: ``center`` and ``context`` are
#: ``pairs`` word ids each, as raw little-endian int32 (``numpy.frombuffer(b, "<i4")``).
#: Blocks instead of a row per pair keep the hundreds of millions of pairs of an epoch out of
#: the JVM's row-by-row conversions, which cost more than training on them.
PAIRS_SCHEMA = _columns(pairs=IntegerType(), center=BinaryType(), context=BinaryType())
#: The pairs stage's rows as its tasks emit them: ``shard`` becomes the ``shard=`` directory.
PAIRS_OUT_SCHEMA = StructType([*PAIRS_SCHEMA.fields, StructField("shard", IntegerType(), False)])

#: The vocabulary stage's offsets: the words of each ``count`` get ids from ``before`` on.
VOCAB_OFFSETS_SCHEMA = StructType(
    [StructField("count", LongType(), True), StructField("before", LongType(), True)]
)

#: A model checkpoint: consecutive blocks of rows of the input and output matrices as raw
#: little-endian float32, ``rows x dim`` each, rows ``start .. start + rows - 1``.
MODEL_SCHEMA = _columns(
    start=IntegerType(), rows=IntegerType(), dim=IntegerType(), input=BinaryType(),
    output=BinaryType()
)

#: A model trained in vocabulary blocks (``train.strategy = "blocks"``): the table is
#: partitioned by ``matrix`` (``input`` or ``output``) and ``block`` directories; a row holds
#: local rows ``start .. start + rows - 1`` of that block of that matrix as raw little-endian
#: float32, ``rows x dim``.
BLOCK_MODEL_SCHEMA = _columns(
    matrix=StringType(), block=IntegerType(), start=IntegerType(), rows=IntegerType(),
    dim=IntegerType(), values=BinaryType()
)

#: Rows a training task sends back: the rows of one matrix it touched, in blocks.
TOUCHED_SCHEMA = _columns(
    partition=IntegerType(), matrix=StringType(), rows=BinaryType(), values=BinaryType(),
    pairs=LongType(), loss=DoubleType(), learning_rate=DoubleType(), seconds=DoubleType(),
    read_seconds=DoubleType()
)

#: The word vectors: plain arrays any Parquet reader can use.
EMBEDDINGS_SCHEMA = _columns(
    word=StringType(), word_id=IntegerType(), count=LongType(),
    vector=ArrayType(FloatType(), False)
)

#: One row per sync round.
METRICS_SCHEMA = _columns(
    epoch=IntegerType(), round=IntegerType(), loss=DoubleType(), learning_rate=DoubleType(),
    pairs=LongType(), pairs_per_sec=DoubleType(), seconds=DoubleType()
)

#: One chunk of a word2vec file being written: the formatted bytes of consecutive vectors.
VECTOR_CHUNKS_SCHEMA = _columns(chunk=BinaryType())


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
SEQUENCES_SCHEMA = _columns(
    sequence=StringType(), session=IntegerType(), line_id=LongType(),
    items=ArrayType(StringType(), False)
)

#: A user's taste: the weighted mean of the unit vectors of the user's items in the vocabulary.
USER_VECTORS_SCHEMA = _columns(
    user=StringType(), items=LongType(), vector=ArrayType(FloatType(), False)
)

#: Each user's top items by cosine with the user's vector, items already seen left out.
RECOMMENDATIONS_SCHEMA = _columns(
    user=StringType(), item=StringType(), score=FloatType(), rank=IntegerType()
)


# ---------------------------------------------------------------------------------------------
# the blocked top-k search of neighbors and recommendations

#: One block of vectors: ``rows`` is an Arrow IPC stream of the block's sorted ``id`` column
#: (and, in a block of queries, its ``excluded`` column: the candidate ids each query must not
#: get); ``units`` holds their unit vectors, ``rows x dim`` raw float32 in the same order.
VECTOR_BLOCKS_SCHEMA = _columns(
    block=IntegerType(), rows=BinaryType(), dim=IntegerType(), units=BinaryType()
)

#: A task's best neighbours of each of its query keys, before the final ranking.
NEIGHBOR_CANDIDATES_SCHEMA = _columns(key=StringType(), neighbor=StringType(), score=DoubleType())

#: A task's best unseen items for each of its users, before the final ranking.
RECOMMENDATION_CANDIDATES_SCHEMA = _columns(
    user=StringType(), word_id=IntegerType(), score=FloatType()
)


# ---------------------------------------------------------------------------------------------
# Arrow forms, for the rows tasks and the driver build with pyarrow

_ARROW_TYPES: tuple[tuple[type[DataType], pa.DataType], ...] = (
    (StringType, pa.string()),
    (IntegerType, pa.int32()),
    (LongType, pa.int64()),
    (FloatType, pa.float32()),
    (DoubleType, pa.float64()),
    (BinaryType, pa.binary()),
    (BooleanType, pa.bool_()),
)


def arrow_type(data_type: DataType) -> pa.DataType:
    """The Arrow type Spark exchanges for ``data_type``: the atomic types of these schemas, and
    arrays of them (whose element field is named ``element``, as Spark names it)."""
    if isinstance(data_type, ArrayType):
        element = pa.field("element", arrow_type(data_type.elementType),
                           nullable=data_type.containsNull)
        return pa.list_(element)
    for spark_type, arrow in _ARROW_TYPES:
        if type(data_type) is spark_type:
            return arrow
    raise TypeError(f"no Arrow type is declared for {_type_name(data_type)}")


def arrow_schema(schema: StructType) -> pa.Schema:
    """``schema`` in Arrow: the same column names, types and nullability."""
    return pa.schema(
        [pa.field(f.name, arrow_type(f.dataType), nullable=f.nullable) for f in schema.fields]
    )


TOKENS_ARROW = arrow_schema(TOKENS_SCHEMA)
PAIRS_OUT_ARROW = arrow_schema(PAIRS_OUT_SCHEMA)
EMBEDDINGS_ARROW = arrow_schema(EMBEDDINGS_SCHEMA)
USER_VECTORS_ARROW = arrow_schema(USER_VECTORS_SCHEMA)
VECTOR_BLOCKS_ARROW = arrow_schema(VECTOR_BLOCKS_SCHEMA)


def vector_column(vectors: np.ndarray) -> pa.Array:
    """The ``vector`` column of the embeddings table from (n, d) vectors: n lists of d
    float32, sharing one flat buffer."""
    n, dim = vectors.shape
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
    offsets = pa.array(np.arange(0, (n + 1) * dim, dim, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, flat).cast(EMBEDDINGS_ARROW.field("vector").type)


def vector_matrix(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The inverse of :func:`vector_column`: a list<float> column of n rows of d values as an
    (n, d) float32 array."""
    values = pc.list_flatten(column).to_numpy(zero_copy_only=False).astype(np.float32)
    n = len(column)
    return values.reshape(n, -1) if n else np.empty((0, 0), np.float32)
