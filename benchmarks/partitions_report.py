"""The Markdown page of the partitions x syncs grid (:mod:`benchmarks.partitions`)."""

from __future__ import annotations

from typing import Any

from benchmarks.results import environment_lines, md_table


def _cell(q: dict[str, Any] | None, seconds: float) -> str:
    if q is None:
        return f"diverged · {seconds:,.0f} s"
    return (f"{100 * q['analogy_accuracy']:.1f}% · {q['ws353_spearman']:.3f} · "
            f"{seconds:,.0f} s")


def variant(row: dict[str, Any]) -> str:
    """The ``--merges`` entry a row was trained with (``merge`` or ``merge/lr-scale``)."""
    return str(row.get("variant", row["merge"]))


def pivot(data: dict[str, Any], label: str) -> list[str]:
    """Rows num_partitions, columns syncs_per_epoch (and MLlib at the same P): analogy
    accuracy · WS353 · training seconds of one ``--merges`` entry."""
    rows = [r for r in data["ours"] if variant(r) == label]
    parts = sorted({r["num_partitions"] for r in rows})
    syncs = sorted({r["syncs_per_epoch"] for r in rows})
    mllib = {m["num_partitions"]: m for m in data["mllib"]}
    headers = ["num_partitions", *[f"syncs {s}" for s in syncs]]
    if mllib:
        headers.append("MLlib")
    table = []
    for p in parts:
        line = [str(p)]
        for s in syncs:
            cell = next((r for r in rows if r["num_partitions"] == p
                         and r["syncs_per_epoch"] == s), None)
            line.append(_cell(cell["quality"], cell["seconds"]["train"]) if cell else "—")
        if mllib:
            m = mllib.get(p)
            line.append(_cell(m["quality"], m["seconds"]["fit"]) if m else "—")
        table.append(line)
    return md_table(headers, table)


def detail(data: dict[str, Any]) -> list[str]:
    """One row per configuration, with every stage's time."""
    rows = []
    for r in data["ours"]:
        s, q = r["seconds"], r["quality"]
        if q is None:
            rows.append([
                r["num_partitions"], r["syncs_per_epoch"], variant(r), f"{r['alpha']:g}",
                f"{s['pairs']:,.0f}", f"{s['train']:,.0f}", f"{sum(s.values()):,.0f}", "—",
                r["diverged"], "—", "—", "—",
            ])
            continue
        rows.append([
            r["num_partitions"], r["syncs_per_epoch"], variant(r), f"{r['alpha']:g}",
            f"{s['pairs']:,.0f}", f"{s['train']:,.0f}", f"{sum(s.values()):,.0f}",
            f"{r['pairs_per_sec']:,.0f}", f"{r['final_loss']:.3f}",
            f"{100 * q['analogy_accuracy']:.1f}%", f"{q['ws353_spearman']:.3f}",
            f"{q['men_spearman']:.3f}",
        ])
    for m in data["mllib"]:
        s, q = m["seconds"], m["quality"]
        rows.append([
            m["num_partitions"], "MLlib", "—", f"{data['hyperparameters']['alpha']:g}", "—",
            f"{s['fit']:,.0f}", f"{sum(s.values()):,.0f}", "—", "—",
            f"{100 * q['analogy_accuracy']:.1f}%", f"{q['ws353_spearman']:.3f}",
            f"{q['men_spearman']:.3f}",
        ])
    return md_table(
        ["P", "syncs", "merge", "alpha", "pairs s", "train s", "total s", "pairs/s",
         "final loss", "analogy", "WS353", "MEN"], rows,
    )


def _numbers(values: list[int]) -> str:
    return ", ".join(str(v) for v in values)


def title(data: dict[str, Any]) -> str:
    """What the grid measured, in a few words: the slice, the epochs, the partition counts and
    the merges (or MLlib alone)."""
    limit = data["corpus_tokens_limit"]
    part = f"first {limit:,} tokens" if limit else "whole corpus"
    epochs = data["hyperparameters"]["epochs"]
    rows = data["ours"] or data["mllib"]
    counts = _numbers(sorted({r["num_partitions"] for r in rows}))
    if not data["ours"]:
        return f"# Partitions: Spark MLlib alone, {part}, {epochs} epochs, P = {counts}"
    labels = list(dict.fromkeys(variant(r) for r in data["ours"]))
    merges = ("merges " if len(labels) > 1 else "merge ") + ", ".join(f"`{x}`" for x in labels)
    syncs = _numbers(sorted({r["syncs_per_epoch"] for r in data["ours"]}))
    return (f"# Partitions and sync rounds: {part}, {epochs} epochs, P = {counts}, "
            f"syncs {syncs}, {merges}")


def markdown(data: dict[str, Any]) -> str:
    """The page of one grid run (``results/<name>.md``)."""
    h = data["hyperparameters"]
    limit = data["corpus_tokens_limit"]
    corpus = f"`{data['corpus']}`" + (f", first {limit:,} tokens" if limit else "")
    lines = [title(data), ""]
    if data["quick"]:
        lines += ["**Quick slice (`--quick`): a smoke run of the grid on a small part of the "
                  "corpus; its figures say nothing about text8 quality.**", ""]
    shared = data["shared_seconds"]
    stages = (
        f"Tokenize ({shared['tokenize']:,.0f} s) and vocab ({shared['vocab']:,.0f} s) ran once; "
        "the pairs stage once per P x syncs product. " if shared
        else "MLlib only (`--mllib-only`): this project's grid did not run. "
    )
    lines += [
        f"Corpus {corpus}, `local[{data['cores']}]`, {h['epochs']} epoch(s), vector_size "
        f"{h['vector_size']}; learning-rate scaling with P: `{data['lr_scale']}`. {stages}"
        "Cells: analogy accuracy · WS353 Spearman · training seconds (MLlib: fit seconds, "
        "same session).",
        "",
    ]
    for label in dict.fromkeys(variant(r) for r in data["ours"]):
        merge, _, scale = label.partition("/")
        heading = f"`merge = \"{merge}\"`" + (f", learning rate x `{scale}`" if scale else "")
        lines += [f"{heading}:", "", *pivot(data, label), ""]
    lines += ["Every configuration (total = tokenize + vocab + pairs + train + export, as if "
              "run alone):", "", *detail(data), ""]
    lines += environment_lines(data)
    return "\n".join(lines)
