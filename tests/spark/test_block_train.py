"""Training in vocabulary blocks (``train.strategy = "blocks"``) on Spark: the pairs are
stored by stratum, one block is the single-task trainer, K blocks are the sequential SGD of
their strata, and a failed sub-round, a resumed run or retried tasks change nothing."""

from __future__ import annotations

import json
import logging
import shutil
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.runs import (
    cli_command,
    cli_env,
    embeddings_bits,
    kill_after_rounds,
    recorded_rounds,
    run_cli,
    run_config,
    table_bytes,
)
from w2v_spark.config import Config
from w2v_spark.core.blocks import block_sampler, output_block, vocab_blocks
from w2v_spark.core.training import LearningRate, SliceTrainer
from w2v_spark.errors import ConfigError
from w2v_spark.io.layout import RunPaths
from w2v_spark.pipeline import (
    export_stage,
    pairs_stage,
    run_pipeline,
    tokenize_stage,
    train_stage,
    vocab_stage,
)
from w2v_spark.spark.faults import ENV_VAR
from w2v_spark.stages import training
from w2v_spark.stages.pairs import block_ids
from w2v_spark.stages.train import LOSS_EVERY, Model
from w2v_spark.stages.vocab import read_vocabulary

pytestmark = pytest.mark.spark

BLOCKS = ("train.strategy=blocks", "train.num_partitions=3", "train.block_passes=2")


def _blocks_config(*extra: str) -> Config:
    return run_config(*BLOCKS, *extra)


