"""The progress bar: training rounds drawn as one line that fills, warnings on lines of their
own, the logger restored afterwards."""

from __future__ import annotations

import io
import logging

from w2v_spark.progress import ProgressHandler, bar_text, show_progress

log = logging.getLogger("w2v_spark.stages.training")


def _round(done: int, total: int, loss: float) -> None:
    log.info("[train] round %d", done, extra={"progress": (done, total), "loss": loss})


def test_the_bar_fills_with_the_rounds() -> None:
    assert bar_text(0, 4, width=8) == "[train] |--------| 0/4 rounds"
    assert bar_text(1, 4, width=8) == "[train] |##------| 1/4 rounds"
    assert bar_text(4, 4, 0.5, width=8) == "[train] |########| 4/4 rounds, loss 0.5000"
    assert bar_text(3, 7, width=7) == "[train] |###----| 3/7 rounds"


def test_rounds_rewrite_one_line_and_warnings_get_their_own() -> None:
    out = io.StringIO()
    with show_progress(out):
        _round(1, 3, 4.0)
        logging.getLogger("w2v_spark.run").info("[pairs] complete; skipped")
        _round(2, 3, 3.5)
        logging.getLogger("w2v_spark.run").warning("a warning")
        _round(3, 3, 3.0)
    assert out.getvalue() == (
        "\r" + bar_text(1, 3, 4.0) + "\r" + bar_text(2, 3, 3.5) + "\n"
        + "a warning\n"
        + "\r" + bar_text(3, 3, 3.0) + "\n"
    )


def test_the_logger_is_as_it_was_afterwards() -> None:
    logger = logging.getLogger("w2v_spark")
    before = (logger.level, logger.propagate, list(logger.handlers))
    with show_progress(io.StringIO()) as handler:
        assert handler in logger.handlers and logger.level == logging.INFO
    assert (logger.level, logger.propagate, list(logger.handlers)) == before


def test_a_display_is_made_once_and_updated() -> None:
    calls: list[tuple[str, str]] = []

    class Handle:
        def update(self, text: str) -> None:
            calls.append(("update", text))

    def display(text: str) -> Handle:
        calls.append(("display", text))
        return Handle()

    handler = ProgressHandler(io.StringIO(), display)
    logger = logging.getLogger("w2v_spark.test_display")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        for done in (1, 2):
            logger.info("round", extra={"progress": (done, 2), "loss": 1.0})
    finally:
        logger.removeHandler(handler)
    assert calls == [("display", bar_text(1, 2, 1.0)), ("update", bar_text(2, 2, 1.0))]
    assert handler.stream.getvalue() == ""  # type: ignore[attr-defined]
