"""Vocabulary blocks and the strata of stratified SGD (DSGD, Gemulla et al. 2011).

The vocabulary of ``V`` words is cut into ``K`` blocks. A pair (input word ``i``, output word
``o``) -- the input word is the one whose ``w_in`` row is used (in skip-gram, the context word),
the output word the one predicted -- belongs to the stratum (``block(i)``, ``block(o)``). An
epoch is ``K`` sub-rounds: in sub-round ``s`` task ``t`` trains the stratum
(``t``, :func:`output_block` ``(s, t, K) = (t + s) mod K``), holding only the ``w_in`` rows of
input block ``t`` and the ``w_out`` rows of that output block, with negatives drawn from the
output block alone (:func:`block_sampler`). The ``K`` tasks of a sub-round hold distinct
input blocks and distinct output blocks, so they touch disjoint rows and running them in
parallel equals running them one after the other; over the ``K`` sub-rounds every stratum is
trained once.

Inside a task the words of a block are addressed by their local row, ``0 .. n_b - 1``: the
task gathers ``w[blocks.ids(b)]``, trains on local ids (:func:`to_local`) and writes the rows
back to ``w[blocks.ids(b)]``.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import overload

import numpy as np

from w2v_spark.core.sampling import NegativeSampler


@dataclass(frozen=True, eq=False)
class VocabBlocks:
    """A partition of the vocabulary into ``num_blocks`` blocks, each with its own row numbering.

    Attributes:
        num_blocks: ``K``, the number of blocks.
        block_of: (V,) int32, the block of every word id.
        local_of: (V,) int32, the row of every word inside its block: the words of block ``b``
            have the local rows ``0 .. n_b - 1``, each once.

    Raises:
        ValueError: if the arrays are not such a partition.
    """

    num_blocks: int
    block_of: np.ndarray
    local_of: np.ndarray
    _members: np.ndarray = field(init=False, repr=False)  # (V,) ids by (block, local row)
    _starts: np.ndarray = field(init=False, repr=False)  # (K + 1,) offsets into _members

    def __post_init__(self) -> None:
        k = operator.index(self.num_blocks)
        object.__setattr__(self, "num_blocks", k)
        block_of = np.asarray(self.block_of)
        local_of = np.asarray(self.local_of)
        if block_of.ndim != 1 or local_of.shape != block_of.shape:
            raise ValueError(
                f"block_of and local_of must be 1-D arrays of one length, got shapes "
                f"{block_of.shape} and {local_of.shape}"
            )
        if not (np.issubdtype(block_of.dtype, np.integer)
                and np.issubdtype(local_of.dtype, np.integer)):
            raise ValueError(
                f"block_of and local_of must be integer arrays, got dtypes {block_of.dtype} "
                f"and {local_of.dtype}"
            )
        size = block_of.size
        if size == 0 or not 1 <= k <= size:
            raise ValueError(f"num_blocks must be between 1 and the {size} words, got {k}")
        if block_of.min() < 0 or block_of.max() >= k:
            raise ValueError(
                f"block_of must hold blocks in 0..{k - 1}, got values in "
                f"{block_of.min()}..{block_of.max()}"
            )
        members = np.lexsort((local_of, block_of)).astype(np.int32)
        sizes = np.bincount(block_of, minlength=k)
        starts = np.zeros(k + 1, dtype=np.int64)
        np.cumsum(sizes, out=starts[1:])
        expected = np.arange(size) - np.repeat(starts[:-1], sizes)
        if not np.array_equal(local_of[members], expected):
            raise ValueError("local_of must number the words of every block 0 .. n_b - 1")
        for name, value in (("block_of", block_of), ("local_of", local_of),
                            ("_members", members)):
            frozen = np.array(value, dtype=np.int32)  # a copy of its own, read-only
            frozen.flags.writeable = False
            object.__setattr__(self, name, frozen)
        object.__setattr__(self, "_starts", starts)

    @property
    def vocab_size(self) -> int:
        """``V``, the number of words."""
        return int(self.block_of.size)

    @property
    def sizes(self) -> np.ndarray:
        """(K,) int64 number of words of every block."""
        return np.diff(self._starts)

    def ids(self, block: int) -> np.ndarray:
        """(n_b,) int32 global ids of the words of ``block``, in local-row order:
        ``ids(b)[local_of[w]] == w`` for every word ``w`` of block ``b``. Read-only."""
        b = _block_index(block, self.num_blocks)
        return self._members[self._starts[b] : self._starts[b + 1]]

    def mass(self, weights: np.ndarray) -> np.ndarray:
        """(K,) float64 sums of (V,) ``weights`` over the words of every block."""
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != self.block_of.shape:
            raise ValueError(
                f"weights must have shape ({self.vocab_size},), got {weights.shape}"
            )
        return np.bincount(self.block_of, weights=weights, minlength=self.num_blocks)


def vocab_blocks(weights: np.ndarray, num_blocks: int) -> VocabBlocks:
    """Cut the vocabulary into ``num_blocks`` blocks of balanced size and weight.

    The words are ordered by weight, heaviest first (equal weights by ascending id), and dealt
    in snake order: the word at position ``r`` is in cycle ``c = r // K`` at place
    ``j = r % K`` and goes to block ``j`` if ``c`` is even, ``K - 1 - j`` if odd, as local
    row ``c``. Every block gets one word per cycle, so block sizes differ by at most one, and
    the words of a cycle weigh about the same, so the blocks' weights are close when no word
    is heavy. A block weighs at least its heaviest word: a word heavier than ``1 / K`` of the
    total puts its block above the mean whatever the partition.

    The partition depends only on the order of the weights: counts and any increasing
    function of them (``counts ** ns_exponent``, the expected counts after subsampling) give
    the same blocks. With ids numbered by descending count, as the vocabulary's are, the ids
    of every block ascend with its local rows, and ``K = 1`` gives every word its id as
    local row.

    Args:
        weights: (V,) finite non-negative weights of the words.
        num_blocks: ``K``, between 1 and ``V``.

    Returns:
        The blocks (:class:`VocabBlocks`).

    Raises:
        ValueError: for weights that are not a non-empty 1-D array of finite non-negative
            numbers, or ``K`` out of range.
    """
    w = np.asarray(weights)
    if w.ndim != 1 or w.size == 0:
        raise ValueError(f"weights must be a non-empty 1-D array, got shape {w.shape}")
    if not np.issubdtype(w.dtype, np.number) or np.issubdtype(w.dtype, np.complexfloating):
        raise ValueError(f"weights must be real numbers, got dtype {w.dtype}")
    w = w.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
    if bad.size:
        raise ValueError(
            f"weights must be finite and non-negative: {bad.size} of {w.size} are not, "
            f"the first is weights[{bad[0]}] = {w[bad[0]]}"
        )
    size = w.size
    k = operator.index(num_blocks)
    if not 1 <= k <= size:
        raise ValueError(f"num_blocks must be between 1 and the {size} words, got {k}")
    order = np.argsort(-w, kind="stable")
    rank = np.arange(size)
    cycle, place = np.divmod(rank, k)
    block = np.where(cycle % 2 == 0, place, k - 1 - place)
    block_of = np.empty(size, dtype=np.int32)
    local_of = np.empty(size, dtype=np.int32)
    block_of[order] = block
    local_of[order] = cycle
    return VocabBlocks(k, block_of, local_of)


def strata(
    blocks: VocabBlocks, inputs: np.ndarray, outputs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The sub-round and task that train each pair of an epoch.

    Args:
        blocks: the vocabulary blocks.
        inputs: (m,) global ids of the input words (whose ``w_in`` rows are used).
        outputs: (m,) global ids of the output words (the ones predicted).

    Returns:
        ``(sub_round, task)``, (m,) int32 each: ``task = block_of[inputs]`` and
        ``sub_round = (block_of[outputs] - task) mod K``.

    Raises:
        ValueError: for arrays of different shapes or ids outside ``0 .. V - 1``.
    """
    inputs, outputs = np.asarray(inputs), np.asarray(outputs)
    if inputs.shape != outputs.shape:
        raise ValueError(
            f"inputs and outputs must have one shape, got {inputs.shape} and {outputs.shape}"
        )
    _check_ids(blocks, inputs, "inputs")
    _check_ids(blocks, outputs, "outputs")
    task = blocks.block_of[inputs]
    sub_round = (blocks.block_of[outputs] - task) % np.int32(blocks.num_blocks)
    return sub_round.astype(np.int32, copy=False), task.astype(np.int32, copy=False)


