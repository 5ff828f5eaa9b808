"""set_num_threads: the number of convprop's worker threads, with the OpenBLAS already loaded by NumPy kept on
one thread (through threadpoolctl, or its ctypes fallback), here and in child processes."""

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
    for var in (*threads._BLAS_ENV_VARS, "CONVPROP_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    blas_before, workers_before = _openblas_get_num_threads(), threads.get_num_threads()
    yield
    threads.set_num_threads(workers_before)
    if blas_before is not None:
        threads._set_blas_threads_ctypes(blas_before)


@pytest.mark.parametrize("threadpoolctl", ["installed", "absent"])
def test_set_num_threads_keeps_loaded_openblas_on_one_thread(restore_threads, threadpoolctl, monkeypatch):
    if threadpoolctl == "absent":
        monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # the import fails: the ctypes fallback runs
    elif importlib.util.find_spec("threadpoolctl") is None:
        pytest.skip("threadpoolctl is not installed (pip install -e '.[bench]')")
    if _openblas_get_num_threads() is None:
        pytest.skip("NumPy is not linked against OpenBLAS here")
    threads._set_blas_threads_ctypes(3)  # as if something else had raised it
    assert threads.set_num_threads(2) is True
    assert _openblas_get_num_threads() == 1
    assert threads.get_num_threads() == 2
    assert os.environ["CONVPROP_NUM_THREADS"] == "2"
    assert os.environ["OPENBLAS_NUM_THREADS"] == os.environ["OMP_NUM_THREADS"] == "1"
    a = np.random.default_rng(0).standard_normal((64, 64))
    assert np.allclose(a @ np.eye(64), a)  # BLAS still works after the change


def test_import_puts_blas_on_one_thread():
    code = "import convprop, threadpoolctl; print([i['num_threads'] for i in threadpoolctl.threadpool_info()"
    code += " if i['user_api'] == 'blas'])"
    env = {k: v for k, v in os.environ.items() if k not in threads._BLAS_ENV_VARS}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    if out.strip() == "[]":
        pytest.skip("NumPy's BLAS is not one threadpoolctl reports")
    assert out.strip() == "[1]"


def test_blas_threads_lends_threads_for_a_block_and_takes_them_back(restore_threads):
    if _openblas_get_num_threads() is None:
        pytest.skip("NumPy is not linked against OpenBLAS here")
    threads.set_num_threads(2)
    with threads.blas_threads(2):
        assert _openblas_get_num_threads() == 2
    assert _openblas_get_num_threads() == 1
    with pytest.raises(KeyError), threads.blas_threads(2):
        raise KeyError("inside")
    assert _openblas_get_num_threads() == 1


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
