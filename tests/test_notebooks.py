"""The notebooks in examples/: each runs top to bottom, and none is committed with outputs."""

from __future__ import annotations

import importlib.util
import os
import shutil
import time
from pathlib import Path

import pytest

from convprop.data.datasets import search_dirs

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "examples").glob("*.ipynb"))


def _have_fashion_mnist() -> bool:
    """All four files in one of the folders load_dataset searches (so the notebook never downloads)."""
    names = [f"{split}-{kind}-ubyte" for split in ("train", "t10k") for kind in ("images-idx3", "labels-idx1")]
    folders = search_dirs("fashion-mnist")
    return any(all((d / n).is_file() or (d / f"{n}.gz").is_file() for n in names) for d in folders)


NO_TORCH = (importlib.util.find_spec("torch") is None, "PyTorch is not installed (pip install torch==2.13.0)")
# Each notebook names what it needs beyond the test extra; the reason is given where that is absent.
NEEDS = {
    "01_article_example.ipynb": [NO_TORCH],
    "02_strided_padded_conv.ipynb": [NO_TORCH],
    "03_fashion_mnist_gradient_flow.ipynb": [
        (not _have_fashion_mnist(), "Fashion-MNIST is not installed (CI installs Debian's dataset-fashion-mnist)"),
        (shutil.which("dot") is None, "Graphviz's dot is not installed (CI installs Debian's graphviz)"),
    ],
}


def test_there_are_notebooks():
    assert [p.name for p in NOTEBOOKS] == [
        "01_article_example.ipynb",
        "02_strided_padded_conv.ipynb",
        "03_fashion_mnist_gradient_flow.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    nbformat = pytest.importorskip("nbformat", reason="pip install nbformat (the test extra)")
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: cell {i} has outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_top_to_bottom(path, tmp_path, monkeypatch):
    for missing, reason in NEEDS.get(path.name, []):
        if missing:
            pytest.skip(reason)
    nbformat = pytest.importorskip("nbformat", reason="pip install nbformat (the test extra)")
    nbclient = pytest.importorskip("nbclient", reason="pip install nbclient (the test extra)")
    pytest.importorskip("ipykernel", reason="pip install ipykernel (the test extra)")
    # the kernel is a child process: it imports this checkout of convprop, and works in a scratch folder
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    seconds = time.perf_counter() - start
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    print(f"{path.name}: {seconds:.1f} s")
