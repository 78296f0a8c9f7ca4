"""The Markdown section of the memory benchmark (:mod:`benchmarks.memory`)."""

from __future__ import annotations

from typing import Any

from benchmarks.results import environment_lines, md_table


def baseline(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Peaks of the successful run with the smallest V x d: the fixed cost of the processes."""
    done = [r for r in runs if "memory" in r and "error" not in r]
    if not done:
        return {"worker": 0.0, "driver": 0.0}
    small = min(done, key=lambda r: r["words"] * r["vector_size"])
    return {"worker": small["memory"]["worker_max_hwm_mb"],
            "driver": small["memory"]["driver_python_hwm_mb"]}


def _row(r: dict[str, Any], base: dict[str, float]) -> list[str]:
    est = r["estimates"]
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
    """The RESULTS.md section of one memory benchmark run."""
    runs = data["runs"]
    base = baseline(runs)
    lines = ["## Memory against vocabulary size and vector_size", ""]
    if data["quick"]:
        lines += ["**Quick (`--quick`): small vocabularies only, a smoke run of the harness.**",
                  ""]
    lines += [
        f"Generated Zipf corpora (every word `min_count` times plus {data['extra_per_word']:g} "
        f"Zipf-drawn tokens per word), the whole pipeline in `local[{data['cores']}]` with "
        f"P = {data['partitions']} partitions and the default config otherwise "
        f"(overrides: `{' '.join(data['overrides'])}`). Peaks in MB: the largest Python "
        "worker, the Python driver and the JVM are each process's own high-water mark; "
        "total is the largest sampled sum over the whole process tree. 'Above base' subtracts "
        "the peak of the run with the smallest V x d (the fixed cost). Estimates (README): "
        "worker 40·V·d bytes, driver (16 + 16·P)·V·d + 512·V bytes.",
        "",
    ]
    lines += md_table(
        ["V", "d", "tokens", "pairs", "total s", "worker peak", "above base", "worker est.",
         "driver peak", "above base", "driver est.", "JVM peak", "total peak"],
        [_row(r, base) for r in runs],
    )
    lines += ["", *environment_lines(data)]
    return "\n".join(lines)
