"""End-to-end checks of the standalone cluster harness in ``tests.cluster``."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.cluster import standalone_cluster
from w2v_spark.errors import JavaNotFoundError
from w2v_spark.spark.session import find_java

pytestmark = pytest.mark.cluster

N_PARTITIONS = 8
N_ROWS = 8000

PROBE_APP = textwrap.dedent(
    '''
    """Report which executor, worker and Python process computed each partition."""

    from __future__ import annotations

    import os
    import sys
    import time
    from collections.abc import Iterator

    import pandas as pd
    from pyspark.sql import SparkSession


    def _stat(pid: int) -> tuple[str, int]:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            text = fh.read()
        comm = text[text.index("(") + 1 : text.rindex(")")]
        ppid = int(text.rsplit(")", 1)[1].split()[1])
        return comm, ppid


    def _executor_jvm() -> int:
        pid = os.getpid()
        while pid > 1:
            comm, ppid = _stat(pid)
            if comm == "java":
                return pid
            pid = ppid
        raise RuntimeError("no java ancestor")


    def probe(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        import numpy as np
        from pyspark import TaskContext

        total = 0
        rows = 0
        for batch in batches:
            values = batch["id"].to_numpy(dtype=np.int64)
            total += int(np.square(values).sum())
            rows += len(values)
        jvm = _executor_jvm()
        with open(f"/proc/{jvm}/cmdline", "rb") as fh:
            argv = fh.read().decode().split("\\0")
        executor_id = argv[argv.index("--executor-id") + 1]
        time.sleep(0.5)
        ctx = TaskContext.get()
        yield pd.DataFrame(
            {
                "partition": [ctx.partitionId() if ctx else -1],
                "rows": [rows],
                "sum_sq": [total],
                "python_pid": [os.getpid()],
                "executor_jvm_pid": [jvm],
                "executor_id": [executor_id],
                "cwd": [os.getcwd()],
                "sys_prefix": [sys.prefix],
                "numpy_version": [np.__version__],
            }
        )


    def main() -> None:
        out, n_rows, n_parts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
        spark = SparkSession.builder.appName("cluster-harness-probe").getOrCreate()
        master = spark.sparkContext.master
        assert master.startswith("spark://"), master
        schema = (
            "partition int, rows long, sum_sq long, python_pid long, executor_jvm_pid long, "
            "executor_id string, cwd string, sys_prefix string, numpy_version string"
        )
        df = spark.range(0, n_rows, numPartitions=n_parts).mapInPandas(probe, schema)
        df.write.mode("overwrite").parquet(out)
        print(f"PROBE_DONE master={master} driver_prefix={sys.prefix}")
        spark.stop()


    if __name__ == "__main__":
        main()
    '''
)


def _is_dead(pid: int) -> bool:
    """Return True when ``pid`` no longer exists or is only a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


def _wait_dead(pids: set[int], timeout: float = 30.0) -> set[int]:
    """Wait up to ``timeout`` seconds for ``pids`` to die; return the ones still alive."""
    deadline = time.monotonic() + timeout
    alive = {pid for pid in pids if not _is_dead(pid)}
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = {pid for pid in alive if not _is_dead(pid)}
    return alive


def _processes_mentioning(text: str) -> list[str]:
    """Return ``pid: cmdline`` of live processes whose command line contains ``text``."""
    found: list[str] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and not _is_dead(int(entry.name)):
            found.append(f"{entry.name}: {cmdline[:200]}")
    return found


@pytest.mark.timeout(600)
def test_two_worker_cluster_runs_python_tasks_on_both_workers(tmp_path: Path) -> None:
    """A submitted PySpark job runs on both workers, and everything is gone afterwards."""
    app = tmp_path / "probe_app.py"
    app.write_text(PROBE_APP, encoding="utf-8")
    out = tmp_path / "probe_out"
    work_dir = tmp_path / "cluster"

    with standalone_cluster(work_dir, workers=2, cores_per_worker=1) as cluster:
        assert cluster.master_url.startswith("spark://127.0.0.1:")
        assert cluster.master_web_url.startswith("http://127.0.0.1:")
        assert len(cluster.pids) == 3
        assert all(not _is_dead(pid) for pid in cluster.pids)
        result = cluster.spark_submit(
            app,
            [str(out), str(N_ROWS), str(N_PARTITIONS)],
            conf={
                "spark.executor.memory": "768m",
                "spark.cores.max": "2",
                "spark.scheduler.minRegisteredResourcesRatio": "1.0",
                "spark.scheduler.maxRegisteredResourcesWaitingTime": "120s",
            },
            timeout=300,
        )
        diagnostics = f"\n--- stderr ---\n{result.stderr[-6000:]}\n{cluster.logs()}"
        assert result.returncode == 0, diagnostics
        assert "PROBE_DONE master=spark://127.0.0.1:" in result.stdout, diagnostics
        pids = list(cluster.pids)

    rows = pd.read_parquet(out)
    assert sorted(rows["partition"]) == list(range(N_PARTITIONS))
    assert int(rows["rows"].sum()) == N_ROWS
    assert int(rows["sum_sq"].sum()) == int(np.square(np.arange(N_ROWS, dtype=np.int64)).sum())
    assert rows["executor_id"].nunique() >= 2, rows
    assert rows["executor_jvm_pid"].nunique() >= 2, rows
    assert rows["python_pid"].nunique() >= 2, rows
    worker_dirs = {Path(cwd).relative_to(work_dir.resolve()).parts[0] for cwd in rows["cwd"]}
    assert worker_dirs == {"worker-0", "worker-1"}, rows
    assert set(rows["sys_prefix"]) == {sys.prefix}
    assert set(rows["numpy_version"]) == {np.__version__}

    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    executor_pids = {int(pid) for pid in rows["executor_jvm_pid"]}
    executor_pids |= {int(pid) for pid in rows["python_pid"]}
    assert not _wait_dead(executor_pids), "executor JVM or Python worker survived the cluster"
    assert not _processes_mentioning(str(work_dir.resolve()))


@pytest.mark.timeout(300)
def test_worker_that_fails_to_start_raises_with_logs(tmp_path: Path) -> None:
    """A worker that exits during startup yields a RuntimeError and leaves nothing running."""
    work_dir = tmp_path / "cluster"
    with (
        pytest.raises(RuntimeError, match="exited during startup") as excinfo,
        standalone_cluster(work_dir, workers=1, memory_per_worker="not-a-size"),
    ):
        pytest.fail("the cluster should not have started")
    assert "worker-0.log" in str(excinfo.value)
    assert not _processes_mentioning(str(work_dir.resolve()))


def test_missing_java_raises_clear_error(tmp_path: Path) -> None:
    """Without JAVA_HOME or java on PATH the error says what to install."""
    env = {"PATH": str(tmp_path / "no-bin"), "JAVA_HOME": str(tmp_path / "no-jdk")}
    with pytest.raises(JavaNotFoundError, match="Java 17") as excinfo:
        find_java(env)
    assert "apt-get install openjdk-17-jre-headless" in str(excinfo.value)


def test_java_home_takes_precedence_over_path(tmp_path: Path) -> None:
    """``JAVA_HOME/bin/java`` is used when it exists, like ``spark-class`` does."""
    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    java.chmod(0o755)
    env = {"PATH": str(tmp_path / "no-bin"), "JAVA_HOME": str(tmp_path / "jdk")}
    assert find_java(env) == str(java)