@pytest.fixture(scope="module")
def blocks_run(spark, corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("blocks") / "out"
    run_pipeline(spark, _blocks_config(), str(corpus), str(out))
    return out


def _shard_ids(out: Path, epoch: int, shard: int) -> tuple[np.ndarray, np.ndarray]:
    directory = out / "pairs" / f"epoch={epoch}" / f"shard={shard}"
    if not directory.exists():
        return np.empty(0, np.int32), np.empty(0, np.int32)
    table = pq.read_table(directory)
    return block_ids(table.column("center")), block_ids(table.column("context"))


def test_the_pairs_of_a_shard_are_its_stratum(spark, blocks_run: Path) -> None:
    vocab = read_vocabulary(spark, RunPaths(str(blocks_run)))
    blocks = vocab_blocks(vocab.counts, 3)
    seen = 0
    passes = _blocks_config().train.passes
    assert passes == 2
    for shard in range(9 * passes):
        sub_round, task = divmod(shard, 3)
        center, context = _shard_ids(blocks_run, 0, shard)
        seen += center.size
        assert np.all(blocks.block_of[context] == task)
        assert np.all(blocks.block_of[center] == output_block(sub_round, task, 3))
    assert seen > 1000


def _epoch_pairs(out: Path, epoch: int) -> np.ndarray:
    """The (center, context) pairs of every shard of an epoch, sorted."""
    table = pq.read_table(out / "pairs" / f"epoch={epoch}", columns=["center", "context"])
    pairs = np.stack([block_ids(table.column("center")), block_ids(table.column("context"))])
    return pairs[:, np.lexsort(pairs[::-1])]


def test_strata_and_passes_hold_the_same_pairs_as_the_merge_shards(
        blocks_run: Path, reference: Path) -> None:
    """Cutting an epoch by stratum and pass moves pairs between shards, never adds or drops
    one: the epoch's pairs are those of a merge run of the same corpus and pair settings."""
    for epoch in range(2):
        np.testing.assert_array_equal(_epoch_pairs(blocks_run, epoch),
                                      _epoch_pairs(reference, epoch))


def test_one_block_is_the_single_task_trainer(spark, corpus: Path, tmp_path: Path) -> None:
    # merge = "average" of one task is that task's rows as they are ("mean" and "sum" add the
    # change back to the start, base + (value - base), which can differ in the last bit)
    single = ("train.num_partitions=1", "train.syncs_per_epoch=1", "train.merge=average")
    run_pipeline(spark, run_config(*single), str(corpus), str(tmp_path / "merge"))
    run_pipeline(spark, run_config(*single, "train.strategy=blocks"), str(corpus),
                 str(tmp_path / "blocks"))
    words, _, vectors = embeddings_bits(tmp_path / "merge")
    block_words, _, block_vectors = embeddings_bits(tmp_path / "blocks")
    assert block_words == words
    assert np.array_equal(block_vectors, vectors)
    assert table_bytes(tmp_path / "blocks" / "embeddings") == table_bytes(
        tmp_path / "merge" / "embeddings")


def _sequential_reference(spark, out: Path, cfg: Config) -> np.ndarray:
    """The model after training the strata of ``out``'s pairs one after the other on the
    driver, in the order and with the seeds and learning rates of the sub-rounds."""
    tcfg = cfg.train
    k = tcfg.num_partitions
    paths = RunPaths(str(out))
    vocab = read_vocabulary(spark, paths)
    blocks = vocab_blocks(vocab.counts, k)
    model = Model.initial(len(vocab), tcfg.vector_size, tcfg.seed)
    sub_rounds = tcfg.rounds_per_epoch
    shards = {(e, s): _ordered_ids(spark, paths, e, s) for e in range(tcfg.epochs)
              for s in range(sub_rounds * k)}
    total = sum(ids[0].size for ids in shards.values())
    done = 0
    for epoch in range(tcfg.epochs):
        for sub_round in range(sub_rounds):
            sizes = [shards[(epoch, sub_round * k + t)][0].size for t in range(k)]
            for task in reversed(range(k)):  # any order: the tasks touch disjoint rows
                out_block = output_block(sub_round, task, k)
                center, context = shards[(epoch, sub_round * k + task)]
                rows_in, rows_out = blocks.ids(task), blocks.ids(out_block)
                trainer = SliceTrainer(
                    w_in=model.w_in[rows_in].copy(), w_out=model.w_out[rows_out].copy(),
                    sampler=block_sampler(vocab.counts, blocks, out_block, tcfg.ns_exponent),
                    rng=np.random.default_rng(
                        np.random.SeedSequence([tcfg.seed, epoch, sub_round, task])),
                    schedule=LearningRate(tcfg.alpha, tcfg.min_alpha, total),
                    negative=tcfg.negative, batch_size=tcfg.batch_size,
                    shared_negatives=tcfg.shared_negatives,
                    negative_groups=tcfg.negative_groups, shuffle_window=tcfg.shuffle_window,
                    loss_every=LOSS_EVERY, row_cap=tcfg.row_cap, progress_start=float(done),
                    progress_scale=sum(sizes) / max(sizes[task], 1),
                )
                trainer.train_all([(blocks.local_of[context], blocks.local_of[center])])
                model.w_in[rows_in] = trainer.w_in
                model.w_out[rows_out] = trainer.w_out
            done += sum(sizes)
    return model.w_in


def _ordered_ids(spark, paths: RunPaths, epoch: int, shard: int) -> tuple[np.ndarray, np.ndarray]:
    frame = training.slice_frame(spark, paths, epoch, shard, 0)
    if frame is None:
        return np.empty(0, np.int32), np.empty(0, np.int32)
    table = frame.toArrow()
    return block_ids(table.column("center")), block_ids(table.column("context"))


def test_blocks_train_the_sequential_sgd_of_their_strata(spark, blocks_run: Path) -> None:
    reference = _sequential_reference(spark, blocks_run, _blocks_config())
    table = pq.read_table(blocks_run / "embeddings").sort_by("word_id")
    assert table.column("word_id").to_pylist() == list(range(reference.shape[0]))
    vectors = np.asarray(table.column("vector").to_pylist(), dtype=np.float32)
    assert np.array_equal(vectors.view(np.uint32), reference.view(np.uint32))


def test_a_failed_sub_round_resumes_to_the_same_model(
    spark, corpus: Path, blocks_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = training.run_sub_round
    calls: list[int] = []

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("injected failure in sub-round 4")
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "run_sub_round", failing)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="injected failure"):
        run_pipeline(spark, _blocks_config(), str(corpus), str(out))
    monkeypatch.setattr(training, "run_sub_round", real)
    report = run_pipeline(spark, _blocks_config(), str(corpus), str(out), resume=True)
    assert report["train"]["resumed_after_round"] == 3
    assert table_bytes(out / "embeddings") == table_bytes(blocks_run / "embeddings")


