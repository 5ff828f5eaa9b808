r"""Max, average and adaptive pooling: one N-d implementation for 1-D, 2-D and 3-D.

Pooling has no parameters, but it decides where the gradient flows (the article's rule).
For a window w of the input X, with output O[w] and upstream gradient ∂L/∂O[w]:

=========  =====================================  ===================================================
pooling    forward                                backward
=========  =====================================  ===================================================
max        O[w] = max_{x ∈ w} x                   ∂L/∂x = ∂L/∂O[w] for x = argmax of w, 0 for the rest
average    O[w] = (1 / D_w) Σ_{x ∈ w} x           ∂L/∂x = ∂L/∂O[w] / D_w for every x ∈ w
=========  =====================================  ===================================================

The argmax is the first maximum in row-major window order, so ties go to the earliest element; a NaN
counts as the maximum and among several NaNs the last one wins (both as in PyTorch). Padding is never
the argmax. Where windows overlap (stride < kernel) an element collects the gradient of every window
that picked or averaged it: the chain rule's sum over all the outputs that read it. D_w is the
kernel volume; with ``count_include_pad=False`` only the window's elements inside the input; with
``divisor_override`` that number. ``convprop.reference`` computes all of this with literal loops.

How the fast path is laid out. Window ``o`` of an axis reads input position
``o·stride − padding + j·dilation`` at kernel offset ``j``. The padded input is split once into
``stride`` phases per axis (padded position ``m·stride + a`` goes to phase ``a``, row ``m``; phases
that no kernel offset reads are dropped), so that kernel offset ``j`` of every window is one
contiguous block: phase ``(j·dilation) mod stride``, rows ``(j·dilation) div stride`` onward.
Forward and backward then loop over kernel offsets only (4 for a 2x2 kernel), each step one
whole-array NumPy operation over all batches, channels and windows. The split costs one copy but
pays for itself: NumPy's SIMD loops need unit-stride inner axes, and each operation on a stride-2
view directly is several times slower. When windows do not overlap and there is no padding, the
backward writes each offset's share straight into its strided slice of ∂L/∂X.

Adaptive pooling: window ``i`` of an axis of size L with output size S covers input positions
``floor(i·L/S)`` to ``ceil((i+1)·L/S) − 1``. Average pooling is separable: it multiplies each axis
by its S x L averaging matrix A (row i holds 1/size_i on window i), and the backward pass by Aᵀ;
a NaN or ±inf, for which 0·inf = NaN would leak into every window, is kept to its own windows.
Max pooling runs on the path above when every S divides its L (kernel = stride = L/S); otherwise
it gathers each kernel offset with index arrays and scatter-adds the gradient by flat index.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from convprop.ops._args import check_input, nonnegative, positive
from convprop.tensor import Function, Tensor, is_grad_enabled

# ---- window geometry -----------------------------------------------------------------------------


def _output_size(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output size on one axis.

    ``⌊(size + 2p − d(k − 1) − 1) / s⌋ + 1``; with ``ceil_mode`` the ceiling instead, minus one if the
    last window would then start in the right padding (it would hold no input element).
    """
    span = size + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _axis_slice(nd: int, axis: int, sl: slice) -> tuple:
    """Index selecting ``sl`` on spatial ``axis`` (of ``nd``) and everything on the others."""
    return (Ellipsis, *(sl if i == axis else slice(None) for i in range(nd)))


