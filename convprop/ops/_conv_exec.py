"""Execution resources of the convolution kernels: worker threads, the workspace cap, batch chunks, GEMM calls.

Nothing here knows about convolution. These are the tools :mod:`convprop.ops._conv_kernels` runs
its algorithms with, and every tuned constant is here, each beside the measurement behind it.
Thread count: :func:`convprop.threads.set_num_threads`.
"""

from __future__ import annotations

import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from convprop.threads import get_num_threads

# ---- workspace limit ---------------------------------------------------------------------------


def _limit_from_env() -> int:
    raw = os.environ.get("CONVPROP_WORKSPACE_MB", "512")
    try:
        mb = float(raw)
    except ValueError:
        raise ValueError(f"CONVPROP_WORKSPACE_MB must be a number of megabytes, got {raw!r}") from None
    if mb <= 0:
        raise ValueError(f"CONVPROP_WORKSPACE_MB must be positive, got {raw!r}")
    return int(mb * 2**20)


_workspace_limit = _limit_from_env()


def set_workspace_limit(nbytes: int) -> None:
    """Cap the temporary memory (bytes) one convolution kernel allocates beyond its inputs and result.

    The batch is processed in chunks small enough to respect the cap; a single sample is never
    split, so the cap is exceeded only when one sample's buffers alone are larger.
    Default: ``CONVPROP_WORKSPACE_MB`` megabytes, or 512 MB.
    """
    global _workspace_limit
    if isinstance(nbytes, bool) or not isinstance(nbytes, int | np.integer) or nbytes <= 0:
        raise ValueError(f"set_workspace_limit: nbytes must be a positive int, got {nbytes!r}")
    _workspace_limit = int(nbytes)


def get_workspace_limit() -> int:
    """The current workspace cap in bytes (see :func:`set_workspace_limit`)."""
    return _workspace_limit


# ---- worker threads --------------------------------------------------------------------------
# A layer with enough work (THREAD_MIN_MACS) splits its batch into chunks and runs them in Python
# worker threads, one chunk per worker at a time; each chunk is copies and GEMMs (or einsums) that
# release the GIL, and BLAS runs on each worker's own thread (see convprop.threads). Measured on
# the project's 2-core machine, 2026-11-30, each library alone in its process, 2 threads, median of
# 8 steps over three runs: vggsmall 147-195 ms per step against 190-216 ms with the chunks on the
# calling thread and OpenBLAS threaded, resnet8 381-425 against 416-530 ms. Smaller layers stay on
# the calling thread: LeNet-5 (convolutions of 7-15 M multiply-adds) took 37-43 ms threaded
# against 28-31 ms not. An earlier pool that split the layout copies and the shifted views' row
# blocks (finer pieces, many small NumPy calls) was slower than none and was removed.
THREAD_MIN_MACS = 32 * 2**20

_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def _get_pool() -> ThreadPoolExecutor:
    global _pool, _pool_size
    if _pool_size != get_num_threads():
        if _pool is not None:
            _pool.shutdown(wait=False)
        _pool_size = get_num_threads()
        _pool = ThreadPoolExecutor(_pool_size, thread_name_prefix="convprop")
    return _pool


def _in_worker() -> bool:
    """Inside a pool thread already: nested submissions could wait on themselves, so run inline."""
    return threading.current_thread().name.startswith("convprop")


def threaded(macs: int) -> bool:
    """Whether a layer of ``macs`` multiply-adds is worth the worker threads."""
    return get_num_threads() > 1 and macs >= THREAD_MIN_MACS


def run(fn, slices: list[slice], threaded: bool) -> list:
    """``[fn(slice) for slice in slices]``, in the worker threads when ``threaded``."""
    if not threaded or get_num_threads() == 1 or len(slices) == 1 or _in_worker():
        return [fn(sl) for sl in slices]
    return list(_get_pool().map(fn, slices))


# ---- batch chunks --------------------------------------------------------------------------------

# Chunks whose buffers stay in cache run faster than one big chunk: the im2col copy is still cached
# when the GEMM reads it, and col2im's += hits cache (measured 1.3-2x on 3x3 layers with 16 MB, the
# L3 size this was tuned on being 32 MB). The depthwise path is memory-bound elementwise work and
# wants its chunks nearer the 1 MB L2 (measured 1.8x faster forward with 4 MB than unchunked).
GEMM_CHUNK_BYTES = 16 * 2**20
ELEMENTWISE_CHUNK_BYTES = 4 * 2**20


def chunks(n: int, per_sample_bytes: int, target_bytes: int, threaded: bool) -> list[slice]:
    """Batch slices whose temporary buffers, all chunks in flight together (one per worker thread when
    ``threaded``), fit the workspace limit and, when possible, the cache-sized target. Threaded, their
    number is a multiple of the workers (so that none waits on a last, lone chunk), sizes within one."""
    if n == 0:
        return []
    workers = get_num_threads() if threaded else 1
    budget = min(_workspace_limit // workers, target_bytes)
    step = max(1, min(n, budget // max(1, per_sample_bytes)))
    count = -(-n // step)
    if workers > 1:
        count = min(n, -(-count // workers) * workers)
    bounds = [n * i // count for i in range(count + 1)]
    return [slice(a, b) for a, b in itertools.pairwise(bounds) if b > a]


# ---- GEMM ----------------------------------------------------------------------------------------


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` over the leading group axis, 2-D BLAS calls per group.

    NumPy's stacked (3-D) matmul ran these shapes at half the speed of the 2-D call.
    """
    out = np.empty((a.shape[0], a.shape[1], b.shape[2]), dtype=np.result_type(a, b))
    for i in range(a.shape[0]):
        np.matmul(a[i], b[i], out=out[i])
    return out


# Row blocks of the per-kernel-offset (shifted view) algorithm: small enough that the k² GEMMs of one
# block read their shifted views of the input from cache (measured 1.2-1.5x faster than whole-batch
# blocks for 16 channels, 28x28, 1 thread), large enough to keep the number of NumPy calls down.
SHIFT_BLOCK_ELEMENTS = 1 << 18

# Output positions per block of the channel-major forward, times the block's k²·C column rows: 4096
# positions for 16 channels 3x3 (columns of 144 x 4096 floats, 2.4 MB, held in the L3). Measured on
# N128 16->16 28x28, 1 thread: blocks of 1024-8192 positions within 15% of each other, 4096 the best.
CHANNEL_MAJOR_BLOCK_ELEMENTS = 144 * 4096
