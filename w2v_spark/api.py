"""The Python API: train vectors from files or a DataFrame, load them back, and query them.

The names below are importable from :mod:`w2v_spark` itself. A whole run, on a generated
corpus with planted structure (``tmp`` is a directory, ``spark`` a session)::

    >>> from w2v_spark import train, write_demo_corpus
    >>> corpus = write_demo_corpus(tmp / "corpus.txt", sentences=3000)
    >>> emb = train(spark, corpus, tmp / "run", settings=["train.epochs=2"])
    >>> len(emb) > 50, emb.vector_size
    (True, 100)
    >>> "dog" in emb
    True

The run directory holds every table (``embeddings/`` among them) and ``run.json``; the
embeddings load back without training::

    >>> from w2v_spark import load_embeddings
    >>> again = load_embeddings(spark, str(tmp / "run"))
    >>> bool((again.vectors == emb.vectors).all())
    True

Items (songs in playlists, products in baskets) train the same way from an events table;
``[input]`` names its columns::

    >>> events = spark.createDataFrame(
    ...     [(f"u{u}", f"i{(u * 7 + k) % 40}", k) for u in range(200) for k in range(8)],
    ...     "user string, song string, position int")
    >>> items = train(spark, events, tmp / "items", settings=[
    ...     "input.format=events", "input.sequence_col=user", "input.item_col=song",
    ...     "input.order_col=position", "vocab.min_count=1", "train.epochs=1"])
    >>> sorted(items.words)[:3]
    ['i0', 'i1', 'i10']
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from w2v_spark.config import Config
from w2v_spark.config_loading import load_config, with_overrides
from w2v_spark.errors import ConfigError
from w2v_spark.io import storage
from w2v_spark.pipeline import run_pipeline
from w2v_spark.progress import show_progress
from w2v_spark.spark.session import build_session
from w2v_spark.synthetic.text import write_corpus
from w2v_spark.vectors.loading import load_embeddings
from w2v_spark.vectors.similarity import Embeddings

__all__ = ["Config", "Embeddings", "load_config", "load_embeddings", "session",
           "show_progress", "train", "write_demo_corpus"]

PathLike = str | os.PathLike[str]

#: What ``config`` and ``settings`` of :func:`train` accept.
ConfigLike = Config | PathLike | Sequence[PathLike] | None
SettingsLike = Sequence[str] | Mapping[str, Any]


def session(config: ConfigLike = None, settings: SettingsLike = ()) -> SparkSession:
    """A Spark session from the ``[spark]`` settings (the one ``spark-submit`` gives, else
    ``local[*]``), as the command line starts it."""
    return build_session(_config(config, settings).spark)


def train(spark: SparkSession, data: PathLike | DataFrame, output: PathLike,
          config: ConfigLike = None, settings: SettingsLike = (), *, overwrite: bool = False,
          resume: bool = False) -> Embeddings:
    """Run the whole pipeline on ``data`` into the run directory ``output`` and return the
    vectors.

    Args:
        data: a path (a file, a directory or a glob, on any file system Spark reads) of text
            lines, basket lines or an events CSV/Parquet, as ``[input] format`` says; or a
            DataFrame: of one string column of lines (text, baskets) or of events.
        output: the run directory; a new or empty one unless ``overwrite`` or ``resume``.
        config: a :class:`Config`, or TOML files loaded in order over the defaults.
        settings: overrides on top, as ``["train.epochs=3"]`` or ``{"train.epochs": 3}``.
        overwrite: replace a run in ``output``.
        resume: continue the run in ``output`` (with a DataFrame, it must hold the same rows:
            only the name it is read under is recorded).

    Raises:
        ConfigError, InputError, OutputError, ...: as the command line's ``run``.
    """
    cfg = _config(config, settings)
    out = str(output)
    if isinstance(data, DataFrame):
        name = _view_name(spark, out)
        data.createOrReplaceTempView(name)
        cfg = with_overrides(cfg, ["input.table_format=\"table\""])
        source = name
    else:
        source = str(data)
    run_pipeline(spark, cfg, source, out, overwrite=overwrite, resume=resume)
    return load_embeddings(spark, out)


def write_demo_corpus(path: PathLike, sentences: int = 20_000, seed: int = 0) -> str:
    """Write the generated corpus of the demo (sentences with planted word groups and
    analogies) to ``path``; return the path."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_corpus(path, num_sentences=sentences, seed=seed)
    return str(path)


def _view_name(spark: SparkSession, output: str) -> str:
    """The temporary view a DataFrame input is read under: named after the output directory,
    so that resuming the run reads it under the same name."""
    digest = hashlib.sha256(storage.qualify(spark, output).encode("utf-8")).hexdigest()
    return f"w2v_spark_input_{digest[:16]}"


def _config(config: ConfigLike, settings: SettingsLike) -> Config:
    overrides = [f"{key}={_toml(value)}" for key, value in settings.items()] if isinstance(
        settings, Mapping) else list(settings)
    if isinstance(config, Config):
        return with_overrides(config, overrides)
    if config is None:
        paths: list[PathLike] = []
    elif isinstance(config, str | os.PathLike):
        paths = [config]
    else:
        paths = list(config)
    return load_config(paths, overrides)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise ConfigError(f"a setting's value must be a bool, number or string, got {value!r}")
