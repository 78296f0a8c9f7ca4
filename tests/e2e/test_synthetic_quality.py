"""The project's fast end-to-end quality check: the whole pipeline, with the default training
settings, on the generated corpus must recover the structure planted in it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from w2v_spark import pipeline
from w2v_spark.config_loading import load_config
from w2v_spark.synthetic.text import planted_structure, write_corpus
from w2v_spark.vectors.loading import load_embeddings

pytestmark = [pytest.mark.e2e, pytest.mark.spark]


@pytest.fixture(scope="module")
def trained(spark, tmp_path_factory):  # type: ignore[no-untyped-def]
    root: Path = tmp_path_factory.mktemp("synthetic")
    corpus = root / "corpus.txt"
    write_corpus(corpus, num_sentences=20_000, seed=0)
    cfg = load_config()  # the defaults: 5 epochs, 2 partitions x 4 sync rounds, mean
    out = str(root / "run")
    pipeline.run_pipeline(spark, cfg, str(corpus), out)
    metrics = spark.read.parquet(f"{out}/metrics").orderBy("epoch", "round").collect()
    return metrics, load_embeddings(spark, out)


def test_every_planted_word_gets_a_vector(trained) -> None:  # type: ignore[no-untyped-def]
    _, emb = trained
    structure = planted_structure()
    words = {w for members in structure.categories.values() for w in members}
    words |= {w for pairs in structure.relations.values() for pair in pairs for w in pair}
    missing = sorted(w for w in words if w not in emb)
    assert missing == []
    assert np.all(np.isfinite(emb.vectors))


def test_category_neighbours_recovered(trained) -> None:  # type: ignore[no-untyped-def]
    _, emb = trained
    structure = planted_structure()
    fractions = []
    for members in structure.categories.values():
        for word in members:
            near = [w for w, _ in emb.most_similar(word, topn=10)]
            same = sum(1 for w in near if structure.category_of(w) == structure.category_of(word))
            assert same >= 3, f"{word}: only {same} of its 10 nearest words share its category"
            fractions.append(same / 10)
    assert np.mean(fractions) >= 0.6


def test_planted_analogies_solved(trained) -> None:  # type: ignore[no-untyped-def]
    _, emb = trained
    questions = planted_structure().analogies()
    solved = sum(
        emb.most_similar(positive=[b1, a2], negative=[a1], topn=1)[0][0] == b2
        for a1, b1, a2, b2 in questions
    )
    assert solved / len(questions) >= 0.85, f"solved {solved} of {len(questions)}"


def test_training_lowered_the_loss(trained) -> None:  # type: ignore[no-untyped-def]
    metrics, _ = trained
    assert [(r["epoch"], r["round"]) for r in metrics] == [
        (e, r) for e in range(5) for r in range(4)
    ]
    first = metrics[0]["loss"]
    last_epoch = np.mean([r["loss"] for r in metrics if r["epoch"] == 4])
    assert last_epoch < 0.9 * first, (first, last_epoch)
    rates = [r["learning_rate"] for r in metrics]
    assert rates == sorted(rates, reverse=True) and rates[-1] < 0.001
