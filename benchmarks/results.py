"""Writing benchmark results: one page and one JSON file per benchmark run, and the facts about
the machine and the software versions every result carries.

A run named ``NAME`` (``bench``, ``memory``, ``partitions``, or what its ``--section`` says)
writes its figures to ``results/NAME.json`` and its page, rendered from them by the benchmark's
``*_report`` module, to ``results/NAME.md``. Writing it again replaces both files whole: a page
holds the most recent run of its benchmark and nothing else. ``RESULTS.md`` is the index of the
pages and is written by hand.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import shlex
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_MD = BENCH_DIR / "RESULTS.md"
RESULTS_DIR = BENCH_DIR / "results"


def check_name(name: str) -> str:
    """``name`` if it can name a page (letters, digits, ``.``, ``_``, ``-``), else ValueError."""
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name):
        raise ValueError(f"page name {name!r} must be letters, digits, '.', '_' or '-'")
    return name


def page_text(body: str, json_path: Path | None = None, directory: Path = RESULTS_DIR) -> str:
    """The page of one run: its Markdown ``body`` and a footer naming the JSON file it was
    rendered from (a link when that file sits beside the page) and the index, one directory
    up."""
    source = ""
    if json_path is not None:
        if json_path.resolve().parent == directory.resolve():
            source = f" from [`{json_path.name}`]({json_path.name})"
        else:
            source = f" from `{json_path}`"
    footer = (f"Written by the run that measured it{source}; the next run of the same name "
              "replaces this page. All results: [benchmarks/RESULTS.md](../RESULTS.md).")
    return f"{body.strip()}\n\n---\n\n{footer}\n"


def write_page(name: str, body: str, json_path: Path | None = None,
               directory: Path = RESULTS_DIR) -> Path:
    """Write (or replace) the page ``directory/<name>.md``; returns its path."""
    path = directory / f"{check_name(name)}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page_text(body, json_path, directory), encoding="utf-8")
    return path


def write_json(data: Any, path: Path) -> None:
    """Write ``data`` as indented JSON, creating the directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")


def publish(section: str, data: Any, body: str, json_path: Path | None, write: bool,
            directory: Path = RESULTS_DIR) -> None:
    """Print a benchmark's Markdown ``body``; with ``write``, also save ``data`` as JSON
    (``json_path``, default ``results/<section>.json``) and the page ``results/<section>.md``,
    replacing those of an earlier run of the same name."""
    print("\n" + body)
    if write:
        path = json_path or directory / f"{check_name(section)}.json"
        write_json(data, path)
        page = write_page(section, body, path, directory)
        print(f"\nwrote {path} and {page}")
        index = directory.parent / RESULTS_MD.name
        if index.exists() and f"results/{page.name}" not in index.read_text(encoding="utf-8"):
            print(f"{page.name} is a new page: add a line for it to {index}")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.platform()


def machine_info() -> dict[str, Any]:
    """Cores, RAM, CPU model and operating system of this machine."""
    import psutil

    return {
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": _cpu_model(),
        "os": _os_name(),
        "kernel": platform.release(),
    }


def java_version() -> str:
    """The first line of ``java -version`` (the java Spark will use), or ``unknown``."""
    from w2v_spark.errors import W2VError
    from w2v_spark.spark.session import find_java

    try:
        out = subprocess.run([find_java(), "-version"], capture_output=True, text=True,
                             timeout=60, check=False)
    except (OSError, subprocess.SubprocessError, W2VError):
        return "unknown"
    lines = (out.stderr or out.stdout).strip().splitlines()
    return lines[0] if lines else "unknown"


def versions(packages: Sequence[str] = ("pyspark", "numpy", "pyarrow", "pandas", "gensim",
                                        "scipy", "psutil")) -> dict[str, str]:
    """Python, Java and package versions."""
    out = {"python": platform.python_version(), "java": java_version()}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def command_line() -> str:
    """The command that is running, as one shell line (interpreter path shortened)."""
    argv = list(sys.argv)
    if argv and argv[0].endswith(".py"):
        module = Path(argv[0]).resolve()
        try:
            rel = module.relative_to(BENCH_DIR.parent)
            argv[0] = "-m " + ".".join(rel.with_suffix("").parts)
        except ValueError:
            pass
    return "python " + " ".join(
        a if a.startswith("-m ") else shlex.quote(a) for a in argv
    )


def now() -> str:
    """The current local time, ISO format to the second."""
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _load_text(env: dict[str, Any]) -> str:
    load = env.get("load_average") or {}
    if load.get("start") is None and load.get("end") is None:
        return ""
    cores = env["machine"]["cores"]
    return (f" (load average {fmt(load.get('start'), '.1f')} at the start, "
            f"{fmt(load.get('end'), '.1f')} at the end, on {cores} cores)")


def environment_lines(env: dict[str, Any]) -> list[str]:
    """Markdown lines describing the machine, the versions, the command and the date."""
    m, v = env["machine"], env["versions"]
    return [
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['ram_gb']} GB RAM, {m['os']}. "
        f"Versions: Python {v['python']}, {v['java']}, pyspark {v['pyspark']}, "
        f"numpy {v['numpy']}, pyarrow {v['pyarrow']}, gensim {v['gensim']}.",
        "",
        f"Measured {env['date']}{_load_text(env)} with:",
        "",
        "```bash",
        env["command"],
        "```",
    ]


def load_average() -> float | None:
    """The 1-minute load average, or None where the system does not report it."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def environment(load_at_start: float | None = None) -> dict[str, Any]:
    """Machine, versions, command, date and the load average at the start and the end of the
    run (a loaded machine makes the times slower), as recorded in every JSON result."""
    return {"machine": machine_info(), "versions": versions(), "command": command_line(),
            "date": now(), "load_average": {"start": load_at_start, "end": load_average()}}


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A Markdown table as lines."""
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def fmt(value: float | None, spec: str = ",.0f", suffix: str = "") -> str:
    """``value`` formatted, or an em dash when it is missing."""
    if value is None:
        return "—"
    return f"{value:{spec}}{suffix}"
