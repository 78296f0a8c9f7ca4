"""A worker of a real standalone cluster killed mid-training: the job still completes, and its
tables are those of a clean run (here: the same run in local mode in the test session, which
also shows that a cluster and a local run agree). Both training strategies: merge, and blocks
with four blocks (sixteen tasks in four sub-rounds on the cluster's two executors)."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.cluster import standalone_cluster
from tests.runs import (
    CLUSTER_SUBMIT_CONF,
    RUN_SETTINGS,
    SPARK_SETTINGS,
    assert_same_run,
    recorded_rounds,
    run_config,
    write_corpus,
)
from w2v_spark.pipeline import run_pipeline
from w2v_spark.spark.packaging import build_zip

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]

#: The strategies' settings beside the small run's: merge as it is; four blocks, one pass,
#: one epoch (four sub-rounds of four tasks).
STRATEGIES = {
    "merge": (),
    "blocks": ("train.strategy=blocks", "train.num_partitions=4", "train.block_passes=1",
               "train.epochs=1"),
}


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_worker_killed_mid_training_changes_nothing(spark, tmp_path: Path,
                                                    strategy: str) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    reference = tmp_path / "reference"
    extra = STRATEGIES[strategy]
    cfg = run_config(*extra)
    run_pipeline(spark, cfg, str(corpus), str(reference))
    rounds = cfg.train.epochs * cfg.train.rounds_per_epoch

    settings = [*RUN_SETTINGS, *extra,
                *(s for s in SPARK_SETTINGS if s.startswith("spark.conf."))]
    args = ["run", "--input", str(corpus), "--output", str(tmp_path / "out")]
    for item in settings:
        args += ["--set", item]
    pyfiles = build_zip(tmp_path / "dist" / "w2v_spark.zip")
    out = tmp_path / "out"
    with standalone_cluster(tmp_path / "cluster", workers=2, cores_per_worker=1) as cluster, \
            ThreadPoolExecutor(max_workers=1) as pool:
        submitted = pool.submit(
            cluster.spark_submit,
            REPO / "jobs" / "w2v_job.py",
            args,
            py_files=[pyfiles],
            conf=CLUSTER_SUBMIT_CONF,
            timeout=900,
        )
        deadline = time.monotonic() + 600
        while (recorded_rounds(out) < 1 and not submitted.done()
               and time.monotonic() < deadline):
            time.sleep(0.05)
        assert recorded_rounds(out) >= 1, "training did not start"
        # The second worker and the executor it launched (one process group).
        worker = cluster.pids[2]
        assert list((cluster.work_dir / "worker-1").glob("app-*/*/stderr")), "no executor"
        os.killpg(worker, signal.SIGKILL)
        killed_after = recorded_rounds(out)
        result = submitted.result()
        assert result.returncode == 0, result.stderr[-4000:] + cluster.logs()

    assert killed_after < rounds, "the worker was killed after training had finished"
    assert "lost executor" in result.stderr.lower(), result.stderr[-4000:]
    assert_same_run(reference, out)
