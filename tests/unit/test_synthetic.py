"""Tests for the synthetic corpus generator."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from tests.extras import extra
from w2v_spark.synthetic.text import (
    PlantedStructure,
    generate_sentences,
    planted_structure,
    write_corpus,
)

_TOKEN = re.compile(r"[a-z]+")


def _planted_words(structure: PlantedStructure) -> list[str]:
    """All category members and relation words of ``structure``."""
    words = [word for members in structure.categories.values() for word in members]
    words += [word for pairs in structure.relations.values() for pair in pairs for word in pair]
    return words


@pytest.fixture(scope="module")
def default_corpus() -> list[str]:
    """The default corpus: 20,000 sentences with seed 0."""
    return generate_sentences()


@pytest.fixture(scope="module")
def token_counts(default_corpus: list[str]) -> Counter[str]:
    """Token frequencies of the default corpus."""
    return Counter(token for line in default_corpus for token in line.split(" "))


def test_same_seed_gives_identical_sentences() -> None:
    assert generate_sentences(500, seed=7) == generate_sentences(500, seed=7)


def test_different_seeds_give_different_sentences() -> None:
    first = generate_sentences(500, seed=0)
    second = generate_sentences(500, seed=1)
    assert first != second
    assert sum(a == b for a, b in zip(first, second, strict=True)) < 10


def test_default_arguments(default_corpus: list[str]) -> None:
    assert generate_sentences(20_000, seed=0) == default_corpus


def test_sentence_count_and_zero() -> None:
    assert len(generate_sentences(123, seed=3)) == 123
    assert generate_sentences(0) == []
    with pytest.raises(ValueError):
        generate_sentences(-1)


def test_sentences_are_lowercase_tokens_of_varied_length(default_corpus: list[str]) -> None:
    assert len(default_corpus) == 20_000
    lengths: Counter[int] = Counter()
    for line in default_corpus:
        tokens = line.split(" ")
        assert all(_TOKEN.fullmatch(token) for token in tokens), line
        lengths[len(tokens)] += 1
    assert min(lengths) == 6
    assert max(lengths) == 20
    assert len(lengths) == 15


def test_vocabulary_size_and_function_words(token_counts: Counter[str]) -> None:
    assert 300 <= len(token_counts) <= 1_500
    most_common = [word for word, _ in token_counts.most_common(5)]
    assert most_common[0] == "the"
    assert {"of", "and"} <= set(most_common)
    total = sum(token_counts.values())
    assert token_counts["the"] / total > 0.05


def test_filler_tail_is_long(token_counts: Counter[str]) -> None:
    structure = planted_structure()
    planted = set(_planted_words(structure))
    rare = [word for word, count in token_counts.items() if count < 20 and word not in planted]
    assert len(rare) > 100


def test_every_planted_word_occurs_often(token_counts: Counter[str]) -> None:
    for word in _planted_words(planted_structure()):
        assert token_counts[word] >= 20, word


def test_planted_structure_shape() -> None:
    structure = planted_structure()
    assert 6 <= len(structure.categories) <= 8
    for members in structure.categories.values():
        assert 8 <= len(members) <= 12
    assert set(structure.relations) == {"capital", "plural", "gender"}
    for pairs in structure.relations.values():
        assert 8 <= len(pairs) <= 12
    assert ("france", "paris") in structure.relations["capital"]
    assert ("king", "queen") in structure.relations["gender"]
    assert len(structure.analogies()) == sum(
        len(pairs) * (len(pairs) - 1) for pairs in structure.relations.values()
    )


def test_planted_words_are_unique_and_lowercase() -> None:
    words = _planted_words(planted_structure())
    assert len(words) == len(set(words))
    assert all(_TOKEN.fullmatch(word) for word in words)


def test_planted_structure_is_a_fresh_copy() -> None:
    structure = planted_structure()
    structure.categories.clear()
    assert planted_structure().categories


def test_category_of() -> None:
    structure = planted_structure()
    assert structure.category_of("dog") == "animals"
    assert structure.category_of("violin") == "instruments"
    assert structure.category_of("paris") is None
    assert structure.category_of("the") is None


def test_analogies_of_hand_built_structure() -> None:
    structure = PlantedStructure(
        categories={"pets": ("dog", "cat")},
        relations={
            "capital": (("france", "paris"), ("italy", "rome"), ("spain", "madrid")),
            "gender": (("king", "queen"), ("man", "woman")),
        },
    )
    analogies = structure.analogies()
    assert len(analogies) == 3 * 2 + 2 * 1
    assert len(set(analogies)) == len(analogies)
    assert ("france", "paris", "italy", "rome") in analogies
    assert ("italy", "rome", "france", "paris") in analogies
    assert ("spain", "madrid", "italy", "rome") in analogies
    assert ("king", "queen", "man", "woman") in analogies
    assert ("man", "woman", "king", "queen") in analogies
    assert all((a1, b1) != (a2, b2) for a1, b1, a2, b2 in analogies)
    assert not any(q[0] == "france" and q[2] == "king" for q in analogies)
    assert structure.category_of("cat") == "pets"
    assert _planted_words(structure) == [
        "dog", "cat", "france", "paris", "italy", "rome", "spain", "madrid",
        "king", "queen", "man", "woman",
    ]  # fmt: skip


def test_write_corpus(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "dir" / "corpus.txt"
    written = write_corpus(target, num_sentences=300, seed=5)
    expected = generate_sentences(300, seed=5)
    data = target.read_bytes()
    assert data.decode("utf-8") == "".join(line + "\n" for line in expected)
    assert b"\r" not in data
    assert written == sum(len(line.split()) for line in expected)


def test_write_corpus_accepts_str_path(tmp_path: Path) -> None:
    target = tmp_path / "corpus.txt"
    written = write_corpus(str(target), num_sentences=10)
    assert target.read_text(encoding="utf-8").splitlines() == generate_sentences(10)
    assert written == len(target.read_text(encoding="utf-8").split())


def test_gensim_recovers_planted_structure(default_corpus: list[str]) -> None:
    gensim_models = extra("gensim.models")
    model = gensim_models.Word2Vec(
        [line.split(" ") for line in default_corpus],
        sg=1,
        negative=5,
        window=5,
        vector_size=50,
        min_count=5,
        sample=1e-3,
        epochs=5,
        workers=2,
        seed=1,
    )
    structure = planted_structure()

    fractions = []
    for category, members in structure.categories.items():
        for word in members:
            neighbours = [other for other, _ in model.wv.most_similar(word, topn=10)]
            hits = sum(structure.category_of(other) == category for other in neighbours)
            assert hits >= 3, (word, neighbours)
            fractions.append(hits / 10)
    assert sum(fractions) / len(fractions) >= 0.6

    analogies = structure.analogies()
    correct = sum(
        model.wv.most_similar(positive=[b1, a2], negative=[a1], topn=1)[0][0] == b2
        for a1, b1, a2, b2 in analogies
    )
    assert correct / len(analogies) >= 0.85
