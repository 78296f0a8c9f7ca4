"""A run's output directory: its record ``run.json``, its lock, what ``--overwrite`` may
replace, and the one wrapper every stage goes through (:meth:`Run.stage`).

The layout under the output directory is in :mod:`w2v_spark.io.layout`.

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
import datetime
import json
import logging
import os
import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pyspark.sql import SparkSession

from w2v_spark import fingerprint
from w2v_spark.config import Config
from w2v_spark.errors import CorruptError, InputError, Interrupted, OutputError, ResumeError
from w2v_spark.io import storage
from w2v_spark.io.layout import LOCK, RECORD, RunPaths
from w2v_spark.io.schemas import (
    EMBEDDINGS,
    METRICS,
    MODEL,
    NEIGHBORS,
    PAIRS,
    RECOMMENDATIONS,
    SEQUENCES,
    TOKENS,
    USER_VECTORS,
    VOCAB,
)

log = logging.getLogger(__name__)

#: Version of the record's layout (records without one are read as the first layout).
RECORD_FORMAT = 2

#: The stages in pipeline order, and the tables each writes.
STAGES = ("tokenize", "vocab", "pairs", "train", "export", "recommend")
STAGE_OUTPUTS: dict[str, tuple[str, ...]] = {
    "tokenize": (TOKENS, SEQUENCES),
    "vocab": (VOCAB,),
    "pairs": (PAIRS,),
    "train": (MODEL, METRICS),
    "export": (EMBEDDINGS,),
    "recommend": (NEIGHBORS, USER_VECTORS, RECOMMENDATIONS),
}

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

_FILES = (RECORD, RECORD + ".tmp", LOCK, storage.WRITE_PROBE)
#: Every entry a run writes directly under its output directory.
OWN_ENTRIES = frozenset(
    {t for tables in STAGE_OUTPUTS.values() for t in tables}
    | set(_FILES) | {f".{name}.crc" for name in _FILES}
)


# ---------------------------------------------------------------------------------------------
# what the output directory holds


@dataclass(frozen=True)
class OutputState:
    """What an output location holds: ``kind`` is ``missing``, ``empty``, ``file``, ``run``
    (a directory with a run record) or ``foreign`` (anything else); ``foreign_entries`` are
    the entries a run does not write (for ``foreign``: every entry, when all have the names
    of a run's tables but there is no record)."""

    kind: str
    foreign_entries: tuple[str, ...] = ()


def _is_record(spark: SparkSession, path: str) -> bool:
    try:
        data = json.loads(storage.read_text(spark, path))
    except Exception:
        return False
    return isinstance(data, dict) and isinstance(data.get("stages"), dict)


def inspect_output(spark: SparkSession, output: str) -> OutputState:
    """Classify ``output`` (see :class:`OutputState`). A directory is a run when its record
    parses as one, or, when the record is damaged, when it holds nothing a run does not
    write."""
    if not storage.exists(spark, output):
        return OutputState("missing")
    if storage.is_file(spark, output):
        return OutputState("file")
    entries = storage.list_entries(spark, output)
    if not entries:
        return OutputState("empty")
    foreign = tuple(e for e in entries if e not in OWN_ENTRIES)
    has_record = RECORD in entries or RECORD + ".tmp" in entries
    if has_record and (not foreign or _is_record(spark, storage.join(output, RECORD))):
        return OutputState("run", foreign)
    if entries == [LOCK]:
        return OutputState("empty")
    return OutputState("foreign", foreign or tuple(entries))


def _listing(entries: tuple[str, ...], most: int = 5) -> str:
    shown = ", ".join(entries[:most])
    return shown + (f" and {len(entries) - most} more" if len(entries) > most else "")


def check_overlap(spark: SparkSession, input_path: str, output: str,
                  input_is_path: bool = True) -> None:
    """Refuse an output that would contain, or lie inside, the input: the input's directory
    part before any glob character and every file it reads, with symbolic links resolved on
    the local file system (on other file systems the qualified names are compared).
    ``input_is_path=False``: the input is a table name, nothing to check."""
    if not input_is_path:
        return
    out = storage.resolved(spark, output)
    base = storage.resolved(spark, _glob_base(input_path))
    overlaps = storage.contains(out, base) or storage.contains(base, out)
    if not overlaps and storage.exists(spark, output):
        files = storage.input_files(spark, input_path)
        overlaps = any(storage.contains(out, storage.resolved(spark, f.path)) for f in files)
    if overlaps:
        raise OutputError(
            f"the output {output} and the input {input_path} overlap (symbolic links "
            "followed); choose an output directory outside the input"
        )


def _glob_base(path: str) -> str:
    """The directory part of ``path`` before any glob character (the path itself if none)."""
    cut = min((i for i, ch in enumerate(path) if ch in "*?[{"), default=-1)
    if cut < 0:
        return path
    return path[:cut].rsplit("/", 1)[0] or "/"


# ---------------------------------------------------------------------------------------------
# the lock


def _owner() -> dict[str, Any]:
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
    }


