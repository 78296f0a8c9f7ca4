"""A run's output directory: its record ``run.json``, its lock, what ``--overwrite`` may
replace, and the one wrapper every stage goes through (:meth:`Run.stage`).

The layout under the output directory is in :mod:`w2v_spark.io.layout`, what an output
location holds and whether it overlaps the input in :mod:`w2v_spark.run_output`, and the lock in
:mod:`w2v_spark.run_lock`.

What holds:

* **The record describes only what is on disk.** A stage is recorded (its facts, the settings
  its tables depend on, the tables it wrote) after its tables are complete. Before a stage
  writes, the records of it and of every stage after it are removed, and then their tables
  deleted: they were made from what is being replaced.
* **``--overwrite`` replaces only what a run wrote.** Only a directory holding a run record is
  a run; in it only the entries named above are deleted. Any other non-empty directory is
  refused, with or without ``--overwrite``. An output holding no complete stage (a run that
  failed) is reused without ``--overwrite``.
* **One command at a time.** ``run.lock`` holds the owner's host and pid. On the local file
  system it is held with ``flock``, which the kernel releases when the process dies, so the
  lock of a killed driver is recognised as stale; on other file systems it is created
  atomically by the file system, and a stale one is recognised when its owner ran on this host
  and is gone (else the message says which file to delete).
* **Resume continues the same run or nothing.** With ``--resume`` every recorded stage's
  settings and the input's fingerprint must equal the current ones; a stage is skipped when it
  is recorded and its tables are complete and match their checksums.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

from pyspark.sql import SparkSession

from w2v_spark import fingerprint
from w2v_spark.config import Config
from w2v_spark.errors import CorruptError, InputError, Interrupted, OutputError, ResumeError
from w2v_spark.io import storage
from w2v_spark.io.layout import LOCK, OWN_ENTRIES, RECORD, STAGE_OUTPUTS, STAGES, RunPaths
from w2v_spark.io.schemas import EMBEDDINGS, MODEL, PAIRS, TOKENS, VOCAB
from w2v_spark.run_lock import RunLock
from w2v_spark.run_output import check_overlap, inspect_output

log = logging.getLogger(__name__)

#: Version of the record's layout (records without one are read as the first layout).
RECORD_FORMAT = 2

#: Facts a stage records but does not report.
RECORD_ONLY = ("input_fingerprint", "tables")

#: The tables each stage reads, checked before anything of the stage is replaced.
STAGE_INPUTS: dict[str, tuple[str, ...]] = {
    "tokenize": (),
    "vocab": (TOKENS,),
    "pairs": (TOKENS, VOCAB),
    "train": (VOCAB, PAIRS),
    "export": (VOCAB,),
    "recommend": (EMBEDDINGS,),
}


def _listing(entries: tuple[str, ...], most: int = 5) -> str:
    shown = ", ".join(entries[:most])
    return shown + (f" and {len(entries) - most} more" if len(entries) > most else "")


# ---------------------------------------------------------------------------------------------
# the record and the stages


def read_record(spark: SparkSession, root: str) -> dict[str, Any]:
    """The run record under ``root`` (an empty one when there is none); a damaged record is a
    :class:`CorruptError` naming the file."""
    path = storage.join(root, RECORD)
    if not storage.exists(spark, path) and not storage.exists(spark, path + ".tmp"):
        return {"format": RECORD_FORMAT, "stages": {}}
    try:
        data = json.loads(storage.read_text(spark, path))
    except Exception as exc:  # ChecksumException through py4j, or a JSON error
        raise CorruptError(
            f"the run record {path} is damaged ({storage.java_reason(exc)}): the run cannot "
            "be continued; start it again with --overwrite"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("stages"), dict):
        raise CorruptError(
            f"the run record {path} is not a w2v_spark run record; start the run again with "
            "--overwrite"
        )
    return _upgrade(data)


def _upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """A record of the first layout (one fingerprint for the whole run) in today's layout."""
    if data.get("format") == RECORD_FORMAT:
        return data
    recorded = data.pop("fingerprint", {})
    settings = recorded.get("settings", {})
    for name, facts in data["stages"].items():
        if name in STAGES:
            facts.setdefault("settings", fingerprint.stage_settings(name, settings))
    if "tokenize" in data["stages"] and "input" in recorded:
        data["stages"]["tokenize"].setdefault("input_fingerprint", recorded["input"])
    if data.get("train_rounds"):
        data.setdefault("training", {"settings": fingerprint.stage_settings("train", settings)})
    data.pop("config", None)
    data["format"] = RECORD_FORMAT
    return data


