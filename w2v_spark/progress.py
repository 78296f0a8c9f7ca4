"""A progress bar of the training rounds, for notebooks and scripts.

The stages log to the ``w2v_spark`` logger; a training round's record carries
``progress = (round, rounds)`` and ``loss`` (see :mod:`w2v_spark.stages.training`). Inside
:func:`show_progress` those records draw one bar that fills, instead of a line per round;
warnings still print, each on a line of its own::

    with show_progress():
        emb = train(spark, corpus, "runs/first")

In a Jupyter kernel the bar is a display that is updated in place (a saved notebook keeps
its last state); elsewhere it is a line of ``stream`` rewritten with a carriage return.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

#: Characters of the bar.
BAR_WIDTH = 30


def bar_text(done: int, total: int, loss: float | None = None, width: int = BAR_WIDTH) -> str:
    """One state of the bar: ``[train] |#####-----| 12/40 rounds, loss 3.2100``."""
    filled = width * done // max(total, 1)
    text = f"[train] |{'#' * filled}{'-' * (width - filled)}| {done}/{total} rounds"
    return text if loss is None else f"{text}, loss {loss:.4f}"


class ProgressHandler(logging.Handler):
    """Draws the records that carry ``progress`` as one bar; prints those at or above
    ``WARNING`` on their own line; drops the other records."""

    def __init__(self, stream: TextIO | None = None, display: Any = None) -> None:
        super().__init__(logging.INFO)
        self.stream = sys.stderr if stream is None else stream
        self.display = display
        self._handle: Any = None
        self._open_line = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            progress = getattr(record, "progress", None)
            if progress is not None:
                done, total = progress
                self._draw(bar_text(done, total, getattr(record, "loss", None)))
                if done >= total:
                    self._end_line()
            elif record.levelno >= logging.WARNING:
                self._end_line()
                self.stream.write(record.getMessage() + "\n")
                self.stream.flush()
        except Exception:  # a handler never raises into the code that logs
            self.handleError(record)

    def _draw(self, text: str) -> None:
        if self.display is not None:
            if self._handle is None:
                self._handle = self.display(text)
            else:
                self._handle.update(text)
            return
        self.stream.write("\r" + text)
        self.stream.flush()
        self._open_line = True

    def _end_line(self) -> None:
        self._handle = None
        if self._open_line:
            self.stream.write("\n")
            self.stream.flush()
            self._open_line = False


class _KernelLine:
    """A line of plain text shown by IPython's ``display`` and updated in place."""

    def __init__(self, text: str) -> None:
        from IPython.display import display

        self._handle = display({"text/plain": text}, raw=True, display_id=True)

    def update(self, text: str) -> None:
        self._handle.update({"text/plain": text}, raw=True)


def _kernel_display() -> Any:
    """A maker of :class:`_KernelLine` inside a Jupyter kernel, else None."""
    if "IPython" not in sys.modules:
        return None
    from IPython import get_ipython

    ip = get_ipython()
    if ip is None or type(ip).__name__ != "ZMQInteractiveShell":
        return None
    return _KernelLine


@contextmanager
def show_progress(stream: TextIO | None = None) -> Iterator[ProgressHandler]:
    """Show the training rounds as one progress bar while the block runs (see the module's
    docstring); the ``w2v_spark`` logger is as it was afterwards."""
    logger = logging.getLogger("w2v_spark")
    handler = ProgressHandler(stream, None if stream is not None else _kernel_display())
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield handler
    finally:
        handler._end_line()
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
