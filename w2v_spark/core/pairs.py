"""One epoch of training pairs from id-encoded sentences: subsampling, windows, shards.

Every random choice is a hash of ``(seed, epoch, line_id, chunk, position)`` (see
:mod:`w2v_spark.core.hashing`), so the pairs of a sentence do not depend on which partition or
batch it arrives in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from w2v_spark.core.hashing import hash_keys, uniform01
from w2v_spark.core.windows import sentence_index, skipgram_pairs, whole_sentence_pairs

_SALT_KEEP = 0x6B656570
_SALT_SPAN = 0x7370616E
_SALT_SHARD = 0x73686172


@dataclass(frozen=True)
class EpochPairs:
    """Pairs of one epoch: ``center``, ``context`` (m,) int32 and ``shard`` (m,) int32."""

    center: np.ndarray
    context: np.ndarray
    shard: np.ndarray
    kept_tokens: int


def epoch_pairs(
    ids: np.ndarray,
    offsets: np.ndarray,
    line_ids: np.ndarray,
    chunks: np.ndarray,
    keep_prob: np.ndarray,
    *,
    window: int,
    seed: int,
    epoch: int,
    num_shards: int,
    shrink_windows: bool = True,
) -> EpochPairs:
    """Subsample, draw window sizes and form the skip-gram pairs of one epoch.

    Args:
        ids: (n,) word ids of S sentences back to back; -1 marks a word not in the vocabulary,
            which is removed before windows are formed (as gensim does).
        offsets: (S + 1,) start of each sentence in ``ids``.
        line_ids, chunks: (S,) identity of each sentence (input line and chunk of that line).
        keep_prob: (V,) probability of keeping an occurrence of each word.
        window: the maximum window half-width; each center draws its own in 1..window
            (``shrink_windows``) or uses ``window``; 0 pairs every two kept tokens of a
            sentence (the whole-sentence window of item2vec).
        seed, epoch: select the random draws.
        num_shards: pairs of a sentence all go to one shard, drawn uniformly in [0, num_shards).
    """
    sentence = sentence_index(offsets)
    position = np.arange(ids.shape[0], dtype=np.int64) - offsets[sentence]
    line = line_ids[sentence]
    chunk = chunks[sentence]
    known = ids >= 0
    safe_ids = np.where(known, ids, 0)
    u_keep = uniform01(hash_keys(seed, epoch, line, chunk, position, _SALT_KEEP))
    kept = known & (u_keep < keep_prob[safe_ids])
    kept_ids = ids[kept]
    kept_sentence = sentence[kept]
    if window == 0:
        centers, contexts, center_pos = whole_sentence_pairs(kept_ids, kept_sentence)
    else:
        if shrink_windows:
            span_hash = hash_keys(seed, epoch, line, chunk, position, _SALT_SPAN)
            spans = (span_hash % np.uint64(window)).astype(np.int64) + 1
        else:
            spans = np.full(ids.shape[0], window, dtype=np.int64)
        centers, contexts, center_pos = skipgram_pairs(kept_ids, kept_sentence, spans[kept])

    sentence_shard = (
        hash_keys(seed, epoch, line_ids, chunks, _SALT_SHARD) % np.uint64(num_shards)
    ).astype(np.int32)
    shard = sentence_shard[kept_sentence[center_pos]]
    return EpochPairs(centers, contexts, shard, int(kept_ids.shape[0]))