class _Grid:
    """The windows of a regular pooling: window o of an axis reads o·stride − padding + j·dilation, j < kernel.

    Also serves adaptive pooling when every output size divides its input size.
    """

    def __init__(self, size, kernel, stride, padding, dilation, out):
        self.size, self.kernel, self.stride = tuple(size), tuple(kernel), tuple(stride)
        self.padding, self.dilation, self.out = tuple(padding), tuple(dilation), tuple(out)
        axes = list(zip(self.size, self.kernel, self.stride, self.padding, self.dilation, self.out, strict=True))
        # phase rows needed so that the farthest element of the last window exists
        self.rows = tuple(o + (k - 1) * d // s for n, k, s, p, d, o in axes)
        # only the phases some kernel offset reads are kept: a stride wider than the kernel never
        # reads the positions in between, and there can be far more phases than offsets
        self.phases = tuple(sorted({j * d % s for j in range(k)}) for n, k, s, p, d, o in axes)
        self.disjoint = all(p == 0 and (k - 1) * d < s and (o - 1) * s + (k - 1) * d < n for n, k, s, p, d, o in axes)

    @property
    def n_offsets(self) -> int:
        return math.prod(self.kernel)

    def _offsets(self) -> Iterator[tuple[int, ...]]:
        """Kernel offsets in row-major order: the order in which the first maximum is searched."""
        return itertools.product(*map(range, self.kernel))

    def _blocks(self) -> Iterator[tuple[tuple[int, ...], tuple]]:
        """(phase, rows) holding kernel offset j of every window, for each offset in row-major order."""
        for offs in self._offsets():
            t = [j * d for j, d in zip(offs, self.dilation, strict=True)]
            phase = tuple(used.index(tj % s) for tj, s, used in zip(t, self.stride, self.phases, strict=True))
            rows = tuple(slice(tj // s, tj // s + o) for tj, s, o in zip(t, self.stride, self.out, strict=True))
            yield phase, (Ellipsis, *rows)

    def _phase_rows(self):
        """For each kept phase (its index): per axis the rows [lo, hi) that hold input elements, and the
        input slice they hold. Row m of phase a is padded position m·s + a, input position m·s + a − p.
        """
        for phase in itertools.product(*(range(len(used)) for used in self.phases)):
            ranges = []
            for i, used, n, s, p, m in zip(
                phase, self.phases, self.size, self.stride, self.padding, self.rows, strict=True
            ):
                a = used[i]
                lo = max(0, -((a - p) // s))  # first row at input position >= 0
                hi = max(lo, min(m, -((a - p - n) // s)))  # rows before input position n
                first = lo * s + a - p
                ranges.append((lo, hi, slice(first, first + (hi - lo - 1) * s + 1, s)))
            yield phase, ranges

    def split(self, x: np.ndarray, fill) -> np.ndarray:
        """The input padded with ``fill``, as its kept phases: shape (*phases, *lead, *rows); see the module doc."""
        nd = len(self.size)
        if all(s == 1 for s in self.stride) and not any(self.padding) and self.rows == self.size:
            return x.reshape((1,) * nd + x.shape)
        ph = np.empty((*map(len, self.phases), *x.shape[:-nd], *self.rows), dtype=x.dtype)
        for phase, ranges in self._phase_rows():
            view = ph[phase]
            if any(hi == lo for lo, hi, _ in ranges):
                view[...] = fill
                continue
            # only the rows outside the input get the fill; the rest is overwritten right away
            for axis, (lo, hi, _) in enumerate(ranges):
                view[_axis_slice(nd, axis, slice(0, lo))] = fill
                view[_axis_slice(nd, axis, slice(hi, None))] = fill
            view[(Ellipsis, *(slice(lo, hi) for lo, hi, _ in ranges))] = x[(Ellipsis, *(sl for _, _, sl in ranges))]
        return ph

    def windows(self, ph: np.ndarray) -> Iterator[np.ndarray]:
        """For each kernel offset (row-major), that element of every window: arrays of shape (*lead, *out)."""
        for phase, rows in self._blocks():
            yield ph[phase][rows]

    def first_valid(self) -> np.ndarray | int:
        """Per window, the offset of its first element inside the input (PyTorch's argmax when all are -inf)."""
        if not any(self.padding):
            return 0
        flat = np.zeros((1,) * len(self.size), dtype=np.int64)
        for axis, (k, s, p, d, o) in enumerate(
            zip(self.kernel, self.stride, self.padding, self.dilation, self.out, strict=True)
        ):
            first = np.maximum(0, -((np.arange(o) * s - p) // d))  # ceil((p − o·s) / d)
            flat = flat * k + first.reshape(_axis_shape(len(self.size), axis, o))
        return flat

    def positions(self, offset: np.ndarray) -> list[np.ndarray]:
        """Input position, per axis, of each window's element at ``offset`` (a row-major kernel offset)."""
        js = np.unravel_index(offset, self.kernel)
        nd = len(self.size)
        return [
            (np.arange(o) * s - p).reshape(_axis_shape(nd, axis, o)) + j * d
            for axis, (j, s, p, d, o) in enumerate(
                zip(js, self.stride, self.padding, self.dilation, self.out, strict=True)
            )
        ]

    def scatter(self, parts: Iterable[np.ndarray], x_shape, dtype) -> np.ndarray:
        """∂L/∂X from each kernel offset's share (shape (*lead, *out)): add it at the positions it was read from."""
        nd = len(self.size)
        if self.disjoint:
            # each input element is read by at most one window: plain strided writes, nothing to add
            gx = np.zeros(x_shape, dtype=dtype)
            for offs, part in zip(self._offsets(), parts, strict=True):
                dst = tuple(
                    slice(j * d, j * d + (o - 1) * s + 1, s)
                    for j, d, s, o in zip(offs, self.dilation, self.stride, self.out, strict=True)
                )
                gx[(Ellipsis, *dst)] = part
            return gx
        gph = np.zeros((*map(len, self.phases), *x_shape[:-nd], *self.rows), dtype=dtype)
        for (phase, rows), part in zip(self._blocks(), parts, strict=True):
            gph[phase][rows] += part
        gx = np.zeros(x_shape, dtype=dtype)  # elements no window reaches keep a zero gradient
        for phase, ranges in self._phase_rows():
            if all(hi > lo for lo, hi, _ in ranges):
                gx[(Ellipsis, *(sl for _, _, sl in ranges))] = gph[phase][
                    (Ellipsis, *(slice(lo, hi) for lo, hi, _ in ranges))
                ]
        return gx

    def route(self, gy: np.ndarray, arg: np.ndarray, x_shape) -> np.ndarray:
        """Max pooling backward: each window's gradient to its argmax (kernel offset ``arg``)."""
        return self.scatter((gy * (arg == k) for k in range(self.n_offsets)), x_shape, gy.dtype)

    def divisor(self, count_include_pad: bool, divisor_override, dtype) -> np.ndarray | float:
        """D_w per window (shape broadcastable to (*out)), or one number when it is the same everywhere."""
        if divisor_override is not None:
            return float(divisor_override)
        nd = len(self.size)
        total = np.ones((1,) * nd)
        for axis, (n, k, s, p, o) in enumerate(
            zip(self.size, self.kernel, self.stride, self.padding, self.out, strict=True)
        ):
            start = np.arange(o) * s - p
            end = np.minimum(start + k, n + p)  # a ceil_mode window overhanging the padding counts only to its edge
            count = end - start if count_include_pad else np.minimum(end, n) - np.maximum(start, 0)
            total = total * count.reshape(_axis_shape(nd, axis, o))
        if np.all(total == math.prod(self.kernel)):
            return float(math.prod(self.kernel))
        return total.astype(dtype)


class _AdaptiveWindows:
    """Adaptive windows that are not a regular grid: window i of an axis covers floor(i·L/S) .. ceil((i+1)·L/S) − 1."""

    def __init__(self, size, out):
        self.size, self.out = tuple(size), tuple(out)
        self.start = [np.arange(o) * n // o for n, o in zip(size, out, strict=True)]
        self.end = [-(-(np.arange(1, o + 1) * n) // o) for n, o in zip(size, out, strict=True)]
        self.kernel = tuple(int(np.max(e - b)) for b, e in zip(self.start, self.end, strict=True))

    @property
    def n_offsets(self) -> int:
        return math.prod(self.kernel)

    def _index(self, axis: int, j):
        """Input position of offset j in every window of ``axis``; past a short window's end it repeats the
        window's last element, which changes neither the first maximum nor the last NaN."""
        return np.minimum(self.start[axis] + j, self.end[axis] - 1)

    def windows(self, x: np.ndarray) -> Iterator[np.ndarray]:
        for offs in itertools.product(*map(range, self.kernel)):
            yield x[(Ellipsis, *np.ix_(*(self._index(axis, j) for axis, j in enumerate(offs))))]

    def split(self, x: np.ndarray, fill) -> np.ndarray:
        """Adaptive windows never reach outside the input: nothing to pad."""
        return x

    def first_valid(self) -> int:
        return 0

    def positions(self, offset: np.ndarray) -> list[np.ndarray]:
        js = np.unravel_index(offset, self.kernel)
        nd = len(self.size)
        return [
            np.minimum(self.start[a].reshape(_axis_shape(nd, a, o)) + j, self.end[a].reshape(_axis_shape(nd, a, o)) - 1)
            for a, (j, o) in enumerate(zip(js, self.out, strict=True))
        ]

    def route(self, gy: np.ndarray, arg: np.ndarray, x_shape) -> np.ndarray:
        """Max pooling backward: each window's gradient to its argmax, summed where windows share it."""
        plane = math.prod(self.size)
        lead = gy.shape[: gy.ndim - len(self.size)]
        flat = _flat_index(self.positions(arg), self.size)
        flat = flat + (np.arange(math.prod(lead)) * plane).reshape(lead + (1,) * len(self.size))
        gx = np.zeros(math.prod(x_shape), dtype=gy.dtype)
        np.add.at(gx, flat.ravel(), gy.ravel())  # 1-D add.at: NumPy's fast path for a scatter-add
        return gx.reshape(x_shape)


def _axis_shape(nd: int, axis: int, n: int) -> tuple[int, ...]:
    """Shape that broadcasts a length-n vector along spatial ``axis`` of (*lead, *out)."""
    return tuple(n if i == axis else 1 for i in range(nd))


def _flat_index(positions: Sequence[np.ndarray], size) -> np.ndarray:
    """Row-major index into one (N, C) plane of spatial shape ``size`` (PyTorch's ``return_indices``)."""
    flat = np.zeros((), dtype=np.int64)
    for pos, n in zip(positions, size, strict=True):
        flat = flat * n + pos
    return flat.astype(np.int64, copy=False)


def _adaptive_windows(size, out) -> _Grid | _AdaptiveWindows:
    if all(n % o == 0 for n, o in zip(size, out, strict=True)):
        k = tuple(n // o for n, o in zip(size, out, strict=True))
        return _Grid(size, k, k, (0,) * len(size), (1,) * len(size), out)
    return _AdaptiveWindows(size, out)


# ---- max pooling ---------------------------------------------------------------------------------


def _window_max(views: Iterable[np.ndarray], first, n_offsets: int, nan_aware: bool):
    """Maximum and argmax (kernel offset) of every window, from its elements offset by offset.

    The argmax starts at each window's first element inside the input and moves to offset k only when
    the element there is strictly greater (so ties keep the earliest) or, with ``nan_aware``, is NaN
    (so the last NaN wins). Offsets arrive in increasing order, so "set arg to k where moved" is
    ``max(arg, moved·k)``: two cheap arithmetic passes instead of a slow masked copy.
    """
    it = iter(views)
    best = next(it).copy()
    arg = np.zeros(best.shape, dtype=np.min_scalar_type(n_offsets - 1))
    arg[...] = first
    # scratch buffers reused across offsets: fresh arrays would page-fault in on every step
    moved, nan, step = np.empty(best.shape, bool), np.empty(best.shape, bool), np.empty_like(arg)
    for k, v in enumerate(it, start=1):
        np.greater(v, best, out=moved)
        if nan_aware:
            moved |= np.isnan(v, out=nan)
        np.maximum(best, v, out=best)  # NaN propagates whatever the argmax does
        np.maximum(arg, np.multiply(moved, arg.dtype.type(k), out=step), out=arg)
    return best, arg


def _max_pool_kernel(x: np.ndarray, win, want_arg: bool):
    """(values, argmax offsets or None) of every window of ``x``; padding reads as the dtype's lowest value."""
    fill = -np.inf if np.issubdtype(x.dtype, np.floating) else np.iinfo(x.dtype).min
    src = win.split(x, fill)
    if not want_arg:
        views = win.windows(src)
        best = next(views).copy()
        for v in views:
            np.maximum(best, v, out=best)
        return best, None
    best, arg = _window_max(win.windows(src), win.first_valid(), win.n_offsets, nan_aware=False)
    # np.maximum already put every NaN into best; only a window holding one needs its argmax redone
    if np.issubdtype(best.dtype, np.floating) and best.size and np.isnan(np.max(best)):
        best, arg = _window_max(win.windows(src), win.first_valid(), win.n_offsets, nan_aware=True)
    return best, arg


class MaxPoolNd(Function):
    r"""Max pooling over any number of spatial axes.

    Forward: ``O[w] = max_{x ∈ w} x``. Backward: ``∂L/∂X[argmax w] += ∂L/∂O[w]``, zero elsewhere.

    The values and argmax are computed by :func:`_max_pool_kernel` before ``apply`` so that
    ``return_indices`` reuses the same argmax; ``forward`` keeps what the backward pass needs.
    """

    formula = "∂L/∂X[argmax w] += ∂L/∂O[w]"

    def forward(self, x, windows, values, arg):
        self.windows, self.arg, self.x_shape = windows, arg, x.shape
        return values

    def backward(self, grad_out):
        if not self.needs_input_grad[0]:
            return None
        return self.windows.route(grad_out, self.arg, self.x_shape)


def _max_pool(input, win, return_indices: bool):
    want_arg = return_indices or (input.requires_grad and is_grad_enabled())
    values, arg = _max_pool_kernel(input.data, win, want_arg)
    out = MaxPoolNd.apply(input, windows=win, values=values, arg=arg)
    if not return_indices:
        return out
    return out, Tensor._wrap(_flat_index(win.positions(arg), win.size))


# ---- average pooling ---------------------------------------------------------------------------


class AvgPoolNd(Function):
    r"""Average pooling over any number of spatial axes, on a regular grid of windows.

    Forward: ``O[w] = (1 / D_w) Σ_{x ∈ w} x``. Backward: ``∂L/∂x += ∂L/∂O[w] / D_w`` for every x ∈ w.
    """

    formula = "∂L/∂x += ∂L/∂O[w] / D_w"

    def forward(self, x, grid: _Grid, divisor):
        views = grid.windows(grid.split(x, 0))
        total = next(views) + next(views) if grid.n_offsets > 1 else next(views).copy()
        for v in views:
            total += v
        self.grid, self.divisor, self.x_shape = grid, divisor, x.shape
        return np.divide(total, divisor, out=total)

    def backward(self, grad_out):
        if not self.needs_input_grad[0]:
            return None
        share = grad_out / self.divisor
        return self.grid.scatter(itertools.repeat(share, self.grid.n_offsets), self.x_shape, grad_out.dtype)


def _matmul_along(x: np.ndarray, matrix: np.ndarray, axis: int) -> np.ndarray:
    """``x`` times ``matrix`` along ``axis`` (negative): out[.., i, ..] = Σ_l matrix[i, l] x[.., l, ..].

    The last axis is multiplied from the right and every other axis from the left, so NumPy's
    batched matmul runs on the array as it lies; one big reshaped GEMM would be slower here, as
    BLAS handles a product with only a handful of output columns poorly.
    """
    if axis == -1:
        return x @ matrix.T
    return np.moveaxis(matrix @ np.moveaxis(x, axis, -2), -2, axis)


def _along(x: np.ndarray, matrix: np.ndarray, axis: int) -> np.ndarray:
    """Window averages along ``axis``: ``matrix`` times ``x``, where a non-finite x[l] reaches only the
    out[i] whose window holds it (matrix[i, l] ≠ 0), as PyTorch's window sums do.

    The plain product would also add 0·inf = NaN to every other output of that axis. Every x[l] lies
    in some window, so the product is all finite exactly when ``x`` is; only then is it the answer.
    Otherwise the product of the finite part is patched: NaN where the window holds a NaN or both
    infinities, else ±inf where it holds that infinity. Applied axis by axis this is exact, since a
    partial sum is NaN or ±inf under the same rule.
    """
    matrix = matrix.astype(x.dtype)
    with np.errstate(invalid="ignore"):  # 0·inf; the result is then discarded
        out = _matmul_along(x, matrix, axis)
    if np.isfinite(out).all():
        return out
    out = _matmul_along(np.where(np.isfinite(x), x, 0), matrix, axis)
    held = _matmul_along(np.stack([np.isnan(x), x == np.inf, x == -np.inf]).astype(x.dtype), matrix != 0, axis)
    nan, pos, neg = held > 0
    out[pos] = np.inf
    out[neg] = -np.inf
    out[nan | (pos & neg)] = np.nan
    return out


class AdaptiveAvgPoolNd(Function):
    r"""Adaptive average pooling, one averaging matrix A per axis (separable).

    Forward: ``O = X ×₁ A₁ ×₂ A₂ …`` with ``A[i, l] = 1 / |w_i|`` for l in window i. Backward: each
    window's gradient spread evenly over it, ``∂L/∂X = ∂L/∂O ×₁ A₁ᵀ ×₂ A₂ᵀ …``. The forward pass
    shrinks the first axes first and the backward pass grows the last axes first, so that the
    last-axis product, the slowest, always works on the smaller array.
    """

    formula = "∂L/∂X = ∂L/∂O ×₁ A₁ᵀ ×₂ A₂ᵀ …"

    def forward(self, x, matrices):
        self.matrices = matrices
        for axis, a in enumerate(matrices, start=-len(matrices)):
            x = _along(x, a, axis)
        return np.ascontiguousarray(x)

    def backward(self, grad_out):
        if not self.needs_input_grad[0]:
            return None
        g = grad_out
        for axis, a in reversed(list(enumerate(self.matrices, start=-len(self.matrices)))):
            k, rest = divmod(a.shape[1], a.shape[0])
            # equal disjoint windows (global pooling included): Aᵀ just repeats each gradient / k
            g = np.repeat(g / k, k, axis=axis) if rest == 0 else _along(g, a.T, axis)
        return np.ascontiguousarray(g)


def _averaging_matrix(n: int, o: int) -> np.ndarray:
    start = np.arange(o) * n // o
    end = -(-(np.arange(1, o + 1) * n) // o)
    pos = np.arange(n)
    inside = (pos >= start[:, None]) & (pos < end[:, None])
    return inside / (end - start)[:, None]


# ---- argument checks -------------------------------------------------------------------------------


def _check(op: str, input, nd: int, integer_ok: bool, empty_channels_ok: bool = False) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    check_input(input.data, nd, op)
    dt = input.dtype
    if not (np.issubdtype(dt, np.floating) or (integer_ok and np.issubdtype(dt, np.integer))):
        kind = "a floating point or integer" if integer_ok else "a floating point"
        raise TypeError(f"{op}: expected {kind} input, got dtype {dt}")
    if any(n == 0 for n in input.shape[-nd - (0 if empty_channels_ok else 1) :]):
        raise ValueError(f"{op}: the channel and spatial sizes of the input must be non-zero, got shape {input.shape}")


def _grid(op: str, input, nd: int, kernel_size, stride, padding, dilation, ceil_mode) -> _Grid:
    k = positive(kernel_size, nd, "kernel_size", op)
    empty = isinstance(stride, Sequence) and not isinstance(stride, str) and len(stride) == 0
    s = k if stride is None or empty else positive(stride, nd, "stride", op)
    p = nonnegative(padding, nd, "padding", op)
    d = positive(dilation, nd, "dilation", op)
    if any(2 * pp > kk for pp, kk in zip(p, k, strict=True)):
        raise ValueError(f"{op}: padding should be at most half of kernel_size, got padding={p} and kernel_size={k}")
    size = input.shape[-nd:]
    out = tuple(_output_size(*a, bool(ceil_mode)) for a in zip(size, k, s, p, d, strict=True))
    if any(o < 1 for o in out):
        raise ValueError(
            f"{op}: input of spatial size {size} is too small for kernel_size={k}, stride={s}, padding={p}, "
            f"dilation={d}: the output size would be {out}"
        )
    return _Grid(size, k, s, p, d, out)


def _adaptive_size(op: str, input, nd: int, output_size) -> tuple[int, ...]:
    """``output_size`` as an nd-tuple; a None entry keeps that axis' input size (as in PyTorch)."""
    size = input.shape[-nd:]
    if isinstance(output_size, Sequence) and not isinstance(output_size, str):
        if len(output_size) != nd:
            raise ValueError(
                f"{op}: output_size must be an int or a tuple of {nd} ints (None keeps the input size), "
                f"got {tuple(output_size)!r}"
            )
        output_size = tuple(n if o is None else o for o, n in zip(output_size, size, strict=True))
    return positive(output_size, nd, "output_size", op)


def _max_pool_nd(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    _check(op, input, nd, integer_ok=True)
    return _max_pool(input, _grid(op, input, nd, kernel_size, stride, padding, dilation, ceil_mode), return_indices)


def _avg_pool_nd(op, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override=None):
    _check(op, input, nd, integer_ok=False)
    grid = _grid(op, input, nd, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None:
        if isinstance(divisor_override, bool) or not isinstance(divisor_override, int | np.integer):
            raise TypeError(f"{op}: divisor_override must be an int or None, got {divisor_override!r}")
        if divisor_override == 0:
            raise ValueError(f"{op}: divisor_override must be non-zero, got 0")
    return AvgPoolNd.apply(input, grid=grid, divisor=grid.divisor(count_include_pad, divisor_override, input.dtype))


def _adaptive_avg_pool_nd(op, nd, input, output_size):
    _check(op, input, nd, integer_ok=False, empty_channels_ok=True)  # PyTorch averages zero channels too
    out = _adaptive_size(op, input, nd, output_size)
    matrices = [_averaging_matrix(n, o) for n, o in zip(input.shape[-nd:], out, strict=True)]
    return AdaptiveAvgPoolNd.apply(input, matrices=matrices)


def _adaptive_max_pool_nd(op, nd, input, output_size, return_indices):
    _check(op, input, nd, integer_ok=False)
    out = _adaptive_size(op, input, nd, output_size)
    return _max_pool(input, _adaptive_windows(input.shape[-nd:], out), return_indices)


# ---- public functions (PyTorch's signatures) --------------------------------------------------------


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return _max_pool_nd("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return _max_pool_nd("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return _max_pool_nd("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    return _avg_pool_nd("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad)


def avg_pool2d(
    input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
):
    return _avg_pool_nd(
        "avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


def avg_pool3d(
    input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
):
    return _avg_pool_nd(
        "avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


def adaptive_avg_pool1d(input, output_size):
    return _adaptive_avg_pool_nd("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    return _adaptive_avg_pool_nd("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool3d(input, output_size):
    return _adaptive_avg_pool_nd("adaptive_avg_pool3d", 3, input, output_size)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    return _adaptive_max_pool_nd("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    return _adaptive_max_pool_nd("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    return _adaptive_max_pool_nd("adaptive_max_pool3d", 3, input, output_size, return_indices)


_MAX_DOC = r"""Apply {nd}-D max pooling: each output is the largest input element of its window.

    .. math::
        \text{{out}}[n, c, o] = \max_{{j < \text{{kernel\_size}}}}
            \text{{input}}_{{\text{{pad}}}}[n, c, o \cdot \text{{stride}} + j \cdot \text{{dilation}}]
        \qquad
        \frac{{\partial L}}{{\partial \text{{input}}[n, c, i]}} =
            \sum_{{o:\ \text{{argmax}}(o) = i}} \frac{{\partial L}}{{\partial \text{{out}}[n, c, o]}}

    Forward and backward: each window's gradient goes to its maximum alone (the article's rule);
    the other elements get 0, and an element that is the maximum of several overlapping windows
    collects all their gradients. On ties the first maximum in row-major window order wins; a NaN
    is the maximum, and among several NaNs the last one wins (PyTorch's rules). The padding is
    implicit -inf, so it is never the maximum.

    Args:
        input (Tensor): (N, C, {space}) or unbatched (C, {space}); floating point or integer.
        kernel_size (int or tuple): window size.
        stride (int or tuple, optional): window step. Default: ``kernel_size``
        padding (int or tuple, optional): implicit -inf added on both sides; at most half of
            ``kernel_size``. Default: 0
        dilation (int or tuple, optional): spacing between window elements. Default: 1
        ceil_mode (bool, optional): round the output size up, keeping a last window that overhangs
            the input, unless it would start in the right padding. Default: False
        return_indices (bool, optional): also return the argmax of each window as an int64 index
            into the flattened ({space}) plane of the input. Default: False

    Shape:
        - Input: :math:`(N, C, {space})` or :math:`(C, {space})`
        - Output: :math:`(N, C, {space_out})` with, per spatial axis,
          :math:`\text{{out}} = \lfloor (\text{{in}} + 2\,\text{{padding}} - \text{{dilation}} \times
          (\text{{kernel\_size}} - 1) - 1) / \text{{stride}} \rfloor + 1` (ceiling with ``ceil_mode``)

    Example::

        >>> x = convprop.tensor(np.random.default_rng(0).standard_normal((1, 2, {example})), requires_grad=True)
        >>> out, idx = F.max_pool{nd}d(x, 3, stride=2, padding=1, return_indices=True)
        >>> out.shape, idx.shape
        ((1, 2, {example_out}), (1, 2, {example_out}))
"""

_AVG_DOC = r"""Apply {nd}-D average pooling: each output is the mean of its window.

    .. math::
        \text{{out}}[n, c, o] = \frac{{1}}{{D_o}} \sum_{{j < \text{{kernel\_size}}}}
            \text{{input}}_{{\text{{pad}}}}[n, c, o \cdot \text{{stride}} + j]
        \qquad
        \frac{{\partial L}}{{\partial \text{{input}}[n, c, i]}} =
            \sum_{{o:\ i \in \text{{window}}(o)}}
            \frac{{1}}{{D_o}} \frac{{\partial L}}{{\partial \text{{out}}[n, c, o]}}

    Forward and backward: every element of a window receives the same share of its gradient,
    1/D_o (1/4 for a 2x2 window, as in the article); overlapping windows add their shares. The
    divisor D_o is the number of window elements inside the zero-padded input (the part of a
    ``ceil_mode`` window hanging past the padding does not count), only those inside the input
    with ``count_include_pad=False``, or ``divisor_override``.

    Args:
        input (Tensor): (N, C, {space}) or unbatched (C, {space}); floating point.
        kernel_size (int or tuple): window size.
        stride (int or tuple, optional): window step. Default: ``kernel_size``
        padding (int or tuple, optional): implicit zeros added on both sides; at most half of
            ``kernel_size``. Default: 0
        ceil_mode (bool, optional): round the output size up, keeping a last window that overhangs
            the input, unless it would start in the right padding. Default: False
        count_include_pad (bool, optional): count the zero padding in the divisor. Default: True{divisor_arg}

    Shape:
        - Input: :math:`(N, C, {space})` or :math:`(C, {space})`
        - Output: :math:`(N, C, {space_out})` with, per spatial axis,
          :math:`\text{{out}} = \lfloor (\text{{in}} + 2\,\text{{padding}} - \text{{kernel\_size}}) /
          \text{{stride}} \rfloor + 1` (ceiling with ``ceil_mode``)

    Example::

        >>> x = convprop.tensor(np.random.default_rng(0).standard_normal((1, 2, {example})), requires_grad=True)
        >>> F.avg_pool{nd}d(x, 2).shape, F.avg_pool{nd}d(x, 2, ceil_mode=True).shape
        ((1, 2, {example_half}), (1, 2, {example_out}))
"""

_DIVISOR_ARG = """
        divisor_override (int, optional): use this divisor for every window instead. Default: None"""

_ADAPTIVE_AVG_DOC = r"""Apply {nd}-D adaptive average pooling: the windows are chosen so the output has ``output_size``.

    .. math::
        \text{{out}}[n, c, o] = \frac{{1}}{{|w_o|}} \sum_{{i \in w_o}} \text{{input}}[n, c, i],
        \quad w_o = \left[\left\lfloor \frac{{o \cdot L}}{{S}} \right\rfloor,
            \left\lceil \frac{{(o + 1) L}}{{S}} \right\rceil\right)
        \qquad
        \frac{{\partial L}}{{\partial \text{{input}}[n, c, i]}} =
            \sum_{{o:\ i \in w_o}} \frac{{1}}{{|w_o|}} \frac{{\partial L}}{{\partial \text{{out}}[n, c, o]}}

    per spatial axis of input size L and output size S. Windows may overlap (S does not divide L)
    and may repeat an element (S > L). ``output_size=1`` is global average pooling.

    Args:
        input (Tensor): (N, C, {space}) or unbatched (C, {space}); floating point.
        output_size (int or tuple): the output's spatial size; a None entry keeps that input size.

    Shape:
        - Input: :math:`(N, C, {space})` or :math:`(C, {space})`
        - Output: :math:`(N, C, {space_out})` with :math:`S` = ``output_size``

    Example::

        >>> x = convprop.tensor(np.random.default_rng(0).standard_normal((1, 2, {example_adaptive})))
        >>> F.adaptive_avg_pool{nd}d(x, 3).shape
        (1, 2, {example_3})
"""

_ADAPTIVE_MAX_DOC = r"""Apply {nd}-D adaptive max pooling: the windows are chosen so the output has ``output_size``.

    .. math::
        \text{{out}}[n, c, o] = \max_{{i \in w_o}} \text{{input}}[n, c, i],
        \quad w_o = \left[\left\lfloor \frac{{o \cdot L}}{{S}} \right\rfloor,
            \left\lceil \frac{{(o + 1) L}}{{S}} \right\rceil\right)
        \qquad
        \frac{{\partial L}}{{\partial \text{{input}}[n, c, i]}} =
            \sum_{{o:\ \text{{argmax}}(o) = i}} \frac{{\partial L}}{{\partial \text{{out}}[n, c, o]}}

    per spatial axis of input size L and output size S; ties and NaNs as in :func:`max_pool{nd}d`.

    Args:
        input (Tensor): (N, C, {space}) or unbatched (C, {space}); floating point.
        output_size (int or tuple): the output's spatial size; a None entry keeps that input size.
        return_indices (bool, optional): also return the argmax of each window as an int64 index
            into the flattened ({space}) plane of the input. Default: False

    Shape:
        - Input: :math:`(N, C, {space})` or :math:`(C, {space})`
        - Output: :math:`(N, C, {space_out})` with :math:`S` = ``output_size``

    Example::

        >>> x = convprop.tensor(np.random.default_rng(0).standard_normal((1, 2, {example_adaptive})))
        >>> out, idx = F.adaptive_max_pool{nd}d(x, 3, return_indices=True)
        >>> out.shape
        (1, 2, {example_3})
"""


def _doc(template: str, nd: int) -> str:
    return template.format(
        nd=nd,
        space=("L", "H, W", "D, H, W")[nd - 1],
        space_out=("L_{out}", "H_{out}, W_{out}", "D_{out}, H_{out}, W_{out}")[nd - 1],
        divisor_arg="" if nd == 1 else _DIVISOR_ARG,
        example=", ".join(["5"] * nd),
        example_out=", ".join(["3"] * nd),
        example_half=", ".join(["2"] * nd),
        example_adaptive=", ".join(["7"] * nd),
        example_3=", ".join(["3"] * nd),
    )


for _nd, (_max, _avg, _adaptive_avg, _adaptive_max) in enumerate(
    zip(
        (max_pool1d, max_pool2d, max_pool3d),
        (avg_pool1d, avg_pool2d, avg_pool3d),
        (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d),
        (adaptive_max_pool1d, adaptive_max_pool2d, adaptive_max_pool3d),
        strict=True,
    ),
    start=1,
):
    _max.__doc__ = _doc(_MAX_DOC, _nd)
    _avg.__doc__ = _doc(_AVG_DOC, _nd)
    _adaptive_avg.__doc__ = _doc(_ADAPTIVE_AVG_DOC, _nd)
    _adaptive_max.__doc__ = _doc(_ADAPTIVE_MAX_DOC, _nd)
del _nd, _max, _avg, _adaptive_avg, _adaptive_max
