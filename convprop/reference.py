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
