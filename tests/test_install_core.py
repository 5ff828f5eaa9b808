"""A core-only install (NumPy and convprop, no extras) in a fresh virtual environment.

Every command that needs an optional extra says which one, in one line, before doing any work: `train` must
not train an epoch and then fail for want of matplotlib, and `explain` must not die in a SymPy traceback.
The environment is a real one: ``python -m venv`` (no system site-packages), ``pip install numpy``, then
``pip install --no-deps -e .`` of this checkout. pip needs PyPI (CI has it); its cache keeps reruns fast.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import convprop
from convprop.data import write_idx_dataset

REPO = Path(__file__).resolve().parents[1]


def _run(command, **kwargs):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["CONVPROP_DATA_URL"] = "http://127.0.0.1:9/"
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, **kwargs)


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    root = tmp_path_factory.mktemp("core-venv")
    assert _run([sys.executable, "-m", "venv", str(root)]).returncode == 0
    python = root / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    for step in (["numpy"], ["--no-deps", "-e", str(REPO)]):
        result = _run([*pip, *step])
        assert result.returncode == 0, result.stderr[-2000:]
    return python


def _one_line_error(python, *args, cwd, expect):
    result = _run([str(python), "-m", "convprop", *map(str, args)], cwd=cwd)
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [expect], result.stderr
    return result


def test_the_venv_has_no_extras(venv, tmp_path):
    modules = ("matplotlib", "PIL", "sympy", "tqdm", "torch", "onnx", "safetensors")
    code = f"import importlib.util as u; print([m for m in {modules} if u.find_spec(m)])"
    assert _run([str(venv), "-c", code], cwd=tmp_path).stdout.strip() == "[]"


def test_version_comes_from_one_place(venv, tmp_path):
    code = "import importlib.metadata as m, convprop; print(m.version('convprop'), convprop.__version__)"
    assert _run([str(venv), "-c", code], cwd=tmp_path).stdout.split() == [convprop.__version__] * 2


def test_train_says_which_extra_before_training(venv, tmp_path):
    data = write_idx_dataset(tmp_path / "data", n_train=40, n_test=20)
    result = _one_line_error(
        venv, "train", "--data-dir", data, "--out", tmp_path / "run", cwd=tmp_path,
        expect="convprop train: error: matplotlib (for curves.png and confusion.png) is not installed: "
        "pip install 'convprop[train]'",
    )  # fmt: skip
    assert result.stdout == "" and not (tmp_path / "run").exists()


def test_explain_says_which_extra(venv, tmp_path):
    _one_line_error(
        venv, "explain", "conv", cwd=tmp_path,
        expect="convprop explain: error: SymPy (for deriving the equations) is not installed: "
        "pip install 'convprop[explain]'",
    )  # fmt: skip


def test_predict_says_which_extra(venv, tmp_path):
    _one_line_error(
        venv, "predict", tmp_path, tmp_path / "x.png", cwd=tmp_path,
        expect="convprop predict: error: Pillow (for reading image files) is not installed: "
        "pip install 'convprop[train]'",
    )  # fmt: skip


def test_the_engine_works_without_extras(venv, tmp_path):
    code = (
        "import numpy as np, convprop, convprop.nn.functional as F;"
        "x = convprop.tensor(np.ones((1, 1, 4, 4)), requires_grad=True);"
        "F.conv2d(x, convprop.tensor(np.ones((1, 1, 2, 2)))).sum().backward(); print(x.grad.sum().item())"
    )
    result = _run([str(venv), "-c", code], cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "36.0", result.stderr


def test_export_says_which_extra(venv, tmp_path):
    _one_line_error(
        venv, "export", tmp_path, "-o", tmp_path / "m.onnx", cwd=tmp_path,
        expect="convprop export: error: onnx (for --format onnx) is not installed: pip install 'convprop[onnx]'",
    )  # fmt: skip
