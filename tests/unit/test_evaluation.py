"""Tests for the analogy and word-pair evaluation (no Spark)."""

from __future__ import annotations

import gzip
import json
import logging
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.extras import extra
from w2v_spark.core.correlation import pearson, rankdata, spearman
from w2v_spark.errors import InputError
from w2v_spark.vectors.analogies import AnalogyResult, SectionScore, evaluate_analogies
from w2v_spark.vectors.eval_files import AnalogySection, read_analogies, read_word_pairs
from w2v_spark.vectors.similarity import Embeddings
from w2v_spark.vectors.word_pairs import evaluate_word_pairs

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


# ---------------------------------------------------------------- readers


def test_read_analogies_plain_and_gz(tmp_path: Path) -> None:
    text = (
        ": capital-common-countries\n"
        "Athens Greece Baghdad Iraq\n"
        "\n"
        "athens greece  bangkok\tthailand\n"
        ": family\n"
        "boy girl brother sister\n"
        ": empty\n"
    )
    plain = tmp_path / "q.txt"
    plain.write_text(text, encoding="utf-8")
    packed = tmp_path / "q.txt.gz"
    with gzip.open(packed, "wt", encoding="utf-8") as fh:
        fh.write(text)
    want = [
        AnalogySection(
            "capital-common-countries",
            [("Athens", "Greece", "Baghdad", "Iraq"), ("athens", "greece", "bangkok", "thailand")],
        ),
        AnalogySection("family", [("boy", "girl", "brother", "sister")]),
        AnalogySection("empty", []),
    ]
    assert read_analogies(plain) == want
    assert read_analogies(str(packed)) == want


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (": s\na b c d\na b c\n", 3),
        ("a b c d\n", 1),
        (": s\n\na b c d e\n", 3),
        (":\na b c d\n", 1),
    ],
)
def test_read_analogies_rejects_malformed_lines(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: line {line}\b"):
        read_analogies(path)


def test_read_word_pairs_formats(tmp_path: Path) -> None:
    wordsim = tmp_path / "ws.tsv"
    wordsim.write_text(
        "# The WordSimilarity-353 Test Collection\n# Word 1\tWord 2\tHuman (mean)\n"
        "love\tsex\t6.77\ntiger\tcat\t7.35\n\nnew york\tcity\t8\n",
        encoding="utf-8",
    )
    assert read_word_pairs(wordsim) == [
        ("love", "sex", 6.77),
        ("tiger", "cat", 7.35),
        ("new york", "city", 8.0),
    ]
    men = tmp_path / "men.txt"
    men.write_text("sun sunlight 50.000000\nautomobile   car 50\r\n", encoding="utf-8")
    assert read_word_pairs(men) == [("sun", "sunlight", 50.0), ("automobile", "car", 50.0)]
    with_header = tmp_path / "combined.tab"
    with_header.write_text("Word 1\tWord 2\tHuman (mean)\nlove\tsex\t6.77\n", encoding="utf-8")
    assert read_word_pairs(with_header) == [("love", "sex", 6.77)]
    packed = tmp_path / "men.txt.gz"
    with gzip.open(packed, "wt", encoding="utf-8") as fh:
        fh.write("sun\tsunlight\t50.0\n")
    assert read_word_pairs(packed) == [("sun", "sunlight", 50.0)]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a\tb\t1\nc\td\n", 2),
        ("# c\na b 1\nc d e f\n", 3),
        ("a b 1\nc d score\n", 2),
        ("a b nan\n", 1),
        ("a\t\t1\n", 1),
    ],
)
def test_read_word_pairs_rejects_malformed_lines(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: line {line}\b"):
        read_word_pairs(path)


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("", r"is empty \(or holds only blank lines\)"),
        ("\n  \n", r"is empty \(or holds only blank lines\)"),
        (": capital-common-countries\n\n: family\n", r"holds only 2 section header\(s\)"),
    ],
)
def test_read_analogies_without_questions_is_an_error(tmp_path: Path, text: str,
                                                      what: str) -> None:
    path = tmp_path / "questions.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: the file has no analogy "
                       rf"questions: it {what}$"):
        read_analogies(path)
    packed = tmp_path / "questions.txt.gz"
    with gzip.open(packed, "wt", encoding="utf-8") as fh:
        fh.write(text)
    with pytest.raises(InputError, match=rf"^{re.escape(str(packed))}: the file has no analogy"):
        read_analogies(packed)


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("", r"is empty \(or holds only comments and blank lines\)"),
        ("# WordSim-353\n\n# nothing else\n", r"is empty \(or holds only comments and blank"),
        ("# c\nWord 1\tWord 2\tHuman (mean)\n", r"holds only a header line \(and comments\)"),
    ],
)
def test_read_word_pairs_without_pairs_is_an_error(tmp_path: Path, text: str, what: str) -> None:
    path = tmp_path / "pairs.tsv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: the file has no word "
                       rf"pairs: it {what}"):
        read_word_pairs(path)


