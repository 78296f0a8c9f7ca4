"""The ``w2v-spark`` commands that use embeddings: ``similar``, ``analogy``, ``evaluate``,
``neighbors``, ``import`` and ``export --format``.

Where the vectors come from (one of, for the query commands):

* ``--output RUN_DIR``: the ``embeddings/`` table of a run;
* ``--embeddings TABLE``: an embeddings table: a path or a Spark table name;
* ``--vectors FILE``: a word2vec text/binary or GloVe file (``--vectors-format``; by default
  ``word2vec-bin`` for ``*.bin``/``*.bin.gz`` names and ``word2vec-text`` otherwise).

``similar``, ``analogy`` and ``evaluate`` load the vectors into memory; a local table or a file
is read without starting Spark.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from w2v_spark.errors import InputError, OutputError
from w2v_spark.io.formats import FORMATS, UNICODE_ERRORS
from w2v_spark.io.schemas import EMBEDDINGS
from w2v_spark.vectors.similarity import Embeddings

QUERY_COMMANDS = ("similar", "analogy", "evaluate", "neighbors", "import")
NEIGHBORS = "neighbors"

_RAW = argparse.RawDescriptionHelpFormatter

SIMILAR_EPILOG = """examples:
  w2v-spark similar king --output out/
  w2v-spark similar paris --topn 5 --vectors glove.6B.50d.word2vec.txt.gz
  w2v-spark similar king woman --negative man --embeddings out/embeddings --json
"""
ANALOGY_EPILOG = """examples (A is to B as C is to ?):
  w2v-spark analogy man king woman --output out/
  w2v-spark analogy france paris germany --topn 3 --vectors vectors.bin
"""
EVALUATE_EPILOG = """examples:
  w2v-spark evaluate --output out/ --analogies questions-words.txt \\
      --word-pairs wordsim353.tsv --word-pairs EN-MEN-TR-3k.txt
  w2v-spark evaluate --vectors vectors.txt.gz --analogies questions-words.txt --json result.json
"""
NEIGHBORS_EPILOG = """examples:
  w2v-spark neighbors --output out/                 # writes out/neighbors/
  w2v-spark neighbors --embeddings imported/ --to neighbors/ --topn 20 --block-rows 4096
"""
IMPORT_EPILOG = """examples:
  w2v-spark import --format word2vec-bin --input GoogleNews-vectors-negative300.bin.gz \\
      --embeddings tables/googlenews
  w2v-spark import --format glove --input glove.6B.50d.txt --output runs/glove
"""
EXPORT_EPILOG = """examples:
  w2v-spark export --output out/                    # the pipeline stage: model -> embeddings
  w2v-spark export --output out/ --format word2vec-bin --to out/vectors.bin
  w2v-spark export --embeddings tables/items --format word2vec-text --to items.txt.gz
