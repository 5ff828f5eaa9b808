"""--threads: the BLAS thread limit reaches the OpenBLAS already loaded by NumPy, and child processes."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import numpy as np
import pytest

from convprop.ops import conv
from convprop.train import threads


def _openblas_get_num_threads():
    """The loaded OpenBLAS's own view of its thread count, or None when NumPy uses another BLAS."""
    for path in threads._loaded_blas_libraries():
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads", "openblas_get_num_threads"):
            getter = getattr(lib, name, None)
            if getter is not None:
                return getter()
    return None


@pytest.fixture
def restore_threads(monkeypatch):
    for var in threads._ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    before, conv_before = _openblas_get_num_threads(), conv.get_num_threads()
    yield
    if before is not None:
        threads.set_num_threads(before)
    conv.set_num_threads(conv_before)


def test_set_num_threads_reaches_loaded_openblas(restore_threads):
    if _openblas_get_num_threads() is None:
        pytest.skip("NumPy is not linked against OpenBLAS here")
    assert threads.set_num_threads(1) is True
    assert _openblas_get_num_threads() == 1
    assert conv.get_num_threads() == 1
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1" and os.environ["OMP_NUM_THREADS"] == "1"
    a = np.random.default_rng(0).standard_normal((64, 64))
    assert np.allclose(a @ np.eye(64), a)  # BLAS still works after the change
    threads.set_num_threads(2)
    assert _openblas_get_num_threads() == 2


def test_children_inherit_the_limit(restore_threads):
    threads.set_num_threads(1)
    code = "import os; print(*(os.environ[v] for v in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS')))"
    code += "; from convprop.ops import conv; print(conv.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["1", "1", "1"]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_values(bad):
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        threads.set_num_threads(bad)
