"""Data flows one way: entry points -> pipeline -> stages -> core, with no import cycle.

The graph is read from the source (every ``import`` statement, those inside functions too), so a
cycle hidden behind a late import counts.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "w2v_spark"

#: Who may import whom, by layer: a module may import modules of its own layer or of a layer
#: further down this list, never one above it.
LAYERS = (
    ("w2v_spark", "w2v_spark.cli", "w2v_spark.cli_vectors", "w2v_spark.settings_docs"),
    ("w2v_spark.pipeline",),
    ("w2v_spark.run", "w2v_spark.run_lock", "w2v_spark.run_output"),
    ("w2v_spark.stages",),
    ("w2v_spark.vectors",),
    ("w2v_spark.io", "w2v_spark.spark", "w2v_spark.synthetic", "w2v_spark.fingerprint"),
    ("w2v_spark.config", "w2v_spark.config_fields", "w2v_spark.config_loading", "w2v_spark.errors"),
    ("w2v_spark.core",),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> set[str]:
    return {module_name(p) for p in PACKAGE.rglob("*.py")}


def imports_in(source: str, modules: set[str]) -> set[str]:
    """The modules of ``modules`` that ``source`` imports anywhere (``from w2v_spark.x import
    y`` counts as ``w2v_spark.x.y`` when that is a module, else ``w2v_spark.x``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            names = [n if n in modules else node.module for n in names]
        else:
            continue
        found |= {n for n in names if n in modules}
    return found


def graph() -> dict[str, set[str]]:
    modules = all_modules()
    return {
        module_name(p): imports_in(p.read_text(encoding="utf-8"), modules) - {module_name(p)}
        for p in sorted(PACKAGE.rglob("*.py"))
    }


def layer(module: str) -> int:
    best = None
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (
                best is None or len(prefix) > best[1]
            ):
                best = (index, len(prefix))
    assert best is not None, f"{module} is in no layer of LAYERS"
    return best[0]


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of the graph, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_package_has_no_import_cycle() -> None:
    found = cycle(graph())
    assert found is None, "import cycle: " + " -> ".join(found or [])


def test_cycle_finder_finds_a_planted_cycle() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_imports_only_go_down_the_layers() -> None:
    upward = [
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in sorted(targets)
        if layer(target) < layer(module)
    ]
    assert upward == []


def test_late_and_from_imports_are_seen() -> None:
    source = (
        "import numpy\n"
        "from w2v_spark.core import sgns\n"
        "from w2v_spark.config import Config\n"
        "def f():\n"
        "    from w2v_spark.io.storage import exists\n"
    )
    assert imports_in(source, all_modules()) == {
        "w2v_spark.core.sgns", "w2v_spark.config", "w2v_spark.io.storage",
    }


def test_importing_the_package_does_not_import_spark() -> None:
    """Every Spark worker imports the package: its API names load on first use only."""
    import subprocess
    import sys

    script = ("import sys, w2v_spark; print(sorted(m for m in sys.modules "
              "if m.split('.')[0] in ('pyspark', 'py4j')))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout.strip() == "[]"
    for name in ("train", "load_embeddings", "Embeddings", "session", "load_config"):
        assert callable(getattr(__import__("w2v_spark"), name))