"""


def _add_source(p: argparse.ArgumentParser, *, files: bool, required: bool = True) -> None:
    group = p.add_mutually_exclusive_group(required=required)
    group.add_argument("--output", metavar="RUN_DIR", help="a run directory: use its embeddings")
    group.add_argument("--embeddings", metavar="TABLE",
                       help="an embeddings table: a path or a Spark table name")
    if files:
        group.add_argument("--vectors", metavar="FILE",
                           help="a word2vec text/binary or GloVe file, plain or .gz")
        p.add_argument("--vectors-format", choices=FORMATS,
                       help="format of --vectors (default: word2vec-bin for *.bin, *.bin.gz, "
                            "else word2vec-text)")
        p.add_argument("--unicode-errors", choices=UNICODE_ERRORS, default="strict",
                       help="what to do with words that are not UTF-8 (default strict: error)")


def _add_spark(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", action="append", default=[], metavar="FILE",
                   help="TOML config file (for the [spark] section); repeat to layer several")
    p.add_argument("--set", action="append", default=[], dest="overrides",
                   metavar="SECTION.KEY=VALUE", help="override one config value")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def add_parsers(sub: Any) -> None:
    """Add the sub-commands of this module to the ``w2v-spark`` parser."""
    similar = sub.add_parser("similar", help="the words closest to a word (cosine)",
                             epilog=SIMILAR_EPILOG, formatter_class=_RAW)
    similar.add_argument("words", nargs="+", metavar="WORD",
                         help="query word(s); several are averaged")
    similar.add_argument("--negative", action="append", default=[], metavar="WORD",
                         help="a word to subtract; repeat for several")
    similar.add_argument("--topn", type=_positive, default=10, help="how many (default 10)")
    similar.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_source(similar, files=True)
    _add_spark(similar)

    analogy = sub.add_parser("analogy", help="A is to B as C is to ? (3CosAdd)",
                             epilog=ANALOGY_EPILOG, formatter_class=_RAW)
    for name in ("a", "b", "c"):
        analogy.add_argument(name, metavar=name.upper())
    analogy.add_argument("--topn", type=_positive, default=1, help="how many answers (default 1)")
    analogy.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_source(analogy, files=True)
    _add_spark(analogy)

    evaluate = sub.add_parser(
        "evaluate", help="analogy accuracy and word-pair Spearman (gensim's evaluation)",
        epilog=EVALUATE_EPILOG, formatter_class=_RAW)
    evaluate.add_argument("--analogies", metavar="FILE",
                          help="a questions-words.txt style file (': section' headers)")
    evaluate.add_argument("--word-pairs", action="append", default=[], metavar="FILE",
                          help="a WordSim-353 / MEN style file 'w1 w2 score'; repeat for several")
    evaluate.add_argument("--restrict-vocab", type=_positive, default=30_000,
                          help="analogies use the N most frequent words (default 30000)")
    evaluate.add_argument("--pairs-restrict-vocab", type=_positive, default=300_000,
                          help="word pairs use the N most frequent words (default 300000)")
    evaluate.add_argument("--case-sensitive", action="store_true",
                          help="compare words as they are (default: case-insensitive)")
    evaluate.add_argument("--json", metavar="FILE",
                          help="also write the full result as JSON ('-': print JSON only)")
    _add_source(evaluate, files=True)
    _add_spark(evaluate)

    neighbors = sub.add_parser(
        "neighbors", help="the top-k neighbours of every word, as a table (in Spark)",
        epilog=NEIGHBORS_EPILOG, formatter_class=_RAW)
    neighbors.add_argument("--to", metavar="TABLE_DIR",
                           help="where to write the table (default: RUN_DIR/neighbors)")
    neighbors.add_argument("--topn", type=_positive, default=10, help="neighbours per word")
    neighbors.add_argument("--block-rows", type=_positive, default=2048,
                           help="words per block of the blocked search (default 2048)")
    neighbors.add_argument("--overwrite", action="store_true", help="replace the table")
    _add_source(neighbors, files=False)
    _add_spark(neighbors)

    imp = sub.add_parser("import", help="a word2vec/GloVe file into an embeddings table",
                         epilog=IMPORT_EPILOG, formatter_class=_RAW)
    imp.add_argument("--format", required=True, choices=FORMATS, dest="vectors_format")
    imp.add_argument("--input", required=True, metavar="FILE",
                     help="the vectors file (plain or gzip), a path the executors can read")
    dest = imp.add_mutually_exclusive_group(required=True)
    dest.add_argument("--output", metavar="RUN_DIR", help="write RUN_DIR/embeddings")
    dest.add_argument("--embeddings", metavar="TABLE_DIR", help="write the table here")
    imp.add_argument("--unicode-errors", choices=UNICODE_ERRORS, default="strict",
                     help="what to do with words that are not UTF-8 (default strict: error)")
    imp.add_argument("--overwrite", action="store_true", help="replace the table")
    _add_spark(imp)


def add_export_options(export: argparse.ArgumentParser) -> None:
    """``export --format FMT --to FILE`` on top of the export stage's options."""
    export.epilog = EXPORT_EPILOG
    export.formatter_class = _RAW
    export.add_argument("--format", choices=FORMATS, dest="vectors_format",
                        help="write the embeddings table to a vectors file instead")
    export.add_argument("--to", metavar="FILE",
                        help="the vectors file to write (with --format; .gz compresses)")
    export.add_argument("--embeddings", metavar="TABLE",
                        help="with --format: export this table instead of --output's")
    export.add_argument("--precision", type=_positive,
                        help="significant digits of text values (default: exact float32)")


# ---------------------------------------------------------------------------------------------
# loading


def _table_path(args: argparse.Namespace) -> str:
    """The embeddings table (path or name) selected by --output or --embeddings."""
    if args.output is not None:
        return str(Path(args.output) / EMBEDDINGS) if "://" not in args.output else (
            args.output.rstrip("/") + "/" + EMBEDDINGS)
    return str(args.embeddings)


