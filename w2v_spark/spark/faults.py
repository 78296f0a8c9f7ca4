"""Test-only fault injection: make the first attempt of chosen Spark tasks fail on purpose.

The test suite uses it to prove that a retried task changes nothing. It is switched on only by
the environment variable :data:`ENV_VAR` *of the driver process* (never by a config file or a
``--set``), whose value names stages and partition ids::

    W2V_SPARK_TEST_FAULTS="pairs:0,train:1"

Then in every Spark job of the named stage, the first attempt (``attemptNumber() == 0``) of the
task of each named partition fails with :class:`InjectedFault` right after it has produced its
first output batch (or at its end when it produces none), so that a partial output exists and
must be thrown away. Spark retries the task when ``spark.task.maxFailures`` (or ``local[N,F]``)
allows it. The driver prints a warning when the plan is active. Without the variable the stage
bodies run unwrapped.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Any

ENV_VAR = "W2V_SPARK_TEST_FAULTS"

#: Stages whose Spark tasks can be made to fail.
STAGES = ("pairs", "train")

Body = Callable[[Iterator[Any]], Iterator[Any]]


class InjectedFault(RuntimeError):
    """The failure a test asked for (see :data:`ENV_VAR`)."""


def parse_plan(text: str) -> dict[str, frozenset[int]]:
    """``"pairs:0,train:1"`` -> ``{"pairs": {0}, "train": {1}}``; raises ValueError."""
    plan: dict[str, set[int]] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        stage, sep, partition = item.partition(":")
        if not sep or stage not in STAGES or not partition.isdigit():
            raise ValueError(
                f"{ENV_VAR}={text!r}: each item must be <stage>:<partition id> with a stage "
                f"of {', '.join(STAGES)}, e.g. 'pairs:0,train:1'"
            )
        plan.setdefault(stage, set()).add(int(partition))
    return {stage: frozenset(ids) for stage, ids in plan.items()}


def active_plan(environ: Mapping[str, str] | None = None) -> dict[str, frozenset[int]]:
    """The plan of the driver's environment (empty when the variable is not set)."""
    text = (os.environ if environ is None else environ).get(ENV_VAR, "")
    return parse_plan(text) if text.strip() else {}


def with_faults(body: Body, stage: str, environ: Mapping[str, str] | None = None) -> Body:
    """``body`` itself, or, when the plan names ``stage``, ``body`` wrapped so that the first
    attempt of the named partitions' tasks fails. Call it on the driver."""
    partitions = active_plan(environ).get(stage)
    if not partitions:
        return body
    print(
        f"w2v_spark: WARNING: test fault injection is on ({ENV_VAR}): the first attempt of "
        f"{stage} tasks {sorted(partitions)} fails on purpose",
        file=sys.stderr,
        flush=True,
    )
    return partial(_first_attempt_fails, body=body, stage=stage, partitions=partitions)


def _first_attempt_fails(
    batches: Iterator[Any], *, body: Body, stage: str, partitions: frozenset[int]
) -> Iterator[Any]:
    """Executor side: run ``body``; on a doomed attempt, fail after its first output."""
    from pyspark import TaskContext

    context = TaskContext.get()
    doomed = (
        context is not None
        and context.attemptNumber() == 0
        and context.partitionId() in partitions
    )
    for out in body(batches):
        yield out
        if doomed:
            break
    if doomed:
        assert context is not None
        raise InjectedFault(
            f"injected failure of {stage} task {context.partitionId()}, attempt "
            f"{context.attemptNumber()} ({ENV_VAR})"
        )
