"""How many threads convprop uses: its own worker threads, each running BLAS on one thread.

convprop parallelises a layer itself. A convolution with enough work splits its batch into chunks,
and its worker threads (``convprop.ops._conv_exec``) run one chunk each: copies and GEMMs, in which
NumPy releases the GIL. BLAS (the OpenBLAS or MKL that NumPy loaded) runs every GEMM on the thread
that calls it. convprop sets BLAS to one thread on import and keeps it there, because BLAS's own
threads made training slower (measured on the project's 2-core AMD EPYC, 2026-11-30, convprop
alone in its process, 2 threads, median of 8 steps): with them, vggsmall took 175-215 ms per step
and resnet8 349-405 ms, against 142-161 ms and 365-370 ms without. Between calls, OpenBLAS's idle
threads spin and take a core from the workers: the process used 1.8 cores of CPU time per second
of wall clock, against 1.3 without them.

:func:`set_num_threads` (PyTorch's name) is the one switch. It sets the number of workers, and
for child processes ``CONVPROP_NUM_THREADS`` to that number and ``OPENBLAS_NUM_THREADS``,
``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS`` to 1. It limits the loaded BLAS through
``threadpoolctl`` where that is installed, otherwise (and on import) through the
``*_set_num_threads`` entry point of every OpenBLAS/MKL library mapped into this process, found
through ``/proc/self/maps`` on Linux. Setting ``OPENBLAS_NUM_THREADS`` alone would be too late:
OpenBLAS reads it once, when NumPy is imported. :func:`blas_threads` lends BLAS more threads for a
block of code (the benchmarks measure the machine's GEMM peak with it).

The default is ``CONVPROP_NUM_THREADS`` or the CPUs this process may use.
"""

from __future__ import annotations

import contextlib
import ctypes
import os

import numpy  # noqa: F401  (maps the BLAS library into the process before it is looked up below)

_BLAS_ENV_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
# Each BLAS's setter and getter, in the order they are looked for. NumPy wheels ship OpenBLAS with prefixed,
# 64-bit-integer symbol names; distro builds use the plain ones.
_ENTRY_POINTS = {
    "scipy_openblas_set_num_threads64_": "scipy_openblas_get_num_threads64_",
    "scipy_openblas_set_num_threads": "scipy_openblas_get_num_threads",
    "openblas_set_num_threads64_": "openblas_get_num_threads64_",
    "openblas_set_num_threads": "openblas_get_num_threads",
    "MKL_Set_Num_Threads": "MKL_Get_Max_Threads",
}


def _threads_from_env() -> int:
    raw = os.environ.get("CONVPROP_NUM_THREADS")
    if raw is None:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"CONVPROP_NUM_THREADS must be a positive integer, got {raw!r}")
    return int(raw)


_num_threads = _threads_from_env()


def get_num_threads() -> int:
    """The number of convprop's worker threads, set by :func:`set_num_threads`."""
    return _num_threads


def set_num_threads(threads: int) -> bool:
    """Use ``threads`` worker threads, each running BLAS on one thread, here and in child processes.

    Returns True when a loaded BLAS library accepted the one-thread limit at run time, False when
    only the environment variables could be set (they take effect for libraries loaded later, e.g.
    in a subprocess).
    """
    global _num_threads
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"set_num_threads: threads must be a positive integer, got {threads!r}")
    _num_threads = int(threads)
    os.environ["CONVPROP_NUM_THREADS"] = str(threads)
    for var in _BLAS_ENV_VARS:
        os.environ[var] = "1"
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return _set_blas_threads_ctypes(1)
    before = threadpool_limits(limits=1, user_api="blas").get_original_num_threads()
    return any(n is not None for n in before.values())


def _loaded_blas_libraries() -> list[str]:
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = {line.split()[-1] for line in maps if "/" in line}
    except OSError:  # not Linux: only the environment variables apply
        return []
    return sorted(p for p in paths if any(tag in os.path.basename(p).lower() for tag in ("openblas", "mkl_rt")))


_blas_entries: list[tuple] | None = None


def _entries() -> list[tuple]:
    """(set_num_threads, get_num_threads) of each BLAS library loaded now (looked up once)."""
    global _blas_entries
    if _blas_entries is None:
        _blas_entries = []
        for path in _loaded_blas_libraries():
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            name = next((n for n in _ENTRY_POINTS if hasattr(lib, n)), None)
            if name is None:
                continue
            setter, getter = getattr(lib, name), getattr(lib, _ENTRY_POINTS[name], None)
            setter.argtypes, setter.restype = (ctypes.c_int,), None
            if getter is not None:
                getter.argtypes, getter.restype = (), ctypes.c_int
            _blas_entries.append((setter, getter))
    return _blas_entries


def _set_blas_threads_ctypes(threads: int) -> bool:
    """The fallback without threadpoolctl: call each loaded BLAS's own setter."""
    entries = _entries()
    for setter, _ in entries:
        setter(threads)
    return bool(entries)


@contextlib.contextmanager
def blas_threads(threads: int):
    """Let BLAS use ``threads`` threads of its own while this block runs, then one again.

    For a measurement of BLAS itself (the benchmarks' GEMM peak) or a large GEMM outside convprop's
    layers; convprop's own kernels keep BLAS on one thread (see the module docstring).
    """
    entries = _entries()
    before = [getter() if getter else 1 for _, getter in entries]
    _set_blas_threads_ctypes(threads)
    try:
        yield
    finally:
        for (setter, _), count in zip(entries, before, strict=True):
            setter(count)


_set_blas_threads_ctypes(1)  # on import: BLAS on one thread (see the module docstring)
