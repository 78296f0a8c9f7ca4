"""Exception types raised for errors a user can cause."""

from __future__ import annotations


class W2VError(Exception):
    """Base class of every error the package raises on purpose."""


class WordNotInVocabularyError(W2VError, KeyError):
    """A queried word is not in the vocabulary."""

    def __init__(self, word: str, detail: str = "") -> None:
        super().__init__(word)
        self.word = word
        self.detail = detail

    def __str__(self) -> str:
        message = f"word {self.word!r} is not in the vocabulary"
        return f"{message}; {self.detail}" if self.detail else message


class ConfigError(W2VError, ValueError):
    """A configuration file or ``--set`` override is invalid."""


class InputError(W2VError):
    """The input is missing, unreadable or of the wrong shape."""


class EmptyCorpusError(InputError):
    """The input holds no tokens at all."""


class EmptyVocabularyError(InputError):
    """No word is left after ``min_count`` and ``max_vocab_size``."""


class SchemaError(InputError):
    """A table does not have the columns or types a stage needs."""


class OutputError(W2VError):
    """The output location is not usable (exists already, overlaps the input, ...)."""


class IncompleteTableError(W2VError):
    """A table exists but was not written completely (no ``_SUCCESS`` marker)."""


class CorruptError(W2VError):
    """A published table or the run record differs from what was written: a file's checksum
    does not match, or the record cannot be parsed."""


class ResumeError(W2VError):
    """A run cannot be resumed: its input or its settings differ from the recorded ones, or
    the output directory holds no run to resume."""


class ModelTooLargeError(W2VError):
    """The model would not fit the memory the Spark settings give the driver or a task."""


class JavaNotFoundError(W2VError):
    """Spark needs a Java runtime and none was found."""


class VectorFormatError(InputError):
    """A word2vec or GloVe vectors file is malformed, truncated or not in the stated format."""


class TrainingDivergedError(W2VError, FloatingPointError):
    """Training diverged: a round's loss rose far above the starting loss, or the model holds
    non-finite values."""


class Interrupted(KeyboardInterrupt):
    """The user interrupted a command (Ctrl-C) while ``stage`` was running in ``output``."""

    def __init__(self, stage: str, output: str) -> None:
        super().__init__(stage, output)
        self.stage = stage
        self.output = output
