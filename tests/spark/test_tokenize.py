"""Stage 1 on Spark: lines of text to sentences of tokens."""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np
import pytest

from w2v_spark.config import TokenizeConfig
from w2v_spark.io.schemas import TOKENS_SCHEMA
from w2v_spark.stages.tokenize import (
    _PIECE_CHARS,
    CorpusStats,
    corpus_stats,
    should_spread,
    tokenize_lines,
)

pytestmark = pytest.mark.spark


def _lines(spark, texts: list[str]):
    return spark.createDataFrame([(t,) for t in texts], "value string")


def _sentences(frame) -> list[tuple[int, int, list[str]]]:
    rows = frame.collect()
    return sorted((r["line_id"], r["chunk"], list(r["tokens"])) for r in rows)


def _words(n: int, offset: int = 0) -> list[str]:
    """``n`` distinct lowercase words made of letters only."""
    out = []
    for i in range(offset, offset + n):
        word = ""
        i += 1
        while i:
            i, r = divmod(i - 1, 26)
            word = string.ascii_lowercase[r] + word
        out.append(word)
    return out


def test_lowercase_on_and_off(spark) -> None:
    lines = _lines(spark, ["Hello World", "ÉCOLE Straße"])
    lower = _sentences(tokenize_lines(lines, TokenizeConfig(lowercase=True), 2))
    kept = _sentences(tokenize_lines(lines, TokenizeConfig(lowercase=False), 2))
    assert [s[2] for s in lower] == [["hello", "world"], ["école", "straße"]]
    assert [s[2] for s in kept] == [["Hello", "World"], ["ÉCOLE", "Straße"]]


def test_default_token_pattern(spark) -> None:
    text = (
        "Don't stop 2day, it's 42° café—naïve rock'n'roll l\u2019été \u2018quoted\u2019 x_y 3.14 "
        "Привет 東京 e-mail!!"
    )
    (sentence,) = _sentences(tokenize_lines(_lines(spark, [text]), TokenizeConfig(), 2))
    assert sentence[1] == 0
    assert sentence[2] == [
        "don't", "stop", "2", "day", "it's", "42", "café", "naïve", "rock'n'roll",
        "l\u2019été", "quoted", "x", "y", "3", "14", "привет", "東京", "e", "mail",
    ]


def test_long_line_is_cut_into_chunks_in_order(spark) -> None:
    words = _words(1000)
    lines = _lines(spark, ["first line", " ".join(words), "last line"])
    out = _sentences(tokenize_lines(lines, TokenizeConfig(max_sentence_length=64), 3))
    long = [s for s in out if len(s[2]) > 2]
    assert len({s[0] for s in long}) == 1
    assert [s[1] for s in long] == list(range(16))
    assert [len(s[2]) for s in long] == [64] * 15 + [1000 - 15 * 64]
    assert [w for s in long for w in s[2]] == words
    assert [s[2] for s in out if len(s[2]) <= 2] == [["first", "line"], ["last", "line"]]
    assert len({s[0] for s in out}) == 3


def _huge_line(min_chars: int) -> tuple[str, list[str]]:
    """A line of more than ``min_chars`` characters whose piece boundaries fall inside words."""
    rng = np.random.default_rng(7)
    letters = np.array(list(string.ascii_lowercase + "éß"))
    words: list[str] = []
    seps: list[str] = []
    size = 0
    while size <= min_chars:
        word = "".join(letters[rng.integers(0, letters.size, rng.integers(1, 13))])
        sep = (" ", "  ", "\t", " \u3000 ")[int(rng.integers(0, 4))]
        words.append(word)
        seps.append(sep)
        size += len(word) + len(sep)
    # Move the text by whole characters until the first cut point is inside a word.
    prefix = "a"
    while True:
        text = prefix + " " + "".join(w + s for w, s in zip(words, seps, strict=True))
        if not text[_PIECE_CHARS].isspace() and not text[_PIECE_CHARS - 1].isspace():
            return text, [prefix, *words]
        prefix += "a"


def test_very_long_line_keeps_every_token(spark, tmp_path: Path) -> None:
    text, words = _huge_line(_PIECE_CHARS + 200_000)
    assert len(text) > _PIECE_CHARS
    path = tmp_path / "huge.txt"
    path.write_text("before\n" + text + "\nafter\n", encoding="utf-8")
    max_len = 10_000
    out = _sentences(
        tokenize_lines(spark.read.text(str(path)), TokenizeConfig(max_sentence_length=max_len), 2)
    )
    assert out[0][2] == ["before"] and out[-1][2] == ["after"]
    long = out[1:-1]
    assert len({s[0] for s in long}) == 1
    assert [s[1] for s in long] == list(range(len(long)))
    assert all(len(s[2]) == max_len for s in long[:-1])
    assert 0 < len(long[-1][2]) <= max_len
    assert [w for s in long for w in s[2]] == words


