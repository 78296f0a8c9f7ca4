"""Where the tables of a run live under its output directory::

    tokens/  vocab/  pairs/epoch=E/shard=S/  model/round=NNNNN/  metrics/  embeddings/
    sequences/  neighbors/  user_vectors/  recommendations/      (items runs)
    run.json  run.lock
"""

from __future__ import annotations

from dataclasses import dataclass

from w2v_spark.io import storage
from w2v_spark.io.schemas import (
    EMBEDDINGS,
    METRICS,
    MODEL,
    NEIGHBORS,
    PAIRS,
    RECOMMENDATIONS,
    SEQUENCES,
    TOKENS,
    USER_VECTORS,
    VOCAB,
)

#: The run record and the lock of a run directory (see :mod:`w2v_spark.run` and
#: :mod:`w2v_spark.run_lock`).
RECORD = "run.json"
LOCK = "run.lock"

#: The stages in pipeline order, and the tables each writes.
STAGES = ("tokenize", "vocab", "pairs", "train", "export", "recommend")
STAGE_OUTPUTS: dict[str, tuple[str, ...]] = {
    "tokenize": (TOKENS, SEQUENCES),
    "vocab": (VOCAB,),
    "pairs": (PAIRS,),
    "train": (MODEL, METRICS),
    "export": (EMBEDDINGS,),
    "recommend": (NEIGHBORS, USER_VECTORS, RECOMMENDATIONS),
}

_FILES = (RECORD, RECORD + ".tmp", LOCK, storage.WRITE_PROBE)
#: Every entry a run writes directly under its output directory.
OWN_ENTRIES = frozenset(
    {t for tables in STAGE_OUTPUTS.values() for t in tables}
    | set(_FILES) | {f".{name}.crc" for name in _FILES}
)


@dataclass(frozen=True)
class RunPaths:
    """The paths of a run's tables under ``root``."""

    root: str

    def table(self, name: str) -> str:
        """Path of one table (or file) under the root."""
        return storage.join(self.root, name)

    def pairs_epoch(self, epoch: int) -> str:
        """Directory of one epoch's pairs."""
        return storage.join(self.root, PAIRS, f"epoch={epoch}")

    def pairs_shard(self, epoch: int, shard: int) -> str:
        """Directory of one shard of one epoch's pairs."""
        return storage.join(self.pairs_epoch(epoch), f"shard={shard}")

    def checkpoint(self, global_round: int) -> str:
        """Directory of the model after ``global_round`` rounds (0 = the initial model)."""
        return storage.join(self.root, MODEL, f"round={global_round:05d}")

    def relative(self, path: str) -> str:
        """``path`` (under the root) relative to the root."""
        return path[len(self.root.rstrip("/")) + 1:]
