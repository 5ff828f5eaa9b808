"""The article's formulas, literally: the slow, obviously correct oracle.

Nothing here is fast and nothing here is clever. Each function is one line of
the derivation in ``shared/seed`` (O = X ⋆ F; ∂L/∂F = X ⋆ ∂L/∂O; ∂L/∂X = the
full correlation of ∂L/∂O with rot180(F); max pooling routes to the argmax;
average pooling spreads evenly), written with explicit loops so it can be
read beside the article. The tests use it as an oracle for the fast kernels
in ``convprop.ops``.
"""

from __future__ import annotations

import numpy as np

# ---- convolution -------------------------------------------------------------
# Single-channel primitives first (each one a step of the article), then the layer:
# batch, channels and groups are plain loops around them.


def pad(a: np.ndarray, pads) -> np.ndarray:
    """Surround ``a`` with zeros: ``pads[i] = (before, after)`` on axis ``i``."""
    out = np.zeros(tuple(s + lo + hi for s, (lo, hi) in zip(a.shape, pads, strict=True)), dtype=a.dtype)
    out[tuple(slice(lo, lo + s) for s, (lo, _) in zip(a.shape, pads, strict=True))] = a
    return out


def crop(a: np.ndarray, pads) -> np.ndarray:
    """Undo :func:`pad`: drop ``pads[i] = (before, after)`` elements from the ends of axis ``i``."""
    return a[tuple(slice(lo, s - hi) for s, (lo, hi) in zip(a.shape, pads, strict=True))]


def dilate(a: np.ndarray, factor) -> np.ndarray:
    """Insert ``factor - 1`` zeros between neighbouring elements along every axis."""
    out = np.zeros(tuple((s - 1) * f + 1 for s, f in zip(a.shape, factor, strict=True)), dtype=a.dtype)
    out[tuple(slice(None, None, f) for f in factor)] = a
    return out


def rot180(f: np.ndarray) -> np.ndarray:
    """Rotate a filter by 180° (reverse every axis): what turns correlation into true convolution."""
    return f[(slice(None, None, -1),) * f.ndim]