def vectors_format(path: str, given: str | None) -> str:
    """The format of a vectors file: ``given``, else guessed from the name."""
    if given:
        return given
    name = path.lower()
    return "word2vec-bin" if name.endswith((".bin", ".bin.gz")) else "word2vec-text"


def _session(args: argparse.Namespace) -> Any:
    from w2v_spark.config_loading import load_config
    from w2v_spark.spark.session import build_session

    return build_session(load_config(args.config, args.overrides).spark)


def load_query_embeddings(args: argparse.Namespace) -> Embeddings:
    """The in-memory vectors a query command asked for."""
    if getattr(args, "vectors", None):
        return Embeddings.from_file(args.vectors, vectors_format(args.vectors,
                                                                 args.vectors_format),
                                    args.unicode_errors)
    from w2v_spark.vectors.loading import (
        is_table_name,
        load_embeddings,
        load_local_embeddings,
    )

    source = _table_path(args)
    if "://" not in source and not is_table_name(source):
        return load_local_embeddings(source)
    return load_embeddings(_session(args), source)


# ---------------------------------------------------------------------------------------------
# commands


def _print_ranked(pairs: list[tuple[str, float]], as_json: bool, header: str) -> None:
    if as_json:
        print(json.dumps([{"word": w, "score": s} for w, s in pairs], ensure_ascii=False))
        return
    width = max([len(w) for w, _ in pairs] + [4])
    print(header)
    print(f"{'rank':>4}  {'word':<{width}}  cosine")
    for rank, (word, score) in enumerate(pairs, start=1):
        print(f"{rank:>4}  {word:<{width}}  {score:.4f}")


def similar(args: argparse.Namespace) -> None:
    emb = load_query_embeddings(args)
    pairs = emb.most_similar(positive=args.words, negative=args.negative, topn=args.topn)
    query = " + ".join(args.words) + "".join(f" - {w}" for w in args.negative)
    _print_ranked(pairs, args.json, f"nearest to {query}:")


