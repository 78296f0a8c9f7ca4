"""The README's examples, run as written on small generated inputs under the names they use
(``corpus.txt``, ``ratings.csv``, ``retail.dat``), from a folder holding the repository's
``conf/``. Each command gets the test session's Spark settings and a short training on top
(one epoch, small vectors), so that what is checked is that the commands and the Python
example work as the README shows them, not how long a full training takes."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest

import w2v_spark
from w2v_spark.api import train as real_train
from w2v_spark.cli import main
from w2v_spark.synthetic.items import planted_events
from w2v_spark.synthetic.text import generate_sentences

pytestmark = [pytest.mark.spark, pytest.mark.usefixtures("keep_session_conf")]

REPO = Path(__file__).resolve().parents[2]

#: Added to every example: the test session's settings and a short training.
SETTINGS = (
    "spark.master=local[2]",
    "spark.driver_memory=2g",
    "spark.conf.spark.sql.shuffle.partitions=2",
    "spark.conf.spark.sql.execution.arrow.maxRecordsPerBatch=64",
    "train.epochs=1",
    "train.vector_size=16",
)

#: The README's command-line entry point, as its examples call it.
ENTRY = ".venv/bin/w2v-spark"


def readme_blocks() -> list[tuple[str, str, str]]:
    """``(section, language, code)`` of every fenced block of the README, by ``##`` section."""
    section, blocks = "", []
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
        fence = re.fullmatch(r"```(\w*)", line.strip())
        if fence:
            end = lines.index("```", i + 1)
            blocks.append((section, fence.group(1), "\n".join(lines[i + 1:end])))
            i = end
        i += 1
    return blocks


def commands(section: str) -> list[list[str]]:
    """The ``w2v-spark`` commands of a section's bash blocks, continuation lines joined."""
    found = []
    for where, language, code in readme_blocks():
        if where != section or language != "bash":
            continue
        for command in code.replace("\\\n", " ").splitlines():
            words = shlex.split(command, comments=True)
            if words and words[0] == ENTRY:
                found.append(words[1:])
    return found


def python_example(section: str) -> str:
    (code,) = [c for where, lang, c in readme_blocks() if where == section and lang == "python"]
    return code


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with the repository's conf/, as the README's examples expect."""
    (tmp_path / "conf").symlink_to(REPO / "conf")
    monkeypatch.chdir(tmp_path)
    return tmp_path


#: Options whose value is a path: Spark resolves a relative one against the directory its JVM
#: started in, which for a command is where it runs, here the test session's.
PATH_OPTIONS = ("--input", "--output", "--to", "--config")


def run(argv: list[str], folder: Path) -> None:
    """One example command in-process, its relative paths taken in ``folder``."""
    args = [str(folder / a) if i and argv[i - 1] in PATH_OPTIONS else a
            for i, a in enumerate(argv)]
    flags = [item for s in SETTINGS for item in ("--set", s)]
    assert main([*args, *flags]) == 0, argv


def test_the_text_examples_run_as_written(spark, folder: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    text = commands("Text")
    assert [c[0] for c in text] == ["run", "similar", "export"]
    (folder / "corpus.txt").write_text(
        "".join(s + "\n" for s in generate_sentences(3_000, seed=4)), encoding="utf-8")
    for argv in text:
        capsys.readouterr()
        run(argv, folder)
        if argv[0] == "similar":
            assert len(capsys.readouterr().out.strip().splitlines()) >= 5
    assert (folder / "out" / "embeddings" / "_SUCCESS").exists()
    assert (folder / "out" / "vectors.bin").stat().st_size > 0


def test_the_python_example_runs_as_written(spark, folder: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (folder / "corpus.txt").write_text(
        "".join(s + "\n" for s in generate_sentences(3_000, seed=4)), encoding="utf-8")

    def short_train(spark: Any, data: str, output: str, **kwargs: Any) -> Any:
        return real_train(spark, str(folder / data), str(folder / output), **kwargs,
                          settings=list(SETTINGS))

    monkeypatch.setattr(w2v_spark, "train", short_train)
    lines = python_example("Text").splitlines()
    *setup, last = lines
    scope: dict[str, Any] = {}
    exec("\n".join(setup), scope)
    answer = eval(last, scope)
    assert len(answer) == 3
    assert all(word not in ("king", "woman", "man") for word, _ in answer)
    assert (folder / "out" / "embeddings" / "_SUCCESS").exists()


def test_the_items_examples_run_as_written(spark, folder: Path) -> None:
    items = commands("Items")
    assert [c[0] for c in items] == ["run", "run"]
    events = planted_events(users=200, seed=2).events
    (folder / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n"
        + "".join(f"{u},{i},4.0,{t}\n" for u, i, t in events), encoding="utf-8")
    by_user: dict[str, list[str]] = {}
    for user, item, _ in events:
        by_user.setdefault(user, []).append(item)
    (folder / "retail.dat").write_text(
        "".join(" ".join(basket[k:k + 5]) + "\n" for basket in by_user.values()
                for k in range(0, len(basket), 5)), encoding="utf-8")
    for argv in items:
        run(argv, folder)
    for table in ("embeddings", "neighbors", "user_vectors", "recommendations"):
        assert (folder / "out" / "movies" / table / "_SUCCESS").exists(), table
    for table in ("embeddings", "neighbors"):
        assert (folder / "out" / "baskets" / table / "_SUCCESS").exists(), table