READERS = [read_analogies, read_word_pairs]


def _gzip_bytes(text: str) -> bytes:
    return gzip.compress(text.encode("utf-8"), mtime=0)


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.__name__)
def test_reading_a_binary_file_names_the_file(tmp_path: Path, reader: Any) -> None:
    path = tmp_path / "random.bin"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: not a UTF-8 text file: "
                       r"byte b'.+' at or after line \d+ cannot be decoded \(is it a binary "
                       r"file\?\)"):
        reader(path)


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.__name__)
def test_reading_gzip_data_as_text_names_the_file_and_says_gzip(tmp_path: Path,
                                                                reader: Any) -> None:
    path = tmp_path / "questions.txt"
    path.write_bytes(_gzip_bytes(": s\na b c d\n" if reader is read_analogies else "a b 1\n"))
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: not a UTF-8 text file: .*"
                       r"\(it holds gzip data: name it \*\.gz to read it compressed\)$"):
        reader(path)


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.__name__)
def test_reading_a_damaged_gz_names_the_file(tmp_path: Path, reader: Any) -> None:
    not_gzip = tmp_path / "plain.txt.gz"
    not_gzip.write_text(": s\na b c d\n", encoding="utf-8")
    with pytest.raises(InputError, match=rf"^{re.escape(str(not_gzip))}: not a readable gzip "
                       r"file: Not a gzipped file"):
        reader(not_gzip)
    truncated = tmp_path / "truncated.txt.gz"
    text = ": s\n" + "a b c d\n" * 1000 if reader is read_analogies else "a b 1\n" * 1000
    truncated.write_bytes(_gzip_bytes(text)[:40])
    with pytest.raises(InputError, match=rf"^{re.escape(str(truncated))}: not a readable gzip "
                       r"file: "):
        reader(truncated)


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.__name__)
def test_reading_utf16_text_names_the_file(tmp_path: Path, reader: Any) -> None:
    path = tmp_path / "utf16.txt"
    path.write_text(": s\na b c d\n" if reader is read_analogies else "a b 1\n",
                    encoding="utf-16-le")
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: line 1: not a text file: "
                       r"it holds NUL bytes"):
        reader(path)


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.__name__)
def test_reading_a_missing_file_names_the_file(tmp_path: Path, reader: Any) -> None:
    path = tmp_path / "nope.txt"
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: cannot read the file: "
                       r"No such file or directory$"):
        reader(path)


# ---------------------------------------------------------------- correlations


def _reference_ranks(values: list[float]) -> list[float]:
    """Average 1-based ranks by counting, O(n^2)."""
    return [
        sum(1 for y in values if y < x) + (sum(1 for y in values if y == x) + 1) / 2 for x in values
    ]


def _reference_pearson(x: list[float], y: list[float]) -> float:
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy)


@pytest.mark.parametrize("seed", range(5))
def test_spearman_matches_slow_reference_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 200
    x = rng.integers(0, 15, size=n).astype(float).tolist()
    y = (np.asarray(x) + rng.integers(-6, 7, size=n)).astype(float).tolist()
    assert rankdata(x).tolist() == _reference_ranks(x)
    want = _reference_pearson(_reference_ranks(x), _reference_ranks(y))
    assert spearman(x, y) == pytest.approx(want, abs=1e-12)
    assert pearson(x, y) == pytest.approx(_reference_pearson(x, y), abs=1e-12)


def test_spearman_matches_scipy() -> None:
    stats = extra("scipy.stats")
    rng = np.random.default_rng(7)
    for n in (2, 3, 10, 353, 3000):
        x = np.round(rng.normal(size=n), 1)
        y = np.round(x + rng.normal(size=n), 1)
        assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
        assert pearson(x, y) == pytest.approx(stats.pearsonr(x, y).statistic, abs=1e-12)
        np.testing.assert_array_equal(rankdata(x), stats.rankdata(x))


