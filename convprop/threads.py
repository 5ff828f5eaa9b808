"""How many threads convprop uses: one setting for BLAS's threads and the depthwise kernels' workers.

:func:`set_num_threads` is the one switch (PyTorch's name). It limits

- the BLAS library NumPy loaded (OpenBLAS or MKL), which runs every GEMM. With ``threadpoolctl``
  installed it does this; otherwise it calls the ``*_set_num_threads`` entry point of every
  OpenBLAS/MKL library mapped into this process, found through ``/proc/self/maps`` on Linux.
  Setting ``OPENBLAS_NUM_THREADS`` alone would be too late: OpenBLAS reads it once, when NumPy
  is imported;
- the shifted-view convolution's row blocks (``convprop.ops._conv_kernels``), which stay small enough
  that their GEMMs do not hand off to BLAS threads when there are several;
- the worker threads of the depthwise convolution (``convprop.ops._conv_exec``), whose large einsum
  calls release the GIL; the other kernels' copies and small GEMMs run on the calling thread, where
  they measured faster than split over Python threads;
- child processes, through ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` and
  ``CONVPROP_NUM_THREADS``.

The default is ``CONVPROP_NUM_THREADS`` or the CPUs this process may use.
"""

from __future__ import annotations

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


def _set_blas_threads_ctypes(threads: int) -> bool:
    """The fallback without threadpoolctl: call each loaded BLAS's own setter."""
    applied = False
    for path in _loaded_blas_libraries():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _SETTERS:
            setter = getattr(lib, name, None)
            if setter is not None:
                setter(ctypes.c_int(threads))
                applied = True
                break
    return applied
