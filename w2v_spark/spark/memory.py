"""Will the model fit? An estimate from the vocabulary size, ``vector_size``, ``num_partitions``
and the Spark memory settings, checked before training starts.

With ``V`` words and ``d = vector_size`` the model is two ``V x d`` float32 matrices, ``8·V·d``
bytes; every figure below is an upper bound in units of ``V·d`` (all rows touched), set just
above the peaks measured with a 1,000,000-word vocabulary (benchmarks/results/memory.md and
benchmarks/results/memory-1m.md):

* a training task's Python worker holds the broadcast model, its own copy and the rows it
  sends back: ``40·V·d``;
* the driver JVM holds the broadcast (``8·V·d``) and the rows all ``P`` tasks send back
  (``8·P·V·d``), which Spark also counts against ``spark.driver.maxResultSize``; in local mode
  the tasks' side of the transfer is in the same JVM too (the Arrow batches from the Python
  workers, the serialized task results, the copies on their way to the driver's Python), and
  the bound is ``(8 + 40·P)·V·d``, between a local-mode driver heap that ran out while
  collecting a round and one that finished (docs/operations.md, "Memory");
* the driver's Python process holds the model, the merge buffers and the collected rows:
  ``(16 + 16·P)·V·d``, plus 512 bytes per word for the vocabulary;
* an executor JVM keeps the broadcast model (``8·V·d``).

With ``train.strategy = "blocks"`` no process holds more than the blocks of the tasks it runs:
with ``K = num_partitions`` blocks of at most ``ceil(V / K)`` words, a block is
``b = 4·ceil(V/K)·d`` bytes, and

* a training task's Python worker holds its two blocks as arrays and, while it reads or
  writes one, that block's rows or its Parquet bytes: ``4·b``, plus its stratum's pairs;
* the JVMs hold none of it: the tasks read and write their blocks themselves with pyarrow,
  and the export reads a block a row (at most 32 MiB) at a time; in local mode the checks
  ask instead that the Python workers of the tasks running at once fit in this machine's
  memory beside the driver's heap;
* the driver's Python process holds only the vocabulary and the blocks' word lists: 512 bytes
  per word, nothing of ``V·d``;
* nothing is collected but the tasks' metrics and the checksums of the files they wrote.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from w2v_spark.errors import ModelTooLargeError

#: Heap Spark reserves for itself in every JVM.
RESERVED_BYTES = 300 << 20

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_bytes(text: str, default_unit: str = "b") -> int:
    """Spark's size strings: ``"4g"``, ``"512m"``, ``"1024k"``, ``"2gb"``; a bare number is in
    ``default_unit`` (Spark reads ``spark.*.memory`` in MiB, ``maxResultSize`` in bytes)."""
    match = re.fullmatch(r"\s*(\d+)\s*([bkmgtp]?)b?\s*", text.lower())
    if match is None:
        raise ValueError(f"{text!r} is not a size such as '4g' or '512m'")
    unit = match.group(2) or default_unit
    return int(match.group(1)) * _UNITS[unit]


def _gib(n: float) -> str:
    return f"{n / (1 << 30):.2f} GiB"


@dataclass(frozen=True)
class MemoryEstimate:
    """Upper bounds in bytes for one sync round."""

    worker_python: int
    driver_jvm: int
    driver_python: int
    collected: int
    executor_jvm: int
    #: The Python workers of the training tasks one machine runs at once (blocks only).
    workers: int = 0


def estimate(vocab_size: int, vector_size: int, num_partitions: int, local: bool = False,
             strategy: str = "merge", concurrent_tasks: int = 1) -> MemoryEstimate:
    """The bounds of the module docstring for ``V = vocab_size``, ``d = vector_size``,
    ``P = num_partitions`` (``K`` blocks with ``strategy = "blocks"``), in local mode or on a
    cluster; ``concurrent_tasks`` training tasks run at once in one JVM (blocks only)."""
    vd = vocab_size * vector_size
    if strategy == "blocks":
        block = 4 * -(-vocab_size // max(num_partitions, 1)) * vector_size
        tasks = max(1, min(concurrent_tasks, num_partitions))
        return MemoryEstimate(
            worker_python=4 * block,
            driver_jvm=0,
            driver_python=512 * vocab_size,
            collected=0,
            executor_jvm=0,
            workers=4 * block * tasks,
        )
    return MemoryEstimate(
        worker_python=40 * vd,
        driver_jvm=(8 + (40 if local else 8) * num_partitions) * vd,
        driver_python=(16 + 16 * num_partitions) * vd + 512 * vocab_size,
        collected=8 * num_partitions * vd,
        executor_jvm=8 * vd,
    )


def check_model_fits(
    vocab_size: int,
    vector_size: int,
    num_partitions: int,
    settings: Mapping[str, str],
    local: bool,
    strategy: str = "merge",
    concurrent_tasks: int = 1,
) -> MemoryEstimate:
    """Raise :class:`ModelTooLargeError` when the estimate exceeds what the settings allow.

    Args:
        vocab_size, vector_size, num_partitions: ``V``, ``d`` and ``P``.
        settings: the Spark configuration (``spark.driver.memory``,
            ``spark.driver.maxResultSize``, ``spark.executor.memory``,
            ``spark.executor.pyspark.memory``); missing keys take Spark's defaults.
        local: local mode, where tasks run inside the driver JVM, so the executor settings do
            not apply and the Python workers are bounded only by ``spark.executor.pyspark.memory``
            when it is set.
        strategy, concurrent_tasks: ``train.strategy``, and how many training tasks one JVM
            runs at once (the blocks strategy's bounds depend on it).

    Returns:
        The estimate, when everything fits.
    """
    est = estimate(vocab_size, vector_size, num_partitions, local, strategy, concurrent_tasks)
    if strategy == "blocks":
        checks = _block_checks(est, settings, local)
    else:
        checks = _merge_checks(est, settings, local, num_partitions)
    for key, limit, needed, what in checks:
        if needed > limit:
            raise ModelTooLargeError(
                f"the model does not fit in memory: V={vocab_size:,} words x vector_size="
                f"{vector_size} needs about {_gib(needed)} for {what}, but {key} allows "
                f"{_gib(max(limit, 0))}; lower [train] vector_size, raise [vocab] min_count, set "
                f"[vocab] max_vocab_size"
                f"{', raise [train] num_partitions' if strategy == 'blocks' else ''} or "
                f"{f'raise {key}' if key.startswith('spark.') else 'use more memory'}"
            )
    return est


Check = tuple[str, int, int, str]


def _merge_checks(est: MemoryEstimate, settings: Mapping[str, str], local: bool,
                  num_partitions: int) -> list[Check]:
    """(setting, limit, needed, what) of the merge strategy."""
    jvm_terms = "(8 + 40·P)·V·d bytes in the driver JVM, which in local mode also runs the tasks" \
        if local else "(8 + 8·P)·V·d bytes in the driver JVM"
    checks: list[Check] = []
    result_limit = parse_bytes(settings.get("spark.driver.maxResultSize", "1g"))
    if result_limit > 0:
        checks.append(("spark.driver.maxResultSize", result_limit, est.collected,
                       f"8·P·V·d bytes of touched rows collected per round (P={num_partitions})"))
    driver = parse_bytes(settings.get("spark.driver.memory", "1g"), "m")
    checks.append(("spark.driver.memory", driver - RESERVED_BYTES, est.driver_jvm,
                   f"{jvm_terms}: the broadcast model and the collected rows"))
    if "spark.executor.pyspark.memory" in settings:
        worker = parse_bytes(settings["spark.executor.pyspark.memory"], "m")
        checks.append(("spark.executor.pyspark.memory", worker, est.worker_python,
                       "40·V·d bytes in a training task's Python worker"))
    elif not local:
        executor = parse_bytes(settings.get("spark.executor.memory", "1g"), "m")
        checks.append(("spark.executor.memory", executor, est.worker_python,
                       "40·V·d bytes in a training task's Python worker, which lives beside "
                       "the executor and should not need more than its whole heap"))
    return checks


def _block_checks(est: MemoryEstimate, settings: Mapping[str, str], local: bool
                  ) -> list[Check]:
    """(setting, limit, needed, what) of the blocks strategy."""
    checks: list[Check] = []
    worker_what = "4 blocks of 4·ceil(V/K)·d bytes in a training task's Python worker"
    if "spark.executor.pyspark.memory" in settings:
        worker = parse_bytes(settings["spark.executor.pyspark.memory"], "m")
        checks.append(("spark.executor.pyspark.memory", worker, est.worker_python, worker_what))
    if local and (physical := physical_memory()) is not None:
        driver = parse_bytes(settings.get("spark.driver.memory", "1g"), "m")
        checks.append(("this machine's memory beside spark.driver.memory", physical - driver,
                       est.workers, f"{worker_what}, times the tasks running at once"))
    return checks


def physical_memory() -> int | None:
    """This machine's memory in bytes (None where the system does not say)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None