def test_correlation_edge_cases() -> None:
    assert math.isnan(spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))
    assert math.isnan(pearson([1.0], [2.0]))
    assert math.isnan(spearman([1.0, math.nan, 2.0], [1.0, 2.0, 3.0]))
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="length"):
        spearman([1, 2], [1, 2, 3])


# ---------------------------------------------------------------- planted analogies


def _planted() -> Embeddings:
    """A tiny vocabulary with hand-placed vectors (see test_planted_analogies)."""
    d = 16
    e = np.eye(d)
    u_greece = (3 * e[1] + 2 * e[0]) / math.sqrt(13)
    rng = np.random.default_rng(0)
    vectors = {
        "the": rng.normal(size=d) * e[8:].sum(axis=0),
        "of": rng.normal(size=d) * e[8:].sum(axis=0),
        "athens": 3 * e[1],
        "greece": 3 * e[1] + 2 * e[0],
        "paris": 3 * e[2],
        "france": 3 * e[2] + 2 * e[0],
        "berlin": 3 * e[3],
        "germany": 3 * e[3] + 2 * e[0],
        "boy": 3 * e[6],
        "girl": 3 * e[6] + 2 * e[4],
        "king": 3 * e[7],
        "queen": 3 * e[7] + 2 * e[4],
        # a rarer case variant of "paris" pointing elsewhere: must not be used for "Paris"
        "Paris": 3 * e[5],
        # a rarer case variant of "greece" on the exact answer direction of
        # "athens greece paris ?": the best candidate, passed over as a question word
        "GREECE": 4 * (u_greece + e[2] - e[1]),
        "and": rng.normal(size=d) * e[8:].sum(axis=0),
        "to": rng.normal(size=d) * e[8:].sum(axis=0),
        "in": rng.normal(size=d) * e[8:].sum(axis=0),
        "a": rng.normal(size=d) * e[8:].sum(axis=0),
        "rome": 3 * e[9],
        "italy": 3 * e[9] + 2 * e[0],
    }
    return Embeddings(list(vectors), np.array(list(vectors.values())))


_PLANTED_FILE = """\
: capital-common
Athens Greece Paris France
athens greece berlin germany
paris france berlin germany
Athens Greece Paris Germany
athens greece tokyo japan
athens greece rome italy

: family
boy girl king queen
BOY GIRL KING QUEEN
king queen boy man
: empty-section
xx yy zz ww
"""


def test_planted_analogies(tmp_path: Path) -> None:
    path = tmp_path / "questions.txt"
    path.write_text(_PLANTED_FILE, encoding="utf-8")
    emb = _planted()
    assert emb.analogy("athens", "greece", "paris", topn=2)[0][0] == "GREECE"

    result = evaluate_analogies(emb, path, restrict_vocab=18)
    assert result.sections == [
        SectionScore("capital-common", 3, 4, 0.75),
        SectionScore("family", 2, 2, 1.0),
        SectionScore("empty-section", 0, 0, 0.0),
    ]
    assert (result.correct, result.incorrect, result.oov) == (5, 1, 4)
    assert result.accuracy == pytest.approx(5 / 6)
    assert result.oov_ratio == pytest.approx(40.0)
    assert (result.evaluated, result.questions, result.restrict_vocab) == (6, 10, 18)
    assert json.loads(json.dumps(result.to_dict()))["sections"][1]["correct"] == 2

    # "rome" and "italy" are inside the vocabulary once it is not restricted
    wider = evaluate_analogies(emb, read_analogies(path), restrict_vocab=None)
    assert wider.sections[0] == SectionScore("capital-common", 4, 5, 0.8)
    assert wider.oov == 3

    exact_case = evaluate_analogies(emb, path, restrict_vocab=18, case_insensitive=False)
    assert exact_case.sections == [
        SectionScore("capital-common", 2, 2, 1.0),
        SectionScore("family", 1, 1, 1.0),
        SectionScore("empty-section", 0, 0, 0.0),
    ]
    assert (exact_case.correct, exact_case.incorrect, exact_case.oov) == (3, 0, 7)

    for batch_size in (1, 2, 5):
        assert evaluate_analogies(emb, path, restrict_vocab=18, batch_size=batch_size) == result


def test_planted_analogies_agree_with_gensim(tmp_path: Path) -> None:
    keyedvectors = extra("gensim.models.keyedvectors")
    path = tmp_path / "questions.txt"
    path.write_text(_PLANTED_FILE, encoding="utf-8")
    emb = _planted()
    kv = _to_gensim(keyedvectors, emb)
    for case_insensitive in (True, False):
        ours = evaluate_analogies(emb, path, restrict_vocab=18, case_insensitive=case_insensitive)
        _assert_same_analogies(
            ours, kv.evaluate_word_analogies(str(path), 18, case_insensitive=case_insensitive)
        )


