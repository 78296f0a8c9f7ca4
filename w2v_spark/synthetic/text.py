"""Synthetic corpus with planted semantic structure.

This module generates a small artificial "language" that serves as the project's default demo
corpus and as a fast end-to-end quality check: a word2vec model trained on it should recover
the planted structure, which can be verified automatically.

Two kinds of structure are planted:

* **Categories** (animals, colors, fruits, ...). Members of a category co-occur with each other
  and with a few category-context words, so the nearest neighbours of a member are mostly other
  members of the same category.
* **Relations** (country -> capital, singular -> plural, male -> female). Every word taking part
  in a relation receives two context components: an *entity* component (pseudo-words private
  to the entity and shared by both of its roles, e.g. ``france`` and ``paris`` co-occur with the
  same entity words) and a *role* component (pseudo-words shared by every word in the same role
  of the relation, e.g. all capitals co-occur with the same city-like words). In the learned
  embedding this makes ``vec(b) - vec(a)`` approximately constant across the pairs of a
  relation, so analogies such as ``france : paris :: italy : ?`` are solvable with 3CosAdd.

To make the corpus behave like natural text, frequent function words (``the``, ``of``, ...) are
mixed in, so frequent-word subsampling matters, together with a Zipf-distributed tail of
filler pseudo-words acting as noise.

All randomness comes from :func:`numpy.random.default_rng`; the same ``(num_sentences, seed)``
always yields the same sentences.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = [
    "PlantedStructure",
    "generate_sentences",
    "planted_structure",
    "write_corpus",
]

_CATEGORIES: dict[str, tuple[str, ...]] = {
    "animals": (
        "dog", "cat", "horse", "cow", "sheep", "lion", "tiger", "rabbit", "wolf", "bear",
    ),
    "colors": (
        "red", "blue", "green", "yellow", "purple", "black", "white", "brown", "pink", "gray",
    ),
    "fruits": (
        "apple", "banana", "cherry", "grape", "lemon", "mango", "peach", "pear", "plum", "melon",
    ),
    "tools": (
        "hammer", "saw", "wrench", "drill", "chisel", "shovel", "screwdriver", "pliers", "axe",
        "rake",
    ),
    "instruments": (
        "piano", "guitar", "violin", "drum", "flute", "trumpet", "cello", "harp", "clarinet",
        "saxophone",
    ),
    "professions": (
        "doctor", "teacher", "lawyer", "engineer", "nurse", "farmer", "pilot", "chef", "baker",
        "plumber",
    ),
    "sports": (
        "soccer", "tennis", "golf", "hockey", "baseball", "cricket", "rugby", "boxing", "skiing",
        "cycling",
    ),
}  # fmt: skip

_RELATIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "capital": (
        ("france", "paris"),
        ("germany", "berlin"),
        ("italy", "rome"),
        ("spain", "madrid"),
        ("japan", "tokyo"),
        ("russia", "moscow"),
        ("egypt", "cairo"),
        ("greece", "athens"),
        ("canada", "ottawa"),
        ("portugal", "lisbon"),
    ),
    "plural": (
        ("house", "houses"),
        ("car", "cars"),
        ("book", "books"),
        ("tree", "trees"),
        ("chair", "chairs"),
        ("window", "windows"),
        ("door", "doors"),
        ("river", "rivers"),
        ("mountain", "mountains"),
        ("city", "cities"),
    ),
    "gender": (
        ("king", "queen"),
        ("man", "woman"),
        ("boy", "girl"),
        ("father", "mother"),
        ("brother", "sister"),
        ("son", "daughter"),
        ("uncle", "aunt"),
        ("husband", "wife"),
        ("prince", "princess"),
        ("nephew", "niece"),
    ),
}

_FUNCTION_WORDS: tuple[tuple[str, float], ...] = (
    ("the", 12.0),
    ("of", 7.0),
    ("and", 6.0),
    ("a", 5.5),
    ("in", 4.5),
    ("is", 4.0),
    ("to", 4.0),
    ("it", 2.5),
    ("that", 2.5),
    ("was", 2.0),
    ("with", 2.0),
    ("for", 2.0),
    ("on", 1.8),
    ("as", 1.5),
    ("by", 1.2),
    ("at", 1.2),
    ("from", 1.0),
    ("this", 1.0),
    ("or", 0.8),
    ("but", 0.8),
    ("an", 0.7),
    ("are", 0.7),
    ("not", 0.6),
    ("very", 0.4),
)

_DESIGN_SEED = 0x5EED_2A7A
_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"
_CODAS = "nrls"

_CATEGORY_CONTEXT_WORDS = 4
_ENTITY_WORDS = 3
_ROLE_WORDS = 4
_FILLER_WORDS = 900
_FILLER_ZIPF_EXPONENT = 1.05
_FILLER_ZIPF_OFFSET = 2.7

_P_CATEGORY = 0.35
_P_RELATION = 0.55
_MIN_LENGTH = 6
_MAX_LENGTH = 20
_P_FUNCTION_PAD = 0.65


@dataclass(frozen=True)
class PlantedStructure:
    """The semantic structure planted in the synthetic corpus.

    Attributes:
        categories: Category name -> member words.
        relations: Relation name -> ``(a, b)`` pairs, meaning "``a`` relates to ``b``"
            (e.g. ``("france", "paris")`` in the ``"capital"`` relation).
    """

    categories: dict[str, tuple[str, ...]]
    relations: dict[str, tuple[tuple[str, str], ...]]

    def analogies(self) -> list[tuple[str, str, str, str]]:
        """Return every analogy question implied by the relations.

        Each result ``(a1, b1, a2, b2)`` reads "``a1`` is to ``b1`` as ``a2`` is to ``b2``"; both
        pairs come from the same relation and are different pairs. A relation with ``n``
        distinct pairs therefore contributes ``n * (n - 1)`` analogies.
        """
        result: list[tuple[str, str, str, str]] = []
        for pairs in self.relations.values():
            for a1, b1 in pairs:
                for a2, b2 in pairs:
                    if (a1, b1) != (a2, b2):
                        result.append((a1, b1, a2, b2))
        return result

    def category_of(self, word: str) -> str | None:
        """Return the name of the category containing ``word``, or ``None`` if there is none.

        Words that only take part in relations (e.g. ``paris``) have no category.
        """
        for name, members in self.categories.items():
            if word in members:
                return name
        return None


def _planted_words(structure: PlantedStructure) -> list[str]:
    """Return all planted words (category members, then relation words) in a fixed order."""
    result = [word for members in structure.categories.values() for word in members]
    for pairs in structure.relations.values():
        for a, b in pairs:
            result.extend((a, b))
    return result


def planted_structure() -> PlantedStructure:
    """Return the fixed structure planted by :func:`generate_sentences`.

    A fresh object is returned on every call, so mutating it cannot affect the generator.
    """
    return PlantedStructure(
        categories=dict(_CATEGORIES),
        relations=dict(_RELATIONS),
    )


@dataclass(frozen=True)
class _Design:
    """Vocabulary and sampling tables of the generator, shared by all seeds.

    Every token is represented by an integer id indexing :attr:`vocab`.
    """

    vocab: tuple[str, ...]
    category_members: tuple[tuple[int, ...], ...]
    category_context: tuple[tuple[int, ...], ...]
    # One entry per (relation, pair, role): the word, its entity words and its role words.
    relation_word: tuple[int, ...]
    relation_entity_context: tuple[tuple[int, ...], ...]
    relation_role_context: tuple[tuple[int, ...], ...]
    pad_ids: np.ndarray
    pad_probabilities: np.ndarray


def _pseudo_words(count: int, rng: np.random.Generator, taken: set[str]) -> list[str]:
    """Draw ``count`` unique pronounceable lowercase pseudo-words not contained in ``taken``.

    Words consist of two or three consonant-vowel syllables with an optional final consonant.
    ``taken`` is updated with the new words.
    """
    words: list[str] = []
    while len(words) < count:
        n_syllables = 2 + int(rng.integers(0, 2))
        parts = [
            _CONSONANTS[int(rng.integers(len(_CONSONANTS)))] + _VOWELS[int(rng.integers(5))]
            for _ in range(n_syllables)
        ]
        if rng.random() < 0.3:
            parts.append(_CODAS[int(rng.integers(len(_CODAS)))])
        word = "".join(parts)
        if word not in taken:
            taken.add(word)
            words.append(word)
    return words


@lru_cache(maxsize=1)
def _design() -> _Design:
    """Build the (seed-independent) vocabulary and sampling tables of the generator."""
    rng = np.random.default_rng(_DESIGN_SEED)
    structure = planted_structure()
    taken = set(_planted_words(structure)) | {word for word, _ in _FUNCTION_WORDS}
    vocab: list[str] = []
    index: dict[str, int] = {}

    def ids(words: list[str] | tuple[str, ...]) -> tuple[int, ...]:
        for word in words:
            if word not in index:
                index[word] = len(vocab)
                vocab.append(word)
        return tuple(index[word] for word in words)

    category_members = tuple(ids(members) for members in structure.categories.values())
    category_context = tuple(
        ids(_pseudo_words(_CATEGORY_CONTEXT_WORDS, rng, taken)) for _ in structure.categories
    )

    relation_word: list[int] = []
    entity_context: list[tuple[int, ...]] = []
    role_context: list[tuple[int, ...]] = []
    for pairs in structure.relations.values():
        roles = (
            ids(_pseudo_words(_ROLE_WORDS, rng, taken)),
            ids(_pseudo_words(_ROLE_WORDS, rng, taken)),
        )
        for pair in pairs:
            entity = ids(_pseudo_words(_ENTITY_WORDS, rng, taken))
            for role, word in enumerate(pair):
                relation_word.append(ids([word])[0])
                entity_context.append(entity)
                role_context.append(roles[role])

    function_ids = ids([word for word, _ in _FUNCTION_WORDS])
    function_weights = np.array([weight for _, weight in _FUNCTION_WORDS])
    filler_ids = ids(_pseudo_words(_FILLER_WORDS, rng, taken))
    ranks = np.arange(_FILLER_WORDS, dtype=np.float64)
    filler_weights = (ranks + _FILLER_ZIPF_OFFSET) ** -_FILLER_ZIPF_EXPONENT
    pad_probabilities = np.concatenate(
        [
            _P_FUNCTION_PAD * function_weights / function_weights.sum(),
            (1.0 - _P_FUNCTION_PAD) * filler_weights / filler_weights.sum(),
        ]
    )
    return _Design(
        vocab=tuple(vocab),
        category_members=category_members,
        category_context=category_context,
        relation_word=tuple(relation_word),
        relation_entity_context=tuple(entity_context),
        relation_role_context=tuple(role_context),
        pad_ids=np.array(function_ids + filler_ids, dtype=np.int64),
        pad_probabilities=pad_probabilities / pad_probabilities.sum(),
    )


def _sizes(groups: tuple[tuple[int, ...], ...]) -> np.ndarray:
    """Return the length of every group as an integer array."""
    return np.array([len(g) for g in groups], dtype=np.int64)


def _max_options(design: _Design) -> int:
    """Return the largest number of options any content slot chooses from."""
    return max(
        len(g)
        for groups in (
            design.category_members,
            design.category_context,
            design.relation_entity_context,
            design.relation_role_context,
        )
        for g in groups
    )


def generate_sentences(num_sentences: int = 20_000, seed: int = 0) -> list[str]:
    """Generate the synthetic corpus.

    Args:
        num_sentences: Number of sentences to generate.
        seed: Seed of :func:`numpy.random.default_rng`; the output is a pure function of
            ``(num_sentences, seed)``.

    Returns:
        ``num_sentences`` lines of space-separated lowercase tokens, each 6 to 20 tokens long.
    """
    if num_sentences < 0:
        raise ValueError(f"num_sentences must be non-negative, got {num_sentences}")
    design = _design()
    rng = np.random.default_rng(seed)
    n = num_sentences
    n_categories = len(design.category_members)
    n_relation_words = len(design.relation_word)

    kind_u = rng.random(n)
    choice_u = rng.random((n, 3))
    lengths = rng.integers(_MIN_LENGTH, _MAX_LENGTH + 1, size=n)
    slot_keys = rng.random((n, 2, _max_options(design)))

    kind = np.where(kind_u < _P_CATEGORY, 0, np.where(kind_u < _P_CATEGORY + _P_RELATION, 1, 2))
    is_category = kind == 0
    group = (choice_u[:, 0] * np.where(is_category, n_categories, n_relation_words)).astype(
        np.int64
    )
    slot = group + np.where(is_category, 0, n_categories)
    slot_sizes = np.stack(
        [
            _sizes(design.category_members + design.relation_entity_context)[slot],
            _sizes(design.category_context + design.relation_role_context)[slot],
        ],
        axis=1,
    )
    slot_keys[np.arange(slot_keys.shape[2]) >= slot_sizes[..., None]] = 2.0
    slot_orders: list[list[list[int]]] = np.argsort(slot_keys, axis=2).tolist()
    counts_u = choice_u[:, 1:].tolist()

    contents: list[list[int]] = []
    for kind_i, group_i, (u1, u2), (order0, order1) in zip(
        kind.tolist(), group.tolist(), counts_u, slot_orders, strict=True
    ):
        if kind_i == 0:
            members = design.category_members[group_i]
            context = design.category_context[group_i]
            content = [members[j] for j in order0[: 2 + int(u1 * 3)]]
            content += [context[j] for j in order1[: 1 + int(u2 * 2)]]
        elif kind_i == 1:
            entity = design.relation_entity_context[group_i]
            role = design.relation_role_context[group_i]
            content = [design.relation_word[group_i]]
            content += [entity[j] for j in order0[:2]]
            content += [role[j] for j in order1[: 1 + int(u1 * 2)]]
        else:
            content = []
        contents.append(content)

    content_sizes = np.fromiter((len(c) for c in contents), dtype=np.int64, count=n)
    lengths = np.clip(lengths, content_sizes + 2, _MAX_LENGTH)
    pad_sizes = lengths - content_sizes
    pads: list[int] = rng.choice(
        design.pad_ids, size=int(pad_sizes.sum()), p=design.pad_probabilities
    ).tolist()
    flat: list[int] = []
    pad_start = 0
    for content, pad_size in zip(contents, pad_sizes.tolist(), strict=True):
        flat.extend(content)
        flat.extend(pads[pad_start : pad_start + pad_size])
        pad_start += pad_size

    sort_keys = np.repeat(np.arange(n, dtype=np.float64), lengths) + rng.random(len(flat))
    order = np.argsort(sort_keys, kind="stable")
    shuffled = np.array(flat, dtype=np.int64)[order]
    words = np.array(design.vocab, dtype=object)[shuffled].tolist()
    ends = np.cumsum(lengths).tolist()
    begin = 0
    sentences: list[str] = []
    for end in ends:
        sentences.append(" ".join(words[begin:end]))
        begin = end
    return sentences


def write_corpus(path: str | os.PathLike[str], num_sentences: int = 20_000, seed: int = 0) -> int:
    """Write :func:`generate_sentences` output to ``path``, one sentence per line.

    The file is UTF-8 with ``'\\n'`` line endings; missing parent directories are created.

    Returns:
        The number of tokens written.
    """
    sentences = generate_sentences(num_sentences, seed)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8", newline="\n") as handle:
        for sentence in sentences:
            handle.write(sentence)
            handle.write("\n")
    return sum(len(sentence.split(" ")) for sentence in sentences)
