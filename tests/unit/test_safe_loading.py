"""Reading tables never executes anything from a file: no module of the package unpickles,
evaluates or imports code from data (checked on the source, no Spark)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "w2v_spark"

UNSAFE_MODULES = {"pickle", "cPickle", "dill", "cloudpickle", "marshal", "shelve", "joblib"}
UNSAFE_CALLS = {"eval", "exec", "compile", "__import__"}


def _problems(source: str) -> list[str]:
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [(node.module or "").split(".")[0]]
        else:
            names = []
        found += [f"imports {n}" for n in names if n in UNSAFE_MODULES]
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else (
                func.attr if isinstance(func, ast.Attribute) else "")
            if isinstance(func, ast.Name) and name in UNSAFE_CALLS:
                found.append(f"calls {name}()")
            if name in {"load", "loads"} and isinstance(func, ast.Attribute) and isinstance(
                    func.value, ast.Name) and func.value.id in UNSAFE_MODULES:
                found.append(f"calls {func.value.id}.{name}()")
            for keyword in node.keywords:
                if keyword.arg == "allow_pickle" and not (
                        isinstance(keyword.value, ast.Constant) and keyword.value.value is False):
                    found.append("passes allow_pickle")
    return found


def test_no_module_can_execute_data() -> None:
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) > 20
    problems = [f"{path.relative_to(PACKAGE.parent)}: {problem}" for path in sources
                for problem in _problems(path.read_text(encoding="utf-8"))]
    assert problems == []


def test_the_check_finds_what_it_looks_for() -> None:
    source = (
        "import pickle\nimport numpy as np\n"
        "import re\n"
        "def f(b, p):\n    eval(b)\n    np.load(p, allow_pickle=True)\n    re.compile(b)\n"
        "    return pickle.loads(b)\n"
    )
    assert sorted(_problems(source)) == [
        "calls eval()", "calls pickle.loads()", "imports pickle", "passes allow_pickle"
    ]
