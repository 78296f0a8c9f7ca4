"""The NumPy core must not pull in Spark or pandas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = """
import importlib
import pkgutil
import sys

import w2v_spark.core as core

names = sorted(m.name for m in pkgutil.iter_modules(core.__path__))
for name in names:
    importlib.import_module(f"w2v_spark.core.{name}")
print(",".join(names))
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("pyspark", "pandas", "py4j"))
print(",".join(bad))
"""


def test_core_imports_neither_spark_nor_pandas() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    modules_line, bad_line = result.stdout.splitlines()[-2:]
    modules = set(modules_line.split(","))
    assert {"sgns", "sampling", "windows", "pairs", "training", "averaging"} <= modules
    assert bad_line == "", f"w2v_spark.core imported {bad_line}"
