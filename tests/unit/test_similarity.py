"""Tests for the in-memory embeddings queries (no Spark)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from tests.extras import extra
from w2v_spark.core.ranking import unit_rows
from w2v_spark.errors import W2VError, WordNotInVocabularyError
from w2v_spark.vectors.similarity import Embeddings


def _random_embeddings(v: int = 400, d: int = 16, seed: int = 0) -> Embeddings:
    """``v`` random words ``w0..w{v-1}`` with Gaussian vectors of varying length."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((v, d)) * rng.uniform(0.2, 5.0, size=(v, 1))
    return Embeddings([f"w{i}" for i in range(v)], vectors)


def _reference_most_similar(
    emb: Embeddings,
    positive: Sequence[str],
    negative: Sequence[str],
    topn: int,
    restrict_vocab: int | None,
) -> list[tuple[str, float]]:
    """Slow, obviously correct 3CosAdd in pure Python (float64)."""

    def unit(word: str) -> list[float]:
        vec = [float(x) for x in emb[word]]
        length = math.sqrt(sum(x * x for x in vec))
        return [x / length for x in vec]

    d = emb.vector_size
    query = [0.0] * d
    for word in positive:
        query = [q + u for q, u in zip(query, unit(word), strict=True)]
    for word in negative:
        query = [q - u for q, u in zip(query, unit(word), strict=True)]
    length = math.sqrt(sum(q * q for q in query))
    query = [q / length for q in query]
    limit = len(emb) if restrict_vocab is None else min(restrict_vocab, len(emb))
    scored = []
    for i, word in enumerate(emb.words[:limit]):
        if word in positive or word in negative:
            continue
        cos = sum(q * u for q, u in zip(query, unit(word), strict=True))
        scored.append((-cos, i, word))
    scored.sort()
    return [(word, -neg_cos) for neg_cos, _, word in scored[:topn]]


@pytest.mark.parametrize(
    ("positive", "negative", "topn", "restrict_vocab"),
    [
        (["w5"], [], 10, None),
        (["w1", "w2"], ["w3"], 7, None),
        (["w10", "w20", "w30"], ["w40", "w50"], 15, None),
        (["w7"], ["w8"], 5, 100),
        (["w300"], [], 12, 50),
        ([], ["w9"], 4, None),
        (["w0", "w1"], ["w2"], 1, 200),
    ],
)
def test_most_similar_matches_reference(
    positive: list[str], negative: list[str], topn: int, restrict_vocab: int | None
) -> None:
    emb = _random_embeddings()
    got = emb.most_similar(
        positive=positive, negative=negative, topn=topn, restrict_vocab=restrict_vocab
    )
    want = _reference_most_similar(emb, positive, negative, topn, restrict_vocab)
    assert [w for w, _ in got] == [w for w, _ in want]
    for (_, g), (_, r) in zip(got, want, strict=True):
        assert g == pytest.approx(r, abs=1e-5)
    limit = len(emb) if restrict_vocab is None else restrict_vocab
    assert all(emb.index[w] < limit for w, _ in got)


def test_most_similar_accepts_single_string_and_topn_edges() -> None:
    emb = _random_embeddings()
    assert emb.most_similar("w3", topn=3) == emb.most_similar(positive=["w3"], topn=3)
    assert emb.most_similar("w3", topn=0) == []
    everything = emb.most_similar("w3", topn=10_000)
    assert len(everything) == len(emb) - 1
    scores = [s for _, s in everything]
    assert scores == sorted(scores, reverse=True)
    with pytest.raises(ValueError, match="topn"):
        emb.most_similar("w3", topn=-1)
    with pytest.raises(ValueError, match="restrict_vocab"):
        emb.most_similar("w3", restrict_vocab=0)


def test_empty_query_raises() -> None:
    emb = _random_embeddings()
    with pytest.raises(ValueError, match="no input"):
        emb.most_similar()
    with pytest.raises(ValueError, match="no input"):
        emb.most_similar_cosmul(positive=[], negative=[])
    with pytest.raises(ValueError, match="cannot select"):
        emb.doesnt_match([])


