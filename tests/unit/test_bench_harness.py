"""The benchmark harness's pure parts: a run's page and JSON, the Markdown of each benchmark,
the corpus slicer and the Zipf generator (no Spark, nothing timed)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.corpus import slice_corpus, word_name, zipf_corpus, zipf_ids
from benchmarks.results import check_name, page_text, publish, write_json, write_page

pytest.importorskip("psutil")


def test_a_page_is_written_whole_and_a_new_run_replaces_it(tmp_path: Path) -> None:
    results = tmp_path / "results"
    path = write_page("bench", "# Old run\n\n| a |\n", results / "bench.json", results)
    assert path == results / "bench.md"
    assert path.read_text() == page_text("# Old run\n\n| a |", results / "bench.json", results)
    write_page("bench", "# New run\n", results / "bench.json", results)
    text = path.read_text()
    assert text.startswith("# New run\n\n---\n\n") and "Old run" not in text
    assert text.endswith("All results: [benchmarks/RESULTS.md](../RESULTS.md).\n")


def test_pages_of_other_names_do_not_touch_each_other(tmp_path: Path) -> None:
    write_page("bench", "full", directory=tmp_path)
    write_page("bench-quick", "quick", directory=tmp_path)
    write_page("bench-quick", "quick 2", directory=tmp_path)
    assert (tmp_path / "bench.md").read_text().startswith("full\n")
    assert (tmp_path / "bench-quick.md").read_text().startswith("quick 2\n")


def test_the_footer_links_the_json_beside_the_page_and_names_one_elsewhere(tmp_path: Path
                                                                           ) -> None:
    results = tmp_path / "results"
    beside = page_text("body", results / "memory.json", results)
    assert "from [`memory.json`](memory.json);" in beside
    elsewhere = page_text("body", tmp_path / "mem.json", results)
    assert f"from `{tmp_path / 'mem.json'}`;" in elsewhere and "](mem.json)" not in elsewhere
    assert "Written by the run that measured it;" in page_text("body", None, results)


def test_page_names_are_checked() -> None:
    assert check_name("partitions-text8-shuffled") == "partitions-text8-shuffled"
    for bad in ("no spaces allowed", "../RESULTS", "", "a/b"):
        with pytest.raises(ValueError, match="page name"):
            check_name(bad)


def test_publish_writes_the_json_and_the_page_of_a_run(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    results = tmp_path / "results"
    (tmp_path / "RESULTS.md").write_text("- [memory](results/memory.md)\n")
    publish("memory", {"runs": [1]}, "# Memory\n", None, False, results)
    assert not results.exists()
    publish("memory", {"runs": [1]}, "# Memory\n", None, True, results)
    assert json.loads((results / "memory.json").read_text()) == {"runs": [1]}
    assert (results / "memory.md").read_text() == page_text(
        "# Memory", results / "memory.json", results)
    assert "new page" not in capsys.readouterr().out
    publish("memory-1m", {"runs": [2]}, "# Memory, 1M\n", None, True, results)
    assert "memory-1m.md is a new page" in capsys.readouterr().out
    other = tmp_path / "elsewhere" / "m.json"
    publish("memory", {"runs": [3]}, "# Memory\n", other, True, results)
    assert json.loads(other.read_text()) == {"runs": [3]}
    assert f"`{other}`" in (results / "memory.md").read_text()


def _result(system: str, total: float, train: float, analogy: float) -> dict[str, Any]:
    quality = {"analogy_accuracy": analogy, "analogy": {"evaluated": 1000},
               "ws353_spearman": 0.6, "men_spearman": 0.5}
    memory = {"driver_mb": 900.0, "workers_mb": 400.0, "worker_max_hwm_mb": 200.0}
    out = {"system": system, "seconds": {"a": total - train, "train": train},
           "total_seconds": total, "train_seconds": train, "startup_seconds": 5.0,
           "retained_tokens": 1_000_000, "quality": quality, "memory": memory}
    if system == "ours":
        out["pairs"] = 6_000_000
    return out


def _bench_data(quick: bool) -> dict[str, Any]:
    from benchmarks.bench_report import derive

    systems = [_result("ours", 100.0, 60.0, 0.40), _result("gensim", 50.0, 40.0, 0.36),
               _result("mllib", 200.0, 150.0, 0.37)]
    data = {
        "machine": {"cores": 2, "cpu": "cpu", "ram_gb": 24.0, "os": "os"},
        "versions": {k: "1" for k in ("python", "java", "pyspark", "numpy", "pyarrow",
                                      "gensim")},
        "command": "python -m benchmarks.bench --quick", "date": "2026-01-01T00:00:00",
        "quick": quick, "corpus": "c.txt", "corpus_tokens_limit": 2_000_000 if quick else None,
        "cores": 2, "hyperparameters": {"vector_size": 100, "window": 5, "min_count": 5,
                                        "epochs": 1, "alpha": 0.025, "seed": 1, "negative": 5,
                                        "sample": 1e-3, "min_alpha": 1e-4},
        "systems": systems,
    }
    data["derived"] = derive(systems, epochs=1)
    return data


def test_bench_ratios_and_rates() -> None:
    data = _bench_data(quick=False)
    rates, ratios = data["derived"]["rates"], data["derived"]["ratios"]
    assert rates["ours"]["pairs_per_sec"] == pytest.approx(100_000)
    assert rates["gensim"]["pairs_per_sec"] == pytest.approx(150_000)
    assert rates["gensim"]["pairs_estimated"] and rates["mllib"]["pairs_per_sec"] is None
    assert rates["mllib"]["words_per_sec"] == pytest.approx(1_000_000 / 150)
    assert ratios["gensim"]["total_time_ratio"] == pytest.approx(2.0)
    assert ratios["gensim"]["total_vs_their_train"] == pytest.approx(2.5)
    assert ratios["mllib"]["train_time_ratio"] == pytest.approx(0.4)
    assert ratios["gensim"]["analogy_delta_points"] == pytest.approx(4.0)


def test_bench_json_and_markdown(tmp_path: Path) -> None:
    from benchmarks.bench_report import markdown

    data = _bench_data(quick=True)
    path = tmp_path / "results" / "bench-quick.json"
    write_json(data, path)
    loaded = json.loads(path.read_text())
    assert {"machine", "versions", "command", "date", "systems", "derived"} <= set(loaded)
    assert [s["system"] for s in loaded["systems"]] == ["ours", "gensim", "mllib"]
    assert set(loaded["derived"]["ratios"]) == {"gensim", "mllib"}
    text = markdown(data)
    assert "Quick slice" in text and "first 2,000,000 tokens" in text
    assert "python -m benchmarks.bench --quick" in text
    assert "| gensim | 2.00 | 1.50 | 2.50 | +4.0 | +0.000 | +0.000 |" in text
    data["load_average"] = {"start": 15.04, "end": 3.0}
    assert "(load average 15.0 at the start, 3.0 at the end, on 2 cores)" in markdown(data)


def test_a_config_of_our_own_is_named_and_counted_with_its_epochs() -> None:
    """``--ours-config``: the section and the title say what this project ran with, and its
    words/s use its own epochs, not the peers'."""
    from benchmarks.bench import section_name
    from benchmarks.bench_report import derive, markdown

    data = _bench_data(quick=False)
    data["systems"][0]["epochs"] = 3
    data["derived"] = derive(data["systems"], epochs=1, same_pairs=False)
    rates = data["derived"]["rates"]
    assert rates["ours"]["words_per_sec"] == pytest.approx(1_000_000 * 3 / 60)
    assert rates["gensim"]["words_per_sec"] == pytest.approx(1_000_000 / 40)
    assert rates["gensim"]["pairs_per_sec"] is None  # not our pair count: not our settings
    data["ours_configs"] = ["conf/fast.toml"]
    data["ours_hyperparameters"] = {**data["hyperparameters"], "epochs": 3, "sample": 1e-4}
    text = markdown(data)
    assert text.startswith("# Side by side: w2v_spark with `conf/fast.toml`, gensim and Spark")
    assert ("**w2v_spark alone runs with `conf/fast.toml` on top** (of those hyperparameters it "
            "changes epochs 3, sample 0.0001); gensim and MLlib keep the shared ones.") in text
    assert section_name(False, [Path("conf/fast.toml")]) == "bench-fast"
    assert section_name(True, [Path("conf/fast.toml")]) == "bench-fast-quick"
    assert (section_name(False), section_name(True)) == ("bench", "bench-quick")


