"""The ``w2v-spark`` command line: the whole pipeline, one stage, or the built-in demo."""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from w2v_spark import cli_vectors
from w2v_spark.config import Config
from w2v_spark.config_loading import load_config
from w2v_spark.errors import InputError, Interrupted, OutputError, W2VError
from w2v_spark.vectors.loading import load_embeddings

STAGE_COMMANDS = ("tokenize", "vocab", "pairs", "train", "export")

_EPILOG = """examples:
  w2v-spark run --input corpus.txt --output out/ --config conf/local.toml
  w2v-spark run --input 'hdfs:///data/text/*.gz' --output hdfs:///models/w2v \\
      --config conf/cluster.toml --set train.vector_size=300 --set train.epochs=3
  w2v-spark vocab --output out/ --set vocab.min_count=10 --overwrite
  w2v-spark run --input corpus.txt --output out/ --resume    # after a crash: continue
  w2v-spark demo --output .demo
  w2v-spark run --config conf/items.toml --input ratings.csv --output out/items \
      --set input.sequence_col=userId --set input.item_col=movieId
  w2v-spark similar king --output out/
  w2v-spark import --format glove --input glove.6B.50d.txt --embeddings tables/glove
"""


def _add_common(p: argparse.ArgumentParser, *, needs_input: bool, output_default: str | None,
                output_required: bool = True) -> None:
    if needs_input:
        p.add_argument("--input", required=True,
                       help="text file(s) of lines, an events table (CSV, Parquet or a Spark "
                            "SQL table name) or basket lines, as [input] format says: a path, "
                            "directory or glob Spark can read")
    p.add_argument("--output", required=output_required and output_default is None,
                   default=output_default, help="directory for the run's tables")
    p.add_argument("--config", action="append", default=[], metavar="FILE",
                   help="TOML config file; repeat to layer several")
    p.add_argument("--set", action="append", default=[], dest="overrides",
                   metavar="SECTION.KEY=VALUE", help="override one config value")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing tables (never touches the input)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run in --output: skip complete stages, continue "
                        "training from the last complete round (refused if the input or the "
                        "settings changed)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="w2v-spark",
        description="word2vec (skip-gram with negative sampling) on Apache Spark.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="all stages: corpus to embeddings",
                         epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_common(run, needs_input=True, output_default=None)
    for stage in STAGE_COMMANDS:
        help_text = f"only the {stage} stage, from the previous stage's tables"
        if stage == "export":
            help_text = "the export stage, or with --format the embeddings as a vectors file"
        sp = sub.add_parser(stage, help=help_text)
        _add_common(sp, needs_input=stage == "tokenize", output_default=None,
                    output_required=stage != "export")
        if stage == "export":
            cli_vectors.add_export_options(sp)
    recommend = sub.add_parser(
        "recommend", help="items runs: the neighbors, user_vectors and recommendations tables "
        "from the embeddings")
    _add_common(recommend, needs_input=False, output_default=None)
    demo = sub.add_parser(
        "demo", help="generate the built-in synthetic corpus, train on it, show neighbours"
    )
    _add_common(demo, needs_input=False, output_default=".demo")
    demo.add_argument("--sentences", type=int, default=20_000,
                      help="sentences of synthetic corpus to generate (default 20000)")
    cli_vectors.add_parsers(sub)
    return parser


def _config(args: argparse.Namespace) -> Config:
    return load_config(args.config, args.overrides)


#: Set by Ctrl-C: from then on the gateway's errors are expected (see :func:`_on_interrupt`).
_INTERRUPTED = threading.Event()


def _on_interrupt(signum: int, frame: Any) -> None:
    """Ctrl-C: raise KeyboardInterrupt at once. A call into the JVM that it interrupts leaves
    py4j's connection broken, so the calls made while the command unwinds may fail and py4j
    logs them; the command says itself that it was interrupted."""
    _INTERRUPTED.set()
    raise KeyboardInterrupt


def _session(cfg: Config) -> Any:
    """The session, with Ctrl-C raising KeyboardInterrupt at once (PySpark's own handler calls
    into the JVM from inside the interrupted call, which fails with tracebacks; the JVM ends
    with this process, and its running jobs with it)."""
    from w2v_spark.spark.session import build_session

    spark = build_session(cfg.spark)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _on_interrupt)
    return spark


def _run_stage(command: str, args: argparse.Namespace, cfg: Config) -> dict[str, Any]:
    from w2v_spark import pipeline

    if args.overwrite and args.resume:
        raise OutputError("--overwrite and --resume exclude each other: --overwrite starts the "
                          "run again, --resume continues it")
    spark = _session(cfg)
    if command == "run":
        return pipeline.run_pipeline(spark, cfg, args.input, args.output, args.overwrite,
                                     resume=args.resume)
    if command == "tokenize":
        return pipeline.tokenize_stage(spark, cfg, args.input, args.output, args.overwrite,
                                       resume=args.resume)
    stage = {
        "vocab": pipeline.vocab_stage,
        "pairs": pipeline.pairs_stage,
        "train": pipeline.train_stage,
        "export": pipeline.export_stage,
        "recommend": pipeline.recommend_stage,
    }[command]
    return stage(spark, cfg, args.output, args.overwrite, resume=args.resume)


