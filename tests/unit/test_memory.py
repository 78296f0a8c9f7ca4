"""The memory estimate checked before training (no Spark)."""

from __future__ import annotations

import pytest

from w2v_spark.errors import ModelTooLargeError
from w2v_spark.spark import memory
from w2v_spark.spark.memory import check_model_fits, estimate, parse_bytes

GIB = 1 << 30


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [("4g", "b", 4 * GIB), ("512m", "b", 512 << 20), ("2GB", "b", 2 * GIB),
     ("1024", "b", 1024), ("1024", "m", GIB), ("3k", "m", 3 << 10), ("0", "b", 0)],
)
def test_parse_bytes(text: str, unit: str, expected: int) -> None:
    assert parse_bytes(text, unit) == expected


def test_parse_bytes_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="lots"):
        parse_bytes("lots")


def test_estimate_formulas() -> None:
    est = estimate(vocab_size=1000, vector_size=100, num_partitions=4)
    vd = 100_000
    assert est.worker_python == 40 * vd
    assert est.driver_jvm == 40 * vd
    assert est.driver_python == 80 * vd + 512 * 1000
    assert est.collected == 32 * vd
    assert est.executor_jvm == 8 * vd
    assert estimate(1000, 100, 4, local=True).driver_jvm == (8 + 160) * vd


def test_text8_sized_model_fits_the_defaults() -> None:
    settings = {"spark.driver.memory": "4g", "spark.driver.maxResultSize": "4g"}
    check_model_fits(67_903, 100, 2, settings, local=True)
    check_model_fits(67_903, 100, 8, {**settings, "spark.executor.memory": "4g"}, local=False)


def test_collected_rows_over_max_result_size() -> None:
    # 8 * P * V * d = 8 * 8 * 1e6 * 100 bytes = 6.4 GB > 4 GiB
    with pytest.raises(ModelTooLargeError) as info:
        check_model_fits(1_000_000, 100, 8, {"spark.driver.maxResultSize": "4g",
                                             "spark.driver.memory": "64g"}, local=True)
    message = str(info.value)
    assert "V=1,000,000" in message and "vector_size=100" in message
    assert "5.96 GiB" in message and "spark.driver.maxResultSize allows 4.00 GiB" in message
    assert "lower [train] vector_size" in message


def test_driver_heap() -> None:
    # (8 + 8 * 2) * 2e5 * 300 bytes = 1.34 GiB > 1 GiB - 300 MiB reserved
    with pytest.raises(ModelTooLargeError,
                       match=r"1\.34 GiB for \(8 \+ 8·P\)·V·d bytes in the driver JVM.*"
                             r"spark\.driver\.memory allows 0\.71 GiB"):
        check_model_fits(200_000, 300, 2, {"spark.driver.memory": "1g",
                                           "spark.driver.maxResultSize": "0",
                                           "spark.executor.memory": "64g"}, local=False)


def test_driver_heap_in_local_mode_as_measured() -> None:
    """The driver heaps of the two local-mode runs that bracket the JVM bound (V = 1,000,000,
    d = 50, P = 2; docs/operations.md, "Memory"): the one that ran out of heap is refused, the
    one that finished is accepted."""
    settings = {"spark.driver.maxResultSize": "0"}
    with pytest.raises(ModelTooLargeError,
                       match=r"4\.10 GiB for \(8 \+ 40·P\)·V·d bytes in the driver JVM, which "
                             r"in local mode also runs the tasks.*allows 3\.71 GiB"):
        check_model_fits(1_000_000, 50, 2, {**settings, "spark.driver.memory": "4g"},
                         local=True)
    check_model_fits(1_000_000, 50, 2, {**settings, "spark.driver.memory": "6g"}, local=True)


def test_estimates_bound_the_measured_peaks() -> None:
    """The estimates bound, within a tenth, the peaks less the fixed cost of a training worker
    and the Python driver with V = 1,000,000 and P = 2, in MiB: the "above base" columns of
    benchmarks/results/memory.md (d = 50) and benchmarks/results/memory-1m.md (d = 100)."""
    measured = {50: (1_898, 2_701), 100: (3_728, 4_973)}
    for dim, (worker, driver) in measured.items():
        est = estimate(1_000_000, dim, 2, local=True)
        assert worker << 20 <= est.worker_python <= 1.1 * (worker << 20)
        assert driver << 20 <= est.driver_python <= 1.1 * (driver << 20)


def test_executor_memory_on_a_cluster_only() -> None:
    settings = {"spark.driver.memory": "64g", "spark.driver.maxResultSize": "0",
                "spark.executor.memory": "2g"}
    # 40 * V * d = 40 * 1e6 * 100 bytes = 3.73 GiB per training task
    check_model_fits(1_000_000, 100, 2, settings, local=True)
    with pytest.raises(ModelTooLargeError, match=r"3\.73 GiB .*spark\.executor\.memory allows "
                                                 r"2\.00 GiB"):
        check_model_fits(1_000_000, 100, 2, settings, local=False)
    with pytest.raises(ModelTooLargeError, match=r"spark\.executor\.pyspark\.memory allows"):
        check_model_fits(1_000_000, 100, 2, {**settings, "spark.executor.pyspark.memory": "1g"},
                         local=True)


def test_blocks_estimate_is_per_block_and_keeps_v_d_off_the_driver() -> None:
    """With blocks a worker holds 4 blocks of ceil(V/K) rows, the JVMs none, the driver's
    Python only the vocabulary; nothing is collected."""
    est = estimate(1001, 100, 4, local=True, strategy="blocks", concurrent_tasks=2)
    block = 4 * 251 * 100
    assert est.worker_python == 4 * block and est.workers == 8 * block
    assert est.driver_jvm == 0 and est.executor_jvm == 0
    assert est.driver_python == 512 * 1001 and est.collected == 0
    assert estimate(1001, 100, 4, strategy="blocks", concurrent_tasks=8).workers \
        == 16 * block  # never more tasks at once than blocks


def test_a_model_too_large_to_merge_fits_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """8,000,000 x 300 (V·d above 2^31) on a 24 GiB machine: the merge strategy needs far
    more, the blocks strategy at K = 32 about 1.1 GiB per worker; with K = 2 two workers at
    once need 36 GiB, which is refused naming what to change."""
    monkeypatch.setattr(memory, "physical_memory", lambda: 24 << 30)
    settings = {"spark.driver.memory": "8g", "spark.driver.maxResultSize": "0"}
    with pytest.raises(ModelTooLargeError):
        check_model_fits(8_000_000, 300, 2, settings, local=True)
    est = check_model_fits(8_000_000, 300, 32, settings, local=True, strategy="blocks",
                           concurrent_tasks=2)
    assert est.worker_python == 4 * 4 * 250_000 * 300
    with pytest.raises(ModelTooLargeError, match=r"needs about 35\.76 GiB for 4 blocks .* times "
                       r"the tasks running at once, but this machine's memory beside "
                       r"spark\.driver\.memory allows 16\.00 GiB; .*raise \[train\] "
                       r"num_partitions or use more memory"):
        check_model_fits(8_000_000, 300, 2, settings, local=True, strategy="blocks",
                         concurrent_tasks=2)
    with pytest.raises(ModelTooLargeError, match=r"spark\.executor\.pyspark\.memory allows "
                       r"1\.00 GiB; .*or raise spark\.executor\.pyspark\.memory"):
        check_model_fits(8_000_000, 300, 32, {**settings, "spark.executor.pyspark.memory": "1g"},
                         local=False, strategy="blocks", concurrent_tasks=2)
