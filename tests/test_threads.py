"""set_num_threads: the limit reaches the OpenBLAS already loaded by NumPy (through threadpoolctl, or its
ctypes fallback), the convolution kernels' workers, and child processes."""

from __future__ import annotations

import ctypes
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from convprop import threads


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
    blas_before, workers_before = _openblas_get_num_threads(), threads.get_num_threads()
    yield
    threads.set_num_threads(workers_before)
    if blas_before is not None:
        threads._set_blas_threads_ctypes(blas_before)


@pytest.mark.parametrize("threadpoolctl", ["installed", "absent"])
def test_set_num_threads_reaches_loaded_openblas(restore_threads, threadpoolctl, monkeypatch):
    if threadpoolctl == "absent":
        monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # the import fails: the ctypes fallback runs
    elif importlib.util.find_spec("threadpoolctl") is None:
        pytest.skip("threadpoolctl is not installed (pip install -e '.[bench]')")
    if _openblas_get_num_threads() is None:
        pytest.skip("NumPy is not linked against OpenBLAS here")
    assert threads.set_num_threads(1) is True
    assert _openblas_get_num_threads() == 1
    assert threads.get_num_threads() == 1
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1" and os.environ["OMP_NUM_THREADS"] == "1"
    a = np.random.default_rng(0).standard_normal((64, 64))
    assert np.allclose(a @ np.eye(64), a)  # BLAS still works after the change
    threads.set_num_threads(2)
    assert _openblas_get_num_threads() == 2


def test_children_inherit_the_limit(restore_threads):
    threads.set_num_threads(1)
    code = "import os; print(*(os.environ[v] for v in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS')))"
    code += "; from convprop import threads; print(threads.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["1", "1", "1"]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_values(bad):
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        threads.set_num_threads(bad)


def test_serial_blas_runs_blas_on_one_thread_and_restores_the_count(restore_threads):
    """The convolution kernels' worker threads each call BLAS inside serial_blas(): one BLAS thread
    while they run, the previous count after (also after an error)."""
    if _openblas_get_num_threads() is None:
        pytest.skip("NumPy is not linked against OpenBLAS here")
    threads.set_num_threads(2)
    with threads.serial_blas():
        assert _openblas_get_num_threads() == 1
    assert _openblas_get_num_threads() == 2
    with pytest.raises(KeyError), threads.serial_blas():
        raise KeyError("inside")
    assert _openblas_get_num_threads() == 2
    threads.set_num_threads(1)
    with threads.serial_blas():  # one thread already: nothing to change
        assert _openblas_get_num_threads() == 1