def test_a_killed_driver_resumes_mid_epoch_to_the_same_model(corpus: Path, blocks_run: Path,
                                                             tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = cli_command("run", out, "--input", str(corpus),
                          settings=[*_settings(), *BLOCKS])
    rounds = _blocks_config().train.rounds_per_epoch  # 6: three blocks, two passes
    proc = kill_after_rounds(command, out, 3, tmp_path / "first.log")
    killed_after = recorded_rounds(out)
    assert proc.returncode == -signal.SIGKILL
    assert 3 <= killed_after < rounds, "the driver was not killed in the first epoch"
    resumed = run_cli([*command, "--resume"], cli_env())
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    report = json.loads(resumed.stdout[resumed.stdout.index("{\n"):])
    assert report["train"]["resumed_after_round"] == killed_after
    assert table_bytes(out / "embeddings") == table_bytes(blocks_run / "embeddings")


def test_retried_block_tasks_change_nothing(corpus: Path, blocks_run: Path,
                                            tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = cli_command("run", out, "--input", str(corpus), master="local[2,4]",
                          settings=[*_settings(), *BLOCKS])
    # two Spark tasks per sub-round on local[2], training strata 0 and 1-2
    result = run_cli(command, cli_env(**{ENV_VAR: "train:0,train:1"}))
    assert result.returncode == 0, result.stderr[-4000:]
    assert "injected failure of train task 1, attempt 0" in result.stderr
    assert table_bytes(out / "embeddings") == table_bytes(blocks_run / "embeddings")


def _settings() -> list[str]:
    from tests.runs import RUN_SETTINGS

    return list(RUN_SETTINGS)


def test_more_blocks_than_words_is_an_error_naming_the_key(spark, tmp_path: Path) -> None:
    """Six words and twelve blocks: the pairs stage refuses before it writes anything."""
    corpus = tmp_path / "six_words.txt"
    corpus.write_text("alpha beta gamma delta epsilon zeta\n" * 20, encoding="utf-8")
    cfg = run_config("train.strategy=blocks", "train.num_partitions=12", "vocab.min_count=1")
    out = str(tmp_path / "out")
    tokenize_stage(spark, cfg, str(corpus), out)
    vocab_stage(spark, cfg, out)
    with pytest.raises(ConfigError, match=r"\[train\] num_partitions = 12 is more than the "
                       r"6 words of the vocabulary"):
        pairs_stage(spark, cfg, out)
    assert not (tmp_path / "out" / "pairs").exists()


def test_a_copy_of_a_blocks_run_resumes_as_finished(spark, corpus: Path, blocks_run: Path,
                                                    tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(blocks_run, out)
    report = run_pipeline(spark, _blocks_config(), str(corpus), str(out), resume=True)
    assert all(report[s].get("skipped") for s in ("tokenize", "vocab", "pairs", "train"))


def test_a_damaged_block_is_named_and_the_sub_round_before_it_taken(
    spark, blocks_run: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "copy"
    shutil.copytree(blocks_run, out)
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    rounds = len(record["train_rounds"])
    for stage in ("train", "export"):
        del record["stages"][stage]
    record["train_rounds"] = record["train_rounds"][:4]
    (out / "run.json").write_text(json.dumps(record), encoding="utf-8")
    (out / ".run.json.crc").unlink(missing_ok=True)
    shutil.rmtree(out / "metrics")
    shutil.rmtree(out / "embeddings")
    for number in range(5, rounds + 1):
        shutil.rmtree(out / "model" / f"round={number:05d}")
    damaged = sorted((out / "model" / "round=00004" / "matrix=input" / "block=1")
                     .glob("part-*.parquet"))[0]
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2:len(data) // 2 + 100] = bytes(100)
    damaged.write_bytes(bytes(data))
    (damaged.parent / f".{damaged.name}.crc").unlink(missing_ok=True)
    caplog.set_level(logging.WARNING, logger="w2v_spark")
    facts = train_stage(spark, _blocks_config(), str(out), resume=True)
    assert facts["resumed_after_round"] == 3
    assert f"{damaged.name} has other content than when it was written" in caplog.text
    export_stage(spark, _blocks_config(), str(out))
    assert table_bytes(out / "embeddings") == table_bytes(blocks_run / "embeddings")
