"""Figures derived from the side-by-side benchmark's raw results, and its Markdown page.

Throughput is counted the same way for every system: training words/s is the number of corpus
tokens that are in the vocabulary, times the epochs, over the training time (gensim's
``train``, MLlib's ``fit``, this project's ``train`` stage). Training pairs/s is exact for this
project (its pairs stage counts them); gensim draws pairs with the same subsampling and window
rules, so its figure uses this project's pair count on the same corpus and is marked as an
estimate; MLlib (hierarchical softmax, no subsampling) has no comparable pair count.
"""

from __future__ import annotations

from typing import Any

from benchmarks.results import environment_lines, fmt, md_table

LABELS = {"ours": "w2v_spark", "gensim": "gensim", "mllib": "Spark MLlib"}


def _ok(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["system"]: r for r in results if "error" not in r}


def derive(results: list[dict[str, Any]], epochs: int, same_pairs: bool = True
           ) -> dict[str, Any]:
    """Throughputs per system and ratios of this project against the others. gensim's pairs/s
    is estimated with this project's pair count only when ``same_pairs`` (both ran the same
    hyperparameters, so the same window and subsampling)."""
    ok = _ok(results)
    rates: dict[str, dict[str, Any]] = {}
    our_pairs = ok.get("ours", {}).get("pairs")
    for name, r in ok.items():
        train = r["train_seconds"]
        retained = r.get("retained_tokens")
        runs = r.get("epochs", epochs)
        rate: dict[str, Any] = {
            "words_per_sec": retained * runs / train if retained and train > 0 else None,
            "pairs_per_sec": None,
            "pairs_estimated": False,
        }
        if name == "ours" and train > 0:
            rate["pairs_per_sec"] = r["pairs"] / train
        elif name == "gensim" and our_pairs and same_pairs and train > 0:
            rate["pairs_per_sec"] = our_pairs / train
            rate["pairs_estimated"] = True
        rates[name] = rate
    ratios: dict[str, dict[str, Any]] = {}
    ours = ok.get("ours")
    for other in ("gensim", "mllib"):
        theirs = ok.get(other)
        if ours is None or theirs is None:
            continue
        q, tq = ours["quality"], theirs["quality"]
        ratios[other] = {
            "total_time_ratio": ours["total_seconds"] / theirs["total_seconds"],
            "train_time_ratio": ours["train_seconds"] / theirs["train_seconds"],
            "total_vs_their_train": ours["total_seconds"] / theirs["train_seconds"],
            "analogy_delta_points": 100 * (q["analogy_accuracy"] - tq["analogy_accuracy"]),
            "ws353_delta": q["ws353_spearman"] - tq["ws353_spearman"],
            "men_delta": q["men_spearman"] - tq["men_spearman"],
        }
    return {"rates": rates, "ratios": ratios}


def _stages(r: dict[str, Any]) -> str:
    return " · ".join(f"{k} {v:,.0f}" for k, v in r["seconds"].items())


def _system_rows(data: dict[str, Any]) -> list[list[str]]:
    rates = data["derived"]["rates"]
    rows = []
    for r in data["systems"]:
        label = LABELS[r["system"]]
        mem = r["memory"]
        memory = [f"{mem['driver_mb']:,.0f}",
                  f"{mem['workers_mb']:,.0f} / {mem['worker_max_hwm_mb']:,.0f}"]
        if "error" in r:
            rows.append([label, f"failed: {r['error']}", "—", "—", "—", "—", *memory,
                         "—", "—", "—"])
            continue
        rate, q = rates[r["system"]], r["quality"]
        pairs = fmt(rate["pairs_per_sec"])
        if rate["pairs_estimated"] and rate["pairs_per_sec"] is not None:
            pairs = f"≈{pairs}"
        rows.append([
            label, _stages(r), f"**{r['total_seconds']:,.0f}**",
            f"{r['startup_seconds']:,.0f}", fmt(rate["words_per_sec"]), pairs, *memory,
            f"{100 * q['analogy_accuracy']:.1f}% of {q['analogy']['evaluated']:,}",
            f"{q['ws353_spearman']:.3f}",
            f"{q['men_spearman']:.3f}",
        ])
    return rows


def _ratio_rows(data: dict[str, Any]) -> list[list[str]]:
    rows = []
    for other, x in data["derived"]["ratios"].items():
        rows.append([
            LABELS[other], f"{x['total_time_ratio']:.2f}", f"{x['train_time_ratio']:.2f}",
            f"{x['total_vs_their_train']:.2f}", f"{x['analogy_delta_points']:+.1f}",
            f"{x['ws353_delta']:+.3f}", f"{x['men_delta']:+.3f}",
        ])
    return rows


