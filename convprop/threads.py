"""How many threads convprop uses: one setting for BLAS's threads and the convolution kernels' workers.

:func:`set_num_threads` is the one switch (PyTorch's name). It limits

- the BLAS library NumPy loaded (OpenBLAS or MKL), which runs every GEMM. With ``threadpoolctl``
  installed it does this; otherwise it calls the ``*_set_num_threads`` entry point of every
  OpenBLAS/MKL library mapped into this process, found through ``/proc/self/maps`` on Linux.
  Setting ``OPENBLAS_NUM_THREADS`` alone would be too late: OpenBLAS reads it once, when NumPy
  is imported;
- the worker threads of the convolution kernels (``convprop.ops._conv_exec``): a layer with enough
  work splits its batch into chunks, one per worker at a time, and each worker runs its chunk's
  copies and GEMMs (NumPy releases the GIL in both) with BLAS on its own thread (:func:`serial_blas`);
- the shifted-view convolution's row blocks (``convprop.ops._conv_kernels``), which, when a layer
  runs on the calling thread, stay small enough that their GEMMs do not hand off to BLAS threads;
- child processes, through ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` and
  ``CONVPROP_NUM_THREADS``.

The default is ``CONVPROP_NUM_THREADS`` or the CPUs this process may use.
"""

from __future__ import annotations

import contextlib
import ctypes
import os

_ENV_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "CONVPROP_NUM_THREADS")
# NumPy wheels ship OpenBLAS with prefixed, 64-bit-integer symbol names; distro builds use the plain ones.
_SETTERS = (
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
    "openblas_set_num_threads64_",
    "openblas_set_num_threads",
    "MKL_Set_Num_Threads",
)
_GETTERS = {
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
    """The thread count set by :func:`set_num_threads` (BLAS's and the depthwise kernels' workers)."""
    return _num_threads


def set_num_threads(threads: int) -> bool:
    """Use at most ``threads`` threads for BLAS and the convolution kernels, here and in child processes.

    Returns True when a loaded BLAS library accepted the limit at run time, False when only the
    environment variables could be set (they take effect for libraries loaded later, e.g. in a
    subprocess).
    """
    global _num_threads
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"set_num_threads: threads must be a positive integer, got {threads!r}")
    _num_threads = int(threads)
    for var in _ENV_VARS:
        os.environ[var] = str(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return _set_blas_threads_ctypes(threads)
    before = threadpool_limits(limits=threads, user_api="blas").get_original_num_threads()
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
            name = next((n for n in _SETTERS if hasattr(lib, n)), None)
            if name is None:
                continue
            setter, getter = getattr(lib, name), getattr(lib, _GETTERS[name], None)
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
def serial_blas():
    """BLAS on the calling thread alone while this block runs, then back to the thread count it had.

    For code that splits work over its own worker threads, each calling BLAS: BLAS's threads would
    only compete with them. On this project's 2-core machine, convolution batch chunks in two worker
    threads with OpenBLAS threaded took resnet8's 2-thread training step 510-551 ms, against 381-425 ms
    with OpenBLAS serial (vggsmall 174-176 against 147-195; 2026-11-30). A setter call costs about 1 µs.
    """
    entries = [(s, g() if g else _num_threads) for s, g in _entries()] if _num_threads > 1 else []
    for setter, _ in entries:
        setter(1)
    try:
        yield
    finally:
        for setter, before in entries:
            setter(before)
