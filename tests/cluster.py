"""A real Spark standalone cluster (one master, N workers) on 127.0.0.1 for tests.

The master and the workers are started from the installed ``pyspark`` package with
``$SPARK_HOME/bin/spark-class`` (which ``exec``\\ s the JVM, so the PID of each
:class:`subprocess.Popen` is the JVM itself). Every daemon runs in its own session and process
group, so stopping a daemon by process group also stops the executor JVMs it launched. Nothing
listens on an interface other than loopback.

Example::

    with standalone_cluster(tmp_path, workers=2) as cluster:
        result = cluster.spark_submit(app_path, [str(out_dir)])
        assert result.returncode == 0, result.stderr + cluster.logs()
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from w2v_spark.spark.session import find_java

__all__ = ["StandaloneCluster", "spark_home", "standalone_cluster"]

LOOPBACK = "127.0.0.1"
MIN_JAVA_VERSION = 17
STOP_TIMEOUT = 15.0
KILL_TIMEOUT = 10.0
_MASTER_START_ATTEMPTS = 3
_POLL_INTERVAL = 0.5
_ATTEMPT_MARKER = "=== master start attempt"

_JAVA_HELP = (
    f"Java {MIN_JAVA_VERSION} (or newer) is required to run Spark 4 ({{problem}}). "
    "Install it with `apt-get install openjdk-17-jre-headless` (Debian/Ubuntu), "
    "or set JAVA_HOME to a Java 17 installation."
)

_LOG4J2_PROPERTIES = """\
# Written by tests.cluster: warnings only, except the standalone deploy messages.
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = console

appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex

