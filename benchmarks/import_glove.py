"""Time and peak memory of importing the GloVe 6B 50d vectors into an embeddings table.

    .venv/bin/python -m benchmarks.import_glove [--input PATH] [--dest DIR]

Runs :func:`w2v_spark.io.vector_files.import_vectors` in local[2] mode and samples, every 0.1 s,
the resident memory of the Python driver, the JVM and every Python worker process (psutil, from
the ``bench`` extra). Prints one Markdown table row.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
from pathlib import Path

import psutil

from w2v_spark.config import SparkConfig
from w2v_spark.io.vector_files import import_vectors
from w2v_spark.spark.session import build_session

DEFAULT_INPUT = (Path(__file__).resolve().parents[1].parent / "shared" / "data" / "vectors"
                 / "glove.6B.50d.word2vec.txt.gz")


class PeakMemory:
    """Peak RSS (bytes) of this process, the JVM it started and the Python workers."""

    def __init__(self) -> None:
        self.driver = 0
        self.jvm = 0
        self.worker = 0
        self.workers_total = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            try:
                self.driver = max(self.driver, me.memory_info().rss)
                workers = 0
                for child in me.children(recursive=True):
                    rss = child.memory_info().rss
                    if "java" in child.name():
                        self.jvm = max(self.jvm, rss)
                    elif "python" in child.name():
                        self.worker = max(self.worker, rss)
                        workers += rss
                self.workers_total = max(self.workers_total, workers)
            except psutil.Error:
                pass
            time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default=str(DEFAULT_INPUT))
    parser.add_argument("--format", default="word2vec-text")
    parser.add_argument("--dest", help="table directory (default: a temporary one, removed)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="w2v-import-"))
    dest = args.dest or str(work / "glove")
    spark = build_session(SparkConfig(master="local[2]", app_name="import-bench",
                                      driver_memory="2g", conf={"spark.ui.enabled": "false"}))
    spark.range(1).count()
    with PeakMemory() as peak:
        started = time.perf_counter()
        facts = import_vectors(spark, args.input, args.format, dest, overwrite=True)
        seconds = time.perf_counter() - started
    size = sum(f.stat().st_size for f in Path(dest).glob("*.parquet")) if "://" not in dest else 0
    mb = 1 << 20
    print("| vectors | file | seconds | Python driver | JVM | largest Python worker | all "
          "Python workers | table |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {facts['vectors']:,} x {facts['dim']} | {Path(args.input).stat().st_size / mb:.0f} MB"
          f" | {seconds:.1f} | {peak.driver / mb:.0f} MB | {peak.jvm / mb:.0f} MB | "
          f"{peak.worker / mb:.0f} MB | {peak.workers_total / mb:.0f} MB | {size / mb:.0f} MB |")
    spark.stop()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