def test_blank_lines_produce_no_rows(spark) -> None:
    lines = _lines(spark, ["a b", "", "   ", "\t", "!!! ...", "c"])
    out = _sentences(tokenize_lines(lines, TokenizeConfig(), 2))
    assert [s[2] for s in out] == [["a", "b"], ["c"]]
    assert [s[1] for s in out] == [0, 0]


def test_many_lines_keep_every_token(spark) -> None:
    vocab = _words(50)
    rng = np.random.default_rng(3)
    texts = []
    for i in range(700):
        if i % 37 == 5:
            texts.append("")
            continue
        picks = rng.integers(0, len(vocab), rng.integers(1, 12))
        texts.append(" ".join(vocab[j] for j in picks))
    out = _sentences(tokenize_lines(_lines(spark, texts), TokenizeConfig(), 2))
    expected = [t.split() for t in texts if t]
    assert [s[2] for s in out] == expected
    assert len({s[0] for s in out}) == len(expected)
    assert all(s[1] == 0 for s in out)


def test_invalid_utf8_does_not_crash_and_is_counted(spark, tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"good w\xffrd\n\n  \nplain line\n")
    lines = spark.read.text(str(path))
    out = _sentences(tokenize_lines(lines, TokenizeConfig(), 2))
    assert [s[2] for s in out] == [["good", "w", "rd"], ["plain", "line"]]
    assert corpus_stats(lines) == CorpusStats(lines=4, blank_lines=2, invalid_utf8_lines=1)


def test_line_ids_are_distinct_per_line(spark) -> None:
    texts = [" ".join(_words(5, offset=i)) for i in range(200)]
    out = _sentences(tokenize_lines(_lines(spark, texts), TokenizeConfig(max_sentence_length=2), 3))
    by_line: dict[int, list[str]] = {}
    for line_id, _, tokens in out:
        by_line.setdefault(line_id, []).extend(tokens)
    assert len(by_line) == len(texts)
    assert [by_line[k] for k in sorted(by_line)] == [t.split() for t in texts]


def test_schema_matches_tokens_schema(spark) -> None:
    frame = tokenize_lines(_lines(spark, ["a b c"]), TokenizeConfig(), 2)
    assert [(f.name, f.dataType) for f in frame.schema.fields] == [
        (f.name, f.dataType) for f in TOKENS_SCHEMA.fields
    ]
    assert frame.rdd.getNumPartitions() == 2


def test_a_gzip_input_is_tokenized_on_several_partitions_in_line_order(
    spark, tmp_path: Path
) -> None:
    """One gzip file is one input partition: its lines are spread before the tokenizer runs,
    and the sentences come out in the order of the lines, as from the plain file."""
    import gzip

    texts = [" ".join(_words(3 + i % 7, offset=i)) for i in range(500)]
    plain = tmp_path / "corpus.txt"
    plain.write_text("\n".join(texts) + "\n", encoding="utf-8")
    packed = tmp_path / "corpus.txt.gz"
    with gzip.open(packed, "wt", encoding="utf-8") as out:
        out.write("\n".join(texts) + "\n")
    lines = spark.read.text(str(packed))
    assert lines.rdd.getNumPartitions() == 1
    assert should_spread(lines, 500, 4)
    frame = tokenize_lines(lines, TokenizeConfig(), 4, spread=True)
    plan = frame._jdf.queryExecution().executedPlan().toString()
    below_tokenizer = plan[plan.index("MapInArrow"):]
    assert "Exchange hashpartitioning(line_id" in below_tokenizer
    from_gzip = [s[2] for s in _sentences(frame)]
    from_plain = [s[2] for s in _sentences(tokenize_lines(spark.read.text(str(plain)),
                                                          TokenizeConfig(), 4))]
    assert from_gzip == from_plain == [t.split() for t in texts]


def test_spreading_is_for_inputs_of_few_partitions_and_many_lines(spark, tmp_path: Path) -> None:
    import gzip

    packed = tmp_path / "one.txt.gz"
    with gzip.open(packed, "wt", encoding="utf-8") as out:
        out.write("a single long line\n")
    one_partition = spark.read.text(str(packed))
    assert should_spread(one_partition, 256, 4)
    assert not should_spread(one_partition, 255, 4)  # too few lines to share out
    assert not should_spread(one_partition, 1, 4)  # a single-line corpus such as text8
    many = _lines(spark, [f"line {i}" for i in range(1000)]).repartition(4)
    assert not should_spread(many, 1000, 4)  # already on every core
    plan = tokenize_lines(one_partition, TokenizeConfig(), 4)._jdf.queryExecution()
    below_tokenizer = plan.executedPlan().toString().split("MapInArrow", 1)[1]
    assert "Exchange" not in below_tokenizer
