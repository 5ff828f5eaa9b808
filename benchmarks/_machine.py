"""What the benchmarks print about the machine: its conditions, and its measured fp32 GEMM peak.

Shared by ``bench_layers.py`` and ``bench_train.py`` (a script's own folder is on ``sys.path``).
"""

from __future__ import annotations

import datetime
import os
import platform
import time

import numpy as np

from convprop.threads import blas_threads, get_num_threads


def blas_description() -> str:
    """NumPy's BLAS and the kernel it chose (threadpoolctl's view; the build config without it)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "BLAS: see numpy.show_config() (pip install threadpoolctl for details)"
    libs = [i for i in threadpool_info() if i["user_api"] == "blas"]
    return ", ".join(f"{i['internal_api']} {i['version']} ({i.get('architecture', '?')} kernels)" for i in libs)


def conditions() -> str:
    """Time, load and the BLAS environment variables: the numbers depend on all three."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    env = " ".join(f"{k}={os.environ.get(k, '(unset)')}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"))
    return f"{now}; load average {load} on {os.cpu_count()} CPUs; {env}"


def header() -> str:
    import convprop

    try:
        import torch

        peer = f"torch {torch.__version__}"
    except ImportError:
        peer = "torch not installed"
    return (
        f"convprop {convprop.__version__}, numpy {np.__version__}, {peer}; {blas_description()}\n"
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}\n{conditions()}"
    )


def gemm_peak_gflops(size: int = 1024, repeat: int = 7) -> float:
    """The best fp32 GFLOP/s of a size³ NumPy matmul, with BLAS given as many threads as convprop's workers.

    The best of several runs, not the median: this estimates what the cores can do, which load
    from other processes only ever lowers. (convprop keeps BLAS on one thread and runs its own
    workers; :func:`convprop.threads.blas_threads` lends BLAS the workers' count for this.)
    """
    with blas_threads(get_num_threads()):
        return _gemm_peak(size, repeat)


def _gemm_peak(size: int, repeat: int) -> float:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    out = np.empty_like(a)
    np.matmul(a, b, out=out)  # warm-up: BLAS threads, pages
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * size**3 / best / 1e9


def copy_bandwidth_gbs(megabytes: int = 64, repeat: int = 7) -> float:
    """The best GB/s (bytes read + bytes written) of a NumPy copy between two arrays far larger than the
    caches: the memory-traffic counterpart of :func:`gemm_peak_gflops`."""
    src = np.ones(megabytes * 2**20 // 4, dtype=np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)  # page in
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.nbytes / best / 1e9
