"""Every schema declared once: the Arrow forms derived from the Spark ones (no Spark session)."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pyspark.sql.types import MapType, StringType, StructType

from w2v_spark.io import schemas


def _required(name: str, arrow: pa.DataType) -> pa.Field:
    return pa.field(name, arrow, nullable=False)


def _list_of(arrow: pa.DataType) -> pa.DataType:
    return pa.list_(pa.field("element", arrow, nullable=False))


#: The Arrow schemas as they were written out by hand before they were derived.
HAND_WRITTEN = {
    "TOKENS_ARROW": pa.schema([
        _required("line_id", pa.int64()), _required("chunk", pa.int32()),
        _required("tokens", _list_of(pa.string())),
    ]),
    "PAIRS_OUT_ARROW": pa.schema([
        _required("pairs", pa.int32()), _required("center", pa.binary()),
        _required("context", pa.binary()), _required("shard", pa.int32()),
    ]),
    "EMBEDDINGS_ARROW": pa.schema([
        _required("word", pa.string()), _required("word_id", pa.int32()),
        _required("count", pa.int64()), _required("vector", _list_of(pa.float32())),
    ]),
    "USER_VECTORS_ARROW": pa.schema([
        _required("user", pa.string()), _required("items", pa.int64()),
        _required("vector", _list_of(pa.float32())),
    ]),
}


@pytest.mark.parametrize("name", sorted(HAND_WRITTEN))
def test_derived_arrow_schemas_equal_the_hand_written_ones(name: str) -> None:
    derived = getattr(schemas, name)
    assert derived.equals(HAND_WRITTEN[name])
    assert str(derived) == str(HAND_WRITTEN[name])  # list element names and nullability too


def test_every_spark_schema_has_an_arrow_form() -> None:
    declared = {name: value for name, value in vars(schemas).items()
                if isinstance(value, StructType)}
    assert {"TOKENS_SCHEMA", "EMBEDDINGS_SCHEMA", "PAIRS_OUT_SCHEMA", "VOCAB_OFFSETS_SCHEMA",
            "VECTOR_CHUNKS_SCHEMA"} <= set(declared)
    for name, schema in declared.items():
        arrow = schemas.arrow_schema(schema)
        assert arrow.names == schema.fieldNames(), name
        assert [f.nullable for f in arrow] == [f.nullable for f in schema.fields], name


def test_vocab_offsets_are_nullable_like_the_ddl_they_replace() -> None:
    assert [(f.name, f.dataType.simpleString(), f.nullable)
            for f in schemas.VOCAB_OFFSETS_SCHEMA.fields] == [
        ("count", "bigint", True), ("before", "bigint", True)]


def test_an_undeclared_type_is_named() -> None:
    with pytest.raises(TypeError, match="map<string,string>"):
        schemas.arrow_type(MapType(StringType(), StringType()))