def test_unknown_word_error_names_the_word() -> None:
    emb = _random_embeddings()
    calls = [
        lambda: emb["nope"],
        lambda: emb.vector("nope"),
        lambda: emb.similarity("w1", "nope"),
        lambda: emb.most_similar(positive=["w1"], negative=["nope"]),
        lambda: emb.most_similar_cosmul(positive=["nope"]),
        lambda: emb.doesnt_match(["w1", "w2", "nope"]),
        lambda: emb.analogy("w1", "nope", "w2"),
    ]
    for call in calls:
        with pytest.raises(WordNotInVocabularyError) as info:
            call()
        assert info.value.word == "nope"
        assert "'nope'" in str(info.value)
        assert isinstance(info.value, KeyError)
        assert isinstance(info.value, W2VError)
    assert "nope" not in emb
    assert "w1" in emb


def test_constructor_validates_and_copies() -> None:
    vectors = np.arange(12, dtype=np.float64).reshape(4, 3)
    emb = Embeddings(["a", "b", "c", "d"], vectors, counts=[9, 5, 3, 1])
    assert emb.vectors.dtype == np.float32
    assert emb.vectors.flags.c_contiguous
    assert emb.counts is not None and emb.counts.dtype == np.int64
    vectors[0, 0] = 100.0
    assert emb["a"][0] == 0.0
    assert len(emb) == 4 and emb.vector_size == 3
    assert emb.index == {"a": 0, "b": 1, "c": 2, "d": 3}
    with pytest.raises(ValueError):
        emb.vectors[0, 0] = 1.0

    with pytest.raises(ValueError, match="3 words but vectors has 4 rows"):
        Embeddings(["a", "b", "c"], np.ones((4, 3)))
    with pytest.raises(ValueError, match="2-D"):
        Embeddings(["a"], np.ones(3))
    with pytest.raises(ValueError, match="duplicate word 'b'"):
        Embeddings(["a", "b", "b"], np.ones((3, 2)))
    bad = np.ones((3, 2))
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="finite"):
        Embeddings(["a", "b", "c"], bad)
    with pytest.raises(ValueError, match="finite"):
        Embeddings(["a"], np.array([[1e300, 1.0]]))
    with pytest.raises(ValueError, match="counts"):
        Embeddings(["a", "b"], np.ones((2, 2)), counts=[1, 2, 3])


def test_zero_vector_gives_no_nan() -> None:
    vectors = np.array([[1.0, 0.0], [0.0, 0.0], [0.6, 0.8], [-1.0, 0.1]])
    emb = Embeddings(["a", "zero", "b", "c"], vectors)
    normalized = emb.normalized
    assert np.isfinite(normalized).all()
    assert (normalized[1] == 0).all()
    np.testing.assert_allclose(np.linalg.norm(normalized[[0, 2, 3]], axis=1), 1.0, rtol=1e-6)
    assert emb.normalized is normalized
    assert emb.similarity("a", "zero") == 0.0
    result = emb.most_similar("a", topn=3)
    assert all(math.isfinite(s) for _, s in result)
    assert [w for w, _ in result] == ["b", "zero", "c"]
    assert dict(result)["zero"] == 0.0
    assert all(math.isfinite(s) for _, s in emb.most_similar("zero", topn=3))
    assert all(math.isfinite(s) for _, s in emb.most_similar_cosmul("a", topn=3))
    assert (unit_rows(np.zeros(4, dtype=np.float32)) == 0).all()


def test_similarity_is_cosine() -> None:
    emb = _random_embeddings(v=50)
    for a, b in [("w1", "w2"), ("w3", "w3"), ("w10", "w49")]:
        va, vb = emb[a].astype(np.float64), emb[b].astype(np.float64)
        want = float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))
        assert emb.similarity(a, b) == pytest.approx(want, abs=1e-6)
    assert emb.similarity("w3", "w3") == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(emb.vector("w4", norm=True), emb.normalized[4])


def test_doesnt_match_finds_planted_outlier() -> None:
    rng = np.random.default_rng(1)
    d = 20
    fruit_dir, tool_dir = np.eye(d)[0], np.eye(d)[1]
    words, rows = [], []
    for name in ["apple", "pear", "plum", "cherry"]:
        words.append(name)
        rows.append(fruit_dir * 3 + rng.normal(scale=0.2, size=d))
    for name in ["hammer", "saw"]:
        words.append(name)
        rows.append(tool_dir * 3 + rng.normal(scale=0.2, size=d))
    emb = Embeddings(words, np.array(rows))
    assert emb.doesnt_match(["apple", "pear", "hammer", "plum"]) == "hammer"
    assert emb.doesnt_match(["saw", "cherry", "hammer"]) == "cherry"


