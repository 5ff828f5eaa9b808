r"""N-d convolution and transposed convolution: one implementation for 1-D, 2-D and 3-D.

The article's three formulas, generalised to strides, padding, dilation, groups, channels and
batches, are three kernels on NumPy arrays (NC* layout in and out; channels-last inside):

- ``conv_forward``: O = X ⋆ F, the cross-correlation (strided, dilated). Computed as im2col(X) @ F.
- ``conv_grad_weight``: ∂L/∂F = X ⋆ ∂L/∂O, with ∂L/∂O dilated by the stride, summed over the
  batch. Computed as im2col(X)ᵀ @ ∂L/∂O.
- ``conv_grad_input``: ∂L/∂X = the full correlation of ∂L/∂O (stride − 1 zeros inserted between
  its elements, the floor remainder restored) with rot180(F) (dilated; in/out channels swapped),
  cropped by the forward padding. With stride 1 it is computed literally, as ``conv_forward`` of
  the padded ∂L/∂O with rot180(F); otherwise as col2im(∂L/∂O @ Fᵀ).

Why ``col2im(∂L/∂O @ Fᵀ)`` is the article's full correlation: entry ``(o, k)`` of ``∂L/∂O @ Fᵀ`` is
``∂L/∂O[o] · F[k]``, and col2im adds it into ``∂L/∂X[o·stride + k·dilation − padding]``. Collecting
the terms of one input position gives exactly the full correlation of the zero-dilated, padded
``∂L/∂O`` with the rotated filter, but the inserted zeros are never multiplied (a stride-2
gradient is 3/4 zeros) and there is no padding to build. ``reference.py`` computes the same
gradient literally; the tests hold the two together.

A transposed convolution is the same pair read the other way: its forward is ``conv_grad_input``,
its input gradient is ``conv_forward``, and its weight gradient is ``conv_grad_weight`` with the roles
of input and output gradient swapped. No kernel is duplicated.

Speed: the GEMM kernels make one BLAS call per group on a channels-last im2col copy (col2im makes
one per kernel offset, so each offset's block is added back contiguously; small GEMMs are cut
into pieces OpenBLAS runs without thread hand-offs). Depthwise convolution (one input channel per
group) would give BLAS slivers, so it sums its kernel offsets with ``einsum`` over the window view
instead, in worker threads (:func:`set_num_threads`). Work is chunked over the batch:
cache-sized chunks where possible, and never more temporary memory than the workspace limit
(:func:`set_workspace_limit`, environment variable ``CONVPROP_WORKSPACE_MB``, default 512 MB).
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from convprop.ops._args import check_allocation, check_input, nonnegative, positive
from convprop.ops.fold import window_slices, windows
from convprop.tensor import Function, Tensor

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
    """
    global _workspace_limit
    if isinstance(nbytes, bool) or not isinstance(nbytes, int | np.integer) or nbytes <= 0:
        raise ValueError(f"set_workspace_limit: nbytes must be a positive int, got {nbytes!r}")
    _workspace_limit = int(nbytes)


def get_workspace_limit() -> int:
    """The current workspace cap in bytes (see :func:`set_workspace_limit`)."""
    return _workspace_limit


# ---- threads for the elementwise (non-BLAS) kernels --------------------------------------------


def _threads_from_env() -> int:
    raw = os.environ.get("CONVPROP_NUM_THREADS")
    if raw is None:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"CONVPROP_NUM_THREADS must be a positive integer, got {raw!r}")
    return int(raw)


_num_threads = _threads_from_env()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def set_num_threads(n: int) -> None:
    """Threads for the convolution kernels' NumPy work: depthwise batch chunks, and the large
    copies and adds between BLAS calls.

    GEMMs use BLAS's own threads (set those with threadpoolctl or ``OPENBLAS_NUM_THREADS``).
    NumPy's elementwise loops are single-threaded but release the GIL, so that work is split over
    this many Python threads. Default: the CPUs this process may use, or ``CONVPROP_NUM_THREADS``.
    """
    global _num_threads
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive int, got {n!r}")
    _num_threads = int(n)


def get_num_threads() -> int:
    """The thread count of the elementwise kernels (see :func:`set_num_threads`)."""
    return _num_threads


def _get_pool() -> ThreadPoolExecutor:
    global _pool, _pool_size
    if _pool_size != _num_threads:
        if _pool is not None:
            _pool.shutdown(wait=False)
        _pool, _pool_size = ThreadPoolExecutor(_num_threads, thread_name_prefix="convprop"), _num_threads
    return _pool


def _in_worker() -> bool:
    """Inside a pool thread already: nested submissions could wait on themselves, so run inline."""
    return threading.current_thread().name.startswith("convprop")


def _run(fn, slices: list[slice], threaded: bool):
    """``fn(slice)`` for every batch chunk, in order; in worker threads when ``threaded``."""
    if not threaded or _num_threads == 1 or len(slices) == 1 or _in_worker():
        return map(fn, slices)
    return _get_pool().map(fn, slices)


# Below this many elements (4 MB of float32) a copy is not worth handing to threads: on a busy
# machine a hand-off can wait a scheduler tick for a thread, longer than the copy itself.
_PARALLEL_MIN_ELEMENTS = 1 << 20