def analogy(args: argparse.Namespace) -> None:
    emb = load_query_embeddings(args)
    pairs = emb.analogy(args.a, args.b, args.c, topn=args.topn)
    _print_ranked(pairs, args.json, f"{args.a} is to {args.b} as {args.c} is to ?")


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    from w2v_spark.vectors.analogies import evaluate_analogies
    from w2v_spark.vectors.eval_files import read_analogies, read_word_pairs
    from w2v_spark.vectors.word_pairs import evaluate_word_pairs

    if not args.analogies and not args.word_pairs:
        raise InputError("nothing to evaluate: give --analogies FILE and/or --word-pairs FILE")
    # The readers raise InputError naming the file (missing, not text, malformed, empty).
    sections = read_analogies(args.analogies) if args.analogies else None
    pair_sets = [(p, read_word_pairs(p)) for p in args.word_pairs]
    emb = load_query_embeddings(args)
    result: dict[str, Any] = {"vocabulary": len(emb)}
    if sections is not None:
        result["analogies"] = {
            "file": args.analogies,
            **evaluate_analogies(emb, sections, restrict_vocab=args.restrict_vocab,
                                 case_insensitive=not args.case_sensitive).to_dict(),
        }
    result["word_pairs"] = []
    for path, pairs in pair_sets:
        try:
            scored = evaluate_word_pairs(emb, pairs, restrict_vocab=args.pairs_restrict_vocab,
                                         case_insensitive=not args.case_sensitive)
        except ValueError as exc:
            raise InputError(f"{path}: {exc}") from None
        result["word_pairs"].append({"file": path, **scored.to_dict()})
    if args.json == "-":
        print(json.dumps(result, indent=2))
        return result
    print(format_evaluation(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


def format_evaluation(result: dict[str, Any]) -> str:
    """The evaluation result as a readable table."""
    lines = []
    if "analogies" in result:
        a = result["analogies"]
        lines.append(f"analogies: {a['file']} (the {a['restrict_vocab']:,} most frequent "
                     f"words, {'case-insensitive' if a['case_insensitive'] else 'case-sensitive'})")
        width = max([len(s["name"]) for s in a["sections"]] + [7])
        lines.append(f"  {'section':<{width}}  {'correct':>7}  {'total':>6}  accuracy")
        for s in a["sections"]:
            lines.append(f"  {s['name']:<{width}}  {s['correct']:>7}  {s['total']:>6}  "
                         f"{_pct(s['accuracy'] if s['total'] else None):>8}")
        lines.append(f"  {'total':<{width}}  {a['correct']:>7}  {a['evaluated']:>6}  "
                     f"{_pct(a['accuracy']):>8}")
        lines.append(f"  out of vocabulary: {a['oov']} of {a['questions']} questions "
                     f"({a['oov_ratio']:.2f}%)")
    for p in result.get("word_pairs", []):
        rho = "n/a" if p["spearman"] is None else f"{p['spearman']:.4f}"
        r = "n/a" if p["pearson"] is None else f"{p['pearson']:.4f}"
        lines.append(f"word pairs: {p['file']}: Spearman {rho}, Pearson {r}, {p['pairs']} pairs, "
                     f"out of vocabulary {p['oov']} ({p['oov_ratio']:.2f}%)")
    return "\n".join(lines)


def neighbors(args: argparse.Namespace) -> dict[str, Any]:
    from w2v_spark.io import storage
    from w2v_spark.stages.neighbors import nearest_neighbors
    from w2v_spark.vectors.loading import embeddings_frame, is_table_name

    if args.to is None and args.output is None:
        raise InputError("--to TABLE_DIR is needed with --embeddings")
    dest = args.to or storage.join(args.output, NEIGHBORS)
    spark = _session(args)
    source = _table_path(args)
    frame, _ = embeddings_frame(spark, source)
    storage.check_replaceable_table(spark, dest, "neighbors", args.overwrite,
                                    inputs=() if is_table_name(source) else (source,))
    storage.delete(spark, dest)
    result = nearest_neighbors(frame, k=args.topn, block_rows=args.block_rows)
    result.write.parquet(dest)
    rows = storage.read_table(spark, dest, "neighbors").count()
    return {"table": dest, "rows": rows, "topn": args.topn}


def import_command(args: argparse.Namespace) -> dict[str, Any]:
    from w2v_spark.io import storage
    from w2v_spark.io.vector_files import import_vectors

    dest = args.embeddings or storage.join(args.output, EMBEDDINGS)
    if "://" not in args.input and not Path(args.input).is_file():
        raise InputError(f"the vectors file {args.input} does not exist")
    return import_vectors(_session(args), args.input, args.vectors_format, dest,
                          overwrite=args.overwrite, unicode_errors=args.unicode_errors)


def _local_file(target: str) -> Path | None:
    """The local path ``target`` names, or None for a URI of another file system.

    As :func:`w2v_spark.io.vector_streams.open_output`, which writes the file from the driver
    through pyarrow: a path without ``://`` is local (relative to the working directory), as is
    a ``file:///`` URI; ``hdfs://``, ``s3://`` and the like are not."""
    if "://" not in target:
        return Path(target)
    parsed = urlparse(target)
    if parsed.scheme == "file" and not parsed.netloc:
        return Path(unquote(parsed.path))
    return None


def check_vectors_target(target: str, overwrite: bool) -> None:
    """Refuse a ``--to`` vectors file that cannot be written, before any work is done: a local
    path whose directory does not exist (or is not a directory), that is a directory itself,
    or that exists already without ``overwrite``. Other file systems are not checked here:
    their errors come when the file is written."""
    local = _local_file(target)
    if local is None:
        return
    if local.is_dir():
        raise OutputError(f"--to {target} is a directory; give the path of the file to write")
    parent = local.parent
    if not parent.exists():
        raise OutputError(f"the directory {parent} of --to does not exist")
    if not parent.is_dir():
        raise OutputError(f"{parent}, the directory of --to, is not a directory")
    if local.exists() and not overwrite:
        raise OutputError(f"{target} exists already; pass --overwrite to replace it")


def export_file(args: argparse.Namespace) -> dict[str, Any]:
    """``export --format FMT --to FILE``: a run's (or any) embeddings table to a file."""
    from w2v_spark.io.vector_files import export_vectors
    from w2v_spark.vectors.loading import embeddings_frame

    if args.to is None:
        raise InputError("export --format needs --to FILE, the vectors file to write")
    if args.output is None and args.embeddings is None:
        raise InputError("export --format needs --output RUN_DIR or --embeddings TABLE")
    check_vectors_target(args.to, args.overwrite)
    spark = _session(args)
    source = _table_path(args)
    frame, _ = embeddings_frame(spark, source)
    return export_vectors(frame, args.to, args.vectors_format, args.precision)