def test_a_failed_system_is_reported_not_ratioed() -> None:
    from benchmarks.bench_report import derive, markdown

    data = _bench_data(quick=False)
    data["systems"][2] = {"system": "mllib", "error": "exited with status 1",
                          "memory": data["systems"][2]["memory"]}
    data["derived"] = derive(data["systems"], epochs=1)
    assert set(data["derived"]["ratios"]) == {"gensim"}
    assert "failed: exited with status 1" in markdown(data)


def test_word_names_are_distinct_letter_words() -> None:
    names = [word_name(i) for i in range(26 * 27 + 5)]
    assert names[:3] == ["a", "b", "c"] and names[25:28] == ["z", "aa", "ab"]
    assert len(set(names)) == len(names)
    assert all(n.isalpha() and n.islower() for n in names)


def test_zipf_stream_has_the_asked_vocabulary_deterministically() -> None:
    ids = zipf_ids(5_000, min_count=5, extra_per_word=3.0, seed=7)
    counts = np.bincount(ids, minlength=5_000)
    assert ids.size == 5_000 * 8 and counts.size == 5_000
    assert counts.min() >= 5
    assert counts[0] > counts[100] > counts[4_000]
    assert np.array_equal(ids, zipf_ids(5_000, min_count=5, extra_per_word=3.0, seed=7))
    assert not np.array_equal(ids, zipf_ids(5_000, min_count=5, extra_per_word=3.0, seed=8))


