"""The lock of a run's output directory (``run.lock``), held while one command works in it.

The lock file holds the owner's host and pid. On the local file system it is held with
``flock``, released by the kernel when the process dies; on other file systems it is created
atomically, and a stale one is taken over when its owner ran on this host and is gone (the
guarantees are in :mod:`w2v_spark.run`).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
import socket
import sys
from typing import Any

from pyspark.sql import SparkSession

from w2v_spark.errors import OutputError
from w2v_spark.io import storage
from w2v_spark.io.layout import LOCK

log = logging.getLogger(__name__)


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
