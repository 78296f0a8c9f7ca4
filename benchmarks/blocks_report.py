"""The Markdown page of the blocks benchmark (:mod:`benchmarks.blocks`)."""

from __future__ import annotations

from typing import Any

from benchmarks.results import environment_lines, md_table


def _quality(q: dict[str, Any] | None) -> list[str]:
    if q is None:
        return ["diverged", "—", "—"]
    return [f"{100 * q['analogy_accuracy']:.1f}%", f"{q['ws353_spearman']:.3f}",
            f"{q['men_spearman']:.3f}"]


def imbalance(strata: list[list[int]]) -> float:
    """The sum over sub-rounds of the largest stratum, over the sum of their means: how much
    longer an epoch takes than with perfectly even strata, when a sub-round waits for its
    slowest task."""
    largest = sum(max(row) for row in strata)
    mean = sum(sum(row) / len(row) for row in strata)
    return largest / mean if mean else 1.0


def _label(row: dict[str, Any]) -> str:
    return "blocks" if row["strategy"] == "blocks" else "merge (`mean`)"


def quality_table(data: dict[str, Any]) -> list[str]:
    """One row per configuration: strategy, K or P, seed, quality, times."""
    epochs = data["hyperparameters"]["epochs"]
    base = next((r for r in data["ours"] if r["strategy"] == "blocks"
                 and r["partitions"] == 1 and r["quality"]), None)
    rows = []
    for r in data["ours"]:
        s = r["seconds"]
        delta = "—"
        if base is not None and r["quality"] is not None:
            q, b = r["quality"], base["quality"]
            delta = (f"{100 * (q['analogy_accuracy'] - b['analogy_accuracy']):+.1f} / "
                     f"{q['ws353_spearman'] - b['ws353_spearman']:+.3f}")
        rows.append([_label(r), r["partitions"], r["seed"], *_quality(r["quality"]), delta,
                     f"{s['train']:,.0f}", f"{s['train'] / epochs:,.0f}", f"{s['pairs']:,.0f}"])
    for m in data["mllib"]:
        s = m["seconds"]
        rows.append(["Spark MLlib", m["num_partitions"], data["hyperparameters"]["seed"],
                     *_quality(m["quality"]), "—", f"{s['fit']:,.0f}",
                     f"{s['fit'] / epochs:,.0f}", "—"])
    return md_table(["strategy", "K or P", "seed", "analogy", "WS353", "MEN",
                     "Δ against blocks K = 1, seed 1 (points / WS353)", "train s",
                     "s per epoch", "pairs s"], rows)


def blocks_table(data: dict[str, Any]) -> list[str]:
    """What the projection to more cores uses, per blocks row."""
    rows = []
    for r in data["ours"]:
        b = r.get("blocks")
        if not b:
            continue
        k = r["partitions"]
        per_epoch = b["sub_rounds"] / data["hyperparameters"]["epochs"]
        strata = b["stratum_pairs"]
        pairs = sum(map(sum, strata))
        rate = r["pairs"] / b["task_seconds_sum"] if b["task_seconds_sum"] else 0.0
        rows.append([k, r["seed"], b["sub_rounds"], f"{pairs:,}",
                     f"{imbalance(strata):.2f}", f"{rate:,.0f}",
                     f"{b['sub_round_overhead_mean']:.2f}",
                     f"{b['model_bytes_per_sub_round'] * per_epoch / 2**20:,.0f}"])
    return md_table(["K", "seed", "sub-rounds (all epochs)", "pairs per epoch", "stratum imbalance",
                     "pairs/s per task", "sub-round overhead s", "model MiB moved per epoch"],
                    rows)


def markdown(data: dict[str, Any]) -> str:
    """The page of one run (``results/<name>.md``)."""
    h = data["hyperparameters"]
    limit = data["corpus_tokens_limit"]
    corpus = f"`{data['corpus']}`" + (f", first {limit:,} tokens" if limit else "")
    shared = data["shared_seconds"]
    lines = [f"# Training in vocabulary blocks: quality and time against K "
             f"({'first ' + format(limit, ',') + ' tokens' if limit else 'whole corpus'}, "
             f"{h['epochs']} epochs)", ""]
    if data["quick"]:
        lines += ["**Quick slice (`--quick`): a smoke run on a small part of the corpus; its "
                  "figures say nothing about text8 quality.**", ""]
    lines += [
        f"Corpus {corpus}, `local[{data['cores']}]`, {h['epochs']} epoch(s), defaults otherwise "
        f"(vector_size {h['vector_size']}, window {h['window']}, negative {h['negative']}). "
        f"Tokenize ({shared.get('tokenize', 0):,.0f} s) and vocab ({shared.get('vocab', 0):,.0f} "
        "s) ran once; the pairs, train and export stages once per row. K: the blocks (and "
        "tasks per sub-round) of `train.strategy = \"blocks\"`; P: `train.num_partitions` of "
        "the merge strategy and MLlib's `numPartitions`.",
        "", *quality_table(data), "",
        "Per blocks row: the stratum imbalance is the sum over sub-rounds of the largest "
        "stratum's pairs over the sum of their means (a sub-round waits for its slowest task); "
        "pairs/s per task is the pairs over the sum of the tasks' training seconds; the "
        "sub-round overhead is a sub-round's wall time beyond its slowest task, averaged; the "
        "model moved is what the tasks read and write (two blocks each, read and written).",
        "", *blocks_table(data), "",
    ]
    lines += environment_lines(data)
    return "\n".join(lines)
