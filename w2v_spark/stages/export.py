"""Stage 5: the embeddings table from the final model and the vocabulary.

The table is written by the driver with :func:`w2v_spark.io.publish.publish_table`, so the
same model and vocabulary give the same files, byte for byte, on every run.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
from pyspark.sql import SparkSession

from w2v_spark.core.blocks import VocabBlocks, vocab_blocks
from w2v_spark.errors import SchemaError
from w2v_spark.io import storage
from w2v_spark.io.layout import RunPaths
from w2v_spark.io.publish import publish_parts, publish_table
from w2v_spark.io.schemas import EMBEDDINGS, EMBEDDINGS_ARROW, MODEL_SCHEMA, vector_column
from w2v_spark.stages.block_train import block_dir, is_block_model, model_blocks, tiles
from w2v_spark.stages.train import input_vectors_from_frame
from w2v_spark.stages.vocab import Vocabulary, read_vocabulary


def embeddings_arrow(words: pa.Array, counts: np.ndarray, vectors: np.ndarray) -> pa.Table:
    """The embeddings table (:data:`EMBEDDINGS_ARROW`), one row per word in id order.

    Args:
        words: (V,) strings, word ``i`` at position ``i``.
        counts: (V,) corpus counts.
        vectors: (V, d) float32 input vectors.
    """
    size = len(words)
    if counts.shape != (size,) or vectors.ndim != 2 or vectors.shape[0] != size:
        raise SchemaError(
            f"the vocabulary has {size} words and {counts.shape[0]} counts but the model has "
            f"{vectors.shape[0]} rows: they are not from the same run"
        )
    return pa.Table.from_arrays(
        [words.cast(pa.string()), pa.array(np.arange(size, dtype=np.int32)),
         pa.array(counts.astype(np.int64)), vector_column(vectors)],
        schema=EMBEDDINGS_ARROW,
    )


def write_embeddings(spark: SparkSession, paths: RunPaths, checkpoint: str) -> dict[str, Any]:
    """The export stage: the embeddings table of a run from its final ``checkpoint`` and its
    vocabulary; returns the stage's facts. A model trained in blocks is written row by row of
    its block files (the driver holds one of them, at most 32 MiB of vectors, at a time), its
    words in block order."""
    started = time.perf_counter()
    vocab = read_vocabulary(spark, paths)
    if is_block_model(spark, checkpoint):
        blocks = vocab_blocks(vocab.counts, model_blocks(spark, checkpoint))
        publish_parts(spark, (table for b in range(blocks.num_blocks)
                              for table in _block_embeddings(spark, checkpoint, vocab, blocks, b)),
                      paths.table(EMBEDDINGS))
    else:
        vectors = input_vectors_from_frame(storage.read_table(spark, checkpoint, "model",
                                                              MODEL_SCHEMA))
        publish_table(spark, embeddings_arrow(vocab.words, vocab.counts, vectors),
                      paths.table(EMBEDDINGS))
    return {"checkpoint": checkpoint, "seconds": round(time.perf_counter() - started, 3)}


def _block_embeddings(spark: SparkSession, checkpoint: str, vocab: Vocabulary,
                      blocks: VocabBlocks, block: int) -> Iterator[pa.Table]:
    """The embeddings rows of the words of one block of a model trained in blocks, a table
    per row of its files (:func:`w2v_spark.stages.block_train.block_rows`), in word order.

    Raises:
        SchemaError: the block's rows do not tile its words exactly once.
    """
    ids = blocks.ids(block)
    rows = (spark.read.parquet(block_dir(checkpoint, "input", block))
            .select("start", "rows", "dim", "values").orderBy("start").toLocalIterator())
    parts = ((int(r["start"]), int(r["rows"]), int(r["dim"]), r["values"]) for r in rows)
    try:
        for start, count, dim, values in tiles(parts, ids.size):
            part = ids[start : start + count]
            yield pa.Table.from_arrays(
                [vocab.words.take(pa.array(part)).cast(pa.string()),
                 pa.array(part.astype(np.int32)), pa.array(vocab.counts[part].astype(np.int64)),
                 vector_column(np.frombuffer(values, dtype="<f4").reshape(count, dim))],
                schema=EMBEDDINGS_ARROW,
            )
    except ValueError as err:
        raise SchemaError(f"the rows of block {block} of {checkpoint} do not tile its "
                          f"{ids.size} words exactly once: the model is damaged") from err