def _parallel(op, dst: np.ndarray, *srcs: np.ndarray) -> None:
    """``op(dst, *srcs)`` (an in-place NumPy copy or ufunc with ``out=dst``) split into row blocks
    over the worker threads. NumPy's copies are single-threaded but release the GIL, and they run
    between BLAS calls, when the cores are otherwise idle. Sources broadcast against ``dst``."""
    if _num_threads == 1 or dst.size < _PARALLEL_MIN_ELEMENTS or _in_worker():
        op(dst, *srcs)
        return
    axis = next((a for a in range(dst.ndim - 1) if dst.shape[a] >= _num_threads), None)
    if axis is None:
        op(dst, *srcs)
        return
    edges = np.linspace(0, dst.shape[axis], _num_threads + 1).astype(int)

    def block(i):
        def cut(a):
            pos = axis - (dst.ndim - a.ndim)  # sources may have fewer (broadcast) axes
            if pos < 0 or a.shape[pos] == 1:
                return a
            return a[(slice(None),) * pos + (slice(edges[i], edges[i + 1]),)]

        op(cut(dst), *map(cut, srcs))

    list(_get_pool().map(block, range(_num_threads)))


def _copy(dst: np.ndarray, src: np.ndarray) -> None:
    _parallel(np.copyto, dst, src)


def _add_into(dst: np.ndarray, src: np.ndarray) -> None:
    _parallel(lambda d, a: np.add(d, a, out=d), dst, src)


# Chunks whose buffers stay in cache run faster than one big chunk: the im2col copy is still cached
# when the GEMM reads it, and col2im's += hits cache (measured 1.3-2x on 3x3 layers with 16 MB, the
# L3 size this was tuned on being 32 MB). The depthwise path is memory-bound elementwise work and
# wants its chunks nearer the 1 MB L2 (measured 1.8x faster forward with 4 MB than unchunked).
_GEMM_CHUNK_BYTES = 16 * 2**20
_ELEMENTWISE_CHUNK_BYTES = 4 * 2**20