def test_zipf_corpus_file(tmp_path: Path) -> None:
    a = zipf_corpus(tmp_path / "a.txt", 3_000, min_count=5, sentence_length=100, seed=1)
    b = zipf_corpus(tmp_path / "b.txt", 3_000, min_count=5, sentence_length=100, seed=1)
    text = a.path.read_text()
    assert text == b.path.read_text()
    tokens = text.split()
    assert len(tokens) == a.tokens == 3_000 * 10
    assert a.sentences == len(text.splitlines()) == 300
    words, counts = np.unique(tokens, return_counts=True)
    assert words.size == a.vocab_size and counts.min() >= 5


def test_slice_corpus_keeps_the_first_tokens(tmp_path: Path) -> None:
    src = tmp_path / "c.txt.gz"
    with gzip.open(src, "wt") as fh:
        fh.write("a b  c\n\nd e f g\nh\n")
    assert slice_corpus(src, tmp_path / "s.txt", 5) == 5
    assert (tmp_path / "s.txt").read_text() == "a b c\nd e\n"


def test_process_classification() -> None:
    from benchmarks.procmem import classify

    assert classify(["/usr/bin/python3", "-m", "pyspark.daemon"], "python3") == "worker"
    assert classify(["/usr/lib/jvm/bin/java", "-cp", "x"], "java") == "jvm"
    assert classify(["/venv/bin/python", "-m", "benchmarks.systems"], "python") == "driver"


def test_partition_grid_config_scales_the_learning_rate() -> None:
    from benchmarks.partitions import grid_config
    from w2v_spark.config_loading import load_config

    base = ["train.epochs=1"]
    cfg0 = load_config([], base)
    cfg = grid_config(base, 4, 2, "average", "sqrt-p", cfg0)
    assert (cfg.train.num_partitions, cfg.train.syncs_per_epoch) == (4, 2)
    assert cfg.train.merge == "average" and cfg.train.num_shards == 8
    assert cfg.train.alpha == pytest.approx(0.05)
    assert cfg.train.min_alpha == pytest.approx(0.0002)


@pytest.mark.parametrize("block", [1, 2, 3, 5, 1 << 20])
def test_slice_corpus_across_read_blocks(tmp_path: Path, block: int) -> None:
    src = tmp_path / "c.txt"
    src.write_text("alpha beta\ngamma  delta epsilon\n\nzeta eta theta")
    assert slice_corpus(src, tmp_path / "s.txt", 100, block=block) == 8
    assert (tmp_path / "s.txt").read_text() == (
        "alpha beta\ngamma delta epsilon\nzeta eta theta\n"
    )
    assert slice_corpus(src, tmp_path / "t.txt", 4, block=block) == 4
    assert (tmp_path / "t.txt").read_text() == "alpha beta\ngamma delta\n"