def _title(data: dict[str, Any]) -> list[str]:
    h = data["hyperparameters"]
    limit = data["corpus_tokens_limit"]
    corpus = f"`{data['corpus']}`" + (f", first {limit:,} tokens" if limit else "")
    ours = " with " + ", ".join(f"`{c}`" for c in data["ours_configs"]) if data.get(
        "ours_configs") else ""
    lines = [f"# Side by side: w2v_spark{ours}, gensim and Spark MLlib", ""]
    if data["quick"]:
        lines += ["**Quick slice (`--quick`): a smoke run of the harness on a small part of the "
                  "corpus, not the benchmark; its figures say nothing about text8 quality.**", ""]
    lines += [
        f"Corpus {corpus}. {data['cores']} cores: w2v_spark in `local[{data['cores']}]` with "
        f"`num_partitions={data['cores']}`, gensim with `workers={data['cores']}`, MLlib in "
        f"`local[{data['cores']}]` with `numPartitions={data['cores']}`. Shared "
        f"hyperparameters: vector_size {h['vector_size']}, window {h['window']}, min_count "
        f"{h['min_count']}, epochs {h['epochs']}, alpha {h['alpha']}, seed {h['seed']}; "
        f"w2v_spark and gensim: negative {h['negative']}, sample {h['sample']}, min_alpha "
        f"{h['min_alpha']}; MLlib has hierarchical softmax and no subsampling.",
        "",
    ]
    if data.get("ours_configs"):
        files = ", ".join(f"`{c}`" for c in data["ours_configs"])
        ours = data["ours_hyperparameters"]
        changed = ", ".join(f"{k} {ours[k]}" for k in ours if ours[k] != h.get(k))
        lines += [f"**w2v_spark alone runs with {files} on top** (of those hyperparameters it "
                  f"changes {changed or 'none'}); gensim and MLlib keep the shared ones.", ""]
    return lines


def markdown(data: dict[str, Any]) -> str:
    """The page of one benchmark run (``results/<name>.md``)."""
    lines = _title(data)
    lines += md_table(
        ["system", "stages (s)", "total s", "start-up s", "train words/s", "train pairs/s",
         "peak driver MB", "peak workers MB (sum / largest)", "analogy", "WS353", "MEN"],
        _system_rows(data),
    )
    lines += [
        "",
        "Total: corpus to embeddings table, the sum of the stages (the Spark session's start-up "
        "is listed apart). Peak driver: the Python driver and the JVM together; workers: "
        "PySpark's Python workers (RSS sampled every 0.2 s; forked workers share pages, so the "
        "sum overstates). Words/s: in-vocabulary tokens x epochs / training time; ≈ marks "
        "gensim's pairs/s computed with w2v_spark's pair count on the same corpus.",
        "",
    ]
    if data["derived"]["ratios"]:
        lines += ["w2v_spark against each (time ratios below 1 mean w2v_spark is faster; "
                  "quality deltas are w2v_spark minus the other):", ""]
        lines += md_table(
            ["against", "total time ratio", "training time ratio",
             "w2v_spark total / their training", "analogy Δ (points)", "WS353 Δ", "MEN Δ"],
            _ratio_rows(data),
        )
        lines.append("")
    lines += _vectors_lines(data)
    lines += environment_lines(data)
    return "\n".join(lines)


#: gensim alone, scoring a kept vectors file on the same sets (its own evaluation code). The
#: analogies are restricted to the 30,000 most frequent words, as in
#: :func:`benchmarks.evaluate.score` and word2vec's own evaluation (gensim's default: 300,000).
_GENSIM_CHECK = (
    "python -c 'import sys; from gensim.models import KeyedVectors as K; "
    "kv = K.load_word2vec_format(sys.argv[1], binary=True); e = sys.argv[2]; "
    "print(kv.evaluate_word_analogies(e + \"/questions-words.txt\", restrict_vocab=30000)[0], "
    "kv.evaluate_word_pairs(e + \"/wordsim353.tsv\")[1][0], "
    "kv.evaluate_word_pairs(e + \"/EN-MEN-TR-3k.txt\")[1][0])' {vectors} {eval_dir}"
)


def _vectors_lines(data: dict[str, Any]) -> list[str]:
    """Where the run kept each system's vectors, and a command that scores them with gensim."""
    kept = [(s["system"], s["vectors_file"]) for s in data["systems"] if s.get("vectors_file")]
    if not kept:
        return []
    files = "; ".join(f"{LABELS.get(name, name)} `{path}`" for name, path in kept)
    return [
        f"The vectors of this run, in word2vec binary format (each beside its embeddings "
        f"table): {files}. gensim's own evaluation reproduces the quality columns from them:",
        "",
        "```bash",
        _GENSIM_CHECK.format(vectors=kept[0][1], eval_dir=data.get("eval_dir", "EVAL_DIR")),
        "```",
        "",
    ]
