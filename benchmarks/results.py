"""Writing benchmark results: marked sections of ``RESULTS.md``, JSON files, and the facts
about the machine and the software versions every result carries.

A generated section sits between the lines ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``
(each alone on its line; a marker quoted inside a line is text). Writing it
again replaces only what is between the markers; a section not yet in the file is appended.
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


def markers(name: str) -> tuple[str, str]:
    """The start and end marker lines of section ``name``."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ValueError(f"section name {name!r} must be letters, digits, '.', '_' or '-'")
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def _trailing_newlines(text: str) -> int:
    return len(text) - len(text.rstrip("\n"))


def _marker_line(text: str, marker: str) -> int:
    """Offset of the first line that is exactly ``marker`` (a marker quoted in prose is not
    one), or -1."""
    found = re.search(rf"^{re.escape(marker)}$", text, flags=re.MULTILINE)
    return found.start() if found else -1


def replace_section(text: str, name: str, body: str) -> str:
    """``text`` with section ``name`` set to ``body``; everything outside the markers is kept
    byte for byte. A missing section is appended after a blank line."""
    start, end = markers(name)
    block = f"{start}\n{body.strip()}\n{end}"
    i, j = _marker_line(text, start), _marker_line(text, end)
    if i < 0 and j < 0:
        sep = "\n\n"[: max(0, 2 - _trailing_newlines(text))] if text else ""
        return f"{text}{sep}{block}\n"
    if i < 0 or j < i:
        raise ValueError(f"the markers of section {name!r} are broken: {start} ... {end}")
    return text[:i] + block + text[j + len(end):]


def write_section(name: str, body: str, path: Path = RESULTS_MD) -> None:
    """Replace (or append) section ``name`` of the Markdown file at ``path``."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    path.write_text(replace_section(text, name, body), encoding="utf-8")


def write_json(data: Any, path: Path) -> None:
    """Write ``data`` as indented JSON, creating the directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")


def publish(section: str, data: Any, body: str, json_path: Path | None, write: bool) -> None:
    """Print a benchmark's Markdown ``body``; with ``write``, also save ``data`` as JSON
    (``json_path``, default ``results/<section>.json``) and ``body`` as that section of
    RESULTS.md."""
    print("\n" + body)
    if write:
        path = json_path or RESULTS_DIR / f"{section}.json"
        write_json(data, path)
        write_section(section, body)
        print(f"\nwrote {path} and the {section} section of benchmarks/RESULTS.md")


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
