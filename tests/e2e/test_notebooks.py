"""Every notebook in notebooks/ runs from top to bottom without an error, and without Spark's
log warnings in its outputs (the notebooks start Spark with ``spark.log_level=ERROR``).

A notebook whose metadata has ``w2v_spark.needs_shared_data`` reads ``../shared/data``: it is
skipped when that is absent, and runs on its sample (``W2V_NOTEBOOK_SAMPLE=1``) otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.extras import extra

pytestmark = [pytest.mark.e2e]

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path, request: pytest.FixtureRequest,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = extra("nbformat")
    nbclient = extra("nbclient")
    for module in ("ipykernel", "matplotlib", "sklearn"):
        extra(module)
    notebook = nbformat.read(path, as_version=4)
    if notebook.metadata.get("w2v_spark", {}).get("needs_shared_data"):
        data = request.getfixturevalue("shared_data")
        monkeypatch.setenv("W2V_SHARED_DATA", str(data))
        monkeypatch.setenv("W2V_NOTEBOOK_SAMPLE", "1")
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    errors = [
        out for cell in notebook.cells if cell.cell_type == "code"
        for out in cell.get("outputs", []) if out.get("output_type") == "error"
    ]
    assert not errors
    streams = "".join(
        "".join(out["text"]) for cell in notebook.cells if cell.cell_type == "code"
        for out in cell.get("outputs", []) if out.get("output_type") == "stream"
    )
    assert " WARN " not in streams and "Setting default log level" not in streams, streams
