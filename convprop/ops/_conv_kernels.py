"""The algorithms behind :mod:`convprop.ops.conv`'s three formulas, on NumPy arrays, and the choice between them.

``conv.py`` states what is computed; this module computes it. Two or three algorithms per formula:

- **GEMM on im2col columns** (any groups with more than one input channel per group):
  forward ``im2col(X) @ F``, weight gradient ``im2col(X)ᵀ @ ∂L/∂O``, input gradient
  ``col2im(∂L/∂O @ Fᵀ)``. The columns are a channels-last ``as_strided`` window view
  (:func:`convprop.ops.fold.windows`) copied once; one BLAS call per group.
- **Per kernel offset, on shifted views** (stride 1): in the flattened channels-last padded input
  (rows = pixels), the pixel that kernel offset ``k`` reads for output row ``r`` is row
  ``r + Σ_i k_i·dilation_i·(row length of axis i)``. So ``O = Σ_k X[r + shift_k] @ F_k``: k² GEMMs
  on contiguous shifted views of one buffer, accumulated, with no window copy. Rows whose window
  wraps past a row's end compute garbage and are cropped. Likewise ``∂L/∂F_k = X[r + shift_k]ᵀ @
  ∂L/∂O`` with ∂L/∂O placed in the padded frame (zeros in the garbage rows). The stride-1 ∂L/∂X is
  a forward correlation (``conv.conv_grad_input``), so it uses this too.
- **Channel-major shifted views** (forward, stride 1, one group): the same shifted views with
  the channels as rows, ``X`` as a padded (C, n·S_padded) buffer. The columns of a block of output
  positions are the k² shifted (C x block) slices stacked (whole-row copies), and one GEMM
  ``F (O x k²C) @ columns (k²C x block)`` makes the block: the pixels are the GEMM's long side,
  which OpenBLAS runs faster than the pixels-as-rows GEMMs above when the channels are few.
- **Depthwise** (one input channel per group): the GEMMs would be slivers, so each formula is a
  sum over kernel offsets with ``einsum`` on the window view.

Every algorithm works on batch chunks; a layer with enough work runs them in worker threads
(:func:`convprop.ops._conv_exec.run`).

The choice (:func:`algorithm`) follows ``benchmarks/bench_conv_algorithms.py`` (2026-11-30 09:55 UTC,
2-core AMD EPYC with AVX2, OpenBLAS 0.3.31 choosing its Haswell kernels, 1 thread, quiet machine,
median of 7 alternating runs; time relative to im2col, below 1 is faster; 3x3 pad 1 unless noted):

=========================  =================  ===========  ===========
layer                      formula            shifted      channel-major
=========================  =================  ===========  ===========
N128 1 -> 16, 28x28        forward            10.8         0.75
N128 3 -> 16, 32x32        forward            1.75         0.55
N64 1 -> 6, 28x28, 5x5 p2  forward            12.7         0.83
N128 8 -> 8, 28x28         forward, ∂L/∂F     1.18, 0.80   0.78
N128 16 -> 16, 28x28       forward, ∂L/∂F     0.95, 0.68   0.69
N128 16 -> 32, 28x28       forward, ∂L/∂F     1.11, 0.91   0.77
N128 32 -> 16, 28x28       forward, ∂L/∂F     0.72, 0.72   0.63
N128 32 -> 32, 14x14       forward, ∂L/∂F     1.25, 0.95   1.31
N128 64 -> 64, 8x8         forward, ∂L/∂F     1.42, 1.20   1.42
N64 6 -> 16, 14x14, 5x5 p0 forward, ∂L/∂F     2.34, 1.35   1.22
=========================  =================  ===========  ===========

Three more runs of the 32-channel 14x14 and 16x16 layers put channel-major and im2col within 15% of
each other either way. The rule takes the consistent part. Forward: channel-major for stride 1, one
group, at most 16 input channels, at least 4 output channels (with one, as in the input gradient of
a first layer on grayscale images, its GEMM is a matrix-vector product: 5.8 ms against im2col's 4.6
for LeNet's first layer) and at least 60% of the padded frame valid output (LeNet's unpadded 5x5
layer has half of it garbage); im2col otherwise. ∂L/∂F: shifted for stride 1, one group,
8 <= C <= 32, O <= C and at least 80% of the frame valid; im2col otherwise. The shifted GEMMs contract
over only C channels, which OpenBLAS runs far below its peak; with more channels, im2col's single deep
GEMM wins.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from convprop.ops import _conv_exec as ex
from convprop.ops.fold import window_slices, windows

if TYPE_CHECKING:
    from convprop.ops.conv import Geometry


def is_depthwise(weight_shape, groups: int) -> bool:
    """One input channel per group: GEMMs would be (rows x K) @ (K x Og) slivers, so use elementwise sums."""
    return groups > 1 and weight_shape[1] == 1


# Tests set this to "im2col" or "shifted" to run one algorithm wherever it applies.
force: str | None = None


def algorithm(weight_shape, geom: Geometry, size, out_size, formula: str = "forward") -> str:
    """Which algorithm correlates X (spatial ``size``) with a filter of ``weight_shape``: "depthwise",
    "channel-major" (forward only), "shifted" or "im2col", for ``formula`` "forward" (also the literal
    stride-1 ∂L/∂X) or "grad_weight" (∂L/∂O as the filter); see the table above."""
    if is_depthwise(weight_shape, geom.groups):
        return "depthwise"
    if any(s != 1 for s in geom.stride):
        return "im2col"
    if force is not None and (force != "channel-major" or (formula == "forward" and geom.groups == 1)):
        return force  # channel-major is a forward algorithm for one group; elsewhere the rule below picks
    o, cg = weight_shape[:2]
    valid = math.prod(out_size) / math.prod(geom.padded(size))
    if formula == "forward":
        return "channel-major" if geom.groups == 1 and cg <= 16 and o >= 4 and valid >= 0.6 else "im2col"
    return "shifted" if geom.groups == 1 and 8 <= cg <= 32 and o <= cg and valid >= 0.8 else "im2col"


def _batches(n: int, dtype, padded, c: int, out, o: int, kernel, depthwise: bool) -> tuple[list[slice], bool]:
    """Batch chunks sized by the temporary bytes one sample needs: its padded channels-last input,
    plus the columns and GEMM rows (GEMM path) or an accumulator and one product term (depthwise);
    and whether they run in worker threads (depthwise always: its einsums are long; the others from
    ``_conv_exec.THREAD_MIN_MACS`` multiply-adds)."""
    work = 2 * o if depthwise else math.prod(kernel) * c + o
    per_sample = dtype.itemsize * (math.prod(padded) * c + math.prod(out) * work)
    if depthwise:
        return ex.chunks(n, per_sample, ex.ELEMENTWISE_CHUNK_BYTES, threaded=True), True
    threaded = ex.threaded(n * math.prod(out) * math.prod(kernel) * c * o)
    return ex.chunks(n, per_sample, ex.GEMM_CHUNK_BYTES, threaded=threaded), threaded


# ---- layouts -------------------------------------------------------------------------------------


def _padded_copy(moved: np.ndarray, first: int, geom: Geometry) -> np.ndarray:
    """A zero-padded copy of ``moved``, whose spatial axes start at axis ``first``: only the border is
    zeroed, since the interior is overwritten right away."""
    size = moved.shape[first : first + len(geom.pad_lo)]
    xp = np.empty((*moved.shape[:first], *geom.padded(size), *moved.shape[first + len(size) :]), dtype=moved.dtype)
    lead = (slice(None),) * first
    for axis, (s, lo, hi) in enumerate(zip(size, geom.pad_lo, geom.pad_hi, strict=True)):
        before = (*lead, *(slice(None),) * axis)
        xp[(*before, slice(0, lo))] = 0
        xp[(*before, slice(lo + s, lo + s + hi))] = 0
    np.copyto(xp[(*lead, *(slice(lo, lo + s) for lo, s in zip(geom.pad_lo, size, strict=True)))], moved)
    return xp


def _to_channels_last(x: np.ndarray, geom: Geometry) -> np.ndarray:
    """(n, C, *S) -> zero-padded (n, *S_padded, C): one copy that transposes and pads together."""
    return _padded_copy(np.moveaxis(x, 1, -1), 1, geom)


def _from_channels_last(gxp: np.ndarray, geom: Geometry, gx: np.ndarray) -> None:
    """Crop the padding off channels-last (n, *S_padded, C) and write it into NC* ``gx``."""
    inner = tuple(slice(lo, lo + s) for lo, s in zip(geom.pad_lo, gx.shape[2:], strict=True))
    np.copyto(gx, np.moveaxis(gxp[(slice(None), *inner)], -1, 1))


def _im2col(xp: np.ndarray, kernel, geom: Geometry, out_size) -> np.ndarray:
    """Channels-last padded (n, *Sp, C) -> columns (groups, n·prod(out), prod(kernel)·C/groups),
    C- or F-ordered per group (both go to BLAS without another copy)."""
    n, c, g = xp.shape[0], xp.shape[-1], geom.groups
    one_by_one = all(k == 1 for k in kernel) and all(s == 1 for s in geom.stride)
    if g == 1 and one_by_one and xp.shape[1:-1] == tuple(out_size):
        return xp.reshape(1, n * math.prod(out_size), c)  # a 1x1 convolution's columns are its input
    cg, nd = c // g, len(kernel)
    win = windows(xp, 1, kernel, geom.stride, geom.dilation, out_size)  # (n, *out, *kernel, C)
    win = win.reshape(*win.shape[:-1], g, cg)
    if cg > 4:
        cols = np.empty((g, n * math.prod(out_size), math.prod(kernel) * cg), dtype=xp.dtype)
        np.copyto(cols.reshape(g, n, *out_size, *kernel, cg), np.moveaxis(win, -2, 0))
        return cols
    # With few channels the copy above would move cg floats at a time; laid out kernel-offset-major,
    # it moves whole rows of output pixels (4x faster for one channel), and BLAS takes the transpose.
    cols_t = np.empty((g, *kernel, cg, n, *out_size), dtype=xp.dtype)
    np.copyto(cols_t, win.transpose(2 * nd + 1, *range(nd + 1, 2 * nd + 1), 2 * nd + 2, 0, *range(1, nd + 1)))
    return cols_t.reshape(g, math.prod(kernel) * cg, n * math.prod(out_size)).transpose(0, 2, 1)


def _grouped_rows(y: np.ndarray, groups: int) -> np.ndarray:
    """(n, G·Og, *out) -> (G, n·prod(out), Og): the output gradient as GEMM rows, per group."""
    n, o, *out = y.shape
    rows = np.empty((groups, n * math.prod(out), o // groups), dtype=y.dtype)
    np.copyto(
        rows.reshape(groups, n, math.prod(out), o // groups),
        y.reshape(n, groups, o // groups, -1).transpose(1, 0, 3, 2),
    )
    return rows


def _weight_matrix(w: np.ndarray, groups: int) -> np.ndarray:
    """(G·Og, Cg, *kernel) -> (G, prod(kernel)·Cg, Og), rows ordered like the columns of _im2col."""
    o, cg, *kernel = w.shape
    v = w.reshape(groups, o // groups, cg, math.prod(kernel))
    return v.transpose(0, 3, 2, 1).reshape(groups, math.prod(kernel) * cg, o // groups)


def _store(dst: np.ndarray, src: np.ndarray, b: np.ndarray | None) -> None:
    """Write a chunk given as (n, G, Og, P) into NC* ``dst``, adding the bias in the same pass."""
    view = dst.reshape(src.shape)
    if b is None:
        np.copyto(view, src)
    else:
        np.add(src, b.reshape(1, *src.shape[1:3], 1), out=view)


# ---- O = X ⋆ F -------------------------------------------------------------------------------------
# Each entry point loops over batch chunks and hands one chunk to a helper; the helper's buffers are
# freed when it returns, so only the chunks in flight (one, or one per worker thread) hold memory.


def forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, geom: Geometry, out_size) -> np.ndarray:
    """O = X ⋆ F (+ bias): im2col(X) @ F per group; depthwise, one einsum Σ_k window_k(X) · F[:, k]."""
    n, c, *size = x.shape
    o, _, *kernel = w.shape
    g = geom.groups
    y = np.empty((n, o, *out_size), dtype=x.dtype)
    algo = algorithm(w.shape, geom, size, out_size)
    depthwise = algo == "depthwise"
    if algo == "shifted":
        weights, chunk = _offset_matrices(w, g), _forward_shifted
    elif algo == "channel-major":
        weights, chunk = _channel_major_matrix(w), _forward_channel_major
    elif depthwise:
        weights, chunk = w.reshape(g, o // g, -1), _forward_depthwise
    else:
        weights, chunk = _weight_matrix(w, g), _forward_gemm
    slices, threaded = _batches(n, x.dtype, geom.padded(size), c, out_size, o, kernel, depthwise)
    ex.run(lambda sl: chunk(x[sl], weights, b, geom, kernel, out_size, y[sl]), slices, threaded)
    return y


def _forward_gemm(x, wm, b, geom: Geometry, kernel, out_size, y) -> None:
    rows = ex.matmul(_im2col(_to_channels_last(x, geom), kernel, geom, out_size), wm)  # (G, n·P, Og)
    g, og = wm.shape[0], wm.shape[2]
    _store(y, rows.reshape(g, x.shape[0], math.prod(out_size), og).transpose(1, 0, 3, 2), b)


def _forward_depthwise(x, wk, b, geom: Geometry, kernel, out_size, y) -> None:
    g, mult = wk.shape[:2]
    nd = len(kernel)
    xp = _to_channels_last(x, geom)
    win = windows(xp, 1, kernel, geom.stride, geom.dilation, out_size)  # (n, *out, *kernel, C)
    # one einsum over the window view sums all kernel offsets in a single pass (measured 1.4x faster
    # than a multiply and an add per offset)
    o, k = "pqr"[:nd], "ijk"[:nd]
    acc = np.empty((x.shape[0], *out_size, g, mult), dtype=x.dtype)
    for m in range(mult):
        wkc = np.ascontiguousarray(np.moveaxis(wk[:, m].reshape(g, *kernel), 0, -1))  # (*kernel, C), unit stride
        np.einsum(f"n{o}{k}c,{k}c->n{o}c", win, wkc, out=acc[..., m])
    _store(y, acc.reshape(x.shape[0], math.prod(out_size), g, mult).transpose(0, 2, 3, 1), b)


# ---- ∂L/∂F = X ⋆ ∂L/∂O -----------------------------------------------------------------------------


def grad_weight(x: np.ndarray, gy: np.ndarray, weight_shape, geom: Geometry) -> np.ndarray:
    """∂L/∂F: im2col(X)ᵀ @ ∂L/∂O per group; depthwise, Σ_{n,p} window_k(X) · ∂L/∂O per offset k."""
    n, c, *size = x.shape
    o, cg, *kernel = weight_shape
    g = geom.groups
    out_size = tuple(gy.shape[2:])
    algo = algorithm(weight_shape, geom, size, out_size, "grad_weight")
    depthwise = algo == "depthwise"
    chunk = {"depthwise": _grad_weight_depthwise, "shifted": _grad_weight_shifted, "im2col": _grad_weight_gemm}[algo]
    slices, threaded = _batches(n, x.dtype, geom.padded(size), c, out_size, o, kernel, depthwise)
    # the start value keeps the shape and dtype when the batch is empty
    empty = {
        "depthwise": (math.prod(kernel), g, o // g),
        "shifted": (math.prod(kernel), g, cg, o // g),
        "im2col": (g, math.prod(kernel) * cg, o // g),
    }[algo]
    gw = sum(ex.run(lambda sl: chunk(x[sl], gy[sl], geom, kernel), slices, threaded), np.zeros(empty, x.dtype))
    if depthwise:  # (K, C, multiplier) -> (C·multiplier, 1, *kernel)
        return np.ascontiguousarray(gw.transpose(1, 2, 0)).reshape(weight_shape)
    if algo == "shifted":  # (K, G, Cg, Og) -> (G·Og, Cg, *kernel)
        return np.ascontiguousarray(gw.transpose(1, 3, 2, 0)).reshape(weight_shape)
    # (G, prod(kernel)·Cg, Og) -> (G·Og, Cg, *kernel)
    gw = gw.reshape(g, math.prod(kernel), cg, o // g).transpose(0, 3, 2, 1)
    return np.ascontiguousarray(gw).reshape(weight_shape)


def _grad_weight_gemm(x, gy, geom: Geometry, kernel) -> np.ndarray:
    """This chunk's share of ∂L/∂F, as (G, prod(kernel)·Cg, Og)."""
    cols = _im2col(_to_channels_last(x, geom), kernel, geom, gy.shape[2:])
    # im2col(X)ᵀ @ ∂L/∂O, not its transpose ∂L/∂Oᵀ @ im2col(X): with few output channels OpenBLAS
    # threads the latter badly (measured 900 ms against 7 ms for 6 channels, 2 threads)
    return ex.matmul(cols.transpose(0, 2, 1), _grouped_rows(gy, geom.groups))


