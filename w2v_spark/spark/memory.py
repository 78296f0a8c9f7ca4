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
"""

from __future__ import annotations

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


def estimate(vocab_size: int, vector_size: int, num_partitions: int, local: bool = False
             ) -> MemoryEstimate:
    """The bounds of the module docstring for ``V = vocab_size``, ``d = vector_size``,
    ``P = num_partitions``, in local mode or on a cluster."""
    vd = vocab_size * vector_size
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

    Returns:
        The estimate, when everything fits.
    """
    est = estimate(vocab_size, vector_size, num_partitions, local)
    jvm_terms = "(8 + 40·P)·V·d bytes in the driver JVM, which in local mode also runs the tasks" \
        if local else "(8 + 8·P)·V·d bytes in the driver JVM"
    checks: list[tuple[str, int, int, str]] = []
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
    for key, limit, needed, what in checks:
        if needed > limit:
            raise ModelTooLargeError(
                f"the model does not fit in memory: V={vocab_size:,} words x vector_size="
                f"{vector_size} needs about {_gib(needed)} for {what}, but {key} allows "
                f"{_gib(max(limit, 0))}; lower [train] vector_size, raise [vocab] min_count or "
                f"set [vocab] max_vocab_size, or raise {key}"
            )
    return est
