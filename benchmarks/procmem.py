"""Peak memory of a command and every process it starts, sampled in a background thread.

A benchmarked system runs as one child process; Spark's JVM is started by it and the Python
workers by the JVM, so the process tree under the child holds all of them. Every ``interval``
seconds the sampler reads the resident set size (RSS) of each process in the tree and keeps:

- ``total_mb``: the largest sum over the whole tree;
- ``driver_mb``: the largest sum of the driver side (the Python driver and the JVM);
- ``workers_mb``: the largest sum over the Python workers (``pyspark.daemon`` and the workers it
  forks; forked workers share pages, so the sum overstates what they use together);
- ``driver_python_hwm_mb``, ``jvm_hwm_mb``, ``worker_max_hwm_mb``: the kernel's own high-water
  mark of resident memory (``VmHWM``) of the Python driver, the JVM and the largest single Python
  worker, exact even between samples (Linux; elsewhere the largest sampled RSS).

Needs psutil (the ``bench`` extra).
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import psutil

MB = 1 << 20


def classify(cmdline: Sequence[str], name: str) -> str:
    """``worker`` for a PySpark Python worker or daemon, ``jvm`` for a Java process, else
    ``driver`` (the benchmarked Python process itself and any launcher shell)."""
    joined = " ".join(cmdline)
    if "pyspark.daemon" in joined or "pyspark.worker" in joined:
        return "worker"
    if name == "java" or (cmdline and cmdline[0].endswith("/java")):
        return "jvm"
    return "driver"


def _hwm_bytes(pid: int) -> int | None:
    """``VmHWM`` of a process in bytes, or None where /proc does not have it."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


@dataclass
class Peaks:
    """Peak memory in MB (see the module docstring for each field)."""

    total_mb: float = 0.0
    driver_mb: float = 0.0
    workers_mb: float = 0.0
    driver_python_hwm_mb: float = 0.0
    jvm_hwm_mb: float = 0.0
    worker_max_hwm_mb: float = 0.0
    max_workers: int = 0
    samples: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Rounded to 0.1 MB."""
        return {k: round(v, 1) if isinstance(v, float) else v for k, v in asdict(self).items()}


@dataclass
class TreeSampler:
    """Samples the memory of ``root_pid`` and its descendants until :meth:`stop`."""

    root_pid: int
    interval: float = 0.2
    peaks: Peaks = field(default_factory=Peaks)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _kinds: dict[int, str] = field(default_factory=dict)

    def start(self) -> TreeSampler:
        """Start sampling in a daemon thread."""
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> Peaks:
        """Take a last sample, stop the thread and return the peaks."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.peaks

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def _kind(self, proc: psutil.Process) -> str:
        # Only final kinds are cached: spark-submit's shell scripts exec the JVM in place,
        # so a process first seen as a launcher becomes the JVM under the same pid.
        kind = self._kinds.get(proc.pid) or classify(proc.cmdline(), proc.name())
        if kind != "driver":
            self._kinds[proc.pid] = kind
        return kind

    def sample(self) -> None:
        """Read the tree once and update the peaks."""
        try:
            root = psutil.Process(self.root_pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        sums = {"driver": 0, "jvm": 0, "worker": 0}
        workers = 0
        p = self.peaks
        for proc in procs:
            try:
                kind = self._kind(proc)
                rss = proc.memory_info().rss
            except psutil.Error:
                continue
            hwm = max(_hwm_bytes(proc.pid) or 0, rss) / MB
            sums[kind] += rss
            if kind == "worker":
                workers += 1
                p.worker_max_hwm_mb = max(p.worker_max_hwm_mb, hwm)
            elif kind == "jvm":
                p.jvm_hwm_mb = max(p.jvm_hwm_mb, hwm)
            elif proc.pid == self.root_pid:
                p.driver_python_hwm_mb = max(p.driver_python_hwm_mb, hwm)
        p.total_mb = max(p.total_mb, sum(sums.values()) / MB)
        p.driver_mb = max(p.driver_mb, (sums["driver"] + sums["jvm"]) / MB)
        p.workers_mb = max(p.workers_mb, sums["worker"] / MB)
        p.max_workers = max(p.max_workers, workers)
        p.samples += 1


@dataclass(frozen=True)
class Measured:
    """A finished command: exit code, wall seconds and memory peaks."""

    returncode: int
    seconds: float
    peaks: Peaks


def run_measured(cmd: Sequence[str], env: Mapping[str, str] | None = None,
                 interval: float = 0.2, cwd: str | None = None) -> Measured:
    """Run ``cmd`` to completion (output passes through) while sampling its process tree."""
    started = time.perf_counter()
    proc = subprocess.Popen(list(cmd), env=dict(env) if env is not None else None, cwd=cwd)
    sampler = TreeSampler(proc.pid, interval).start()
    try:
        code = proc.wait()
    finally:
        peaks = sampler.stop()
        if proc.poll() is None:
            proc.kill()
    return Measured(code, time.perf_counter() - started, peaks)
