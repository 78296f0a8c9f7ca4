"""The embeddings commands of ``w2v-spark``: similar, analogy, evaluate, neighbors, import and
export --format, run in-process."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from tests.extras import extra
from tests.spark.test_cli import SPARK_SETTINGS
from w2v_spark.cli import main
from w2v_spark.io.schemas import EMBEDDINGS_SCHEMA, SUCCESS_MARKER
from w2v_spark.io.vector_reader import read_vectors
from w2v_spark.io.vector_writer import write_vectors
from w2v_spark.vectors.analogies import evaluate_analogies
from w2v_spark.vectors.eval_files import read_analogies
from w2v_spark.vectors.similarity import Embeddings

pytestmark = [pytest.mark.spark, pytest.mark.usefixtures("keep_session_conf")]

#: A planted gender direction and royalty direction: king - man + woman = queen exactly.
_BASE = {"man": [1, 0, 0, 0], "woman": [1, 1, 0, 0], "king": [1, 0, 1, 0], "queen": [1, 1, 1, 0],
         "boy": [1, 0, 0, 1], "girl": [1, 1, 0, 1], "apple": [0, 0, 0, -1],
         "pear": [0.1, 0, 0, -1]}


def _planted() -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(5)
    words = list(_BASE) + [f"filler{i}" for i in range(30)]
    base = np.array(list(_BASE.values()), dtype=np.float64)
    base = np.hstack([base, 0.01 * rng.standard_normal((len(base), 2))])
    filler = rng.standard_normal((30, 6))
    return words, np.vstack([base, filler]).astype(np.float32)


@pytest.fixture(scope="module")
def planted_run(spark, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run directory with an embeddings table, and the same vectors as files beside it."""
    root = tmp_path_factory.mktemp("cli_vectors")
    words, vectors = _planted()
    rows = [(w, i, 100 - i, [float(x) for x in v])
            for i, (w, v) in enumerate(zip(words, vectors, strict=True))]
    spark.createDataFrame(rows, EMBEDDINGS_SCHEMA).coalesce(1).write.parquet(
        str(root / "run" / "embeddings"))
    write_vectors(str(root / "vectors.txt"), words, vectors, "word2vec-text")
    write_vectors(str(root / "vectors.bin"), words, vectors, "word2vec-bin")
    return root


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("source", [["--vectors", "vectors.txt"], ["--vectors", "vectors.bin"],
                                    ["--output", "run"], ["--embeddings", "run/embeddings"]])
def test_similar_and_analogy_from_every_source(planted_run: Path, capsys, source) -> None:
    src = [source[0], str(planted_run / source[1])]
    code, out, err = _run(capsys, "analogy", "man", "king", "woman", *src)
    assert code == 0, err
    assert out.splitlines()[0] == "man is to king as woman is to ?"
    assert out.splitlines()[2].split()[:2] == ["1", "queen"]
    code, out, err = _run(capsys, "similar", "apple", "--topn", "2", "--json", *src)
    assert code == 0, err
    result = json.loads(out)
    assert result[0]["word"] == "pear" and len(result) == 2
    emb = Embeddings.load_word2vec_format(str(planted_run / "vectors.txt"))
    assert result[0]["score"] == pytest.approx(emb.similarity("apple", "pear"), abs=1e-6)


def test_similar_with_negative_words(planted_run: Path, capsys) -> None:
    code, out, _ = _run(capsys, "similar", "king", "girl", "--negative", "man", "--topn", "1",
                        "--json", "--vectors", str(planted_run / "vectors.txt"))
    assert code == 0 and json.loads(out)[0]["word"] == "queen"


def test_unknown_word_and_missing_source_are_errors(planted_run: Path, capsys) -> None:
    code, _, err = _run(capsys, "similar", "kingdom", "--vectors",
                        str(planted_run / "vectors.txt"))
    assert code == 2
    assert err.strip() == "w2v-spark: error: word 'kingdom' is not in the vocabulary"
    code, _, err = _run(capsys, "analogy", "a", "b", "c", "--vectors",
                        str(planted_run / "nowhere.txt"))
    assert code == 2 and "nowhere.txt does not exist" in err
    code, _, err = _run(capsys, "similar", "king", "--output", str(planted_run / "norun"))
    assert code == 2 and "does not exist" in err and "Traceback" not in err


