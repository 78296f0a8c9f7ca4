"""Paired comparison of this pipeline and gensim over seeds, from ``benchmarks.items`` results.

One seed decides little on a small evaluation set: gensim with 2 workers is not deterministic,
and a different seed moves either system's HitRate@10 by about a standard error of the hit
rate. Run the same split over several seeds (``--sweep train.seed=1,2,3,4,5 --gensim``); each
seed trains both systems on the same sentences, so the per-seed differences are paired, and
their mean with its standard error says whether one system is ahead:

    .venv/bin/python -m benchmarks.items_report results.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from w2v_spark.config_loading import load_config

METRICS = ("hit_rate@10", "mrr@10")
ITEMS_CONF = Path(__file__).resolve().parents[1] / "conf" / "items.toml"


def _setting(result: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """What a result was measured on, apart from its seed."""
    others = tuple(o for o in result["overrides"] if not o.startswith("train.seed="))
    return result["dataset"], others


def _seed(result: dict[str, Any]) -> int:
    """The result's ``train.seed``: its last override, else the seed of ``conf/items.toml``."""
    seeds = [o.split("=", 1)[1] for o in result["overrides"] if o.startswith("train.seed=")]
    return int(seeds[-1]) if seeds else load_config([ITEMS_CONF]).train.seed


def mean_and_error(values: list[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (0 for a single value)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def paired_seeds(results: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group results that have both systems by dataset and setting, pair them by seed.

    Returns one summary per group: the seeds, each system's per-seed and mean metrics, and the
    mean per-seed difference (ours minus gensim) with its standard error. A seed measured more
    than once keeps its last result.
    """
    groups: dict[tuple[str, tuple[str, ...]], dict[int, dict[str, Any]]] = {}
    for r in results:
        if "ours" in r and "gensim" in r:
            groups.setdefault(_setting(r), {})[_seed(r)] = r
    out = []
    for (dataset, setting), by_seed in groups.items():
        seeds = sorted(by_seed)
        summary: dict[str, Any] = {"dataset": dataset, "setting": list(setting), "seeds": seeds,
                                   "cases": by_seed[seeds[0]]["ours"]["cases"]}
        for metric in METRICS:
            ours = [by_seed[s]["ours"][metric] for s in seeds]
            theirs = [by_seed[s]["gensim"][metric] for s in seeds]
            diff, error = mean_and_error([a - b for a, b in zip(ours, theirs, strict=True)])
            summary[metric] = {"ours": ours, "gensim": theirs,
                               "ours_mean": sum(ours) / len(ours),
                               "gensim_mean": sum(theirs) / len(theirs),
                               "difference": diff, "standard_error": error,
                               "popularity": by_seed[seeds[0]]["popularity"][metric]}
        out.append(summary)
    return out


def markdown(summaries: list[dict[str, Any]]) -> str:
    """A table: per setting, both systems' means over the seeds and the paired difference."""
    lines = ["| dataset | setting | seeds | metric | ours, per seed | gensim, per seed "
             "| ours mean | gensim mean | ours - gensim (± SE) | popularity |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for s in summaries:
        setting = " ".join(s["setting"]) or "default"
        seeds = ",".join(str(x) for x in s["seeds"])
        for metric in METRICS:
            m = s[metric]
            pct = metric.startswith("hit")

            def fmt(v: float, pct: bool = pct) -> str:
                return f"{100 * v:.1f}%" if pct else f"{v:.3f}"

            def fmt_diff(v: float, pct: bool = pct) -> str:
                return f"{100 * v:+.2f} pt" if pct else f"{v:+.4f}"

            err = f"{100 * m['standard_error']:.2f} pt" if pct else f"{m['standard_error']:.4f}"
            lines.append(
                f"| {s['dataset']} ({s['cases']:,} cases) | {setting} | {seeds} | {metric} "
                f"| {' / '.join(fmt(v) for v in m['ours'])} "
                f"| {' / '.join(fmt(v) for v in m['gensim'])} "
                f"| {fmt(m['ours_mean'])} | {fmt(m['gensim_mean'])} "
                f"| {fmt_diff(m['difference'])} ± {err} | {fmt(m['popularity'])} |")
    return "\n".join(lines)


def load(paths: list[Path]) -> list[dict[str, Any]]:
    """Results from JSON-lines files written by ``benchmarks.items --json``."""
    results = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                results.append(json.loads(line))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path, help="JSON-lines files of results")
    args = parser.parse_args()
    summaries = paired_seeds(load(args.results))
    if not summaries:
        raise SystemExit("items_report: no result has both 'ours' and 'gensim' (run with --gensim)")
    print(markdown(summaries))


if __name__ == "__main__":
    main()