def correlate(x: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Valid cross-correlation with stride 1: slide ``f`` over ``x``, multiply, sum.

    ``out[i] = Σ_k x[i + k] · f[k]``; the output has ``x.shape - f.shape + 1`` elements per axis.
    Works on object arrays too (SymPy symbols), to print the article's equations.
    """
    shape = tuple(a - b + 1 for a, b in zip(x.shape, f.shape, strict=True))
    out = np.zeros(shape, dtype=np.result_type(x, f))
    for i in np.ndindex(*shape):
        window = x[tuple(slice(a, a + b) for a, b in zip(i, f.shape, strict=True))]
        out[i] = np.sum(window * f)
    return out


def _geometry(nd: int, stride, padding, dilation):
    """Per-axis stride, (before, after) padding pairs and dilation from ints, tuples or pairs."""

    def each(v):
        return (v,) * nd if isinstance(v, int) else tuple(v)

    pads = tuple(p if isinstance(p, tuple) else (p, p) for p in each(padding))
    return each(stride), pads, each(dilation)


def conv_forward(x, w, b=None, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    """O = X ⋆ F: ``O[n, o] = b[o] + Σ_{c ∈ group(o)} correlate(pad(X[n, c]), dilate(F[o, c], dilation))``
    kept every ``stride`` elements.

    ``x`` is (N, C, *S), ``w`` is (C_out, C / groups, *K). ``padding`` is an int, one int per axis or
    one ``(before, after)`` pair per axis.
    """
    stride, pads, dilation = _geometry(x.ndim - 2, stride, padding, dilation)
    cg, og = w.shape[1], w.shape[0] // groups
    every = tuple(slice(None, None, s) for s in stride)
    out = []
    for n in range(x.shape[0]):
        maps = []
        for o in range(w.shape[0]):
            first = (o // og) * cg
            acc = sum(correlate(pad(x[n, first + c], pads), dilate(w[o, c], dilation))[every] for c in range(cg))
            maps.append(acc if b is None else acc + b[o])
        out.append(maps)
    return np.array(out)


def conv_grad_weight(x, gy, weight_shape, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    """∂L/∂F = X ⋆ ∂L/∂O, summed over the batch, with ∂L/∂O dilated by the stride:
    ``∂L/∂F[o, c] = Σ_n correlate(pad(X[n, c]), dilate(∂L/∂O[n, o], stride))``, read every
    ``dilation`` elements (a dilated filter only touches those positions), first K of them.
    """
    stride, pads, dilation = _geometry(x.ndim - 2, stride, padding, dilation)
    o_total, cg, *kernel = weight_shape
    og = o_total // groups
    taps = tuple(slice(0, d * (k - 1) + 1, d) for d, k in zip(dilation, kernel, strict=True))
    out = []
    for o in range(o_total):
        first = (o // og) * cg
        out.append(
            [
                sum(correlate(pad(x[n, first + c], pads), dilate(gy[n, o], stride))[taps] for n in range(x.shape[0]))
                for c in range(cg)
            ]
        )
    return np.array(out)


def conv_grad_input(gy, w, input_shape, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    """∂L/∂X = the full correlation of ∂L/∂O with rot180(F), in/out channels swapped:
    ``∂L/∂X[n, c] = crop(Σ_{o ∈ group(c)} correlate(pad(dilate(∂L/∂O[n, o], stride), full),
    rot180(dilate(F[o, c], dilation))), padding)``.

    ``full`` pads by (dilated kernel − 1) on each side, plus the floor remainder on the far side: the
    input positions after the last window, which no output read and whose gradient is zero.
    """
    stride, pads, dilation = _geometry(len(input_shape) - 2, stride, padding, dilation)
    n_total, c_total, *size = input_shape
    o_total, cg = w.shape[:2]
    og = o_total // groups
    out = []
    for n in range(n_total):
        maps = []
        for c in range(c_total):
            g, ci = divmod(c, cg)
            acc = 0
            for o in range(g * og, (g + 1) * og):
                d_o = dilate(gy[n, o], stride)
                f = dilate(w[o, ci], dilation)
                padded = tuple(s + lo + hi for s, (lo, hi) in zip(size, pads, strict=True))
                full = tuple(
                    (k - 1, k - 1 + p - (a + k - 1)) for k, p, a in zip(f.shape, padded, d_o.shape, strict=True)
                )
                acc = acc + correlate(pad(d_o, full), rot180(f))
            maps.append(crop(acc, pads))
        out.append(maps)
    return np.array(out)


def conv_transpose_forward(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """A transposed convolution is the convolution's ∂L/∂X with ``x`` in the role of ∂L/∂O.

    ``w`` is (C_in, C_out / groups, *K); the output size per axis is
    ``(S − 1)·stride − 2·padding + dilation·(K − 1) + output_padding + 1``.
    """
    nd = x.ndim - 2
    stride, pads, dilation = _geometry(nd, stride, padding, dilation)
    output_padding = _geometry(nd, 1, 0, output_padding)[2]
    size = tuple(
        (s - 1) * st - lo - hi + d * (k - 1) + q + 1
        for s, st, (lo, hi), d, k, q in zip(
            x.shape[2:], stride, pads, dilation, w.shape[2:], output_padding, strict=True
        )
    )
    y = conv_grad_input(x, w, (x.shape[0], w.shape[1] * groups, *size), stride, pads, dilation, groups)
    return y if b is None else y + np.reshape(b, (-1,) + (1,) * nd)


# ---- pooling -----------------------------------------------------------------
#
# A pooling is a list of windows, each the input positions it reads in row-major order. Max pooling:
# the output is the window's first maximum, and the gradient goes to that one position. Average
# pooling: the output is the window's sum divided by D, and each position of the window gets
# ∂L/∂O / D. Arrays are (N, C, *spatial); positions are spatial and every (N, C) plane is pooled alike.


def _window_starts(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> list[int]:
    """Start (input coordinate) of each window along one axis, found by sliding the window along.

    Windows start at −p, −p + s, −p + 2s, …. Without ceil_mode a window is kept while it fits inside
    the padded input [−p, n + p). With ceil_mode a window may also hang over the padded end, if the
    previous window left part of the padded input uncovered and this one starts before the right
    padding (a window starting in the right padding would see no input element).
    """
    span = d * (k - 1) + 1
    starts = []
    start = -p
    while (start < n and start - s + span < n + p) if ceil_mode else (start + span <= n + p):
        starts.append(start)
        start += s
    return starts


def _regular_windows(size, kernel_size, stride, padding, dilation, ceil_mode):
    """Output size and, per output position, (its positions inside the input, its count inside the padded input)."""
    axes = list(zip(size, kernel_size, stride, padding, dilation, strict=True))
    starts = [_window_starts(*axis, ceil_mode) for axis in axes]
    windows = {}
    for o in np.ndindex(*(len(st) for st in starts)):
        inside, in_padded = [], 0
        for j in np.ndindex(*kernel_size):
            pos = tuple(st[i] + jj * d for st, i, jj, d in zip(starts, o, j, dilation, strict=True))
            if all(-p <= q < n + p for q, n, p in zip(pos, size, padding, strict=True)):
                in_padded += 1
            if all(0 <= q < n for q, n in zip(pos, size, strict=True)):
                inside.append(pos)
        windows[o] = (inside, in_padded)
    return tuple(len(st) for st in starts), windows


def _adaptive_windows(size, output_size):
    """Window i of an axis of size n with output size o covers floor(i·n/o) .. ceil((i+1)·n/o) − 1."""
    bounds = [[(i * n // o, -(-((i + 1) * n) // o)) for i in range(o)] for n, o in zip(size, output_size, strict=True)]
    windows = {}
    for o in np.ndindex(*output_size):
        first_last = [axis[i] for axis, i in zip(bounds, o, strict=True)]
        inside = [
            tuple(lo + j for (lo, _), j in zip(first_last, js, strict=True))
            for js in np.ndindex(*(hi - lo for lo, hi in first_last))
        ]
        windows[o] = (inside, len(inside))
    return tuple(output_size), windows


def _max_over(x, out_size, windows):
    """Every window's first maximum and its flat index in the (N, C) plane (PyTorch's ``return_indices``).

    Row-major order; a strictly greater element replaces the maximum (so ties keep the first one) and
    so does a NaN (so a NaN is the maximum and the last NaN wins, as in PyTorch).
    """
    out = np.empty(x.shape[:2] + out_size, dtype=x.dtype)
    indices = np.empty(out.shape, dtype=np.int64)
    for n, c in np.ndindex(*x.shape[:2]):
        for o, (inside, _) in windows.items():
            best, where = None, None
            for pos in inside:
                v = x[(n, c, *pos)]
                if where is None or v > best or np.isnan(v):
                    best, where = v, pos
            out[(n, c, *o)] = best
            indices[(n, c, *o)] = np.ravel_multi_index(where, x.shape[2:])
    return out, indices


def max_pool(x, kernel_size, stride, padding, dilation, ceil_mode=False):
    """Max pooling of ``x`` (N, C, *spatial); parameters are per-axis tuples. Returns (out, indices)."""
    return _max_over(x, *_regular_windows(x.shape[2:], kernel_size, stride, padding, dilation, ceil_mode))


def adaptive_max_pool(x, output_size):
    """Adaptive max pooling of ``x`` (N, C, *spatial) to the tuple ``output_size``. Returns (out, indices)."""
    return _max_over(x, *_adaptive_windows(x.shape[2:], output_size))


def max_pool_backward(grad_out, indices, input_shape):
    """∂L/∂X of either max pooling: each output's gradient goes to its window's maximum; overlaps add up."""
    gx = np.zeros(input_shape, dtype=grad_out.dtype)
    for n, c, *o in np.ndindex(*grad_out.shape):
        pos = np.unravel_index(indices[(n, c, *o)], input_shape[2:])
        gx[(n, c, *pos)] += grad_out[(n, c, *o)]
    return gx


def _divisors(windows, count_include_pad, divisor_override):
    """D per window: ``divisor_override``, else the window's count inside the padded input or inside the input."""
    if divisor_override is not None:
        return {o: divisor_override for o in windows}
    return {o: in_padded if count_include_pad else len(inside) for o, (inside, in_padded) in windows.items()}