def result_settings(spark: SparkSession, cfg: Config) -> dict[str, Any]:
    """The settings that change results, with the session's effective Spark values."""
    keys = (*fingerprint.SPARK_RESULT_SETTINGS, fingerprint.MIN_SPLITS_KEY)
    values = {key: spark.conf.get(key, None) for key in keys}
    settings = fingerprint.result_settings(cfg, values)
    settings[fingerprint.MIN_SPLITS_KEY] = (
        values[fingerprint.MIN_SPLITS_KEY] or str(fingerprint.MIN_FILE_SPLITS)
    )
    return settings


class Run:
    """One output directory while a command holds its lock: reads and writes its record, and
    runs stages through :meth:`stage`."""

    def __init__(self, spark: SparkSession, cfg: Config, root: str) -> None:
        self.spark = spark
        self.cfg = cfg
        self.root = root
        self.paths = RunPaths(root)
        self.settings = result_settings(spark, cfg)
        self.current: str | None = None
        self._record: dict[str, Any] | None = None

    def table(self, name: str) -> str:
        """Path of one table (or file) under the root."""
        return self.paths.table(name)

    # -- the record

    def record(self) -> dict[str, Any]:
        """A copy of the record: read from disk the first time, then as this run last wrote
        it (the run's lock keeps every other command from writing it meanwhile, and training
        records a round at a time: reading the whole record back each time would cost time
        that grows with the rounds)."""
        if self._record is None:
            self._record = read_record(self.spark, self.root)
        return copy.deepcopy(self._record)

    def write_record(self, record: dict[str, Any]) -> None:
        """Replace the record (written whole, then moved into place)."""
        record["format"] = RECORD_FORMAT
        self._record = None  # should the write fail, read what is on disk next time
        storage.write_text(self.spark, self.table(RECORD), json.dumps(record, indent=2) + "\n")
        self._record = copy.deepcopy(record)

    def update_record(self, change: Callable[[dict[str, Any]], None]) -> None:
        """Read the record, let ``change`` edit it in place, write it back."""
        record = self.record()
        change(record)
        self.write_record(record)


    def record_round(self, global_round: int, entry: dict[str, Any] | None) -> None:
        """Record training round ``global_round`` (after its checkpoint is complete); round 0
        (the initial model, ``entry`` None) starts the list and records the settings training
        runs with."""

        def change(record: dict[str, Any]) -> None:
            rounds = record.get("train_rounds", []) if global_round > 0 else []
            if global_round == 0:
                record["training"] = {"settings": self.stage_settings("train")}
            if entry is not None:
                del rounds[global_round - 1:]
                rounds.append(entry)
            record["train_rounds"] = rounds

        self.update_record(change)
    def stage_settings(self, stage: str) -> dict[str, Any]:
        """The current settings that the tables of ``stage`` depend on."""
        return fingerprint.stage_settings(stage, self.settings)

    # -- what is done

    def finished(self, stage: str, record: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """The recorded facts of ``stage`` when it is recorded and every table it wrote is
        complete and matches its checksums; else None (a damaged table is said in the log)."""
        facts = (record or self.record())["stages"].get(stage)
        if facts is None:
            return None
        for name in facts.get("tables", [t for t in STAGE_OUTPUTS[stage] if t != MODEL]):
            path = self.table(name)
            if not storage.is_complete(self.spark, path):
                return None
            problems = storage.checksum_problems(self.spark, path)
            if problems:
                log.warning("[%s] %s; the stage runs again", stage, "; ".join(problems))
                return None
        return dict(facts)

    def finished_stages(self) -> list[str]:
        """The stages whose tables are complete and recorded."""
        record = self.record()
        return [s for s in STAGES if self.finished(s, record) is not None]

    def check_resumable(self, input_fingerprint: dict[str, Any] | None) -> None:
        """Refuse to continue a run whose recorded settings or input differ from the current
        ones (``input_fingerprint``: the current input's, or None when not known)."""
        record = self.record()
        problems: list[str] = []
        recorded: list[tuple[str, dict[str, Any]]] = [
            (name, facts.get("settings", {})) for name, facts in record["stages"].items()
            if name in STAGES
        ]
        if "training" in record:
            recorded.append(("train", record["training"].get("settings", {})))
        for name, settings in recorded:
            for problem in fingerprint.settings_differences(settings, self.stage_settings(name)):
                if problem not in problems:
                    problems.append(problem)
        tokenized = record["stages"].get("tokenize", {})
        if input_fingerprint is not None and "input_fingerprint" in tokenized:
            problems += fingerprint.input_differences(tokenized["input_fingerprint"],
                                                      input_fingerprint)
        if problems:
            raise ResumeError(
                f"cannot resume the run in {self.root}: " + "; ".join(problems)
                + f". Resume with the recorded input and settings (see {RECORD}), or start "
                "again with --overwrite"
            )

    # -- replacing

    def clear_from(self, stage: str, keep_checkpoints: bool = False) -> None:
        """Forget ``stage`` and every stage after it, then delete their tables (the record
        first, so it never names a table that is gone). ``keep_checkpoints``: the train
        stage continues, so its checkpoints stay."""
        later = STAGES[STAGES.index(stage):]
        record = self.record()
        for name in later:
            record["stages"].pop(name, None)
        if "train" in later and not keep_checkpoints:
            record.pop("train_rounds", None)
            record.pop("training", None)
        self.write_record(record)
        removed = []
        for name in later:
            for table in STAGE_OUTPUTS[name]:
                if keep_checkpoints and table == MODEL:
                    continue
                path = self.table(table)
                if storage.exists(self.spark, path):
                    storage.delete(self.spark, path)
                    if name != stage:
                        removed.append(table)
        if removed:
            log.warning("[%s] removed the tables made from the ones it replaces: %s", stage,
                        ", ".join(removed))

    def clear(self) -> None:
        """Delete everything a run wrote here (not other entries, and not the lock) and start
        an empty record."""
        foreign = []
        for entry in storage.list_entries(self.spark, self.root):
            if entry in OWN_ENTRIES and entry not in (LOCK, f".{LOCK}.crc"):
                storage.delete(self.spark, self.table(entry))
            elif entry not in OWN_ENTRIES:
                foreign.append(entry)
        if foreign:
            log.warning("left alone in %s what a run does not write: %s", self.root,
                        _listing(tuple(foreign)))
        self.write_record({"stages": {}})

    # -- running a stage

    def stage(self, name: str, body: Callable[[], dict[str, Any]], *, replace: bool = False,
              resume: bool = False, check: Callable[[], None] | None = None
              ) -> dict[str, Any]:
        """Run one stage: with ``resume``, skip it when :meth:`finished`; refuse to replace
        its finished tables unless ``replace``; check the tables it reads
        (:data:`STAGE_INPUTS`) and run ``check``, so that bad input or settings are refused
        before anything is removed; clear it and the stages after it; run ``body`` (which
        returns the stage's facts, and may name extra tables it wrote under ``tables``);
        record it."""
        record = self.record()
        done = self.finished(name, record)
        if resume and done is not None:
            log.info("[%s] complete in %s; skipped", name, self.root)
            shown = {k: v for k, v in done.items() if k not in (*RECORD_ONLY, "settings")}
            return {**shown, "skipped": True}
        if done is not None and not replace:
            tables = ", ".join(done.get("tables", STAGE_OUTPUTS[name]))
            raise OutputError(
                f"the {name} stage is complete in {self.root} ({tables}); pass --overwrite to "
                "replace it (the tables made from it are removed too), or choose another "
                "--output"
            )
        for table in STAGE_INPUTS[name]:
            storage.check_table(self.spark, self.table(table), table)
        if check is not None:
            check()
        self.clear_from(name, keep_checkpoints=resume and name == "train")
        self.current = name
        try:
            facts = body()
        except KeyboardInterrupt:
            raise Interrupted(name, self.root) from None
        self.current = None
        extra = list(facts.pop("tables", []))
        written = [t for t in STAGE_OUTPUTS[name]
                   if t != MODEL and storage.is_complete(self.spark, self.table(t))]
        entry = {**facts, "settings": self.stage_settings(name), "tables": written + extra}
        self.update_record(lambda record: record["stages"].__setitem__(name, entry))
        return {k: v for k, v in facts.items() if k not in RECORD_ONLY}


@contextlib.contextmanager
def open_run(spark: SparkSession, cfg: Config, output: str, *, creates: bool,
             input_path: str | None = None, input_is_path: bool = True) -> Iterator[Run]:
    """Hold the run in ``output`` for the duration of a command.

    Args:
        creates: whether the command may start a run (``run``, ``tokenize``); the others
            need a run record in ``output``.
        input_path: the command's input, which the output must not overlap.
        input_is_path: False when ``input_path`` names a Spark SQL table.
    """
    if input_path is not None:
        check_overlap(spark, input_path, output, input_is_path)
    state = inspect_output(spark, output)
    if state.kind == "file":
        raise OutputError(
            f"the output {output} is a file, not a directory; choose another --output "
            "(--overwrite does not replace files)"
        )
    if state.kind == "foreign":
        raise OutputError(
            f"the output directory {output} is not empty and holds no w2v_spark run (no "
            f"{RECORD}; it holds {_listing(state.foreign_entries)}); --overwrite replaces only "
            "a run's own tables: choose a new or empty --output"
        )
    if not creates and state.kind != "run":
        raise InputError(
            f"{output} holds no run (no {RECORD}); run `w2v-spark run` or the tokenize stage "
            "into it first"
        )
    storage.check_writable_dir(spark, output)
    lock = RunLock(spark, output)
    lock.acquire()
    try:
        yield Run(spark, cfg, output)
    finally:
        lock.release()
