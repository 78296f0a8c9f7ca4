"""The cluster path: spark-submit the pipeline job to a real standalone cluster (a master and
two workers on 127.0.0.1) with the package shipped by --py-files, then check its tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.cluster import standalone_cluster
from tests.runs import CLUSTER_SUBMIT_CONF
from w2v_spark.spark.packaging import build_zip
from w2v_spark.synthetic.text import planted_structure, write_corpus

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]


def test_pipeline_on_standalone_cluster(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus" / "corpus.txt"
    write_corpus(corpus, num_sentences=8_000, seed=3)
    pyfiles = build_zip(tmp_path / "dist" / "w2v_spark.zip")
    out = tmp_path / "out"
    with standalone_cluster(tmp_path / "cluster", workers=2, cores_per_worker=1) as cluster:
        result = cluster.spark_submit(
            REPO / "jobs" / "w2v_job.py",
            [
                "run", "--input", str(corpus), "--output", str(out),
                "--config", str(REPO / "conf" / "cluster.toml"),
                "--set", "train.num_partitions=2",
                "--set", "train.syncs_per_epoch=2",
                "--set", "train.epochs=3",
                "--set", "train.vector_size=32",
                "--set", "spark.conf.spark.sql.shuffle.partitions=4",
            ],
            py_files=[pyfiles],
            conf=CLUSTER_SUBMIT_CONF,
            timeout=900,
        )
        assert result.returncode == 0, result.stderr[-4000:] + cluster.logs()
        work_dir = cluster.work_dir
    # Both workers launched executors for the application.
    for worker in ("worker-0", "worker-1"):
        apps = list((work_dir / worker).glob("app-*/*/stderr"))
        assert apps, f"{worker} ran no executor"

    for table in ("tokens", "vocab", "pairs", "embeddings", "metrics"):
        assert (out / table / "_SUCCESS").exists(), table
    checkpoints = sorted(p.name for p in (out / "model").glob("round=*"))
    # The initial model and one checkpoint per sync round: 3 epochs x 2 rounds.
    assert checkpoints == [f"round={r:05d}" for r in range(7)]
    assert all((out / "model" / name / "_SUCCESS").exists() for name in checkpoints)
    emb = pq.read_table(out / "embeddings").sort_by("word_id")
    vocab = pq.read_table(out / "vocab")
    assert emb.num_rows == vocab.num_rows > 100
    assert emb.schema.field("vector").type.value_type.bit_width == 32
    vectors = np.asarray(emb.column("vector").to_pylist(), dtype=np.float32)
    assert vectors.shape == (emb.num_rows, 32)
    assert np.all(np.isfinite(vectors))
    assert emb.column("word_id").to_pylist() == list(range(emb.num_rows))

    # Trained, not just written: words of a planted category are closer to each other.
    index = {w: i for i, w in enumerate(emb.column("word").to_pylist())}
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    structure = planted_structure()
    within, across = [], []
    cats = list(structure.categories.items())
    for name, members in cats:
        ids = [index[w] for w in members if w in index]
        others = [index[w] for n, m in cats if n != name for w in m if w in index]
        sims = unit[ids] @ unit[ids].T
        within.append(sims[np.triu_indices(len(ids), 1)].mean())
        across.append((unit[ids] @ unit[others].T).mean())
    assert np.mean(within) > np.mean(across) + 0.3