def test_partitions_report_shows_diverged_cells() -> None:
    from benchmarks.partitions_report import detail, pivot

    quality = {"analogy_accuracy": 0.25, "ws353_spearman": 0.5, "men_spearman": 0.4}
    seconds = {"tokenize": 1.0, "vocab": 1.0, "pairs": 2.0}
    data = {
        "ours": [
            {"num_partitions": 1, "syncs_per_epoch": 1, "merge": "mean", "alpha": 0.025,
             "seconds": {**seconds, "train": 10.0, "export": 1.0}, "pairs_per_sec": 1000.0,
             "final_loss": 2.5, "quality": quality},
            {"num_partitions": 4, "syncs_per_epoch": 1, "merge": "mean", "alpha": 0.025,
             "seconds": {**seconds, "train": 7.0}, "quality": None,
             "diverged": "training diverged in epoch 2, round 1: the loss per pair is 23.1"},
        ],
        "mllib": [],
        "hyperparameters": {"alpha": 0.025},
    }
    grid = "\n".join(pivot(data, "mean"))
    assert "25.0% · 0.500 · 10 s" in grid
    assert "diverged · 7 s" in grid
    rows = "\n".join(detail(data))
    assert "training diverged in epoch 2, round 1" in rows


def test_partitions_report_of_an_mllib_only_run() -> None:
    from benchmarks.partitions import parse_args
    from benchmarks.partitions_report import markdown

    quality = {"analogy_accuracy": 0.31, "ws353_spearman": 0.6, "men_spearman": 0.55}
    data = {
        "quick": False, "corpus_tokens_limit": None, "corpus": "text8.gz", "cores": 2,
        "lr_scale": "none", "shared_seconds": {}, "ours": [],
        "mllib": [{"num_partitions": 8, "seconds": {"read": 30.0, "fit": 500.0, "export": 4.0},
                   "quality": quality}],
        "hyperparameters": {"alpha": 0.025, "epochs": 5, "vector_size": 100},
        "machine": {"cores": 2, "cpu": "x", "ram_gb": 24, "os": "y"},
        "versions": dict.fromkeys(["python", "java", "pyspark", "numpy", "pyarrow", "gensim"],
                                  "1"),
        "date": "today", "command": "python -m benchmarks.partitions --mllib-only",
    }
    text = markdown(data)
    assert text.startswith("# Partitions: Spark MLlib alone, whole corpus, 5 epochs, P = 8\n")
    assert "MLlib only (`--mllib-only`)" in text
    assert "Tokenize" not in text
    assert "| 8 | MLlib | — | 0.025 | — | 500 | 534 | — | — | 31.0% | 0.600 | 0.550 |" in text
    with pytest.raises(SystemExit):
        parse_args(["--mllib-only", "--no-mllib"])


def test_partition_grid_variants_carry_their_own_scaling() -> None:
    from benchmarks.partitions import variants
    from benchmarks.partitions_report import pivot

    assert variants("mean, average/sqrt-p,", "none") == [
        ("mean", "mean", "none"), ("average/sqrt-p", "average", "sqrt-p"),
    ]
    with pytest.raises(SystemExit, match="unknown learning-rate scaling 'half'"):
        variants("mean/half", "none")
    quality = {"analogy_accuracy": 0.25, "ws353_spearman": 0.5, "men_spearman": 0.4}
    row = {"num_partitions": 2, "syncs_per_epoch": 4, "merge": "mean", "alpha": 0.025,
           "seconds": {"train": 10.0}, "quality": quality}
    data = {"ours": [{**row, "variant": "mean"},
                     {**row, "variant": "mean/inv-sqrt-p", "seconds": {"train": 20.0}}],
            "mllib": []}
    assert "25.0% · 0.500 · 20 s" in "\n".join(pivot(data, "mean/inv-sqrt-p"))
    assert "20 s" not in "\n".join(pivot(data, "mean"))


