"""The test-only fault injection: off unless the driver's environment asks (no Spark)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from w2v_spark.spark.faults import (
    ENV_VAR,
    InjectedFault,
    _first_attempt_fails,
    parse_plan,
    with_faults,
)


def _body(batches: Iterator[int]) -> Iterator[int]:
    for batch in batches:
        yield batch * 10


def test_plan_parsing() -> None:
    assert parse_plan("pairs:0, train:1,train:3") == {
        "pairs": frozenset({0}), "train": frozenset({1, 3})
    }
    assert parse_plan("") == {}


@pytest.mark.parametrize("text", ["train", "train:x", "tokenize:0", "train:-1", "train=1"])
def test_malformed_plans_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=ENV_VAR):
        parse_plan(text)


def test_off_without_the_environment_variable(capsys: pytest.CaptureFixture[str]) -> None:
    assert with_faults(_body, "train", environ={}) is _body
    assert with_faults(_body, "train", environ={ENV_VAR: "pairs:0"}) is _body
    assert capsys.readouterr().err == ""


def test_on_it_warns_and_wraps(capsys: pytest.CaptureFixture[str]) -> None:
    wrapped = with_faults(_body, "train", environ={ENV_VAR: "train:1"})
    assert wrapped is not _body
    assert "test fault injection is on" in capsys.readouterr().err
    # Outside a Spark task there is no attempt to fail: the body runs unchanged.
    assert list(wrapped(iter([1, 2]))) == [10, 20]


def test_doomed_attempt_fails_after_its_first_output(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyspark

    class Attempt:
        def __init__(self, partition: int, attempt: int) -> None:
            self.partition, self.attempt = partition, attempt

        def partitionId(self) -> int:
            return self.partition

        def attemptNumber(self) -> int:
            return self.attempt

    def run(partition: int, attempt: int) -> list[int]:
        monkeypatch.setattr(pyspark.TaskContext, "get", lambda: Attempt(partition, attempt))
        out: list[int] = []
        for value in _first_attempt_fails(iter([1, 2, 3]), body=_body, stage="train",
                                          partitions=frozenset({1})):
            out.append(value)
        return out

    assert run(1, 1) == [10, 20, 30]  # the retry of the chosen task
    assert run(0, 0) == [10, 20, 30]  # another task
    monkeypatch.setattr(pyspark.TaskContext, "get", lambda: Attempt(1, 0))
    produced: list[int] = []
    with pytest.raises(InjectedFault, match="injected failure of train task 1, attempt 0"):
        for value in _first_attempt_fails(iter([1, 2, 3]), body=_body, stage="train",
                                          partitions=frozenset({1})):
            produced.append(value)
    assert produced == [10]