def _average(x, out_size, windows, divisors):
    out = np.empty(x.shape[:2] + out_size, dtype=x.dtype)
    for n, c in np.ndindex(*x.shape[:2]):
        for o, (inside, _) in windows.items():
            out[(n, c, *o)] = sum(x[(n, c, *pos)] for pos in inside) / divisors[o]
    return out


def _spread(grad_out, input_shape, windows, divisors):
    gx = np.zeros(input_shape, dtype=grad_out.dtype)
    for n, c in np.ndindex(*grad_out.shape[:2]):
        for o, (inside, _) in windows.items():
            for pos in inside:
                gx[(n, c, *pos)] += grad_out[(n, c, *o)] / divisors[o]
    return gx


def avg_pool(x, kernel_size, stride, padding, ceil_mode=False, count_include_pad=True, divisor_override=None):
    """Average pooling of ``x`` (N, C, *spatial): each window's sum divided by its divisor D."""
    out_size, windows = _regular_windows(x.shape[2:], kernel_size, stride, padding, (1,) * len(kernel_size), ceil_mode)
    return _average(x, out_size, windows, _divisors(windows, count_include_pad, divisor_override))


def avg_pool_backward(
    grad_out, input_shape, kernel_size, stride, padding, ceil_mode=False, count_include_pad=True, divisor_override=None
):
    """∂L/∂X of average pooling: each window's gradient divided by D, added to every position of the window."""
    _, windows = _regular_windows(input_shape[2:], kernel_size, stride, padding, (1,) * len(kernel_size), ceil_mode)
    return _spread(grad_out, input_shape, windows, _divisors(windows, count_include_pad, divisor_override))


def adaptive_avg_pool(x, output_size):
    """Adaptive average pooling of ``x`` (N, C, *spatial): each window's mean."""
    out_size, windows = _adaptive_windows(x.shape[2:], output_size)
    return _average(x, out_size, windows, _divisors(windows, False, None))


def adaptive_avg_pool_backward(grad_out, input_shape):
    """∂L/∂X of adaptive average pooling: each window's gradient spread evenly over it."""
    _, windows = _adaptive_windows(input_shape[2:], grad_out.shape[2:])
    return _spread(grad_out, input_shape, windows, _divisors(windows, False, None))