def test_evaluate_prints_a_table_and_json(planted_run: Path, capsys, tmp_path: Path) -> None:
    questions = tmp_path / "questions.txt"
    questions.write_text(": family\nman king woman queen\nMAN WOMAN KING QUEEN\n"
                         "man king boy prince\n: fruit\napple pear man woman\n", encoding="utf-8")
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("king queen 9\nman woman 8\napple pear 7\nking apple 1\nman dragon 3\n",
                     encoding="utf-8")
    src = ["--vectors", str(planted_run / "vectors.txt")]
    code, out, err = _run(capsys, "evaluate", "--analogies", str(questions), "--word-pairs",
                          str(pairs), "--json", str(tmp_path / "r.json"), *src)
    assert code == 0, err
    assert "family" in out and "out of vocabulary: 1 of 4 questions (25.00%)" in out
    assert "Spearman" in out and "out of vocabulary 1 (20.00%)" in out
    result = json.loads((tmp_path / "r.json").read_text())
    emb = Embeddings.load_word2vec_format(str(planted_run / "vectors.txt"))
    expected = evaluate_analogies(emb, read_analogies(questions), restrict_vocab=30_000)
    assert result["analogies"]["correct"] == expected.correct
    assert result["analogies"]["sections"][0]["total"] == 2
    assert result["word_pairs"][0]["pairs"] == 4
    assert result["word_pairs"][0]["oov_ratio"] == pytest.approx(20.0)
    code, out, _ = _run(capsys, "evaluate", "--word-pairs", str(pairs), "--json", "-", *src)
    assert code == 0 and json.loads(out)["word_pairs"][0]["spearman"] is not None
    code, _, err = _run(capsys, "evaluate", *src)
    assert code == 2 and "nothing to evaluate" in err
    code, _, err = _run(capsys, "evaluate", "--analogies", str(tmp_path / "no.txt"), *src)
    assert code == 2 and "no.txt" in err


def test_import_then_query_and_malformed_import(planted_run: Path, capsys, tmp_path: Path
                                                ) -> None:
    glove = tmp_path / "glove.txt.gz"
    words, vectors = _planted()
    write_vectors(str(glove), words, vectors, "glove")
    dest = tmp_path / "imported"
    code, out, err = _run(capsys, "import", "--format", "glove", "--input", str(glove),
                          "--embeddings", str(dest), *SPARK_SETTINGS)
    assert code == 0, err
    assert json.loads(out)["vectors"] == len(words)
    assert (dest / SUCCESS_MARKER).is_file()
    code, out, _ = _run(capsys, "analogy", "man", "king", "woman", "--json",
                        "--embeddings", str(dest))
    assert json.loads(out)[0]["word"] == "queen"

    bad = tmp_path / "bad.txt.gz"
    data = "3 2\na 1 2\nb 3 4\n"
    bad.write_bytes(gzip.compress(data.encode()))
    code, _, err = _run(capsys, "import", "--format", "word2vec-text", "--input", str(bad),
                        "--output", str(tmp_path / "run2"), *SPARK_SETTINGS)
    assert code == 2
    assert "ends after 2 of the 3 vectors" in err and "Traceback" not in err
    assert not (tmp_path / "run2" / "embeddings").exists()