def test_analogy_on_planted_offsets() -> None:
    rng = np.random.default_rng(2)
    d = 24
    gender = rng.normal(size=d)
    words, rows = [], []
    for base in ["king", "actor", "uncle"]:
        v = rng.normal(size=d) * 2
        words += [f"{base}_m", f"{base}_f"]
        rows += [v, v + gender]
    for i in range(40):
        words.append(f"noise{i}")
        rows.append(rng.normal(size=d) * 2)
    emb = Embeddings(words, np.array(rows))
    assert emb.analogy("king_m", "king_f", "actor_m")[0][0] == "actor_f"
    assert emb.analogy("actor_f", "actor_m", "uncle_f", topn=3)[0][0] == "uncle_m"
    assert emb.analogy("king_m", "king_f", "uncle_m") == emb.most_similar(
        positive=["king_f", "uncle_m"], negative=["king_m"], topn=1
    )
    cosmul = emb.most_similar_cosmul(positive=["king_f", "actor_m"], negative=["king_m"], topn=2)
    assert cosmul[0][0] == "actor_f"


def test_cosmul_matches_reference() -> None:
    emb = _random_embeddings(v=300, d=12, seed=3)
    pos, neg = ["w1", "w2"], ["w3"]
    got = emb.most_similar_cosmul(positive=pos, negative=neg, topn=8)
    units = emb.vectors.astype(np.float64)
    units /= np.linalg.norm(units, axis=1, keepdims=True)

    def shifted(word: str) -> np.ndarray:
        return (1 + units @ units[emb.index[word]]) / 2

    score = shifted("w1") * shifted("w2") / (shifted("w3") + 1e-6)
    order = [i for i in np.argsort(-score, kind="stable") if emb.words[i] not in pos + neg]
    assert [w for w, _ in got] == [emb.words[i] for i in order[:8]]
    for (_, s), i in zip(got, order[:8], strict=True):
        assert s == pytest.approx(score[i], rel=1e-5)


def test_ties_go_to_the_more_frequent_word() -> None:
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 2.0], [0.0, 1.0], [1.0, 1.0]])
    emb = Embeddings(["q", "b", "c", "d", "e"], vectors)
    assert [w for w, _ in emb.most_similar("e", topn=4)] == ["q", "b", "c", "d"]
    assert [w for w, _ in emb.most_similar("e", topn=2)] == ["q", "b"]
    assert [w for w, _ in emb.most_similar("q", topn=3)] == ["e", "b", "c"]
    assert [w for w, _ in emb.most_similar("q", topn=3, restrict_vocab=4)] == ["b", "c", "d"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_agrees_with_gensim_bit_for_bit() -> None:
    keyedvectors = extra("gensim.models.keyedvectors")
    emb = _random_embeddings(v=2000, d=32, seed=4)
    kv = keyedvectors.KeyedVectors(vector_size=32, count=0, dtype=np.float32)
    kv.add_vectors(emb.words, emb.vectors.copy())
    queries: list[tuple[list[str], list[str], int | None]] = [
        (["w1"], [], None),
        (["w10", "w11"], ["w12"], None),
        (["w100", "w5"], ["w7", "w8"], 500),
        (["w1999"], ["w3"], 1000),
    ]
    for positive, negative, restrict in queries:
        ours = emb.most_similar(
            positive=positive, negative=negative, topn=10, restrict_vocab=restrict
        )
        theirs = kv.most_similar(
            positive=positive, negative=negative, topn=10, restrict_vocab=restrict
        )
        assert ours == [(w, float(s)) for w, s in theirs]
        ours_mul = emb.most_similar_cosmul(positive=positive, negative=negative, topn=10)
        theirs_mul = kv.most_similar_cosmul(positive=positive, negative=negative, topn=10)
        assert [w for w, _ in ours_mul] == [w for w, _ in theirs_mul]
        for (_, mine), (_, ref) in zip(ours_mul, theirs_mul, strict=True):
            assert mine == pytest.approx(ref, rel=1e-6)
    for a, b in [("w1", "w2"), ("w5", "w1500"), ("w7", "w7")]:
        assert emb.similarity(a, b) == float(kv.similarity(a, b))
    words = ["w1", "w2", "w3", "w4", "w5"]
    assert emb.doesnt_match(words) == kv.doesnt_match(words)


def test_unit_vector_matches_gensim_unitvec() -> None:
    matutils = extra("gensim.matutils")
    rng = np.random.default_rng(5)
    vectors = (rng.standard_normal((2000, 50)) * rng.uniform(1e-3, 1e3, (2000, 1))).astype(
        np.float32
    )
    for vec in vectors:
        assert np.array_equal(unit_rows(vec), matutils.unitvec(vec))