def test_evaluate_analogies_without_evaluable_questions() -> None:
    emb = _planted()
    result = evaluate_analogies(emb, [AnalogySection("s", [("q", "r", "s", "t")])])
    assert (result.accuracy, result.correct, result.incorrect, result.oov) == (0.0, 0, 0, 1)
    assert evaluate_analogies(emb, []).oov_ratio == 0.0
    with pytest.raises(ValueError, match="restrict_vocab"):
        evaluate_analogies(emb, [], restrict_vocab=0)


def test_word_pairs_planted(tmp_path: Path) -> None:
    emb = _planted()
    pairs = [
        ("athens", "greece", 9.0),
        ("Paris", "FRANCE", 8.0),
        ("boy", "girl", 7.0),
        ("king", "athens", 1.0),
        ("tokyo", "japan", 5.0),
        ("rome", "italy", 9.5),
    ]
    result = evaluate_word_pairs(emb, pairs, restrict_vocab=18)
    assert (result.pairs, result.oov) == (4, 2)
    assert result.oov_ratio == pytest.approx(100 * 2 / 6)
    cosines = [
        emb.similarity("athens", "greece"),
        emb.similarity("paris", "france"),
        emb.similarity("boy", "girl"),
        emb.similarity("king", "athens"),
    ]
    assert result.spearman == pytest.approx(spearman([9.0, 8.0, 7.0, 1.0], cosines))
    assert result.pearson == pytest.approx(pearson([9.0, 8.0, 7.0, 1.0], cosines))
    assert json.loads(json.dumps(result.to_dict()))["pairs"] == 4
    assert evaluate_word_pairs(emb, pairs, case_insensitive=False).oov == 2
    with pytest.raises(ValueError, match="no word pair"):
        evaluate_word_pairs(emb, [("tokyo", "japan", 1.0)])


# ---------------------------------------------------------------- agreement with gensim


def _to_gensim(keyedvectors: Any, emb: Embeddings) -> Any:
    """gensim ``KeyedVectors`` holding exactly the words and float32 vectors of ``emb``."""
    kv = keyedvectors.KeyedVectors(vector_size=emb.vector_size, count=0, dtype=np.float32)
    kv.add_vectors(emb.words, emb.vectors.copy())
    return kv


def _assert_same_analogies(ours: AnalogyResult, theirs: tuple[float, list[dict[str, Any]]]) -> None:
    """Our counts equal gensim's ``evaluate_word_analogies`` output, section by section."""
    score, sections = theirs
    assert sections[-1]["section"] == "Total accuracy"
    assert [s.name for s in ours.sections] == [s["section"] for s in sections[:-1]]
    assert [(s.correct, s.total) for s in ours.sections] == [
        (len(s["correct"]), len(s["correct"]) + len(s["incorrect"])) for s in sections[:-1]
    ]
    assert ours.correct == len(sections[-1]["correct"])
    assert ours.incorrect == len(sections[-1]["incorrect"])
    assert abs(ours.accuracy - score) <= 1e-9


def _structured(seed: int = 0) -> tuple[Embeddings, list[tuple[str, str]], list[str]]:
    """2,000 words, d=32, with four planted relations of 12 pairs each.

    Returns the embeddings, the planted ``(x, y)`` pairs (some beyond row 1,500) and words that
    are case variants of other words.
    """
    rng = np.random.default_rng(seed)
    v, d = 2000, 32
    vectors = rng.normal(size=(v, d)).astype(np.float32)
    words = [f"w{i}" for i in range(v)]
    rows = rng.permutation(np.arange(20, v))
    planted: list[tuple[str, str]] = []
    taken = 0
    for r in range(4):
        offset = rng.normal(size=d) * 1.2
        for k in range(12):
            xi, yi = int(rows[taken]), int(rows[taken + 1])
            taken += 2
            words[xi], words[yi] = f"x{r}_{k}", f"y{r}_{k}"
            vectors[yi] = vectors[xi] + offset + rng.normal(size=d) * 0.9
            planted.append((words[xi], words[yi]))
    variants = []
    for k in range(6):
        base = words[int(rows[k])]
        row = int(rows[taken])
        taken += 1
        words[row] = base.upper() if k % 2 else base.capitalize()
        variants.append(words[row])
        if k < 3:
            # a case variant sitting close to its base word: often the best candidate
            vectors[row] = vectors[words.index(base)] + rng.normal(size=d) * 0.05
    # exact duplicates and near-duplicates of answer words: ties broken like gensim
    for k in range(4):
        row = int(rows[taken])
        taken += 1
        source = words.index(planted[k][1])
        vectors[row] = vectors[source]
        if k % 2:
            vectors[row][0] = np.nextafter(vectors[row][0], np.float32(np.inf))
    return Embeddings(words, vectors), planted, variants


