"""The pipeline's wiring: each public ``*_stage`` function (and :func:`run_pipeline`, all of
them) holds the run in its output directory (:func:`w2v_spark.run.open_run`) and runs the
stage through :meth:`w2v_spark.run.Run.stage`, which skips it when it is recorded (with
``--resume``) and records it when its tables are complete. The stages themselves are in
:mod:`w2v_spark.stages`; every table is published by Spark's committer (or, for the model and
the embeddings, by :func:`w2v_spark.io.publish.publish_table`), which writes ``_SUCCESS``
last, and every reader refuses a table without it.

For items (``[input] format = events | baskets``) the tokenize stage also writes
``sequences/``, and the recommend stage ``neighbors/``, ``user_vectors/`` and
``recommendations/``. The layout is in :mod:`w2v_spark.io.layout`, what the run record
guarantees in :mod:`w2v_spark.run`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from pyspark.sql import SparkSession

from w2v_spark.config import Config
from w2v_spark.errors import CorruptError, OutputError
from w2v_spark.io import storage
from w2v_spark.io.inputs import check_input, input_fingerprint, input_is_path
from w2v_spark.io.layout import RunPaths
from w2v_spark.io.schemas import SEQUENCES
from w2v_spark.run import Run, open_run
from w2v_spark.stages.export import write_embeddings
from w2v_spark.stages.items import write_item_tokens
from w2v_spark.stages.pairs import write_pairs
from w2v_spark.stages.recommend import write_recommendations
from w2v_spark.stages.tokenize import write_tokens
from w2v_spark.stages.training import check_training, final_checkpoint, train_model
from w2v_spark.stages.vocab import write_vocab

__all__ = [
    "RunPaths", "export_stage", "pairs_stage", "recommend_stage", "run_pipeline",
    "tokenize_stage", "train_stage", "vocab_stage",
]

#: A stage's body: what it does to a held run, returning its facts.
Body = Callable[[Run], dict[str, Any]]


def run_pipeline(spark: SparkSession, cfg: Config, input_path: str, output: str,
                 overwrite: bool = False, resume: bool = False) -> dict[str, Any]:
    """Every stage, corpus to embeddings (and for items the recommend stage).

    A new run needs a new or empty ``output``, or one holding no complete stage (a run that
    failed); ``overwrite`` replaces a run there. With ``resume``, a run in ``output``
    continues: stages that are complete are skipped, training continues from its newest
    complete round, and everything after a stage that ran again is rewritten. The input and
    the settings must be the recorded ones.
    """
    with _input_run(spark, cfg, input_path, output, overwrite, resume) as (run, found):
        if not resume:
            _start(run, overwrite)
        stages: list[tuple[str, Body]] = [
            ("tokenize", partial(_tokenize, input_path=input_path, found=found)),
            ("vocab", _vocab), ("pairs", _pairs), ("train", partial(_train, resume=resume)),
            ("export", _export),
        ]
        if cfg.input.is_items:
            stages.append(("recommend", _recommend))
        return {name: run.stage(name, partial(body, run), resume=resume,
                                check=_check_for(name, run))
                for name, body in stages}


def tokenize_stage(spark: SparkSession, cfg: Config, input_path: str, output: str,
                   overwrite: bool = False, resume: bool = False) -> dict[str, Any]:
    """Read the input and write the tokens table (for items also the sequences table). It
    may start a run."""
    with _input_run(spark, cfg, input_path, output, overwrite, resume) as (run, found):
        if overwrite:
            run.clear()
        return run.stage("tokenize", partial(_tokenize, run, input_path=input_path,
                                             found=found), replace=overwrite, resume=resume)


def vocab_stage(spark: SparkSession, cfg: Config, output: str, overwrite: bool = False,
                resume: bool = False) -> dict[str, Any]:
    """Count the vocabulary of the tokens table and write the vocab table."""
    return _stage_command(spark, cfg, output, "vocab", _vocab, overwrite, resume)


def pairs_stage(spark: SparkSession, cfg: Config, output: str, overwrite: bool = False,
                resume: bool = False) -> dict[str, Any]:
    """Write the skip-gram pairs of every epoch, one directory per epoch and shard."""
    return _stage_command(spark, cfg, output, "pairs", _pairs, overwrite, resume)


def train_stage(spark: SparkSession, cfg: Config, output: str, overwrite: bool = False,
                resume: bool = False) -> dict[str, Any]:
    """Train the model on the pairs, writing a checkpoint after every sync round and the
    per-round metrics table at the end. With ``resume``, continue from the newest complete
    round: the model after round ``r`` and every draw of later rounds depend only on the
    config, the pairs and ``r``, so the result is the one an uninterrupted run gives."""
    return _stage_command(spark, cfg, output, "train", partial(_train, resume=resume),
                          overwrite, resume)


def export_stage(spark: SparkSession, cfg: Config, output: str, overwrite: bool = False,
                 resume: bool = False) -> dict[str, Any]:
    """Write the embeddings table from the final checkpoint and the vocabulary."""
    return _stage_command(spark, cfg, output, "export", _export, overwrite, resume)


def recommend_stage(spark: SparkSession, cfg: Config, output: str, overwrite: bool = False,
                    resume: bool = False) -> dict[str, Any]:
    """From the embeddings of an items run: the neighbors table, and for events the
    user_vectors and recommendations tables (``[items]`` says how many of each)."""
    return _stage_command(spark, cfg, output, "recommend", _recommend, overwrite, resume)


# ---------------------------------------------------------------------------------------------
# holding a run


def _exclusive(overwrite: bool, resume: bool) -> None:
    if overwrite and resume:
        raise OutputError("--overwrite and --resume exclude each other: --overwrite starts the "
                          "run again, --resume continues it")


@contextmanager
def _input_run(spark: SparkSession, cfg: Config, input_path: str, output: str,
               overwrite: bool, resume: bool) -> Iterator[tuple[Run, dict[str, Any]]]:
    """Check the input, hold the run in ``output`` (creating it) and, with ``resume``, check
    that it continues the same input and settings; yields the run and the input's
    fingerprint."""
    _exclusive(overwrite, resume)
    is_path = input_is_path(cfg.input)
    check_input(spark, cfg.input, input_path)
    with open_run(spark, cfg, output, creates=True, input_path=input_path,
                  input_is_path=is_path) as run:
        found = input_fingerprint(spark, input_path) if is_path else {"table": input_path}
        if resume:
            run.check_resumable(found)
        yield run, found


def _start(run: Run, overwrite: bool) -> None:
    """Begin a new run in ``run.root``: refuse to replace a run that has complete stages
    unless ``overwrite``; then clear what a run wrote there."""
    try:
        done = run.finished_stages()
        training = bool(run.record().get("train_rounds"))
    except CorruptError:
        if not overwrite:
            raise
        done, training = [], False
    if (done or training) and not overwrite:
        what = ", ".join(done) + (" and training rounds" if training else "")
        raise OutputError(
            f"the output directory {run.root} holds a run (complete: {what}); pass "
            "--overwrite to replace it, --resume to continue it, or choose another --output"
        )
    run.clear()


def _stage_command(spark: SparkSession, cfg: Config, output: str, name: str, body: Body,
                   overwrite: bool, resume: bool) -> dict[str, Any]:
    """One stage alone, on a run in ``output``: with ``overwrite`` its tables (and every
    table made from them) are replaced; with ``resume`` it is skipped when complete."""
    _exclusive(overwrite, resume)
    with open_run(spark, cfg, output, creates=False) as run:
        if resume:
            run.check_resumable(None)
        return run.stage(name, partial(body, run), replace=overwrite, resume=resume,
                         check=_check_for(name, run))


# ---------------------------------------------------------------------------------------------
# the stages on a held run, and what each checks before anything of it is replaced


def _tokenize(run: Run, input_path: str, found: dict[str, Any]) -> dict[str, Any]:
    body = write_item_tokens if run.cfg.input.is_items else write_tokens
    return body(run.spark, run.cfg, run.paths, input_path, found)


def _vocab(run: Run) -> dict[str, Any]:
    return write_vocab(run.spark, run.cfg.vocab, run.paths)


def _pairs(run: Run) -> dict[str, Any]:
    return write_pairs(run.spark, run.cfg, run.paths)


def _train(run: Run, resume: bool) -> dict[str, Any]:
    recorded = run.record().get("train_rounds", []) if resume else None
    return train_model(run.spark, run.cfg, run.paths, recorded, run.record_round)


def _export(run: Run) -> dict[str, Any]:
    return write_embeddings(run.spark, run.paths, _final_checkpoint(run))


def _recommend(run: Run) -> dict[str, Any]:
    return write_recommendations(run.spark, run.cfg, run.paths)


def _final_checkpoint(run: Run) -> str:
    trained = run.finished("train")
    return final_checkpoint(run.spark, run.paths,
                            None if trained is None else int(trained["rounds"]))


def _train_check(run: Run) -> None:
    check_training(run.spark, run.cfg, run.paths, run.record()["stages"].get("pairs", {}))


def _export_check(run: Run) -> None:
    storage.check_table(run.spark, _final_checkpoint(run), "model")


def _recommend_check(run: Run) -> None:
    if run.cfg.input.format == "events" and run.cfg.items.recommendations > 0:
        storage.check_table(run.spark, run.table(SEQUENCES), "sequences")


def _check_for(name: str, run: Run) -> Callable[[], None] | None:
    """What stage ``name`` checks before anything of it is replaced."""
    check = {"train": _train_check, "export": _export_check,
             "recommend": _recommend_check}.get(name)
    return None if check is None else partial(check, run)