def test_export_format_writes_a_file_and_keeps_the_stage(planted_run: Path, capsys,
                                                         tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    code, out, err = _run(capsys, "export", "--output", str(planted_run / "run"), "--format",
                          "word2vec-bin", "--to", str(target), *SPARK_SETTINGS)
    assert code == 0, err
    assert json.loads(out)["vectors"] == 38
    assert target.read_bytes() == (planted_run / "vectors.bin").read_bytes()
    code, _, err = _run(capsys, "export", "--output", str(planted_run / "run"), "--format",
                        "word2vec-bin", "--to", str(target), *SPARK_SETTINGS)
    assert code == 2 and "--overwrite" in err
    code, _, err = _run(capsys, "export", "--output", str(planted_run / "run"), "--format",
                        "word2vec-text")
    assert code == 2 and "needs --to FILE" in err
    code, _, err = _run(capsys, "export", "--output", str(planted_run / "run"), "--to", "x.txt")
    assert code == 2 and "--to and --embeddings go with --format" in err
    code, _, err = _run(capsys, "export")
    assert code == 2 and "needs --output RUN_DIR" in err
    text = tmp_path / "out.txt"
    code, _, err = _run(capsys, "export", "--embeddings", str(planted_run / "run" / "embeddings"),
                        "--format", "word2vec-text", "--to", str(text), *SPARK_SETTINGS)
    assert code == 0, err
    assert read_vectors(str(text), "word2vec-text")[0] == _planted()[0]


def test_neighbors_writes_the_table_of_a_run(spark, planted_run: Path, capsys) -> None:
    run = planted_run / "run"
    code, out, err = _run(capsys, "neighbors", "--output", str(run), "--topn", "3",
                          "--block-rows", "16", *SPARK_SETTINGS)
    assert code == 0, err
    assert json.loads(out)["rows"] == 38 * 3
    table = spark.read.parquet(str(run / "neighbors"))
    assert table.columns == ["word", "neighbor", "score", "rank"]
    first = table.filter("word = 'apple' and rank = 1").collect()
    assert [r["neighbor"] for r in first] == ["pear"]
    code, _, err = _run(capsys, "neighbors", "--output", str(run), *SPARK_SETTINGS)
    assert code == 2 and "--overwrite" in err


@pytest.mark.parametrize("command", ["similar", "analogy", "evaluate", "neighbors", "import",
                                     "export"])
def test_help_shows_an_example(capsys, command: str) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "examples" in out and f"w2v-spark {command} " in out


@pytest.mark.shared_data
def test_evaluate_agrees_with_gensim(shared_data: Path, tmp_path: Path, capsys) -> None:
    """The command's figures equal gensim's on the 20,000 most frequent GloVe words and every
    fourth Google analogy question."""
    keyedvectors = extra("gensim.models.keyedvectors")
    source = shared_data / "vectors" / "glove.6B.50d.word2vec.txt.gz"
    evals = shared_data / "eval"
    if not source.is_file():
        pytest.skip(f"{source} is absent")
    path = tmp_path / "glove20k.txt"
    with gzip.open(source, "rb") as fin, path.open("wb") as fout:
        fin.readline()
        fout.write(b"20000 50\n")
        for _ in range(20_000):
            fout.write(fin.readline())
    questions = tmp_path / "questions.txt"
    lines = (evals / "questions-words.txt").read_text(encoding="utf-8").splitlines()
    questions.write_text("".join(line + "\n" for i, line in enumerate(lines)
                                 if line.startswith(":") or i % 4 == 0), encoding="utf-8")
    pair_files = [evals / "wordsim353.tsv", evals / "EN-MEN-TR-3k.txt"]
    code, out, err = _run(capsys, "evaluate", "--vectors", str(path), "--analogies",
                          str(questions), "--word-pairs", str(pair_files[0]), "--word-pairs",
                          str(pair_files[1]), "--json", "-")
    assert code == 0, err
    ours = json.loads(out)

    kv = keyedvectors.KeyedVectors.load_word2vec_format(str(path))
    score, sections = kv.evaluate_word_analogies(str(questions), restrict_vocab=30_000)
    assert abs(100 * ours["analogies"]["accuracy"] - 100 * score) <= 0.1
    gensim_sections = [s for s in sections if s["section"] != "Total accuracy"]
    for mine, theirs in zip(ours["analogies"]["sections"], gensim_sections, strict=True):
        total = len(theirs["correct"]) + len(theirs["incorrect"])
        assert mine["total"] == total
        if total:
            assert abs(100 * mine["accuracy"] - 100 * len(theirs["correct"]) / total) <= 0.1
    for mine, pair_file in zip(ours["word_pairs"], pair_files, strict=True):
        pearson, spearman, oov = kv.evaluate_word_pairs(str(pair_file))
        assert abs(mine["spearman"] - spearman.statistic) <= 1e-3
        assert abs(mine["pearson"] - pearson.statistic) <= 1e-3
        assert mine["oov_ratio"] == pytest.approx(oov)