def _chunks(n: int, per_sample_bytes: int, target_bytes: int, workers: int) -> list[slice]:
    """Batch slices whose temporary buffers, ``workers`` chunks at a time, fit the workspace limit
    (and, when possible, the cache-sized target)."""
    budget = min(_workspace_limit // workers, target_bytes)
    step = max(1, min(n, budget // max(1, per_sample_bytes)))
    return [slice(start, min(n, start + step)) for start in range(0, n, step)]


# ---- geometry ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Geometry:
    """Stride, per-side padding, dilation and groups of one convolution (as seen from its input X)."""

    stride: tuple[int, ...]
    pad_lo: tuple[int, ...]
    pad_hi: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int

    def padded(self, size) -> tuple[int, ...]:
        return tuple(s + lo + hi for s, lo, hi in zip(size, self.pad_lo, self.pad_hi, strict=True))

    def out_size(self, size, kernel) -> tuple[int, ...]:
        """⌊(size + pad_lo + pad_hi − dilation·(kernel − 1) − 1) / stride⌋ + 1 per axis."""
        return tuple(
            (p - d * (k - 1) - 1) // s + 1
            for p, k, d, s in zip(self.padded(size), kernel, self.dilation, self.stride, strict=True)
        )


def _to_channels_last(x: np.ndarray, geom: Geometry) -> np.ndarray:
    """(n, C, *S) -> zero-padded (n, *S_padded, C): one copy that transposes and pads together."""
    n, c, *size = x.shape
    xp = np.empty((n, *geom.padded(size), c), dtype=x.dtype)
    # only the border needs zeros; the interior is overwritten right away
    for axis, (s, lo, hi) in enumerate(zip(size, geom.pad_lo, geom.pad_hi, strict=True), start=1):
        lead = (slice(None),) * axis
        xp[(*lead, slice(0, lo))] = 0
        xp[(*lead, slice(lo + s, lo + s + hi))] = 0
    inner = tuple(slice(lo, lo + s) for lo, s in zip(geom.pad_lo, size, strict=True))
    _copy(xp[(slice(None), *inner)], np.moveaxis(x, 1, -1))
    return xp


def _im2col(xp: np.ndarray, kernel, geom: Geometry, out) -> np.ndarray:
    """Channels-last padded (n, *Sp, C) -> columns (groups, n·prod(out), prod(kernel)·C/groups),
    C- or F-ordered per group (both go to BLAS without another copy)."""
    n, c, g = xp.shape[0], xp.shape[-1], geom.groups
    if g == 1 and all(k == 1 for k in kernel) and all(s == 1 for s in geom.stride) and xp.shape[1:-1] == tuple(out):
        return xp.reshape(1, n * math.prod(out), c)  # a 1x1 convolution's columns are its input
    cg, nd = c // g, len(kernel)
    win = windows(xp, 1, kernel, geom.stride, geom.dilation, out)  # (n, *out, *kernel, C)
    win = win.reshape(*win.shape[:-1], g, cg)
    if cg > 4:
        cols = np.empty((g, n * math.prod(out), math.prod(kernel) * cg), dtype=xp.dtype)
        _copy(cols.reshape(g, n, *out, *kernel, cg), np.moveaxis(win, -2, 0))
        return cols
    # With few channels the copy above would move cg floats at a time; laid out kernel-offset-major,
    # it moves whole rows of output pixels (4x faster for one channel), and BLAS takes the transpose.
    cols_t = np.empty((g, *kernel, cg, n, *out), dtype=xp.dtype)
    _copy(cols_t, win.transpose(2 * nd + 1, *range(nd + 1, 2 * nd + 1), 2 * nd + 2, 0, *range(1, nd + 1)))
    return cols_t.reshape(g, math.prod(kernel) * cg, n * math.prod(out)).transpose(0, 2, 1)


def _grouped_rows(y: np.ndarray, groups: int) -> np.ndarray:
    """(n, G·Og, *out) -> (G, n·prod(out), Og): the output gradient as GEMM rows, per group."""
    n, o, *out = y.shape
    rows = np.empty((groups, n * math.prod(out), o // groups), dtype=y.dtype)
    _copy(
        rows.reshape(groups, n, math.prod(out), o // groups),
        y.reshape(n, groups, o // groups, -1).transpose(1, 0, 3, 2),
    )
    return rows


def _weight_matrix(w: np.ndarray, groups: int) -> np.ndarray:
    """(G·Og, Cg, *kernel) -> (G, prod(kernel)·Cg, Og), rows ordered like the columns of _im2col."""
    o, cg, *kernel = w.shape
    v = w.reshape(groups, o // groups, cg, math.prod(kernel))
    return v.transpose(0, 3, 2, 1).reshape(groups, math.prod(kernel) * cg, o // groups)


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` over the leading group axis, 2-D BLAS calls per group.

    NumPy's stacked (3-D) matmul ran these shapes at half the speed of the 2-D call.
    """
    out = np.empty((a.shape[0], a.shape[1], b.shape[2]), dtype=np.result_type(a, b))
    for i in range(a.shape[0]):
        _gemm(a[i], b[i], out[i])
    return out


# OpenBLAS runs a GEMM on the calling thread when M·N·K <= 65536·4 (its SMP threshold); above that
# it hands work to its thread pool, and on a busy machine each hand-off can wait a scheduler tick
# (measured 4-8 ms per call, 2 threads), far longer than a small GEMM takes. So GEMMs that are small
# anyway are cut into pieces under the threshold; big ones are worth the threads. Other BLAS builds
# merely see a few more calls.
_BLAS_SERIAL_MACS = 65536 * 4
_SMALL_GEMM_MACS = 1 << 24


def _gemm(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """``out = a @ b`` for 2-D arrays; small products in single-threaded pieces (see above)."""
    (m, k), n = a.shape, b.shape[1]
    if not _BLAS_SERIAL_MACS < m * n * k <= _SMALL_GEMM_MACS:
        np.matmul(a, b, out=out)
    elif m >= k:  # cut the rows
        step = max(1, _BLAS_SERIAL_MACS // (n * k))
        for r in range(0, m, step):
            np.matmul(a[r : r + step], b, out=out[r : r + step])
    else:  # cut the contraction and add the pieces
        step = max(1, _BLAS_SERIAL_MACS // (m * n))
        np.matmul(a[:, :step], b[:step], out=out)
        for r in range(step, k, step):
            out += a[:, r : r + step] @ b[r : r + step]


def _batches(n: int, dtype, padded, c: int, out, o: int, kernel, depthwise: bool):
    """Batch chunks sized by the temporary bytes one sample needs: its padded channels-last input,
    plus the columns and GEMM rows (GEMM path) or an accumulator and one product term (depthwise)."""
    work = 2 * o if depthwise else math.prod(kernel) * c + o
    per_sample = dtype.itemsize * (math.prod(padded) * c + math.prod(out) * work)
    if depthwise:
        return _chunks(n, per_sample, _ELEMENTWISE_CHUNK_BYTES, _num_threads)
    return _chunks(n, per_sample, _GEMM_CHUNK_BYTES, 1)


def _depthwise(weight_shape, groups: int) -> bool:
    """One input channel per group: GEMMs would be (rows x K) @ (K x Og) slivers, so use elementwise sums."""
    return groups > 1 and weight_shape[1] == 1


# ---- the three kernels ---------------------------------------------------------------------------
# Each kernel loops over batch chunks and hands one chunk to a helper; the helper's buffers are
# freed when it returns, so only the chunks in flight (one, or one per worker thread) hold memory.


def conv_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, geom: Geometry, out=None) -> np.ndarray:
    """O = X ⋆ F (+ bias): ``O[n, o, p] = Σ_{c ∈ group(o), k} X_pad[n, c, p·stride + k·dilation] F[o, c, k]``.

    Computed as im2col(X) @ F per group; depthwise as one einsum Σ_k window_k(X) · F[:, k]. ``out``
    limits the output size (a transposed convolution's input gradient may need fewer windows than fit).
    """
    n, c, *size = x.shape
    o, _, *kernel = w.shape
    g = geom.groups
    out = geom.out_size(size, kernel) if out is None else tuple(out)
    y = np.empty((n, o, *out), dtype=x.dtype)
    depthwise = _depthwise(w.shape, g)
    weights = w.reshape(g, o // g, -1) if depthwise else _weight_matrix(w, g)
    chunk = _forward_depthwise if depthwise else _forward_gemm
    slices = _batches(n, x.dtype, geom.padded(size), c, out, o, kernel, depthwise)
    list(_run(lambda sl: chunk(x[sl], weights, b, geom, kernel, out, y[sl]), slices, depthwise))
    return y


def _forward_gemm(x, wm, b, geom: Geometry, kernel, out, y) -> None:
    rows = _matmul(_im2col(_to_channels_last(x, geom), kernel, geom, out), wm)  # (G, n·P, Og)
    g, og = wm.shape[0], wm.shape[2]
    _store(y, rows.reshape(g, x.shape[0], math.prod(out), og).transpose(1, 0, 3, 2), b)


def _forward_depthwise(x, wk, b, geom: Geometry, kernel, out, y) -> None:
    g, mult = wk.shape[:2]
    nd = len(kernel)
    win = windows(_to_channels_last(x, geom), 1, kernel, geom.stride, geom.dilation, out)  # (n, *out, *kernel, C)
    # one einsum over the window view sums all kernel offsets in a single pass (measured 1.4x faster
    # than a multiply and an add per offset)
    o, k = "pqr"[:nd], "ijk"[:nd]
    acc = np.empty((x.shape[0], *out, g, mult), dtype=x.dtype)
    for m in range(mult):
        wkc = np.ascontiguousarray(np.moveaxis(wk[:, m].reshape(g, *kernel), 0, -1))  # (*kernel, C), unit stride
        np.einsum(f"n{o}{k}c,{k}c->n{o}c", win, wkc, out=acc[..., m])
    _store(y, acc.reshape(x.shape[0], math.prod(out), g, mult).transpose(0, 2, 3, 1), b)


def _store(dst: np.ndarray, src: np.ndarray, b: np.ndarray | None) -> None:
    """Write a chunk given as (n, G, Og, P) into NC* ``dst``, adding the bias in the same pass."""
    view = dst.reshape(src.shape)
    if b is None:
        _copy(view, src)
    else:
        _parallel(lambda d, a, c: np.add(a, c, out=d), view, src, b.reshape(1, *src.shape[1:3], 1))


def conv_grad_weight(x: np.ndarray, gy: np.ndarray, weight_shape, geom: Geometry) -> np.ndarray:
    """∂L/∂F = X ⋆ ∂L/∂O, summed over the batch, with ∂L/∂O dilated by the stride:
    ``∂L/∂F[o, c, k] = Σ_{n, p} X_pad[n, c, p·stride + k·dilation] ∂L/∂O[n, o, p]``.

    Computed as im2col(X)ᵀ @ ∂L/∂O per group; depthwise as Σ_{n,p} window_k(X) · ∂L/∂O per offset k.
    """
    n, c, *size = x.shape
    o, cg, *kernel = weight_shape
    g = geom.groups
    out = tuple(gy.shape[2:])
    depthwise = _depthwise(weight_shape, g)
    chunk = _grad_weight_depthwise if depthwise else _grad_weight_gemm
    slices = _batches(n, x.dtype, geom.padded(size), c, out, o, kernel, depthwise)
    # the start value keeps the shape and dtype when the batch is empty
    empty = np.zeros((math.prod(kernel), g, o // g) if depthwise else (g, math.prod(kernel) * cg, o // g), x.dtype)
    gw = sum(_run(lambda sl: chunk(x[sl], gy[sl], geom, kernel), slices, depthwise), empty)
    if depthwise:  # (K, C, multiplier) -> (C·multiplier, 1, *kernel)
        return np.ascontiguousarray(gw.transpose(1, 2, 0)).reshape(weight_shape)
    # (G, prod(kernel)·Cg, Og) -> (G·Og, Cg, *kernel)
    gw = gw.reshape(g, math.prod(kernel), cg, o // g).transpose(0, 3, 2, 1)
    return np.ascontiguousarray(gw).reshape(weight_shape)


def _grad_weight_gemm(x, gy, geom: Geometry, kernel) -> np.ndarray:
    """This chunk's share of ∂L/∂F, as (G, prod(kernel)·Cg, Og)."""
    cols = _im2col(_to_channels_last(x, geom), kernel, geom, gy.shape[2:])
    # im2col(X)ᵀ @ ∂L/∂O, not its transpose ∂L/∂Oᵀ @ im2col(X): with few output channels OpenBLAS
    # threads the latter badly (measured 900 ms against 7 ms for 6 channels, 2 threads)
    return _matmul(cols.transpose(0, 2, 1), _grouped_rows(gy, geom.groups))


def _grad_weight_depthwise(x, gy, geom: Geometry, kernel) -> np.ndarray:
    """This chunk's share of ∂L/∂F, as (prod(kernel), C, multiplier)."""
    out = gy.shape[2:]
    g = x.shape[1]
    mult = gy.shape[1] // g
    gw = np.empty((math.prod(kernel), g, mult), dtype=x.dtype)
    win = windows(_to_channels_last(x, geom), 1, kernel, geom.stride, geom.dilation, out)
    gyc = np.moveaxis(gy, 1, -1).reshape(-1, g, mult)  # (n·P, C, multiplier)
    for i, offs in enumerate(np.ndindex(*kernel)):
        gw[i] = np.einsum("rc,rcm->cm", win[(slice(None),) * (1 + len(out)) + offs].reshape(-1, g), gyc)
    return gw


def conv_grad_input(gy: np.ndarray, w: np.ndarray, input_shape, geom: Geometry) -> np.ndarray:
    """∂L/∂X = full correlation of ∂L/∂O (stride − 1 zeros inserted, floor remainder restored) with
    rot180(F) (dilated by the forward dilation, in/out channels swapped), cropped by the forward padding:
    ``∂L/∂X_pad[n, c, p·stride + k·dilation] += Σ_{o ∈ group(c)} ∂L/∂O[n, o, p] F[o, c, k]``.

    With stride 1 there are no zeros to insert, and when ∂L/∂O has at most twice the channels of X
    (so its im2col is not much bigger than X's) this is computed literally, as :func:`conv_forward`
    of ∂L/∂O padded by (dilated kernel − 1 − padding) with rot180(F). Otherwise it is
    col2im(∂L/∂O @ Fᵀ) per group, which never multiplies the inserted zeros; depthwise, col2im of
    ∂L/∂O · F[:, k] per offset k.
    """
    n, c, *size = input_shape
    o, _, *kernel = w.shape
    g = geom.groups
    out = tuple(gy.shape[2:])
    span = tuple(d * (k - 1) for d, k in zip(geom.dilation, kernel, strict=True))
    # the floor remainder: padded input positions after the last window, which no output read
    rest = tuple(p - (q - 1) * s - t - 1 for p, q, s, t in zip(geom.padded(size), out, geom.stride, span, strict=True))
    full = Geometry(
        stride=geom.stride,
        pad_lo=tuple(t - p for t, p in zip(span, geom.pad_lo, strict=True)),
        pad_hi=tuple(t - p + r for t, p, r in zip(span, geom.pad_hi, rest, strict=True)),
        dilation=geom.dilation,
        groups=g,
    )
    depthwise = _depthwise(w.shape, g)
    # (a depthwise filter with multiplier 1 stays depthwise when rotated and swapped)
    literal = o == c if depthwise else o <= 2 * c
    if literal and all(s == 1 for s in geom.stride) and min(full.pad_lo + full.pad_hi) >= 0:
        return conv_forward(gy, _rot180_swapped(w, g), None, full)
    gx = np.empty(input_shape, dtype=gy.dtype)
    weights = w.reshape(g, o // g, -1) if depthwise else _weight_matrix(w, g).transpose(0, 2, 1)
    chunk = _grad_input_depthwise if depthwise else _grad_input_gemm
    slices = _batches(n, gy.dtype, geom.padded(size), c, out, o, kernel, depthwise)
    list(_run(lambda sl: chunk(gy[sl], weights, geom, kernel, gx[sl]), slices, depthwise))
    return gx


def _rot180_swapped(w: np.ndarray, groups: int) -> np.ndarray:
    """rot180(F) with in/out channels swapped within each group: (G·Og, Cg, *k) -> (G·Cg, Og, *k)."""
    o, cg, *kernel = w.shape
    v = np.swapaxes(w.reshape(groups, o // groups, cg, *kernel), 1, 2)
    return np.ascontiguousarray(v[(..., *(slice(None, None, -1),) * len(kernel))]).reshape(
        groups * cg, o // groups, *kernel
    )


def _grad_input_gemm(gy, wt, geom: Geometry, kernel, gx) -> None:
    m, out, g = gy.shape[0], gy.shape[2:], geom.groups
    cg = gx.shape[1] // g
    rows = _grouped_rows(gy, g)  # (G, m·P, Og)
    gxp = np.zeros((m, *geom.padded(gx.shape[2:]), g, cg), dtype=gy.dtype)
    # col2im one kernel offset at a time. With a GEMM per offset, each offset's block (m, *out, C) is
    # contiguous, so its += runs along whole rows of pixels·channels instead of C-long pieces, and
    # only one block is alive at a time. With very few channels those GEMMs would be slivers (Cg
    # wide), so one GEMM makes all blocks at once (measured 2x faster for Cg = 1, 2x slower for Cg = 6).
    wt = wt.reshape(g, wt.shape[1], -1, cg)  # (G, Og, prod(kernel), Cg)
    cols = _matmul(rows, wt.reshape(g, wt.shape[1], -1)).reshape(g, -1, wt.shape[2], cg) if cg < 4 else None
    for i, offs in enumerate(np.ndindex(*kernel)):
        part = _matmul(rows, wt[:, :, i]) if cols is None else cols[:, :, i]
        part = np.moveaxis(part.reshape(g, m, *out, cg), 0, -2)  # (m, *out, G, Cg)
        _add_into(gxp[(slice(None), *window_slices(offs, geom.stride, geom.dilation, out))], part)
    _from_channels_last(gxp.reshape(*gxp.shape[:-2], -1), geom, gx)


def _grad_input_depthwise(gy, wk, geom: Geometry, kernel, gx) -> None:
    m, out = gy.shape[0], gy.shape[2:]
    g, mult = wk.shape[:2]
    gyc = np.moveaxis(gy, 1, -1).reshape(m, *out, g, mult)
    gxp = np.zeros((m, *geom.padded(gx.shape[2:]), g), dtype=gy.dtype)
    for i, offs in enumerate(np.ndindex(*kernel)):
        dst = window_slices(offs, geom.stride, geom.dilation, out)
        gxp[(slice(None), *dst)] += np.einsum("...cm,cm->...c", gyc, wk[:, :, i])
    _from_channels_last(gxp, geom, gx)


def _from_channels_last(gxp: np.ndarray, geom: Geometry, gx: np.ndarray) -> None:
    """Crop the padding off channels-last (n, *S_padded, C) and write it into NC* ``gx``."""
    inner = tuple(slice(lo, lo + s) for lo, s in zip(geom.pad_lo, gx.shape[2:], strict=True))
    _copy(gx, np.moveaxis(gxp[(slice(None), *inner)], -1, 1))


# ---- autograd Functions --------------------------------------------------------------------------


class ConvNd(Function):
    """Convolution (cross-correlation) of any rank; forward and the two backward formulas side by side.

    - forward:  O = X ⋆ F + b                                   (:func:`conv_forward`)
    - backward: ∂L/∂X = full correlation of ∂L/∂O with rot180(F) (:func:`conv_grad_input`)
                ∂L/∂F = X ⋆ ∂L/∂O, summed over the batch         (:func:`conv_grad_weight`)
                ∂L/∂b = ∂L/∂O summed over batch and space
    """

    formula = "∂L/∂X = full correlation of ∂L/∂O with rot180(F); ∂L/∂F = X ⋆ ∂L/∂O, summed over the batch"

    def forward(self, x, w, *bias, geom: Geometry, unbatched: bool):
        x = x[None] if unbatched else x
        self.x, self.w, self.geom, self.unbatched, self.has_bias = x, w, geom, unbatched, bool(bias)
        y = conv_forward(x, w, bias[0] if bias else None, geom)
        return y[0] if unbatched else y

    def backward(self, gy):
        gy = gy[None] if self.unbatched else gy
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            gx = conv_grad_input(gy, self.w, self.x.shape, self.geom)
            gx = gx[0] if self.unbatched else gx
        if self.needs_input_grad[1]:
            gw = conv_grad_weight(self.x, gy, self.w.shape, self.geom)
        if not self.has_bias:
            return gx, gw
        if self.needs_input_grad[2]:
            gb = gy.sum(axis=(0, *range(2, gy.ndim)))
        return gx, gw, gb


class ConvTransposeNd(Function):
    """Transposed convolution: the convolution pair read the other way, sharing its kernels.

    - forward:  Y = full correlation of X with rot180(F), cropped  (:func:`conv_grad_input` with X as ∂L/∂O)
    - backward: ∂L/∂X = ∂L/∂Y ⋆ F                                 (:func:`conv_forward`)
                ∂L/∂F = ∂L/∂Y ⋆ X, summed over the batch           (:func:`conv_grad_weight`, roles swapped)
                ∂L/∂b = ∂L/∂Y summed over batch and space
    """

    formula = "∂L/∂X = ∂L/∂Y ⋆ F; ∂L/∂F = ∂L/∂Y ⋆ X, summed over the batch"

    def forward(self, x, w, *bias, geom: Geometry, out_size: tuple[int, ...], unbatched: bool):
        x = x[None] if unbatched else x
        self.x, self.w, self.geom, self.unbatched, self.has_bias = x, w, geom, unbatched, bool(bias)
        y = conv_grad_input(x, w, (x.shape[0], w.shape[1] * geom.groups, *out_size), geom)
        if bias:
            y += bias[0].reshape(-1, *(1,) * len(out_size))
        return y[0] if unbatched else y

    def backward(self, gy):
        gy = gy[None] if self.unbatched else gy
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            gx = conv_forward(gy, self.w, None, self.geom, out=self.x.shape[2:])
            gx = gx[0] if self.unbatched else gx
        if self.needs_input_grad[1]:
            gw = conv_grad_weight(gy, self.x, self.w.shape, self.geom)
        if not self.has_bias:
            return gx, gw
        if self.needs_input_grad[2]:
            gb = gy.sum(axis=(0, *range(2, gy.ndim)))
        return gx, gw, gb


# ---- validation and the public functions ---------------------------------------------------------


def _check_tensors(op: str, input, weight, bias, nd: int, weight_layout: str) -> bool:
    """Types, ranks and dtypes of input/weight/bias; returns whether the input is unbatched."""
    for name, t in (("input", input), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    if bias is not None and not isinstance(bias, Tensor):
        raise TypeError(f"{op}: bias must be a Tensor or None, got {type(bias).__name__}")
    unbatched = check_input(input.data, nd, op)
    if weight.ndim != nd + 2:
        raise ValueError(f"{op}: expected a {nd + 2}-D weight of shape {weight_layout}, got shape {weight.shape}")
    if weight.data.size == 0:
        raise ValueError(f"{op}: weight of shape {weight.shape} is empty; kernel size and channels must be positive")
    if not np.issubdtype(input.dtype, np.floating):
        raise TypeError(f"{op}: expected a floating point input, got dtype {input.dtype}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != input.dtype:
            raise RuntimeError(f"{op}: input has dtype {input.dtype} but {name} has dtype {t.dtype}; they must match")
    return unbatched


def _check_groups(op: str, groups) -> int:
    if isinstance(groups, bool) or not isinstance(groups, int | np.integer) or groups <= 0:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    return int(groups)


def _check_bias(op: str, bias, channels: int, weight_shape) -> None:
    if bias is not None and bias.shape != (channels,):
        raise ValueError(
            f"{op}: given weight of shape {weight_shape}, expected bias of shape ({channels},), got {bias.shape}"
        )


def _conv(nd: int, op: str, input, weight, bias, stride, padding, dilation, groups) -> Tensor:
    unbatched = _check_tensors(op, input, weight, bias, nd, "(C_out, C_in / groups, *kernel_size)")
    groups = _check_groups(op, groups)
    stride = positive(stride, nd, "stride", op)
    dilation = positive(dilation, nd, "dilation", op)
    c = input.shape[1 - unbatched]
    o, cg, *kernel = weight.shape
    if c % groups or o % groups:
        raise ValueError(f"{op}: in_channels ({c}) and out_channels ({o}) must both be divisible by groups ({groups})")
    if cg * groups != c:
        raise ValueError(
            f"{op}: given groups={groups} and weight of shape {weight.shape}, expected input of shape "
            f"{input.shape} to have {cg * groups} channels, but got {c}"
        )
    _check_bias(op, bias, o, weight.shape)
    span = tuple(d * (k - 1) for d, k in zip(dilation, kernel, strict=True))
    if isinstance(padding, str):
        if padding == "valid":
            lo = hi = (0,) * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions, got stride={stride}")
            # an odd total splits evenly; an even kernel puts the extra zero on the right, as PyTorch does
            lo = tuple(t // 2 for t in span)
            hi = tuple(t - t // 2 for t in span)
        else:
            raise ValueError(f"{op}: padding must be 'valid', 'same', an int or a tuple of ints, got {padding!r}")
    else:
        lo = hi = nonnegative(padding, nd, "padding", op)
    geom = Geometry(stride, lo, hi, dilation, groups)
    size = input.shape[2 - unbatched :]
    padded = geom.padded(size)
    if any(p < t + 1 for p, t in zip(padded, span, strict=True)):
        raise ValueError(
            f"{op}: padded input size {padded} is smaller than the dilated kernel size "
            f"{tuple(t + 1 for t in span)} (input {input.shape}, weight {weight.shape}, padding {padding!r}, "
            f"dilation {dilation})"
        )
    if 0 in size and all(n > 0 for n in input.shape[: 2 - unbatched]):
        raise RuntimeError(
            f"{op}: only zero batch or zero channel inputs are supported, but got input shape {input.shape}"
        )
    batch = input.shape[: 2 - unbatched] if not unbatched else (1, c)
    check_allocation((*batch, *padded), input.dtype, op)
    args = (input, weight) if bias is None else (input, weight, bias)
    return ConvNd.apply(*args, geom=geom, unbatched=unbatched)


def _conv_transpose(nd: int, op: str, input, weight, bias, stride, padding, output_padding, groups, dilation):
    unbatched = _check_tensors(op, input, weight, bias, nd, "(C_in, C_out / groups, *kernel_size)")
    groups = _check_groups(op, groups)
    stride = positive(stride, nd, "stride", op)
    dilation = positive(dilation, nd, "dilation", op)
    padding = nonnegative(padding, nd, "padding", op)
    output_padding = nonnegative(output_padding, nd, "output_padding", op)
    if any(p >= max(s, d) for p, s, d in zip(output_padding, stride, dilation, strict=True)):
        raise ValueError(
            f"{op}: output_padding must be smaller than either stride or dilation, got output_padding="
            f"{output_padding}, stride={stride}, dilation={dilation}"
        )
    c = input.shape[1 - unbatched]
    cin, og, *kernel = weight.shape
    if c % groups:
        raise ValueError(f"{op}: in_channels ({c}) must be divisible by groups ({groups})")
    if cin != c:
        raise ValueError(
            f"{op}: given weight of shape {weight.shape}, expected input of shape {input.shape} to have "
            f"{cin} channels, but got {c}"
        )
    _check_bias(op, bias, og * groups, weight.shape)
    size = input.shape[2 - unbatched :]
    out_size = tuple(
        (n - 1) * s - 2 * p + d * (k - 1) + q + 1
        for n, s, p, d, k, q in zip(size, stride, padding, dilation, kernel, output_padding, strict=True)
    )
    if any(s < 1 for s in out_size):
        raise ValueError(
            f"{op}: input of spatial size {tuple(size)} gives output size {out_size} with stride={stride}, "
            f"padding={padding}, dilation={dilation}, weight {weight.shape}: output size is too small"
        )
    if 0 in size and all(n > 0 for n in input.shape[: 2 - unbatched]):
        raise RuntimeError(
            f"{op}: only zero batch or zero channel inputs are supported, but got input shape {input.shape}"
        )
    check_allocation((input.shape[0] if not unbatched else 1, og * groups, *out_size), input.dtype, op)
    geom = Geometry(stride, padding, padding, dilation, groups)
    args = (input, weight) if bias is None else (input, weight, bias)
    return ConvTransposeNd.apply(*args, geom=geom, out_size=out_size, unbatched=unbatched)


_CONV_DOC = r"""Apply a {nd}-D convolution (cross-correlation, as in every deep-learning library) over an input.

    .. math::
        \text{{out}}[n, o] = \text{{bias}}[o]
            + \sum_{{c \in \text{{group}}(o)}} \text{{weight}}[o, c] \star \text{{input}}[n, c]

    where :math:`\star` slides the filter over the zero-padded input with the given stride and
    dilation. Backward: ∂L/∂weight = input ⋆ ∂L/∂out (∂L/∂out dilated by the stride, summed over the
    batch); ∂L/∂input = the full correlation of ∂L/∂out with the 180°-rotated weight, cropped by the
    padding; ∂L/∂bias = ∂L/∂out summed over batch and space.

    Args:
        input (Tensor): (N, C_in, {space}) or unbatched (C_in, {space}).
        weight (Tensor): (C_out, C_in / groups, {kernel_names}).
        bias (Tensor, optional): (C_out,). Default: None
        stride (int or tuple, optional): step of the sliding window. Default: 1
        padding (int, tuple or str, optional): zeros added to both sides, or 'valid' (none) or 'same'
            (output size = input size; stride 1 only; an even total puts the extra zero at the end). Default: 0
        dilation (int or tuple, optional): spacing between kernel elements. Default: 1
        groups (int, optional): split the channels into this many independent convolutions. Default: 1

    Shape:
        - Input: :math:`(N, C_{{in}}, {space})` or :math:`(C_{{in}}, {space})`
        - Output: :math:`(N, C_{{out}}, {space})` with, per spatial axis,
          :math:`\text{{out}} = \lfloor (\text{{in}} + 2\,\text{{padding}} - \text{{dilation}} \times
          (\text{{kernel}} - 1) - 1) / \text{{stride}} + 1 \rfloor`

    Example::

        >>> x = convprop.tensor(np.random.default_rng(0).standard_normal((4, 3, {example})), requires_grad=True)
        >>> w = convprop.tensor(np.random.default_rng(1).standard_normal((8, 3, {kernel_example})), requires_grad=True)
        >>> F.conv{nd}d(x, w, stride=1, padding=1).shape
        (4, 8, {example})
"""

_CONV_T_DOC = r"""Apply a {nd}-D transposed convolution (sometimes called deconvolution) over an input.

    The adjoint of :func:`conv{nd}d`: its forward pass is the convolution's input gradient (each
    input element scatters ``input · weight`` into the output, stride apart, overlaps summed; the
    padding is cropped), and its backward pass is the convolution's forward pass:
    ∂L/∂input = ∂L/∂out ⋆ weight; ∂L/∂weight = ∂L/∂out ⋆ input summed over the batch;
    ∂L/∂bias = ∂L/∂out summed over batch and space.

    .. math::
        \text{{out}}_{{\text{{pad}}}}[n, o, i \cdot \text{{stride}} + k \cdot \text{{dilation}}] \mathrel{{+}}=
        \sum_{{c \in \text{{group}}(o)}} \text{{input}}[n, c, i] \, \text{{weight}}[c, o, k]

    Args:
        input (Tensor): (N, C_in, {space}) or unbatched (C_in, {space}).
        weight (Tensor): (C_in, C_out / groups, {kernel_names}).
        bias (Tensor, optional): (C_out,). Default: None
        stride (int or tuple, optional): step of the sliding window. Default: 1
        padding (int or tuple, optional): ``dilation * (kernel_size - 1) - padding`` zeros of implicit
            padding, i.e. ``padding`` is cropped from both sides of the output. Default: 0
        output_padding (int or tuple, optional): extra size added to one side of the output; must be
            smaller than stride or dilation. Default: 0
        groups (int, optional): split the channels into this many independent convolutions. Default: 1
        dilation (int or tuple, optional): spacing between kernel elements. Default: 1

    Shape:
        - Input: :math:`(N, C_{{in}}, {space})` or :math:`(C_{{in}}, {space})`
        - Output: :math:`(N, C_{{out}}, {space})` with, per spatial axis,
          :math:`\text{{out}} = (\text{{in}} - 1) \times \text{{stride}} - 2\,\text{{padding}}
          + \text{{dilation}} \times (\text{{kernel}} - 1) + \text{{output\_padding}} + 1`

    Example::

        >>> x = convprop.tensor(np.random.default_rng(0).standard_normal((4, 8, {example})), requires_grad=True)
        >>> w = convprop.tensor(np.random.default_rng(1).standard_normal((8, 3, {kernel_example})), requires_grad=True)
        >>> F.conv_transpose{nd}d(x, w, stride=2).shape
        (4, 3, {example_t})
"""


def _doc(template: str, nd: int) -> str:
    return template.format(
        nd=nd,
        space=("L", "H, W", "D, H, W")[nd - 1],
        kernel_names=("kW", "kH, kW", "kD, kH, kW")[nd - 1],
        example=", ".join(["5"] * nd),
        kernel_example=", ".join(["3"] * nd),
        example_t=", ".join(["11"] * nd),
    )


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    return _conv(1, "conv1d", input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    return _conv(2, "conv2d", input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    return _conv(3, "conv3d", input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1) -> Tensor:
    return _conv_transpose(
        1, "conv_transpose1d", input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1) -> Tensor:
    return _conv_transpose(
        2, "conv_transpose2d", input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1) -> Tensor:
    return _conv_transpose(
        3, "conv_transpose3d", input, weight, bias, stride, padding, output_padding, groups, dilation
    )


for _nd, _fn in enumerate((conv1d, conv2d, conv3d), start=1):
    _fn.__doc__ = _doc(_CONV_DOC, _nd)
for _nd, _fn in enumerate((conv_transpose1d, conv_transpose2d, conv_transpose3d), start=1):
    _fn.__doc__ = _doc(_CONV_T_DOC, _nd)
del _nd, _fn