def test_partition_grids_are_titled_by_what_they_measured() -> None:
    from benchmarks.partitions_report import title

    quality = {"analogy_accuracy": 0.25, "ws353_spearman": 0.5, "men_spearman": 0.4}
    row = {"num_partitions": 2, "syncs_per_epoch": 4, "merge": "mean", "quality": quality}
    data = {"corpus_tokens_limit": 4_000_000, "hyperparameters": {"epochs": 2}, "mllib": [],
            "ours": [{**row, "variant": "mean"}, {**row, "num_partitions": 8, "variant": "mean"},
                     {**row, "variant": "mean/inv-sqrt-p"}]}
    assert title(data) == ("# Partitions and sync rounds: first 4,000,000 tokens, 2 epochs, "
                           "P = 2, 8, syncs 4, merges `mean`, `mean/inv-sqrt-p`")
    data["corpus_tokens_limit"], data["ours"] = None, data["ours"][:1]
    assert title(data) == ("# Partitions and sync rounds: whole corpus, 2 epochs, P = 2, "
                           "syncs 4, merge `mean`")


def test_memory_page_puts_the_current_bounds_beside_the_peaks() -> None:
    """The estimates come from the formulas the train stage checks, not from the JSON, which
    holds those of the day of the run."""
    from benchmarks.memory_report import markdown
    from w2v_spark.spark.memory import estimate

    memory = {"worker_max_hwm_mb": 2_062.0, "driver_python_hwm_mb": 2_885.0,
              "jvm_hwm_mb": 7_777.0, "total_mb": 13_208.0}
    old = {"worker_mb": 1.0, "driver_mb": 1.0}
    runs = [{"vocab_asked": 10_000, "words": 10_000, "vector_size": 50, "estimates": old,
             "tokens": 100_000, "pairs": 500_000, "total_seconds": 70.0,
             "memory": {**memory, "worker_max_hwm_mb": 164.0, "driver_python_hwm_mb": 184.0}},
            {"vocab_asked": 1_000_000, "words": 1_000_000, "vector_size": 50, "estimates": old,
             "tokens": 10_000_000, "pairs": 56_000_000, "total_seconds": 302.0,
             "memory": memory},
            {"vocab_asked": 1_000_000, "vector_size": 300, "estimates": old,
             "skipped": "the estimate exceeds 60% of this machine's RAM"}]
    data = {"runs": runs, "quick": False, "extra_per_word": 5, "cores": 2, "partitions": 2,
            "overrides": ["train.epochs=1"],
            "machine": {"cores": 2, "cpu": "x", "ram_gb": 24, "os": "y"},
            "versions": dict.fromkeys(["python", "java", "pyspark", "numpy", "pyarrow",
                                       "gensim"], "1"),
            "date": "today", "command": "python -m benchmarks.memory"}
    text = markdown(data)
    assert text.startswith("# Memory against vocabulary size and vector_size: "
                           "V = 10,000, 1,000,000; d = 50, 300\n")
    big = estimate(1_000_000, 50, 2, local=True)
    worker, driver = big.worker_python / 2**20, big.driver_python / 2**20
    assert (f"| 1,000,000 | 50 | 10,000,000 | 56,000,000 | 302 | 2,062 | +1,898 | "
            f"{worker:,.0f} | 2,885 | +2,701 | {driver:,.0f} | 7,777 | 13,208 |") in text
    assert f"{estimate(1_000_000, 300, 2, local=True).worker_python / 2**20:,.0f}" in text


def _item_result(seed: int | None, ours: float, gensim: float | None,
                 extra: tuple[str, ...] = ()) -> dict[str, Any]:
    overrides = [*extra] + ([f"train.seed={seed}"] if seed is not None else [])
    out: dict[str, Any] = {
        "dataset": "movielens", "overrides": overrides,
        "ours": {"hit_rate@10": ours, "mrr@10": ours / 4, "cases": 610},
        "popularity": {"hit_rate@10": 0.043, "mrr@10": 0.014, "cases": 610},
    }
    if gensim is not None:
        out["gensim"] = {"hit_rate@10": gensim, "mrr@10": gensim / 4, "cases": 610}
    return out


