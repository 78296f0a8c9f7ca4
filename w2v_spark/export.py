"""Stage 5: the embeddings table from the final model and the vocabulary."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, FloatType, IntegerType, StructField, StructType

from w2v_spark.errors import SchemaError
from w2v_spark.schemas import EMBEDDINGS_SCHEMA

_ROWS_SCHEMA = StructType(
    [
        StructField("word_id", IntegerType(), False),
        StructField("vector", ArrayType(FloatType(), False), False),
    ]
)
_ROWS_ARROW = pa.schema(
    [
        pa.field("word_id", pa.int32(), nullable=False),
        pa.field("vector", pa.list_(pa.field("element", pa.float32(), nullable=False)),
                 nullable=False),
    ]
)


def _explode_blocks(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: checkpoint blocks to one (word_id, vector) row per word."""
    for batch in batches:
        for block in batch.to_pylist():
            rows, dim = block["rows"], block["dim"]
            values = np.frombuffer(block["input"], dtype=np.float32)
            if values.size != rows * dim:
                raise ValueError(f"model block at row {block['start']} has the wrong size")
            offsets = np.arange(0, (rows + 1) * dim, dim, dtype=np.int32)
            yield pa.RecordBatch.from_arrays(
                [
                    pa.array(np.arange(block["start"], block["start"] + rows, dtype=np.int32)),
                    pa.ListArray.from_arrays(pa.array(offsets), pa.array(values)).cast(
                        _ROWS_ARROW.field("vector").type
                    ),
                ],
                schema=_ROWS_ARROW,
            )


def embeddings_table(model: DataFrame, vocab: DataFrame) -> DataFrame:
    """Join the model's input vectors with the vocabulary.

    Args:
        model: a checkpoint table (:data:`~w2v_spark.schemas.MODEL_SCHEMA`).
        vocab: the vocab table.

    Returns:
        :data:`~w2v_spark.schemas.EMBEDDINGS_SCHEMA` rows ordered by ``word_id``.
    """
    for name, frame, needed in (
        ("model", model, {"start", "rows", "dim", "input"}),
        ("vocab", vocab, {"word", "word_id", "count"}),
    ):
        missing = needed - set(frame.columns)
        if missing:
            raise SchemaError(f"the {name} table lacks column(s) {sorted(missing)}")
    vectors = model.select("start", "rows", "dim", "input").mapInArrow(
        _explode_blocks, _ROWS_SCHEMA
    )
    joined = vocab.join(vectors, on="word_id", how="inner")
    return joined.select(
        [F.col(f.name).cast(f.dataType).alias(f.name) for f in EMBEDDINGS_SCHEMA.fields]
    ).orderBy("word_id")
