"""Training one slice of pairs on a local copy of the model: the body of a Spark task."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from w2v_spark.core.hashing import hash_keys
from w2v_spark.core.sampling import NegativeSampler
from w2v_spark.core.sgns import StepPlans, sgns_step, sgns_step_shared

_SALT_INIT = 0x696E6974

#: Rows of initial vectors drawn at once by :func:`initial_input_rows` (bounds its memory).
_INIT_CHUNK_ROWS = 1 << 14


def initial_input_rows(rows: np.ndarray, vector_size: int, seed: int) -> np.ndarray:
    """The initial input vectors of word ids ``rows``: uniform in [-1, 1) / d (as gensim 4
    starts; word2vec's C code draws from half that range). Every entry is a hash of (seed,
    word id, column), so a block of rows is drawn the same alone as in the whole matrix.

    Args:
        rows: (n,) word ids.
        vector_size: ``d``.
        seed: the run's seed.

    Returns:
        (n, d) float32.
    """
    rows = np.asarray(rows, dtype=np.int64)
    out = np.empty((rows.size, vector_size), dtype=np.float32)
    columns = np.arange(vector_size, dtype=np.int64)[None, :]
    scale = np.float32(2.0 / vector_size)
    for start in range(0, rows.size, _INIT_CHUNK_ROWS):
        part = rows[start : start + _INIT_CHUNK_ROWS, None]
        bits = hash_keys(seed, _SALT_INIT, part, columns) >> np.uint64(40)  # 24 of them
        uniform = bits.astype(np.float32) * np.float32(2.0**-24)  # exact, in [0, 1)
        out[start : start + part.shape[0]] = (uniform - np.float32(0.5)) * scale
    return out


@dataclass(frozen=True)
class LearningRate:
    """Linear decay from ``alpha`` to ``min_alpha`` over ``total_pairs`` of global progress."""

    alpha: float
    min_alpha: float
    total_pairs: int

    def at(self, done_pairs: float) -> float:
        """Learning rate after ``done_pairs`` pairs of the whole run have been trained."""
        progress = min(max(done_pairs / max(self.total_pairs, 1), 0.0), 1.0)
        return self.alpha - (self.alpha - self.min_alpha) * progress


@dataclass
class SliceTrainer:
    """Trains a local copy of the model on a stream of pair batches, minibatch by minibatch.

    The learning rate of a minibatch is the global schedule at the estimated global position
    of that minibatch: ``progress_start`` pairs were done before this round, the round trains
    ``round_pairs`` pairs over all partitions, and this slice holds ``slice_pairs`` of them, so a
    pair ``t`` of this slice stands at ``progress_start + t * round_pairs / slice_pairs``.

    With ``shared_negatives = K > 0`` the pairs of a minibatch are cut into ``negative_groups``
    groups, each sharing K negatives weighted ``negative / K`` (:func:`sgns_step_shared`);
    with 0 every pair draws ``negative`` of its own. With ``row_cap > 0`` no row takes more
    than that many gradient terms' worth of update from one minibatch (:class:`StepPlans`).

    The negatives of all the minibatches of one :meth:`train` call are drawn at once, the
    scatters of its full minibatches are planned at once (:class:`StepPlans`), and the loss is
    computed on every ``loss_every``-th minibatch only: ``loss_sum`` is the measured
    minibatches' loss scaled to all the pairs done, exact with ``loss_every = 1``.

    With ``shuffle_window = W > 0``, :meth:`train_all` cuts the stream into consecutive windows
    of W pairs (rounded up to whole minibatches) and trains each window's pairs in an order
    drawn from ``rng``, so that the pairs of one sentence or basket do not share a minibatch.

    The two matrices may have different rows: a task of stratified training
    (:mod:`w2v_spark.core.blocks`) holds the rows of one input block in ``w_in`` and of one
    output block in ``w_out``, numbered by local row, and draws negatives from the output
    block alone.

    Attributes:
        w_in: (V_in, d) float32 local input vectors, indexed by ``centers``, updated in place.
        w_out: (V_out, d) float32 local output vectors, indexed by ``contexts`` and by the
            ``sampler``'s draws (which must lie in ``0 .. V_out - 1``), updated in place.
        touched_in, touched_out: (V_in,) and (V_out,) bool, rows this slice changed.
    """

    w_in: np.ndarray
    w_out: np.ndarray
    sampler: NegativeSampler
    rng: np.random.Generator
    schedule: LearningRate
    negative: int
    batch_size: int
    progress_start: float
    progress_scale: float
    shared_negatives: int = 0
    negative_groups: int = 1
    shuffle_window: int = 0
    loss_every: int = 1
    row_cap: float = 0.0
    pairs_done: int = 0
    batches_done: int = 0
    loss_measured: float = 0.0
    loss_pairs: int = 0
    last_lr: float = 0.0
    touched_in: np.ndarray = field(init=False)
    touched_out: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.touched_in = np.zeros(self.w_in.shape[0], dtype=bool)
        self.touched_out = np.zeros(self.w_out.shape[0], dtype=bool)
        self.last_lr = self.schedule.at(self.progress_start)

    @property
    def loss_sum(self) -> float:
        """Estimated loss summed over the ``pairs_done`` pairs: the loss of the measured
        minibatches times ``pairs_done / loss_pairs`` (exact with ``loss_every = 1``)."""
        if not self.loss_pairs:
            return 0.0
        return self.loss_measured * (self.pairs_done / self.loss_pairs)

    def train(self, centers: np.ndarray, contexts: np.ndarray) -> None:
        """Train on (m,) pairs, in order, in minibatches of ``batch_size``: the input vector of
        ``centers[i]`` predicts ``contexts[i]`` against negatives."""
        size = self.batch_size
        starts = range(0, centers.shape[0], size)
        full = centers.shape[0] // size
        plans: StepPlans | None = None
        if self.shared_negatives:
            drawn = self.sampler.sample(
                self.rng, (len(starts), self.negative_groups, self.shared_negatives)
            )
            if full:
                plans = StepPlans.build(
                    centers[: full * size].reshape(full, size),
                    contexts[: full * size].reshape(full, size),
                    drawn[:full], self.negative / self.shared_negatives, self.row_cap,
                )
        else:
            drawn = self.sampler.sample(self.rng, (centers.shape[0], self.negative))
        self.touched_in[centers] = True
        self.touched_out[contexts] = True
        self.touched_out[drawn] = True
        for i, start in enumerate(starts):
            c = centers[start : start + size]
            o = contexts[start : start + size]
            position = self.progress_start + self.pairs_done * self.progress_scale
            lr = self.schedule.at(position)
            measure = self.batches_done % self.loss_every == 0
            if self.shared_negatives:
                loss = sgns_step_shared(
                    self.w_in, self.w_out, c, o, drawn[i], lr,
                    self.negative / self.shared_negatives, measure,
                    (plans, i) if plans is not None and i < full else None, self.row_cap,
                )
            else:
                loss = sgns_step(
                    self.w_in, self.w_out, c, o, drawn[start : start + size], lr, measure,
                    self.row_cap,
                )
            if measure:
                self.loss_measured += loss
                self.loss_pairs += c.shape[0]
            self.pairs_done += c.shape[0]
            self.batches_done += 1
            self.last_lr = lr

    def train_all(self, batches: Iterable[tuple[np.ndarray, np.ndarray]]) -> None:
        """Train on every (centers, contexts) pair of an iterable of arrays.

        The stream is regrouped into consecutive chunks of a fixed size (a multiple of
        ``batch_size``; the window when shuffling), so the result does not depend on how the
        stream is cut (the Arrow batches of a Spark task, for instance): without shuffling it
        is that of :meth:`train` on the concatenation.
        """
        for centers, contexts in _fixed_chunks(batches, self._chunk_pairs()):
            if self.shuffle_window:
                order = self.rng.permutation(centers.shape[0])
                centers, contexts = centers[order], contexts[order]
            self.train(centers, contexts)

    def _chunk_pairs(self) -> int:
        """Pairs per chunk of :meth:`train_all`: the shuffle window, or about 1M pairs,
        rounded up to whole minibatches."""
        wanted = self.shuffle_window or _UNSHUFFLED_CHUNK
        return -(-wanted // self.batch_size) * self.batch_size


#: Pairs per chunk when the stream is trained in order (any multiple of the batch size
#: gives the same result; this bounds the memory of the regrouping).
_UNSHUFFLED_CHUNK = 1 << 20


def _fixed_chunks(
    batches: Iterable[tuple[np.ndarray, np.ndarray]], size: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The pairs of ``batches`` regrouped into consecutive (size,) arrays, the last shorter."""
    pending_c: list[np.ndarray] = []
    pending_o: list[np.ndarray] = []
    held = 0
    for centers, contexts in batches:
        pending_c.append(centers)
        pending_o.append(contexts)
        held += centers.shape[0]
        if held < size:
            continue
        all_c, all_o = np.concatenate(pending_c), np.concatenate(pending_o)
        full = held - held % size
        for start in range(0, full, size):
            yield all_c[start : start + size], all_o[start : start + size]
        pending_c, pending_o, held = [all_c[full:]], [all_o[full:]], held - full
    if held:
        yield np.concatenate(pending_c), np.concatenate(pending_o)
