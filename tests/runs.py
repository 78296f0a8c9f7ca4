"""Helpers shared by the tests that compare whole runs: a small run's settings, the command
line in a separate driver process, and bit-level comparisons of the tables."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from w2v_spark.config import Config
from w2v_spark.config_loading import load_config
from w2v_spark.stages.pairs import block_ids
from w2v_spark.synthetic.text import generate_sentences

REPO_ROOT = Path(__file__).resolve().parents[1]

#: A run of 2 epochs x 2 sync rounds on a tiny model: four rounds to interrupt.
RUN_SETTINGS = (
    "train.epochs=2",
    "train.syncs_per_epoch=2",
    "train.num_partitions=2",
    "train.vector_size=8",
    "vocab.min_count=2",
)

#: The test session's Spark settings that change results or file layout, for a driver started
#: in another process (see tests/conftest.py).
SPARK_SETTINGS = (
    "spark.master=local[2]",
    "spark.driver_memory=2g",
    "spark.conf.spark.ui.enabled=false",
    "spark.conf.spark.sql.shuffle.partitions=2",
    "spark.conf.spark.default.parallelism=2",
    "spark.conf.spark.sql.execution.arrow.maxRecordsPerBatch=64",
)


def run_config(*extra: str) -> Config:
    """The small run's config, with ``extra`` overrides."""
    return load_config(overrides=[*RUN_SETTINGS, *extra])


def write_corpus(directory: Path, sentences: int = 400, seed: int = 5) -> Path:
    """A synthetic corpus file of ``sentences`` lines."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "corpus.txt"
    path.write_text("".join(s + "\n" for s in generate_sentences(sentences, seed=seed)),
                    encoding="utf-8")
    return path


def cli_command(command: str, output: Path, *args: str, master: str = "local[2]",
                settings: Sequence[str] = RUN_SETTINGS) -> list[str]:
    """``w2v-spark <command>`` run by this interpreter as a separate driver process."""
    overrides = [s for s in SPARK_SETTINGS if not s.startswith("spark.master=")]
    flags = [item for s in (*settings, f"spark.master={master}", *overrides)
             for item in ("--set", s)]
    return [sys.executable, "-m", "w2v_spark.cli", command, "--output", str(output),
            *args, *flags]


#: spark-submit settings of a pipeline run on the 2-worker standalone test cluster.
CLUSTER_SUBMIT_CONF = {
    "spark.cores.max": "2",
    "spark.executor.memory": "1g",
    "spark.scheduler.minRegisteredResourcesRatio": "1.0",
    "spark.pyspark.python": sys.executable,
}


def recorded_rounds(out: Path) -> int:
    """Training rounds recorded in run.json so far (0 while it is missing or being replaced)."""
    try:
        return len(json.loads((out / "run.json").read_text(encoding="utf-8"))
                   .get("train_rounds", []))
    except (OSError, ValueError):
        return 0


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a driver process: this package first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p
    )
    env["PYSPARK_PYTHON"] = sys.executable
    env.update(extra)
    return env


def run_cli(command: list[str], env: dict[str, str], timeout: float = 600
            ) -> subprocess.CompletedProcess[str]:
    """Run a driver process to the end and return its output."""
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False, cwd=REPO_ROOT)


def data_files(table: Path) -> list[Path]:
    """The Parquet files of a table in name order (the order Spark reads them in)."""
    return sorted(table.rglob("*.parquet"), key=lambda p: str(p.relative_to(table)))


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (relative path -> bytes)."""
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def table_bytes(table: Path) -> dict[str, bytes]:
    """Every file of a table (data files and the completion marker) by its path in the
    table, with its bytes: two tables are byte-identical when these are equal."""
    return {
        str(path.relative_to(table)): path.read_bytes()
        for path in sorted(table.rglob("*")) if path.is_file() and not path.name.endswith(".crc")
    }


def embeddings_bits(output: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Words, counts and vectors as uint32 bit patterns, in the table's row order."""
    parts = [pq.read_table(p) for p in data_files(output / "embeddings")]
    words = [w for t in parts for w in t.column("word").to_pylist()]
    counts = np.concatenate([t.column("count").to_numpy() for t in parts])
    vectors = np.concatenate([
        np.asarray(t.column("vector").to_pylist(), dtype=np.float32) for t in parts
    ])
    return words, counts, vectors.view(np.uint32)


def pairs_by_shard(output: Path) -> dict[str, np.ndarray]:
    """Every epoch/shard directory's (center, context) rows in training order."""
    result = {}
    for shard in sorted((output / "pairs").glob("epoch=*/shard=*")):
        parts = [pq.read_table(f) for f in data_files(shard)]
        result[f"{shard.parent.name}/{shard.name}"] = np.concatenate([
            np.stack([block_ids(t.column("center")), block_ids(t.column("context"))], axis=1)
            for t in parts
        ])
    return result


def assert_same_run(first: Path, second: Path) -> None:
    """The pairs and embeddings of two runs are identical: every value bit for bit, the row
    order, and every file of the embeddings table and of the last checkpoint, names and
    bytes."""
    pairs_1, pairs_2 = pairs_by_shard(first), pairs_by_shard(second)
    assert pairs_1.keys() == pairs_2.keys()
    for key, rows in pairs_1.items():
        np.testing.assert_array_equal(rows, pairs_2[key], err_msg=key)
    words_1, counts_1, bits_1 = embeddings_bits(first)
    words_2, counts_2, bits_2 = embeddings_bits(second)
    assert words_1 == words_2
    np.testing.assert_array_equal(counts_1, counts_2)
    np.testing.assert_array_equal(bits_1, bits_2)
    assert table_bytes(first / "embeddings") == table_bytes(second / "embeddings")
    last = max((first / "model").glob("round=*"))
    if (last / "matrix=input").exists():
        assert block_model(last) == block_model(second / "model" / last.name)
    else:
        assert table_bytes(last) == table_bytes(second / "model" / last.name)


def block_model(version: Path) -> dict[str, list[tuple[int, int, bytes]]]:
    """A model version trained in blocks, by block directory: its rows (start, rows, values
    bytes) in order. Spark names the files of such a version by its job, so two runs are
    compared by content."""
    model: dict[str, list[tuple[int, int, bytes]]] = {}
    for block in sorted(version.glob("matrix=*/block=*")):
        rows = []
        for path in data_files(block):
            table = pq.read_table(path)
            rows += zip(table.column("start").to_pylist(), table.column("rows").to_pylist(),
                        table.column("values").to_pylist(), strict=True)
        model[f"{block.parent.name}/{block.name}"] = sorted(rows)
    return model


def kill_group(proc: subprocess.Popen[str]) -> None:
    """SIGKILL a driver started with ``start_new_session``, then whatever it started (its
    JVM) in its process group."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def kill_after_rounds(command: Sequence[str], out: Path, rounds: int, log_path: Path
                      ) -> subprocess.Popen[str]:
    """Start the driver ``command`` in a session of its own, logging to ``log_path``; once
    ``rounds`` training rounds are recorded in ``out``, SIGKILL it and its JVM. Returns the
    killed process."""
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(list(command), env=cli_env(), stdout=log,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            deadline = time.monotonic() + 400
            while (recorded_rounds(out) < rounds and proc.poll() is None
                   and time.monotonic() < deadline):
                time.sleep(0.05)
            assert recorded_rounds(out) >= rounds, log_path.read_text(encoding="utf-8")[-3000:]
        finally:
            kill_group(proc)
    return proc
