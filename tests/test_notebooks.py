"""
Every notebook in examples/ runs top to bottom without an error, with the
small sizes (``LUT4BRIAN_EXAMPLES_SMALL=1``), in a fresh python3 kernel of this
environment started in examples/. New notebooks are picked up automatically;
those that import torch are skipped where it is not installed.
"""

import glob
import importlib.util
import os

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
NOTEBOOKS = sorted(glob.glob(os.path.join(EXAMPLES, "*.ipynb")))
SIZE_SWITCH = "LUT4BRIAN_EXAMPLES_SMALL"
CELL_TIMEOUT_S = 300


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[os.path.basename(p) for p in NOTEBOOKS])
def test_notebook_runs(path, monkeypatch):
    notebook = nbformat.read(path, as_version=4)
    if importlib.util.find_spec("torch") is None and any(
            "import torch" in cell.source for cell in notebook.cells if cell.cell_type == "code"):
        pytest.skip("this notebook needs torch (pip install lut4brian[fit])")
    # The kernel inherits this process's environment.
    monkeypatch.setenv(SIZE_SWITCH, "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    client = nbclient.NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": EXAMPLES}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{os.path.basename(path)} raised:\n{error}", pytrace=False)
    # Outputs stay out of the repository: the notebooks there carry none.
    assert not any(cell.get("outputs") for cell in nbformat.read(path, as_version=4).cells
                   if cell.cell_type == "code"), f"{os.path.basename(path)} is committed with outputs"


def test_notebooks_found():
    assert NOTEBOOKS, f"no notebooks in {EXAMPLES}"