def test_items_seeds_are_paired_per_setting() -> None:
    import statistics

    from benchmarks.items_report import markdown, paired_seeds

    results = [
        _item_result(None, 0.070, 0.077),            # no seed override: seed 1
        _item_result(2, 0.060, 0.079),               # replaced by the later seed-2 result
        _item_result(2, 0.079, 0.079),
        _item_result(3, 0.082, 0.085),
        _item_result(4, 0.090, None),                # no gensim: not paired
        _item_result(1, 0.245, 0.243, ("pairs.window=0",)),
    ]
    summaries = paired_seeds(results)
    assert [(s["setting"], s["seeds"]) for s in summaries] == [
        ([], [1, 2, 3]), (["pairs.window=0"], [1])]
    hit = summaries[0]["hit_rate@10"]
    diffs = [0.070 - 0.077, 0.079 - 0.079, 0.082 - 0.085]
    assert hit["ours"] == [0.070, 0.079, 0.082]
    assert hit["difference"] == pytest.approx(statistics.mean(diffs))
    assert hit["standard_error"] == pytest.approx(statistics.stdev(diffs) / 3 ** 0.5)
    assert hit["gensim_mean"] == pytest.approx(statistics.mean([0.077, 0.079, 0.085]))
    assert summaries[1]["hit_rate@10"]["standard_error"] == 0.0
    text = markdown(summaries)
    assert "| 7.0% / 7.9% / 8.2% | 7.7% / 7.9% / 8.5% | 7.7% | 8.0% | -0.33 pt ± 0.20 pt |" in text
    assert "| pairs.window=0 | 1 | hit_rate@10 |" in text


def test_kernel_variants_name_batch_shared_negatives_and_groups() -> None:
    from benchmarks.kernel import parse_variant

    assert parse_variant("512:16:8") == (512, 16, 8)
    assert parse_variant("512:64") == (512, 64, 1)
    with pytest.raises(SystemExit, match="batch_size:shared_negatives"):
        parse_variant("512")