def _write_structured_files(
    tmp_path: Path, emb: Embeddings, planted: list[tuple[str, str]], variants: list[str]
) -> tuple[Path, Path]:
    rng = np.random.default_rng(1)
    lines = []
    for r in range(4):
        lines.append(f": relation-{r}")
        group = planted[12 * r : 12 * (r + 1)]
        for i, (a, b) in enumerate(group):
            for j, (c, dd) in enumerate(group):
                if i != j:
                    quad = [a, b, c, dd]
                    if (i + j) % 5 == 0:
                        quad = [w.upper() for w in quad]
                    lines.append(" ".join(quad))
    lines.append(": random")
    for _ in range(150):
        quad = [emb.words[int(i)] for i in rng.integers(0, 1700, size=4)]
        lines.append(" ".join(quad))
    lines.append(": variants")
    for w in variants:
        lines.append(f"{w} {emb.words[5]} {emb.words[6]} {emb.words[7]}")
        lines.append(f"{emb.words[8]} {w.lower()} {emb.words[9]} {w}")
    lines.append(": oov")
    lines.append("notaword w1 w2 w3")
    analogies = tmp_path / "questions.txt"
    analogies.write_text("\n".join(lines) + "\n", encoding="utf-8")

    pair_lines = ["# word pairs", "# w1\tw2\tscore"]
    for _ in range(300):
        i, j = (int(x) for x in rng.integers(0, 1800, size=2))
        gold = round(emb.similarity(emb.words[i], emb.words[j]) + rng.normal() * 0.2, 1)
        a = emb.words[i].upper() if i % 7 == 0 else emb.words[i]
        pair_lines.append(f"{a}\t{emb.words[j]}\t{gold}")
    for x, y in planted[:10]:
        pair_lines.append(f"{x}\t{y}\t{rng.integers(0, 10)}")
    pair_lines.append("unknownword\tw3\t5.0")
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("\n".join(pair_lines) + "\n", encoding="utf-8")
    return analogies, pairs


def test_agrees_with_gensim_on_structured_vectors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keyedvectors = extra("gensim.models.keyedvectors")
    emb, planted, variants = _structured()
    analogies, pairs = _write_structured_files(tmp_path, emb, planted, variants)
    kv = _to_gensim(keyedvectors, emb)

    for restrict, case_insensitive in [(1500, True), (1500, False), (2000, True)]:
        ours = evaluate_analogies(emb, analogies, restrict, case_insensitive)
        with caplog.at_level(logging.INFO, logger="gensim.models.keyedvectors"):
            caplog.clear()
            theirs = kv.evaluate_word_analogies(str(analogies), restrict, case_insensitive)
        _assert_same_analogies(ours, theirs)
        logged = re.search(r"out-of-vocabulary words: ([\d.]+)%", caplog.text)
        assert logged is not None and f"{ours.oov_ratio:.1f}" == logged.group(1)
        if restrict == 1500 and case_insensitive:
            assert 0.2 < ours.accuracy < 0.95
            assert ours.oov > 0

        ours_pairs = evaluate_word_pairs(emb, pairs, restrict, case_insensitive)
        pearson_g, spearman_g, oov_g = kv.evaluate_word_pairs(
            str(pairs), restrict_vocab=restrict, case_insensitive=case_insensitive
        )
        assert ours_pairs.spearman == pytest.approx(spearman_g.statistic, abs=1e-6)
        assert ours_pairs.pearson == pytest.approx(pearson_g.statistic, abs=1e-6)
        assert ours_pairs.oov_ratio == oov_g