def _demo(args: argparse.Namespace, cfg: Config) -> dict[str, Any]:
    from w2v_spark import pipeline
    from w2v_spark.synthetic.text import planted_structure, write_corpus

    output = Path(args.output).resolve()
    corpus = output.parent / (output.name + "-corpus") / "corpus.txt"
    tokens = write_corpus(corpus, num_sentences=args.sentences, seed=cfg.train.seed)
    print(f"generated the synthetic corpus: {tokens:,} tokens in {corpus}")
    spark = _session(cfg)
    started = time.perf_counter()
    report = pipeline.run_pipeline(spark, cfg, str(corpus), str(output), args.overwrite,
                                   resume=args.resume)
    seconds = time.perf_counter() - started
    emb = load_embeddings(spark, str(output))
    structure = planted_structure()
    print(f"\ntrained {len(emb):,} word vectors in {seconds:.1f} s\n")
    for word in ("dog", "red", "paris", "king"):
        if word in emb:
            near = ", ".join(f"{w} {s:.2f}" for w, s in emb.most_similar(word, topn=6))
            print(f"nearest to {word!r}: {near}")
    for a, b, c in (("france", "paris", "germany"), ("man", "king", "woman")):
        if all(w in emb for w in (a, b, c)):
            (answer, score), = emb.most_similar(positive=[b, c], negative=[a], topn=1)
            print(f"{a} is to {b} as {c} is to ?  ->  {answer} ({score:.2f})")
    solved = sum(
        1 for a1, b1, a2, b2 in structure.analogies()
        if all(w in emb for w in (a1, b1, a2))
        and emb.most_similar(positive=[b1, a2], negative=[a1], topn=1)[0][0] == b2
    )
    print(f"planted analogies solved: {solved}/{len(structure.analogies())}")
    print("\ntables written under", output)
    for name in ("tokens", "vocab", "pairs", "model", "embeddings", "metrics", "run.json"):
        print(f"  {output / name}")
    return report


def _not_an_interrupt(record: logging.LogRecord) -> bool:
    """py4j logs a Ctrl-C inside a call to the JVM, with its traceback, on the root logger,
    and then the calls that fail on the connection it broke; the command says it was
    interrupted itself."""
    if record.exc_info and record.exc_info[0] is KeyboardInterrupt:
        return False
    return not (_INTERRUPTED.is_set() and record.name.startswith("py4j"))


def _setup_logging() -> None:
    """Progress and warnings of the package to stderr, one plain line each; other libraries'
    warnings too, but not py4j's traceback of an interrupt."""
    logger = logging.getLogger("w2v_spark")
    if not any(getattr(h, "_w2v_spark_cli", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._w2v_spark_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
        others = logging.StreamHandler(sys.stderr)
        others.setLevel(logging.WARNING)
        others.addFilter(_not_an_interrupt)
        logging.getLogger().addHandler(others)
    logger.setLevel(logging.INFO)


#: Commands that write a run, and so can be continued with --resume after an interrupt.
_RESUMABLE = ("run", "demo", *STAGE_COMMANDS, "recommend")


def _interrupted(args: argparse.Namespace, argv: Sequence[str], exc: KeyboardInterrupt) -> str:
    """The line printed on Ctrl-C: where the command stopped and how to continue it."""
    where = f" in the {exc.stage} stage" if isinstance(exc, Interrupted) else ""
    if args.command not in _RESUMABLE or getattr(args, "vectors_format", None) is not None:
        return f"w2v-spark: interrupted{where}"
    again = [a for a in argv if a not in ("--overwrite", "--resume")] + ["--resume"]
    return (f"w2v-spark: interrupted{where}; what was complete is kept in {args.output}. "
            f"Continue with: w2v-spark {shlex.join(again)}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``w2v-spark``; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    _setup_logging()
    try:
        if args.command in ("similar", "analogy", "evaluate"):
            getattr(cli_vectors, args.command)(args)
            return 0
        if args.command in ("neighbors", "import"):
            run = cli_vectors.neighbors if args.command == "neighbors" else (
                cli_vectors.import_command)
            print(json.dumps(run(args), indent=2, default=str))
            return 0
        if args.command == "export" and args.vectors_format is not None:
            print(json.dumps(cli_vectors.export_file(args), indent=2, default=str))
            return 0
        if args.command == "export" and (args.output is None or args.to or args.embeddings):
            raise InputError(
                "export without --format is the pipeline stage and needs --output RUN_DIR only; "
                "--to and --embeddings go with --format word2vec-text|word2vec-bin|glove"
            )
        cfg = _config(args)
        if args.command == "demo":
            _demo(args, cfg)
        else:
            report = _run_stage(args.command, args, cfg)
            print(json.dumps(report, indent=2, default=str))
    except (KeyboardInterrupt, Exception) as exc:
        interrupt = _interrupt_in(exc)
        if interrupt is not None:
            print(_interrupted(args, argv, interrupt), file=sys.stderr)
            return 130
        if isinstance(exc, W2VError):
            print(f"w2v-spark: error: {exc}", file=sys.stderr)
            return 2
        raise
    return 0


def _interrupt_in(exc: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C behind ``exc``: ``exc`` itself, or the interrupt that was being handled
    when ``exc`` was raised (a call into the JVM that failed while the command unwound)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return seen
        seen = seen.__context__
    return KeyboardInterrupt() if _INTERRUPTED.is_set() else None


if __name__ == "__main__":
    sys.exit(main())