logger.master.name = org.apache.spark.deploy.master
logger.master.level = info
logger.worker.name = org.apache.spark.deploy.worker
logger.worker.level = info
logger.jetty.name = org.sparkproject.jetty
logger.jetty.level = warn
logger.hadoopnative.name = org.apache.hadoop.util.NativeCodeLoader
logger.hadoopnative.level = error
logger.parquet.name = org.apache.parquet.CorruptStatistics
logger.parquet.level = error
"""

# Variables that would redirect the daemons or the submitted application elsewhere.
_SCRUBBED_ENV = (
    "MASTER",
    "SPARK_REMOTE",
    "SPARK_CONNECT_MODE_ENABLED",
    "SPARK_LOCAL_HOSTNAME",
    "SPARK_PUBLIC_DNS",
    "SPARK_MASTER_PORT",
    "SPARK_MASTER_WEBUI_PORT",
    "SPARK_MASTER_OPTS",
    "SPARK_WORKER_PORT",
    "SPARK_WORKER_WEBUI_PORT",
    "SPARK_WORKER_CORES",
    "SPARK_WORKER_MEMORY",
    "SPARK_WORKER_DIR",
    "SPARK_WORKER_OPTS",
    "PYSPARK_SUBMIT_ARGS",
    "PYSPARK_DRIVER_PYTHON_OPTS",
)


def spark_home() -> Path:
    """Return the Spark distribution bundled with the installed ``pyspark`` package."""
    import pyspark

    home = Path(pyspark.__file__).resolve().parent
    if not (home / "bin" / "spark-class").is_file() or not (home / "jars").is_dir():
        raise RuntimeError(f"the pyspark package at {home} has no bin/spark-class or jars/")
    return home


def _java_major_version(java: str, env: Mapping[str, str], timeout: float = 60.0) -> int | None:
    """Return the major version reported by ``java -version`` (``None`` if it is unreadable)."""
    try:
        proc = subprocess.run(
            [java, "-version"],
            capture_output=True,
            text=True,
            env=dict(env),
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', proc.stderr + proc.stdout)
    if match is None:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2) is not None:
        major = int(match.group(2))
    return major


def _free_ports(count: int) -> list[int]:
    """Return ``count`` distinct TCP ports that were free on 127.0.0.1 a moment ago."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((LOOPBACK, 0))
            sockets.append(sock)
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _tail(path: Path, max_lines: int = 40, max_chars: int = 6000) -> str:
    """Return the last lines of a text file, or a note when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    tail = "\n".join(text.splitlines()[-max_lines:])
    return tail[-max_chars:]


def _text_tail(text: str | bytes | None, max_lines: int = 40) -> str:
    """Return the last lines of captured process output."""
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-max_lines:])


def _process_table() -> dict[int, tuple[int, int, str]]:
    """Map every visible PID to ``(ppid, pgid, state)`` using ``/proc``."""
    table: dict[int, tuple[int, int, str]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="utf-8", errors="replace") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) < 3:
            continue
        table[int(entry.name)] = (int(fields[1]), int(fields[2]), fields[0])
    return table


def _descendants(root: int, table: Mapping[int, tuple[int, int, str]]) -> set[int]:
    """Return all PIDs below ``root`` in the process tree described by ``table``."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, _pgid, _state) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _is_running(pid: int) -> bool:
    """Return True when ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as fh:
            state = fh.read().rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to a process group, ignoring groups that are already gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _signal_pid(pid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to one process, ignoring processes that are already gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _terminate_groups(
    procs: Sequence[subprocess.Popen[Any]], timeout: float = STOP_TIMEOUT
) -> list[int]:
    """Stop the session leaders in ``procs`` and everything they started.

    Sends SIGTERM to each process group (leader PID == PGID because of ``start_new_session``),
    waits up to ``timeout`` seconds, then SIGKILLs what is left: the groups, and any descendant
    that moved to another group (the PySpark daemon calls ``setpgid``). Returns the PIDs that
    are still running afterwards (empty on success).
    """
    if not procs:
        return []
    table = _process_table()
    tracked: set[int] = set()
    for proc in procs:
        tracked.add(proc.pid)
        tracked |= _descendants(proc.pid, table)
        tracked |= {pid for pid, (_pp, pgid, _st) in table.items() if pgid == proc.pid}
    for proc in procs:
        _signal_group(proc.pid, signal.SIGTERM)

    def wait_all(deadline: float) -> None:
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        while time.monotonic() < deadline and any(_is_running(pid) for pid in tracked):
            time.sleep(0.2)

    wait_all(time.monotonic() + timeout)
    survivors = sorted(pid for pid in tracked if _is_running(pid))
    if survivors:
        for proc in procs:
            _signal_group(proc.pid, signal.SIGKILL)
        for pid in survivors:
            _signal_pid(pid, signal.SIGKILL)
        wait_all(time.monotonic() + KILL_TIMEOUT)
    return sorted(pid for pid in tracked if _is_running(pid))


def _http_json(url: str, timeout: float = 5.0) -> Any:
    """GET ``url`` (loopback only, proxies ignored) and decode the JSON body."""
    if not url.startswith(f"http://{LOOPBACK}:"):
        raise ValueError(f"refusing to fetch non-loopback URL {url!r}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=timeout) as response:
        return json.loads(response.read().decode("utf-8"))


@dataclass
class StandaloneCluster:
    """A running standalone cluster started by :func:`standalone_cluster`."""

    master_url: str
    master_web_url: str
    work_dir: Path
    pids: list[int]
    spark_home: Path = field(default_factory=spark_home)
    env: dict[str, str] = field(default_factory=dict, repr=False)
    log_files: list[Path] = field(default_factory=list)
    _submits: list[subprocess.Popen[str]] = field(
        default_factory=list, init=False, repr=False, compare=False
    )
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def spark_submit(
        self,
        app: str | Path,
        args: Sequence[str],
        *,
        py_files: Sequence[str | Path] = (),
        conf: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 900,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``spark-submit --master <master_url> ... app args`` and capture its output.

        The driver runs locally inside the spark-submit process (client deploy mode). The
        exit code is not checked. The submit runs in its own process group; on ``timeout``
        (or an interrupt) that group, including the Python driver, is killed and a
        :class:`TimeoutError` carrying the output and the cluster log tails is raised.
        """
        cmd = [str(self.spark_home / "bin" / "spark-submit"), "--master", self.master_url]
        if py_files:
            cmd += ["--py-files", ",".join(str(p) for p in py_files)]
        for key, value in (conf or {}).items():
            cmd += ["--conf", f"{key}={value}"]
        cmd.append(str(app))
        cmd += [str(a) for a in args]
        run_env = {**self.env, **(env or {})}
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=run_env,
            start_new_session=True,
        )
        with self._lock:
            self._submits.append(proc)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                stdout, stderr = proc.communicate(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                stdout, stderr = proc.communicate(timeout=KILL_TIMEOUT)
            raise TimeoutError(
                f"spark-submit did not finish within {timeout:.0f}s: {' '.join(cmd)}\n"
                f"--- stdout (tail) ---\n{_text_tail(stdout)}\n"
                f"--- stderr (tail) ---\n{_text_tail(stderr)}\n"
                f"{self.logs()}"
            ) from None
        except BaseException:
            _signal_group(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.communicate(timeout=KILL_TIMEOUT)
            raise
        finally:
            with self._lock:
                self._submits.remove(proc)
            if any(pgid == proc.pid for _pp, pgid, _st in _process_table().values()):
                _signal_group(proc.pid, signal.SIGKILL)
        return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)

    def _stop_submits(self) -> list[int]:
        """Stop ``spark-submit`` runs still in flight (e.g. started from another thread)."""
        with self._lock:
            running = list(self._submits)
        return _terminate_groups(running)

    def logs(self, max_lines: int = 40) -> str:
        """Return the tails of the master, worker and executor logs, for error messages."""
        parts: list[str] = []
        files = list(self.log_files)
        files += sorted(self.work_dir.glob("worker-*/app-*/*/stderr"), key=str)[-8:]
        for path in files:
            lines = max_lines if path in self.log_files else max_lines // 2
            parts.append(f"--- {path} (tail) ---\n{_tail(path, max_lines=lines)}")
        return "\n".join(parts)


def _cluster_env(
    home: Path, work_dir: Path, python: str, base: Mapping[str, str]
) -> dict[str, str]:
    """Build the environment shared by the daemons and ``spark-submit``."""
    env = {k: v for k, v in base.items() if k not in _SCRUBBED_ENV}
    java = find_java(dict(env))
    java_home = env.get("JAVA_HOME")
    if java_home and not (Path(java_home) / "bin" / "java").is_file():
        del env["JAVA_HOME"]
    version = _java_major_version(java, env)
    if version is not None and version < MIN_JAVA_VERSION:
        raise RuntimeError(_JAVA_HELP.format(problem=f"{java} is Java {version}"))

    conf_dir = work_dir / "conf"
    local_dir = work_dir / "local"
    for directory in (conf_dir, local_dir, work_dir / "logs"):
        directory.mkdir(parents=True, exist_ok=True)
    (conf_dir / "log4j2.properties").write_text(_LOG4J2_PROPERTIES, encoding="utf-8")
    (conf_dir / "spark-defaults.conf").write_text(
        "spark.ui.showConsoleProgress false\n"
        f"spark.driver.host {LOOPBACK}\n"
        f"spark.driver.bindAddress {LOOPBACK}\n"
        f"spark.sql.warehouse.dir {work_dir / 'warehouse'}\n",
        encoding="utf-8",
    )
    env.update(
        {
            "SPARK_HOME": str(home),
            "SPARK_CONF_DIR": str(conf_dir),
            "SPARK_LOCAL_IP": LOOPBACK,
            "SPARK_LOCAL_HOSTNAME": LOOPBACK,
            "SPARK_MASTER_HOST": LOOPBACK,
            "SPARK_LOCAL_DIRS": str(local_dir),
            "SPARK_LOG_DIR": str(work_dir / "logs"),
            "SPARK_PID_DIR": str(work_dir),
            "SPARK_NO_DAEMONIZE": "1",
            "PYSPARK_PYTHON": python,
            "PYSPARK_DRIVER_PYTHON": python,
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _start_daemon(
    home: Path, args: Sequence[str], log_path: Path, env: Mapping[str, str], cwd: Path
) -> subprocess.Popen[bytes]:
    """Start ``spark-class <args>`` in a new session with output appended to ``log_path``."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [str(home / "bin" / "spark-class"), *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=str(cwd),
            start_new_session=True,
        )


def _master_state(web_url: str) -> dict[str, Any] | None:
    """Return the master's ``/json/`` document, or ``None`` while it is not reachable."""
    try:
        state = _http_json(f"{web_url}/json/")
    except (OSError, ValueError, urllib.error.URLError):
        return None
    return state if isinstance(state, dict) else None


def _alive_workers(state: Mapping[str, Any]) -> int:
    """Count the ALIVE workers in a master ``/json/`` document."""
    workers = state.get("workers")
    if isinstance(workers, list):
        return sum(1 for w in workers if isinstance(w, dict) and w.get("state") == "ALIVE")
    alive = state.get("aliveworkers")
    return int(alive) if isinstance(alive, int) else 0


@contextmanager
def standalone_cluster(
    work_dir: Path,
    *,
    workers: int = 2,
    cores_per_worker: int = 1,
    memory_per_worker: str = "2g",
    python: str | None = None,
    startup_timeout: float = 90,
) -> Iterator[StandaloneCluster]:
    """Start a Spark standalone master and ``workers`` workers on 127.0.0.1.

    Logs go to ``work_dir/master.log`` and ``work_dir/worker-<i>.log``; each worker keeps its
    application directories in ``work_dir/worker-<i>/``. Executors (and the Python driver of
    :meth:`StandaloneCluster.spark_submit`) use ``python`` (default: ``sys.executable``), which
    must have numpy and pyarrow. Yields once the master reports ``workers`` ALIVE workers;
    raises :class:`RuntimeError` with the log tails when that does not happen within
    ``startup_timeout`` seconds. On exit, also after an exception or an interrupt, any
    ``spark-submit`` still running, then the workers (with their executors), then the master
    are stopped (SIGTERM to each process group, SIGKILL after a grace period), and
    :class:`RuntimeError` is raised if any of their processes survive.
    """
    if workers < 1:
        raise ValueError("workers must be >= 1")
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    home = spark_home()
    env = _cluster_env(home, work_dir, python or sys.executable, os.environ)

    master_log = work_dir / "master.log"
    worker_logs = [work_dir / f"worker-{i}.log" for i in range(workers)]
    cluster = StandaloneCluster(
        master_url="",
        master_web_url="",
        work_dir=work_dir,
        pids=[],
        spark_home=home,
        env=env,
        log_files=[master_log, *worker_logs],
    )
    master: subprocess.Popen[bytes] | None = None
    worker_procs: list[subprocess.Popen[bytes]] = []

    def fail(message: str) -> RuntimeError:
        return RuntimeError(f"{message}\n{cluster.logs()}")

    def stop() -> list[int]:
        survivors = cluster._stop_submits()
        survivors += _terminate_groups(worker_procs)
        if master is not None:
            survivors += _terminate_groups([master])
        return survivors

    try:
        deadline = time.monotonic() + startup_timeout
        for attempt in range(1, _MASTER_START_ATTEMPTS + 1):
            port, web_port = _free_ports(2)
            # No REST submission server: it would take the fixed port 6066, which a second
            # cluster on the same machine cannot bind, and the master then never comes up.
            master_env = {
                **env,
                "SPARK_MASTER_OPTS": "-Dspark.port.maxRetries=0 -Dspark.master.rest.enabled=false",
            }
            with open(master_log, "a", encoding="utf-8") as log:
                log.write(f"{_ATTEMPT_MARKER} {attempt}: port {port}, web UI port {web_port}\n")
            master = _start_daemon(
                home,
                [
                    "org.apache.spark.deploy.master.Master",
                    "--host",
                    LOOPBACK,
                    "--port",
                    str(port),
                    "--webui-port",
                    str(web_port),
                ],
                master_log,
                master_env,
                work_dir,
            )
            cluster.master_url = f"spark://{LOOPBACK}:{port}"
            cluster.master_web_url = f"http://{LOOPBACK}:{web_port}"
            cluster.pids = [master.pid]
            state: dict[str, Any] | None = None
            while time.monotonic() < deadline and master.poll() is None:
                state = _master_state(cluster.master_web_url)
                if state is not None and state.get("status") == "ALIVE":
                    break
                time.sleep(_POLL_INTERVAL)
            if state is not None and state.get("status") == "ALIVE":
                url = state.get("url")
                if isinstance(url, str) and url.startswith("spark://"):
                    cluster.master_url = url
                break
            if master.poll() is None or time.monotonic() >= deadline:
                raise fail(f"Spark master did not come up within {startup_timeout:.0f}s")
            log_text = _tail(master_log, max_lines=200).rsplit(_ATTEMPT_MARKER, 1)[-1]
            bind_error = any(s in log_text for s in ("Address already in use", "could not bind"))
            if not bind_error or attempt == _MASTER_START_ATTEMPTS:
                raise fail(f"Spark master exited with code {master.returncode} during startup")
            master = None

        for i in range(workers):
            worker_dir = work_dir / f"worker-{i}"
            worker_dir.mkdir(exist_ok=True)
            (web_port,) = _free_ports(1)
            proc = _start_daemon(
                home,
                [
                    "org.apache.spark.deploy.worker.Worker",
                    "--host",
                    LOOPBACK,
                    "--cores",
                    str(cores_per_worker),
                    "--memory",
                    memory_per_worker,
                    "--work-dir",
                    str(worker_dir),
                    "--webui-port",
                    str(web_port),
                    cluster.master_url,
                ],
                worker_logs[i],
                env,
                work_dir,
            )
            worker_procs.append(proc)
            cluster.pids.append(proc.pid)

        alive = 0
        while True:
            assert master is not None
            dead = [p for p in [master, *worker_procs] if p.poll() is not None]
            if dead:
                codes = ", ".join(f"pid {p.pid} exit {p.returncode}" for p in dead)
                raise fail(f"Spark daemon(s) exited during startup ({codes})")
            state = _master_state(cluster.master_web_url)
            alive = _alive_workers(state) if state is not None else 0
            if alive >= workers:
                break
            if time.monotonic() >= deadline:
                raise fail(
                    f"only {alive} of {workers} Spark workers registered with "
                    f"{cluster.master_url} within {startup_timeout:.0f}s"
                )
            time.sleep(_POLL_INTERVAL)
    except BaseException:
        stop()
        raise

    try:
        yield cluster
    except BaseException:
        stop()
        raise
    survivors = stop()
    if survivors:
        raise RuntimeError(
            f"Spark cluster processes still running after stop: {survivors}\n{cluster.logs()}"
        )