def test_a_google_sized_evaluation_answers_as_a_brute_force_reference() -> None:
    """The 19,544 questions of the Google set on a 30k x 100 model (its speed is measured by
    ``python -m benchmarks.evaluation_speed``): every question is scored, and on a sample whose
    expected answers are a brute-force 3CosAdd's, every answer is right."""
    rng = np.random.default_rng(3)
    v, d = 30_000, 100
    vectors = rng.normal(size=(v, d)).astype(np.float32)
    emb = Embeddings([f"w{i}" for i in range(v)], vectors)
    ids = rng.integers(0, v, (19_544, 4))
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    for row in ids[:200]:  # the reference: b - a + c against every word but a, b and c
        query = unit[row[1]] - unit[row[0]] + unit[row[2]]
        scores = unit @ (query / np.linalg.norm(query))
        scores[row[:3]] = -np.inf
        row[3] = int(np.argmax(scores))
    questions = [tuple(f"w{i}" for i in row) for row in ids]
    sections = [AnalogySection(f"s{k}", questions[k::14]) for k in range(14)]
    result = evaluate_analogies(emb, sections, restrict_vocab=30_000)
    assert result.evaluated == 19_544
    sample = [AnalogySection("sample", questions[:200])]
    for batch_size in (None, 7):
        scored = evaluate_analogies(emb, sample, restrict_vocab=30_000, batch_size=batch_size)
        assert scored.sections[0].correct == 200


# ---------------------------------------------------------------- real data


def _load_word2vec_text(path: Path, limit: int) -> Embeddings:
    """The first ``limit`` rows of a word2vec text file (``.gz`` allowed)."""
    words: list[str] = []
    rows: list[list[str]] = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        header = fh.readline().split()
        dim = int(header[1])
        for line in fh:
            if len(words) >= limit:
                break
            parts = line.rstrip("\n").rstrip(" ").split(" ")
            words.append(parts[0])
            rows.append(parts[1 : dim + 1])
    return Embeddings(words, np.array(rows, dtype=np.float32))


@pytest.fixture(scope="module")
def glove() -> Embeddings:
    path = SHARED_DATA / "vectors" / "glove.6B.50d.word2vec.txt.gz"
    if not path.exists():
        pytest.skip(f"shared data is absent: {path} not found")
    return _load_word2vec_text(path, 100_000)


@pytest.mark.shared_data
def test_glove_queries_and_standard_benchmarks(
    glove: Embeddings, caplog: pytest.LogCaptureFixture
) -> None:
    assert len(glove) == 100_000 and glove.vector_size == 50
    assert glove.most_similar(positive=["king", "woman"], negative=["man"], topn=1)[0][0] == (
        "queen"
    )
    eval_dir = SHARED_DATA / "eval"
    for name in ("questions-words.txt", "wordsim353.tsv", "EN-MEN-TR-3k.txt"):
        if not (eval_dir / name).exists():
            pytest.skip(f"shared data is absent: {eval_dir / name} not found")

    analogies = evaluate_analogies(glove, eval_dir / "questions-words.txt", 30_000)
    assert analogies.questions == 19_544
    assert 0.3 < analogies.accuracy < 0.7
    ws353 = evaluate_word_pairs(glove, eval_dir / "wordsim353.tsv")
    men = evaluate_word_pairs(glove, eval_dir / "EN-MEN-TR-3k.txt")
    assert ws353.pairs + ws353.oov == 353
    assert men.pairs + men.oov == 3000
    assert 0.4 < ws353.spearman < 0.7
    assert 0.5 < men.spearman < 0.8

    keyedvectors = extra("gensim.models.keyedvectors")
    reference = keyedvectors.KeyedVectors.load_word2vec_format(
        str(SHARED_DATA / "vectors" / "glove.6B.50d.word2vec.txt.gz"), limit=2000
    )
    assert reference.index_to_key == glove.words[:2000]
    assert np.array_equal(reference.vectors, glove.vectors[:2000])
    kv = _to_gensim(keyedvectors, glove)
    with caplog.at_level(logging.INFO, logger="gensim.models.keyedvectors"):
        theirs = kv.evaluate_word_analogies(
            str(eval_dir / "questions-words.txt"), restrict_vocab=30_000
        )
    _assert_same_analogies(analogies, theirs)
    logged = re.search(r"out-of-vocabulary words: ([\d.]+)%", caplog.text)
    assert logged is not None and f"{analogies.oov_ratio:.1f}" == logged.group(1)
    for ours, name in ((ws353, "wordsim353.tsv"), (men, "EN-MEN-TR-3k.txt")):
        pearson_g, spearman_g, oov_g = kv.evaluate_word_pairs(str(eval_dir / name))
        assert ours.spearman == pytest.approx(spearman_g.statistic, abs=1e-6)
        assert ours.pearson == pytest.approx(pearson_g.statistic, abs=1e-6)
        assert ours.oov_ratio == oov_g
