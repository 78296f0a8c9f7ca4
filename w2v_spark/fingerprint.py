"""What a run's results depend on, so that a resumed run can prove it continues the same run.

A run records two things in its ``run.json``:

* the **input**: every file the text reader reads (fully qualified path, size, modification
  time) and, when all of them together hold at most :data:`HASH_LIMIT` bytes, the SHA-256 of
  each file's bytes. With digests, two inputs are the same when their paths, sizes and digests
  are (a file touched or copied with a new time still matches); without them (large inputs,
  where reading everything again would cost as much as a stage), paths, sizes and modification
  times must match.
* the **settings** that change results: every config key except those in
  :data:`NO_EFFECT` (so a key added later counts until someone shows it changes nothing), and
  the Spark settings in :data:`SPARK_RESULT_SETTINGS`, read from the running session because
  they can also come from ``spark-submit --conf``. Each stage records the part of them its
  tables depend on (:data:`STAGE_SETTINGS`), so a stage run again with other settings of its
  own leaves the record of the stages before it true.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from w2v_spark.config import Config

#: Inputs of at most this many bytes are also compared by content.
HASH_LIMIT = 64 << 20

#: Config keys that do not change any table's content.
NO_EFFECT = frozenset({("train", "keep_checkpoints"), ("tokenize", "max_invalid_share")})

#: Spark settings that change results: the file-split settings decide how the input is cut
#: into partitions, which numbers its lines (the pipeline fixes
#: ``spark.sql.files.minPartitionNum`` itself while reading). Arrow's batch size does not: the
#: kernel's minibatches run across Arrow batches.
SPARK_RESULT_SETTINGS = (
    "spark.sql.files.maxPartitionBytes",
    "spark.sql.files.openCostInBytes",
)


#: ``spark.sql.files.minPartitionNum``, which the pipeline fixes while it reads files.
MIN_SPLITS_KEY = "spark.sql.files.minPartitionNum"

#: Its value while reading the input and the tokens table, unless ``[spark.conf]`` sets it:
#: the file splits, and so the line numbers every random draw hashes, then depend on the input
#: and the config only, not on how many cores the cluster has.
MIN_FILE_SPLITS = 16

#: The settings each stage's tables depend on beyond the tables it reads: a key equal to an
#: entry or starting with an entry that ends in ``.``. A key that no stage names (a setting
#: added later) counts for every stage.
STAGE_SETTINGS: dict[str, tuple[str, ...]] = {
    "tokenize": ("input.", "tokenize.", "train.num_partitions", *SPARK_RESULT_SETTINGS,
                 MIN_SPLITS_KEY),
    "vocab": ("vocab.",),
    "pairs": ("pairs.", "train.seed", "train.epochs", "train.num_partitions",
              "train.syncs_per_epoch", "train.strategy", "train.block_passes", MIN_SPLITS_KEY),
    "train": ("train.",),
    "export": (),
    "recommend": ("items.", "input.format"),
}

def result_settings(cfg: Config, spark_values: Mapping[str, str | None]) -> dict[str, Any]:
    """Flat ``section.key -> value`` of every setting that changes results.

    Args:
        cfg: the run's configuration; its ``[spark]`` section is left out (the session's
            effective values of :data:`SPARK_RESULT_SETTINGS` stand for it).
        spark_values: the session's value of each of :data:`SPARK_RESULT_SETTINGS`.
    """
    flat: dict[str, Any] = {}
    for section, values in cfg.to_dict().items():
        if section == "spark":
            continue
        for key, value in values.items():
            if (section, key) not in NO_EFFECT:
                flat[f"{section}.{key}"] = value
    # "auto" stands for the strategy it chooses: a run is the same run under either name.
    flat["train.strategy"] = cfg.train.resolved_strategy
    for key in SPARK_RESULT_SETTINGS:
        flat[key] = spark_values.get(key)
    return flat


def _names(key: str, entry: str) -> bool:
    return key.startswith(entry) if entry.endswith(".") else key == entry


def stage_settings(stage: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The part of :func:`result_settings` that the tables of ``stage`` depend on (see
    :data:`STAGE_SETTINGS`)."""
    named = [entry for entries in STAGE_SETTINGS.values() for entry in entries]
    own = STAGE_SETTINGS[stage]
    return {
        key: value for key, value in settings.items()
        if any(_names(key, e) for e in own) or not any(_names(key, e) for e in named)
    }


def input_fingerprint(
    input_path: str,
    files: Sequence[tuple[str, int, int]],
    digest: Callable[[str], str],
) -> dict[str, Any]:
    """The fingerprint of an input: ``files`` are (path, size, modification ms) in path order;
    ``digest`` gives a file's SHA-256 and is called only when the total is small enough."""
    total = sum(size for _, size, _ in files)
    hashed = total <= HASH_LIMIT
    entries = []
    for path, size, modified in files:
        entry: dict[str, Any] = {"path": path, "size": size, "modified": modified}
        if hashed:
            entry["sha256"] = digest(path)
        entries.append(entry)
    return {"path": input_path, "bytes": total, "files": entries}


def input_differences(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Human-readable differences between two input fingerprints (empty when the same)."""
    old = {f["path"]: f for f in recorded.get("files", [])}
    new = {f["path"]: f for f in current.get("files", [])}
    found = [f"{p} was read by the run but is gone now" for p in sorted(old.keys() - new.keys())]
    found += [f"{p} is new" for p in sorted(new.keys() - old.keys())]
    for path in sorted(old.keys() & new.keys()):
        a, b = old[path], new[path]
        if a["size"] != b["size"]:
            found.append(f"{path} had {a['size']} bytes, now {b['size']}")
        elif "sha256" in a and "sha256" in b:
            if a["sha256"] != b["sha256"]:
                found.append(f"{path} has the same size but other content (SHA-256 differs)")
        elif a["modified"] != b["modified"]:
            found.append(f"{path} was modified since the run read it")
    return found


def settings_differences(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Human-readable differences between two :func:`result_settings` (empty when equal)."""
    found = []
    for key in sorted(recorded.keys() | current.keys()):
        missing = "<not set>"
        a, b = recorded.get(key, missing), current.get(key, missing)
        if a != b:
            found.append(f"{key} was {a!r} in the run, {b!r} now")
    return found
