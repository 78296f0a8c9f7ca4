"""The Markdown page of the memory benchmark (:mod:`benchmarks.memory`).

The estimates beside the measured peaks are computed when the page is rendered, with the
formulas the train stage checks today (:func:`w2v_spark.spark.memory.estimate`), not read from
the run's JSON: a page rendered again after the formulas change compares the same peaks with
the new bounds.
"""

from __future__ import annotations

from typing import Any

from benchmarks.results import environment_lines, md_table
from w2v_spark.spark.memory import estimate

MB = 1 << 20


def estimates(r: dict[str, Any], partitions: int, strategy: str = "merge", cores: int = 2
              ) -> dict[str, float]:
    """The current estimates in MB for run ``r``: one training worker and the Python driver
    (local mode, as the benchmark runs)."""
    est = estimate(r.get("words", r["vocab_asked"]), r["vector_size"], partitions, local=True,
                   strategy=strategy, concurrent_tasks=cores)
    return {"worker_mb": est.worker_python / MB, "driver_mb": est.driver_python / MB}


def baseline(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Peaks of the successful run with the smallest V x d: the fixed cost of the processes."""
    done = [r for r in runs if "memory" in r and "error" not in r]
    if not done:
        return {"worker": 0.0, "driver": 0.0}
    small = min(done, key=lambda r: r["words"] * r["vector_size"])
    return {"worker": small["memory"]["worker_max_hwm_mb"],
            "driver": small["memory"]["driver_python_hwm_mb"]}


def _row(r: dict[str, Any], base: dict[str, float], data: dict[str, Any]) -> list[str]:
    est = estimates(r, data["partitions"], data.get("strategy", "merge"), data["cores"])
    head = [f"{r.get('words', r['vocab_asked']):,}", str(r["vector_size"])]
    if "skipped" in r:
        return [*head, f"skipped: {r['skipped']}", "—", "—", "—", "—",
                f"{est['worker_mb']:,.0f}", "—", "—", f"{est['driver_mb']:,.0f}", "—", "—"]
    m = r["memory"]
    if "error" in r:
        return [*head, f"failed: {r['error']}", "—", "—", f"{m['worker_max_hwm_mb']:,.0f}", "—",
                f"{est['worker_mb']:,.0f}", f"{m['driver_python_hwm_mb']:,.0f}", "—",
                f"{est['driver_mb']:,.0f}", f"{m['jvm_hwm_mb']:,.0f}", f"{m['total_mb']:,.0f}"]
    return [
        *head, f"{r['tokens']:,}", f"{r['pairs']:,}", f"{r['total_seconds']:,.0f}",
        f"{m['worker_max_hwm_mb']:,.0f}", f"{m['worker_max_hwm_mb'] - base['worker']:+,.0f}",
        f"{est['worker_mb']:,.0f}", f"{m['driver_python_hwm_mb']:,.0f}",
        f"{m['driver_python_hwm_mb'] - base['driver']:+,.0f}", f"{est['driver_mb']:,.0f}",
        f"{m['jvm_hwm_mb']:,.0f}", f"{m['total_mb']:,.0f}",
    ]


def markdown(data: dict[str, Any]) -> str:
    """The page of one memory benchmark run (``results/<name>.md``)."""
    runs = data["runs"]
    base = baseline(runs)
    vocabs = ", ".join(f"{v:,}" for v in dict.fromkeys(r.get("words", r["vocab_asked"])
                                                         for r in runs))
    dims = ", ".join(str(d) for d in sorted({r["vector_size"] for r in runs}))
    blocks = data.get("strategy", "merge") == "blocks"
    k = data["partitions"]
    strategy_text = (f"`train.strategy = \"blocks\"` with K = {k} blocks" if blocks
                     else f"P = {k} partitions")
    bounds = ("worker 4 blocks of 4·ceil(V/K)·d bytes, driver 512·V bytes (nothing of V·d)"
              if blocks else "worker 40·V·d bytes, driver (16 + 16·P)·V·d + 512·V bytes")
    lines = [f"# Memory against vocabulary size and vector_size: V = {vocabs}; d = {dims}"
             f"{f' (blocks, K = {k})' if blocks else ''}", ""]
    if data["quick"]:
        lines += ["**Quick (`--quick`): small vocabularies only, a smoke run of the harness.**",
                  ""]
    lines += [
        f"Generated Zipf corpora (every word `min_count` times plus {data['extra_per_word']:g} "
        f"Zipf-drawn tokens per word), the whole pipeline in `local[{data['cores']}]` with "
        f"{strategy_text} and the default config otherwise "
        f"(overrides: `{' '.join(data['overrides'])}`). Peaks in MB: the largest Python "
        "worker, the Python driver and the JVM are each process's own high-water mark; "
        "total is the largest sampled sum over the whole process tree. 'Above base' subtracts "
        "the peak of the run with the smallest V x d (the fixed cost). Estimates: the bounds "
        "the train stage checks (`w2v_spark/spark/memory.py`, computed when this page was "
        f"rendered): {bounds}.",
        "",
    ]
    lines += md_table(
        ["V", "d", "tokens", "pairs", "total s", "worker peak", "above base", "worker est.",
         "driver peak", "above base", "driver est.", "JVM peak", "total peak"],
        [_row(r, base, data) for r in runs],
    )
    lines += ["", *environment_lines(data)]
    return "\n".join(lines)