def test_kernel_line_profile_accounts_for_the_pass() -> None:
    from benchmarks.kernel import Slice, line_profile

    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(60)]
    tokens = [words[min(int(z), 59)] for z in rng.zipf(1.3, size=20_000)]
    data = Slice(tokens)
    table = line_profile(data, 8, "64:16", 4096)
    rows = [line for line in table if line.startswith("| `")]
    shares = [float(r.rsplit("|", 2)[-2].strip().rstrip("%")) for r in rows]
    assert all(0.0 < s <= 100.0 for s in shares)

    def hits(row: str) -> int:
        return int(row.split("|")[3].strip().replace(",", ""))

    # One step per minibatch of 64 pairs (the shuffle windows of 4,096 hold whole
    # minibatches): the step's gather and its scatter into w_in run once per minibatch, and
    # the loop's call to the step is its heaviest line.
    batches = -(-data.inputs.size // 64)
    gather = next(r for r in rows if "`sgns_step_shared`" in r and "h = np.take(w_in" in r)
    scatter = next(r for r in rows if "`sgns_step_shared`" in r and "w_in.add(w_in" in r)
    assert hits(gather) == hits(scatter) == batches
    loop = [r for r in rows if r.startswith("| `SliceTrainer.train`")]
    heaviest = max(loop, key=lambda r: float(r.rsplit("|", 2)[-2].strip().rstrip("%")))
    assert "loss = sgns_step_shared(" in heaviest


def _small_embeddings() -> Any:
    from w2v_spark.vectors.similarity import Embeddings

    rng = np.random.default_rng(5)
    words = [f"w{i}" for i in range(40)]
    return Embeddings(words, rng.normal(size=(40, 8)).astype(np.float32), np.arange(40, 0, -1))


def test_kept_vectors_read_back_the_same_by_us_and_by_gensim(tmp_path: Path) -> None:
    from benchmarks.bench import keep_vectors
    from benchmarks.evaluate import load_table
    from w2v_spark.io.vector_reader import read_vectors

    emb = _small_embeddings()
    (tmp_path / "ours").mkdir()
    (tmp_path / "ours" / "vectors.bin").write_bytes(b"an older run's file")
    (tmp_path / "ours" / "embeddings").mkdir()
    (tmp_path / "ours" / "embeddings" / "part-00001.parquet").write_bytes(b"an older part")
    path = keep_vectors(emb, tmp_path / "ours")
    assert path == tmp_path / "ours" / "vectors.bin"
    words, vectors = read_vectors(str(path), "word2vec-bin")
    assert words == emb.words and np.array_equal(vectors, emb.vectors)
    assert not (tmp_path / "ours" / "embeddings" / "part-00001.parquet").exists()
    table = load_table(tmp_path / "ours" / "embeddings")
    assert table.words == emb.words and np.array_equal(table.vectors, emb.vectors)
    keyedvectors = pytest.importorskip("gensim.models.keyedvectors")
    kv = keyedvectors.KeyedVectors.load_word2vec_format(str(path), binary=True)
    assert kv.index_to_key == emb.words and np.array_equal(kv.vectors, emb.vectors)


def test_bench_markdown_names_the_kept_vectors() -> None:
    from benchmarks.bench_report import markdown

    data = _bench_data(quick=False)
    assert "word2vec binary format" not in markdown(data)
    data["systems"][0]["vectors_file"] = "benchmarks/runs/bench/ours/vectors.bin"
    data["systems"][1]["vectors_file"] = "benchmarks/runs/bench/gensim/vectors.bin"
    data["eval_dir"] = "../shared/data/eval"
    text = markdown(data)
    assert ("w2v_spark `benchmarks/runs/bench/ours/vectors.bin`; gensim "
            "`benchmarks/runs/bench/gensim/vectors.bin`.") in text
    assert "binary=True" in text and "benchmarks/runs/bench/ours/vectors.bin ../shared/data/eval" \
        in text


@pytest.mark.shared_data
def test_the_gensim_command_of_the_report_scores_kept_vectors_as_we_do(tmp_path: Path) -> None:
    """The command the bench section prints, run as printed, gives our quality figures."""
    import shlex
    import subprocess
    import sys

    from benchmarks.bench import keep_vectors
    from benchmarks.bench_report import _GENSIM_CHECK
    from benchmarks.evaluate import SHARED_EVAL, score
    from w2v_spark.io.vector_reader import VectorReader
    from w2v_spark.io.vector_streams import open_input
    from w2v_spark.vectors.similarity import Embeddings

    pytest.importorskip("gensim")
    glove = SHARED_EVAL.parent / "vectors" / "glove.6B.50d.word2vec.txt.gz"
    needed = [glove] + [SHARED_EVAL / name for name in
                        ("questions-words.txt", "wordsim353.tsv", "EN-MEN-TR-3k.txt")]
    for path in needed:
        if not path.exists():
            pytest.skip(f"shared data is absent: {path} not found")
    words: list[str] = []
    parts = []
    with open_input(str(glove)) as stream:
        for batch in VectorReader(stream, "word2vec-text", "strict").batches():
            words.extend(batch.words)
            parts.append(batch.vectors)
            if len(words) >= 40_000:
                break
    # More words than the 30,000 the analogies are restricted to, so the restriction counts.
    emb = Embeddings(words[:40_000], np.concatenate(parts)[:40_000])
    path = keep_vectors(emb, tmp_path / "glove")
    command = _GENSIM_CHECK.format(vectors=path, eval_dir=SHARED_EVAL)
    argv = shlex.split(command)
    assert argv[0] == "python"
    out = subprocess.run([sys.executable, *argv[1:]], capture_output=True, text=True,
                         check=True).stdout.split()
    ours = score(emb)
    assert float(out[0]) == pytest.approx(ours["analogy_accuracy"], abs=1e-12)
    assert float(out[1]) == pytest.approx(ours["ws353_spearman"], abs=1e-6)
    assert float(out[2]) == pytest.approx(ours["men_spearman"], abs=1e-6)
    assert 0.2 < ours["analogy_accuracy"] < 0.9


def test_stratum_imbalance_is_the_wait_for_the_slowest_task() -> None:
    from benchmarks.blocks_report import imbalance

    assert imbalance([[5, 5], [5, 5]]) == 1.0
    # sub-rounds wait 1 and 3 where even strata would take 1 and 2
    assert imbalance([[1, 1], [3, 1]]) == pytest.approx(4 / 3)


def test_blocks_benchmark_grid_trains_every_k_and_the_seeds_asked() -> None:
    from benchmarks.blocks import configurations, parse_args

    args = parse_args(["--blocks", "1,4,16", "--seeds", "1,2", "--seeds-at", "16",
                       "--merge", "2", "--mllib", ""])
    cells = [(c["strategy"], c["partitions"], c["seed"]) for c in configurations(args)]
    assert cells == [("blocks", 1, 1), ("blocks", 4, 1), ("blocks", 16, 1), ("blocks", 16, 2),
                     ("merge", 2, 1)]
    assert args.mllib == []
