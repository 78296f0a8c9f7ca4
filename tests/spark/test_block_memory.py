"""The driver never holds the model when training in blocks: its peak memory follows one row
of a block's files, not ``V x d``. Each run is a driver process of its own, so that its
high-water mark is its own."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.runs import SPARK_SETTINGS, cli_env, run_cli

pytestmark = pytest.mark.spark

#: A driver that runs the whole pipeline (no embeddings loaded after it) and prints its own
#: peak resident memory in KiB.
_DRIVER = """
import json, resource, sys
from w2v_spark.config_loading import load_config
from w2v_spark.pipeline import run_pipeline
from w2v_spark.spark.session import build_session
cfg = load_config([], sys.argv[3:])
spark = build_session(cfg.spark)
run_pipeline(spark, cfg, sys.argv[1], sys.argv[2])
spark.stop()
print(json.dumps({"peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

VOCAB = 20_000


def _word(i: int) -> str:
    letters = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        letters = chr(97 + r) + letters
    return letters


@pytest.fixture(scope="module")
def wide_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every one of :data:`VOCAB` words 5 times and a Zipf tail, shuffled into lines."""
    rng = np.random.default_rng(3)
    counts = 5 + (4000 // np.arange(1, VOCAB + 1))
    tokens = np.repeat(np.arange(VOCAB), counts)
    rng.shuffle(tokens)
    words = [_word(i) for i in range(VOCAB)]
    path = tmp_path_factory.mktemp("wide") / "corpus.txt"
    lines = (" ".join(words[t] for t in tokens[i : i + 20]) for i in range(0, tokens.size, 20))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _driver_peak_mib(corpus: Path, out: Path, *settings: str) -> float:
    base = ("train.epochs=1", "train.syncs_per_epoch=1", "vocab.min_count=5",
            "train.keep_checkpoints=1",
            *(s for s in SPARK_SETTINGS if "maxRecordsPerBatch" not in s))
    done = run_cli([sys.executable, "-c", _DRIVER, str(corpus), str(out), *base, *settings],
                   cli_env())
    assert done.returncode == 0, done.stderr[-3000:]
    return float(json.loads(done.stdout.strip().splitlines()[-1])["peak_kib"]) / 1024


def test_the_driver_peak_does_not_grow_with_the_model(wide_corpus: Path, tmp_path: Path
                                                       ) -> None:
    """Blocks at d = 32 and d = 128 (4x V·d), and merge at d = 128, which holds the model and
    the tasks' rows in the driver. The blocks driver's peak grows by less than a quarter of
    what the merge driver holds above it: the export holds one row of a block's files at a
    time (at most 32 MiB of vectors, a few copies of it while it is written), which at this
    size is a block of 5,000 words, not the model."""
    blocks = ("train.strategy=blocks", "train.num_partitions=4", "train.block_passes=1")
    small = _driver_peak_mib(wide_corpus, tmp_path / "b32", *blocks, "train.vector_size=32")
    large = _driver_peak_mib(wide_corpus, tmp_path / "b128", *blocks, "train.vector_size=128")
    merge = _driver_peak_mib(wide_corpus, tmp_path / "m128", "train.strategy=merge",
                             "train.vector_size=128")
    assert merge - large > 0.10 * large, (large, merge)
    assert large - small < 0.25 * (merge - large), (small, large, merge)
