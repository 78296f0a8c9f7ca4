"""Build the package as one zip for ``spark-submit --py-files``.

    python -m w2v_spark.spark.packaging dist/w2v_spark.zip
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]


def build_zip(target: str | Path) -> Path:
    """Write every ``.py`` file of the package (no caches, no tests) into ``target``."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(PACKAGE_DIR.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            zf.write(path, Path(PACKAGE_DIR.name) / path.relative_to(PACKAGE_DIR))
    return target


if __name__ == "__main__":
    out = build_zip(sys.argv[1] if len(sys.argv) > 1 else "dist/w2v_spark.zip")
    print(out)
