"""Score an embeddings table the standard way: Google analogies (the 30,000 most frequent
words, case-insensitive, question words excluded), WordSim-353 and MEN Spearman.

    .venv/bin/python -m benchmarks.evaluate --embeddings out/text8/embeddings [--json out.json]

Reads the embeddings table with pyarrow (no Spark needed) and the evaluation sets from
``../shared/data/eval``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from w2v_spark.vectors.analogies import evaluate_analogies
from w2v_spark.vectors.eval_files import read_analogies, read_word_pairs
from w2v_spark.vectors.similarity import Embeddings
from w2v_spark.vectors.word_pairs import evaluate_word_pairs

SHARED_EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "eval"


def load_table(path: str | Path) -> Embeddings:
    """An embeddings Parquet table (word, word_id, count, vector) as :class:`Embeddings`."""
    if not (Path(path) / "_SUCCESS").exists():
        raise SystemExit(f"{path} is not a complete table (no _SUCCESS marker)")
    columns = ["word", "word_id", "count", "vector"]
    return Embeddings.from_arrow(pq.read_table(path, columns=columns))


def write_table(path: str | Path, emb: Embeddings) -> None:
    """Write ``emb`` as an embeddings table (``word, word_id, count, vector``, one Parquet file
    and a ``_SUCCESS`` marker), the layout this project's export stage writes; word ids are
    the row order of ``emb``."""
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    vectors = np.ascontiguousarray(emb.vectors, dtype=np.float32)
    dim = vectors.shape[1]
    counts = emb.counts if emb.counts is not None else np.zeros(len(emb), np.int64)
    table = pa.table(
        {
            "word": pa.array(list(emb.words), pa.string()),
            "word_id": pa.array(np.arange(len(emb), dtype=np.int32)),
            "count": pa.array(np.asarray(counts, dtype=np.int64)),
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), dim)
            .cast(pa.list_(pa.float32())),
        }
    )
    pq.write_table(table, out / "part-00000.parquet")
    (out / "_SUCCESS").write_text("")


def score(emb: Embeddings, eval_dir: Path = SHARED_EVAL) -> dict[str, Any]:
    """Analogy accuracy and word-pair Spearman of ``emb`` on the standard sets."""
    analogies = evaluate_analogies(
        emb, read_analogies(eval_dir / "questions-words.txt"), restrict_vocab=30_000
    )
    ws353 = evaluate_word_pairs(emb, read_word_pairs(eval_dir / "wordsim353.tsv"))
    men = evaluate_word_pairs(emb, read_word_pairs(eval_dir / "EN-MEN-TR-3k.txt"))
    return {
        "analogy_accuracy": analogies.accuracy,
        "analogy": analogies.to_dict(),
        "ws353_spearman": ws353.spearman,
        "ws353": ws353.to_dict(),
        "men_spearman": men.spearman,
        "men": men.to_dict(),
    }


def report(result: dict[str, Any], json_path: str | None, label: str = "") -> None:
    """Print the headline figures of :func:`score`'s result; write all of it as JSON too."""
    print(
        f"{label}analogy {100 * result['analogy_accuracy']:.1f}%  "
        f"WS353 {result['ws353_spearman']:.3f}  MEN {result['men_spearman']:.3f}"
    )
    if json_path:
        Path(json_path).write_text(json.dumps(result, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embeddings", required=True, help="an embeddings table directory")
    parser.add_argument("--json", help="also write the full result here")
    args = parser.parse_args()
    report(score(load_table(args.embeddings)), args.json)


if __name__ == "__main__":
    main()