@overload
def stratum_shard(sub_round: int, task: int, num_blocks: int) -> int: ...
@overload
def stratum_shard(sub_round: np.ndarray, task: np.ndarray, num_blocks: int) -> np.ndarray: ...
def stratum_shard(
    sub_round: int | np.ndarray, task: int | np.ndarray, num_blocks: int
) -> int | np.ndarray:
    """The shard of the pairs table of a stratum: ``sub_round * K + task``, as round ``r``,
    partition ``p`` is shard ``r * K + p``. Scalars or arrays of one shape."""
    return sub_round * num_blocks + task


@overload
def output_block(sub_round: int, task: int, num_blocks: int) -> int: ...
@overload
def output_block(sub_round: np.ndarray, task: np.ndarray, num_blocks: int) -> np.ndarray: ...
def output_block(
    sub_round: int | np.ndarray, task: int | np.ndarray, num_blocks: int
) -> int | np.ndarray:
    """The output block of ``task`` (its input block) in ``sub_round``: ``(t + s) mod K``.
    Scalars or arrays of one shape."""
    return (task + sub_round) % num_blocks


def to_local(blocks: VocabBlocks, ids: np.ndarray, block: int | None = None) -> np.ndarray:
    """Local rows of global ids that all lie in one block (the check a task makes on its pairs).

    Args:
        blocks: the vocabulary blocks.
        ids: (m,) global word ids.
        block: the block they must lie in; ``None`` accepts any one block.

    Returns:
        (m,) int32 rows of ``blocks.ids(b)``: ``blocks.ids(b)[to_local(blocks, ids)] == ids``.

    Raises:
        ValueError: for ids outside ``0 .. V - 1``, in more than one block, or not in ``block``.
    """
    ids = np.asarray(ids)
    _check_ids(blocks, ids, "ids")
    if ids.size == 0:
        return np.zeros(ids.shape, dtype=np.int32)
    found = blocks.block_of[ids]
    first = int(found.flat[0]) if block is None else _block_index(block, blocks.num_blocks)
    wrong = np.flatnonzero(found != first)
    if wrong.size:
        where = "block" if block is not None else "the block of the first id,"
        at = wrong[0]
        raise ValueError(
            f"{wrong.size} of {ids.size} ids are not in {where} {first}: the first is "
            f"id {ids.flat[at]} at position {at}, in block {found.flat[at]}"
        )
    return blocks.local_of[ids]


