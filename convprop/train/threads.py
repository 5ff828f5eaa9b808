"""Limit the number of threads convprop uses (BLAS and the convolution kernels' workers), without threadpoolctl.

OpenBLAS reads ``OPENBLAS_NUM_THREADS`` (and OpenMP builds ``OMP_NUM_THREADS``)
only once, when it is loaded, and NumPy loads it on import. By the time a
``convprop`` subcommand parses ``--threads``, NumPy is already imported, so
setting the variables alone would be too late for this process. We therefore do
both: set the variables (for child processes and for any BLAS loaded later) and
call the ``*_set_num_threads`` entry point of every OpenBLAS/MKL library already
mapped into this process, found through ``/proc/self/maps`` on Linux. The
convolution kernels' own worker threads (elementwise work between BLAS calls,
``convprop.ops.conv.set_num_threads``) get the same limit.
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


def _loaded_blas_libraries() -> list[str]:
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = {line.split()[-1] for line in maps if "/" in line}
    except OSError:  # not Linux: only the environment variables apply
        return []
    return sorted(p for p in paths if any(tag in os.path.basename(p).lower() for tag in ("openblas", "mkl_rt")))


def set_num_threads(threads: int) -> bool:
    """Use at most ``threads`` threads for BLAS and convolution work, in this process and in its children.

    Returns True when a loaded BLAS library accepted the new limit at run time,
    False when only the environment variables could be set (they take effect
    for libraries loaded afterwards, e.g. in a subprocess).
    """
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    from convprop.ops import conv

    conv.set_num_threads(threads)
    for var in _ENV_VARS:
        os.environ[var] = str(threads)
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