def _describe(owner: dict[str, Any] | None) -> str:
    if not owner:
        return "another command"
    return (f"another command (pid {owner.get('pid')} on {owner.get('host')}, started "
            f"{owner.get('started')}: {owner.get('command', '')[:200]})")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """The lock of one output directory, held while a command works in it."""

    def __init__(self, spark: SparkSession, root: str) -> None:
        self.spark = spark
        self.root = root
        self.path = storage.join(root, LOCK)
        self._fd: int | None = None
        self._local: str | None = None
        self._held = False

    def acquire(self) -> None:
        """Take the lock, or raise :class:`OutputError` naming the command that holds it."""
        local = storage.local_path(storage.qualify(self.spark, self.path))
        if local is not None:
            self._acquire_local(local)
        else:
            self._acquire_remote()
        self._held = True

    def _busy(self, owner: dict[str, Any] | None, remedy: str = "") -> OutputError:
        return OutputError(
            f"{_describe(owner)} is working in {self.root}: two commands cannot use one "
            f"output at once; wait for it to finish{remedy}"
        )

    def _acquire_local(self, path: str) -> None:
        import fcntl

        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = _parse_owner(os.pread(fd, 1 << 16, 0))
                os.close(fd)
                raise self._busy(owner) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # its holder removed it as we opened it: take the new one
                os.close(fd)
                continue
            stale = _parse_owner(os.pread(fd, 1 << 16, 0))
            if stale:
                log.warning("took over the lock of %s, which ended without releasing it",
                            _describe(stale))
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(_owner()).encode("utf-8"), 0)
            self._fd, self._local = fd, path
            return

    def _acquire_remote(self) -> None:
        for _ in range(2):
            try:
                storage.create_new(self.spark, self.path, json.dumps(_owner()))
                return
            except FileExistsError:
                owner = _parse_owner(storage.read_text(self.spark, self.path).encode("utf-8"))
                if (owner and owner.get("host") == socket.gethostname()
                        and not _pid_alive(int(owner.get("pid", -1)))):
                    log.warning("removed the stale lock of %s", _describe(owner))
                    storage.delete(self.spark, self.path)
                    continue
                raise self._busy(owner, f"; if it is no longer running, delete {self.path}"
                                 ) from None
        raise self._busy(None)

    def release(self) -> None:
        """Give the lock up (removing its file).

        A local lock is released without the JVM, which may be gone when the command was
        interrupted; a remote one that cannot be removed is named in a warning (the next
        command on this host takes it over once this process has ended)."""
        if not self._held:
            return
        self._held = False
        if self._fd is not None:
            with contextlib.suppress(FileNotFoundError):
                if self._local is not None:
                    os.unlink(self._local)
            os.close(self._fd)
            self._fd = self._local = None
            return
        try:
            storage.delete(self.spark, self.path)
        except Exception as exc:  # the JVM may be gone after an interrupt
            log.warning("could not remove the lock %s (%s); delete it if no command is "
                        "working in %s", self.path, type(exc).__name__, self.root)


def _parse_owner(data: bytes) -> dict[str, Any] | None:
    try:
        owner = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


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

    def table(self, name: str) -> str:
        """Path of one table (or file) under the root."""
        return self.paths.table(name)

    # -- the record

    def record(self) -> dict[str, Any]:
        """The record as it is on disk now."""
        return read_record(self.spark, self.root)

    def write_record(self, record: dict[str, Any]) -> None:
        """Replace the record (written whole, then moved into place)."""
        record["format"] = RECORD_FORMAT
        storage.write_text(self.spark, self.table(RECORD), json.dumps(record, indent=2) + "\n")

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