def _grad_weight_depthwise(x, gy, geom: Geometry, kernel) -> np.ndarray:
    """This chunk's share of ∂L/∂F, as (prod(kernel), C, multiplier)."""
    out_size = gy.shape[2:]
    g = x.shape[1]
    mult = gy.shape[1] // g
    gw = np.empty((math.prod(kernel), g, mult), dtype=x.dtype)
    win = windows(_to_channels_last(x, geom), 1, kernel, geom.stride, geom.dilation, out_size)
    gyc = np.moveaxis(gy, 1, -1).reshape(-1, g, mult)  # (n·P, C, multiplier)
    for i, offs in enumerate(np.ndindex(*kernel)):
        gw[i] = np.einsum("rc,rcm->cm", win[(slice(None),) * (1 + len(out_size)) + offs].reshape(-1, g), gyc)
    return gw


# ---- per kernel offset, on shifted views (stride 1) ------------------------------------------------


def _offset_matrices(w: np.ndarray, groups: int) -> np.ndarray:
    """(G·Og, Cg, *kernel) -> (prod(kernel), G, Cg, Og): one (Cg x Og) matrix F_k per kernel offset and group."""
    o, cg = w.shape[:2]
    return np.ascontiguousarray(w.reshape(groups, o // groups, cg, -1).transpose(3, 0, 2, 1))


def _shifts(padded, kernel, dilation) -> list[int]:
    """Row shift of each kernel offset k in the flattened padded frame: Σ_i k_i·dilation_i·prod(padded[i+1:])."""
    lengths = [math.prod(padded[i + 1 :]) for i in range(len(padded))]
    return [sum(k * d * r for k, d, r in zip(offs, dilation, lengths, strict=True)) for offs in np.ndindex(*kernel)]


def _row_blocks(rows: int, cg: int, og: int) -> list[slice]:
    """Cache-sized blocks of output rows (see ``_conv_exec.SHIFT_BLOCK_ELEMENTS``)."""
    step = max(64, ex.SHIFT_BLOCK_ELEMENTS // max(cg, og))
    return [slice(r, min(rows, r + step)) for r in range(0, rows, step)]


def _valid(frame: np.ndarray, out_size) -> np.ndarray:
    """The output positions inside a padded-frame array (n, *S_padded, ...): the rest is garbage."""
    return frame[(slice(None), *(slice(0, q) for q in out_size))]


def _forward_shifted(x, wk, b, geom: Geometry, kernel, out_size, y) -> None:
    """O[r] = Σ_k X[r + shift_k] @ F_k on the flattened padded frame, in row blocks; then crop."""
    xp = _to_channels_last(x, geom)
    padded, (nk, g, cg, og) = xp.shape[1:-1], wk.shape
    shifts = _shifts(padded, kernel, geom.dilation)
    x2 = xp.reshape(-1, g, cg)
    rows = x2.shape[0] - shifts[-1]  # every valid output row is below this (the last window fits)
    acc = np.empty((x2.shape[0], g, og), dtype=x.dtype)

    def block(sl: slice) -> None:
        tmp = np.empty((sl.stop - sl.start, og), dtype=x.dtype)
        for j in range(g):
            dst = acc[sl, j]
            np.matmul(x2[sl.start + shifts[0] : sl.stop + shifts[0], j], wk[0, j], out=dst)
            for i in range(1, nk):
                np.matmul(x2[sl.start + shifts[i] : sl.stop + shifts[i], j], wk[i, j], out=tmp)
                dst += tmp

    for rows_block in _row_blocks(rows, cg, og):
        block(rows_block)
    valid = _valid(acc.reshape(x.shape[0], *padded, g * og), out_size)
    src = np.moveaxis(valid, -1, 1)
    if b is None:
        np.copyto(y, src)
    else:
        np.add(src, b.reshape(1, -1, *(1,) * len(out_size)), out=y)


def _grad_weight_shifted(x, gy, geom: Geometry, kernel) -> np.ndarray:
    """This chunk's ∂L/∂F_k = Σ_r X[r + shift_k]ᵀ ∂L/∂O[r], as (prod(kernel), G, Cg, Og)."""
    xp = _to_channels_last(x, geom)
    padded, out_size, g = xp.shape[1:-1], gy.shape[2:], geom.groups
    cg, og = xp.shape[-1] // g, gy.shape[1] // g
    shifts = _shifts(padded, kernel, geom.dilation)
    x2 = xp.reshape(-1, g, cg)
    frame = np.zeros((x.shape[0], *padded, g * og), dtype=gy.dtype)  # ∂L/∂O in the padded frame
    np.copyto(_valid(frame, out_size), np.moveaxis(gy, 1, -1))
    g2 = frame.reshape(-1, g, og)
    rows = x2.shape[0] - shifts[-1]

    def block(sl: slice) -> np.ndarray:
        gw = np.empty((len(shifts), g, cg, og), dtype=x.dtype)
        for j in range(g):
            for i, shift in enumerate(shifts):
                np.matmul(x2[sl.start + shift : sl.stop + shift, j].T, g2[sl, j], out=gw[i, j])
        return gw

    return sum(map(block, _row_blocks(rows, cg, og)))


# ---- forward, channel-major (stride 1, groups 1) ---------------------------------------------------


def _to_channel_major(x: np.ndarray, geom: Geometry) -> np.ndarray:
    """(n, C, *S) -> zero-padded (C, n, *S_padded): one copy that moves the channels first and pads."""
    return _padded_copy(np.swapaxes(x, 0, 1), 2, geom)


def _channel_major_matrix(w: np.ndarray) -> np.ndarray:
    """(O, C, *kernel) -> (O, prod(kernel)·C): column k·C + c is F[:, c, k], matching the rows of the columns."""
    o, c = w.shape[:2]
    return np.ascontiguousarray(w.reshape(o, c, -1).transpose(0, 2, 1)).reshape(o, -1)


def _forward_channel_major(x, fm, b, geom: Geometry, kernel, out_size, y) -> None:
    """O[:, r] = F @ [X[:, r + shift_k] for every offset k], on the flattened channel-major padded frame.

    The same shifted views as :func:`_forward_shifted`, but with the channels as rows: the columns of
    a block of output positions are the k² shifted (C x block) slices of one buffer stacked (whole-row
    copies), and one GEMM (O x k²C) @ (k²C x block) makes the block. Pixels are then the long side of
    the GEMM, which OpenBLAS runs faster than the pixels-as-rows GEMMs when the channels are few.
    Garbage columns (windows that wrap past a row's end) are cropped.
    """
    xp = _to_channel_major(x, geom)
    c, n, padded = xp.shape[0], xp.shape[1], xp.shape[2:]
    flat = xp.reshape(c, -1)
    shifts = _shifts(padded, kernel, geom.dilation)
    rows = flat.shape[1] - shifts[-1]  # every valid output position is below this (the last window fits)
    frame = np.empty((fm.shape[0], flat.shape[1]), dtype=x.dtype)
    step = max(64, ex.CHANNEL_MAJOR_BLOCK_ELEMENTS // fm.shape[1])
    cols = np.empty((fm.shape[1], min(step, rows)), dtype=x.dtype)
    for start in range(0, rows, step):
        width = min(step, rows - start)
        for i, shift in enumerate(shifts):
            cols[i * c : (i + 1) * c, :width] = flat[:, start + shift : start + shift + width]
        np.matmul(fm, cols[:, :width], out=frame[:, start : start + width])
    valid = frame.reshape(-1, n, *padded)[(slice(None), slice(None), *(slice(0, q) for q in out_size))]
    src = np.swapaxes(valid, 0, 1)
    if b is None:
        np.copyto(y, src)
    else:
        np.add(src, b.reshape(1, -1, *(1,) * len(out_size)), out=y)


# ---- ∂L/∂X = full correlation of ∂L/∂O with rot180(F), as col2im --------------------------------


def grad_input_col2im(gy: np.ndarray, w: np.ndarray, input_shape, geom: Geometry) -> np.ndarray:
    """∂L/∂X as col2im(∂L/∂O @ Fᵀ) per group; depthwise, col2im of ∂L/∂O · F[:, k] per offset k.

    Entry ``(p, k)`` of ``∂L/∂O @ Fᵀ`` is added into ``∂L/∂X_pad[p·stride + k·dilation]``: the
    full correlation's terms, without multiplying the zeros a stride inserts into ∂L/∂O.
    """
    n, c, *size = input_shape
    o, _, *kernel = w.shape
    g = geom.groups
    out_size = tuple(gy.shape[2:])
    depthwise = is_depthwise(w.shape, g)
    gx = np.empty(input_shape, dtype=gy.dtype)
    weights = w.reshape(g, o // g, -1) if depthwise else _weight_matrix(w, g).transpose(0, 2, 1)
    chunk = _grad_input_depthwise if depthwise else _grad_input_gemm
    slices, threaded = _batches(n, gy.dtype, geom.padded(size), c, out_size, o, kernel, depthwise)
    ex.run(lambda sl: chunk(gy[sl], weights, geom, kernel, gx[sl]), slices, threaded)
    return gx


def _grad_input_gemm(gy, wt, geom: Geometry, kernel, gx) -> None:
    m, out_size, g = gy.shape[0], gy.shape[2:], geom.groups
    cg = gx.shape[1] // g
    rows = _grouped_rows(gy, g)  # (G, m·P, Og)
    gxp = np.zeros((m, *geom.padded(gx.shape[2:]), g, cg), dtype=gy.dtype)
    # col2im one kernel offset at a time when a group has at least 4 input channels: with a GEMM per
    # offset, each offset's block (m, *out, C) is contiguous, so its += runs along whole rows of
    # pixels·channels instead of C-long pieces, and only one block is alive at a time. With fewer
    # channels those GEMMs would be slivers (Cg wide), so one GEMM makes all blocks at once
    # (measured 2x faster for Cg = 1, 2x slower for Cg = 6).
    wt = wt.reshape(g, wt.shape[1], -1, cg)  # (G, Og, prod(kernel), Cg)
    cols = ex.matmul(rows, wt.reshape(g, wt.shape[1], -1)).reshape(g, -1, wt.shape[2], cg) if cg < 4 else None
    for i, offs in enumerate(np.ndindex(*kernel)):
        part = ex.matmul(rows, wt[:, :, i]) if cols is None else cols[:, :, i]
        part = np.moveaxis(part.reshape(g, m, *out_size, cg), 0, -2)  # (m, *out, G, Cg)
        view = gxp[(slice(None), *window_slices(offs, geom.stride, geom.dilation, out_size))]
        np.add(view, part, out=view)
    _from_channels_last(gxp.reshape(*gxp.shape[:-2], -1), geom, gx)


def _grad_input_depthwise(gy, wk, geom: Geometry, kernel, gx) -> None:
    m, out_size = gy.shape[0], gy.shape[2:]
    g, mult = wk.shape[:2]
    gyc = np.moveaxis(gy, 1, -1).reshape(m, *out_size, g, mult)
    gxp = np.zeros((m, *geom.padded(gx.shape[2:]), g), dtype=gy.dtype)
    for i, offs in enumerate(np.ndindex(*kernel)):
        dst = window_slices(offs, geom.stride, geom.dilation, out_size)
        gxp[(slice(None), *dst)] += np.einsum("...cm,cm->...c", gyc, wk[:, :, i])
    _from_channels_last(gxp, geom, gx)


def literal_pays(weight_shape, in_channels: int, geom: Geometry) -> bool:
    """Whether stride-1 ∂L/∂X should run as the literal full correlation (a forward convolution).

    Its im2col copies ∂L/∂O, which has O channels against X's C: worth it while O <= 2C (the
    columns are then not much bigger than col2im's adds). A depthwise filter stays depthwise when
    rotated and swapped only with multiplier 1 (O == C).
    """
    o = weight_shape[0]
    return o == in_channels if is_depthwise(weight_shape, geom.groups) else o <= 2 * in_channels