def block_sampler(
    counts: np.ndarray, blocks: VocabBlocks, block: int, exponent: float
) -> NegativeSampler:
    """A negative sampler over the words of one block only, in proportion to
    ``count ** exponent`` within the block; it draws local rows of ``block``.

    Args:
        counts: (V,) word counts of the whole vocabulary.
        blocks: the vocabulary blocks.
        block: the output block ``b``.
        exponent: the ``ns_exponent``.

    Returns:
        A :class:`NegativeSampler` over ``counts[blocks.ids(b)]``: local row ``l`` stands for
        the word ``blocks.ids(b)[l]``.
    """
    counts = np.asarray(counts)
    if counts.shape != blocks.block_of.shape:
        raise ValueError(f"counts must have shape ({blocks.vocab_size},), got {counts.shape}")
    return NegativeSampler(counts[blocks.ids(block)], exponent)


def _block_index(block: int, num_blocks: int) -> int:
    """``block`` as an int in ``0 .. K - 1``, or a ValueError naming both."""
    b = operator.index(block)
    if not 0 <= b < num_blocks:
        raise ValueError(f"block must be between 0 and {num_blocks - 1}, got {b}")
    return b


def _check_ids(blocks: VocabBlocks, ids: np.ndarray, name: str) -> None:
    """Raise a ValueError unless ``ids`` are integers in ``0 .. V - 1``."""
    if not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"{name} must be integer word ids, got dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= blocks.vocab_size):
        raise ValueError(
            f"{name} must be word ids in 0..{blocks.vocab_size - 1}, got values in "
            f"{ids.min()}..{ids.max()}"
        )
