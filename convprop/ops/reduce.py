"""Reductions (sum, mean, max, min) and index selection, each backward beside its forward."""

from __future__ import annotations

import numpy as np

from convprop import return_types
from convprop.ops.elementwise import maximum, minimum, mul, sqrt, sub
from convprop.ops.shape import clone, reshape
from convprop.tensor import Function, Tensor


def normalize_dims(dim, ndim: int, op: str) -> tuple[int, ...] | None:
    """``dim`` (None, an int or a tuple of ints, negatives allowed) as sorted non-negative axes."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int | np.integer) else tuple(dim)
    rank = ndim or 1  # a 0-d tensor accepts dim 0 and -1, as in PyTorch
    out = []
    for d in dims:
        if not isinstance(d, int | np.integer) or not -rank <= d < rank:
            raise IndexError(f"{op}: dim {d!r} is out of range for a tensor with {ndim} dimensions")
        out.append(int(d) % rank)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: dim {dims} names an axis more than once")
    return tuple(sorted(out)) if ndim else None


def _expand(g: np.ndarray, shape: tuple[int, ...], axes, keepdims: bool) -> np.ndarray:
    """Re-insert reduced axes so ``g`` broadcasts against the input."""
    if axes is None:
        return g.reshape((1,) * len(shape))
    return g if keepdims else np.expand_dims(g, axes)


class Sum(Function):
    """y = Σ x over axes;  dL/dx = dL/dy broadcast back over the summed axes."""

    formula = "dL/dx = dL/dy broadcast back over the summed axes"

    def forward(self, x, axes=None, keepdims=False):
        self.shape, self.axes, self.keepdims = x.shape, axes, keepdims
        return np.asarray(x.sum(axis=axes, keepdims=keepdims))

    def backward(self, g):
        return np.broadcast_to(_expand(g, self.shape, self.axes, self.keepdims), self.shape).copy()


class Mean(Function):
    """y = Σ x / n over axes;  dL/dx = dL/dy / n broadcast back."""

    formula = "dL/dx = dL/dy / n broadcast back"

    def forward(self, x, axes=None, keepdims=False):
        self.shape, self.axes, self.keepdims = x.shape, axes, keepdims
        y = np.asarray(x.mean(axis=axes, keepdims=keepdims))
        self.n = x.size // y.size if y.size else 1
        return y

    def backward(self, g):
        g = _expand(g, self.shape, self.axes, self.keepdims) / g.dtype.type(self.n)
        return np.broadcast_to(g, self.shape).copy()


class Extremum(Function):
    """y = max (or min) of x over axes;  dL/dx = dL/dy split evenly among the elements equal to y.

    This is ``amax``/``amin``'s rule in PyTorch. ``max(dim)`` instead routes to
    the one returned index; see :func:`max`.
    """

    formula = "dL/dx = dL/dy split evenly among the elements equal to y"

    def forward(self, x, axes=None, keepdims=False, largest=True):
        self.x, self.axes, self.keepdims = x, axes, keepdims
        y = x.max(axis=axes, keepdims=True) if largest else x.min(axis=axes, keepdims=True)
        self.y_kept = y
        return np.asarray(y if keepdims else (y.reshape(()) if axes is None else np.squeeze(y, axes)))

    def backward(self, g):
        hit = (self.x == self.y_kept) | (np.isnan(self.x) & np.isnan(self.y_kept))
        count = hit.sum(axis=self.axes, keepdims=True)
        return _expand(g, self.x.shape, self.axes, self.keepdims) * hit / count


class TakeAlongAxis(Function):
    """y = x[..., idx, ...] along one axis;  dL/dx scatters dL/dy back to the taken positions."""

    formula = "dL/dx scatters dL/dy back to the taken positions"

    def forward(self, x, indices=None, axis=0):
        self.shape, self.indices, self.axis = x.shape, indices, axis
        return np.take_along_axis(x, indices, axis=axis)

    def backward(self, g):
        gx = np.zeros(self.shape, dtype=g.dtype)
        np.put_along_axis(gx, self.indices, g, axis=self.axis)
        return gx


def _check_nonempty(x: Tensor, op: str) -> None:
    if x.data.size == 0:
        raise RuntimeError(f"{op}: cannot reduce an empty tensor of shape {x.shape} (no identity)")


def sum(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    return Sum.apply(x, axes=normalize_dims(dim, x.ndim, "sum"), keepdims=keepdim)


def mean(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    if not np.issubdtype(x.dtype, np.floating):
        raise RuntimeError(f"mean: expected a floating point tensor, got dtype {x.dtype}")
    return Mean.apply(x, axes=normalize_dims(dim, x.ndim, "mean"), keepdims=keepdim)


def amax(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    axes = normalize_dims(dim, x.ndim, "amax")
    _check_nonempty(x, "amax")
    return Extremum.apply(x, axes=axes, keepdims=keepdim, largest=True)


def amin(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    axes = normalize_dims(dim, x.ndim, "amin")
    _check_nonempty(x, "amin")
    return Extremum.apply(x, axes=axes, keepdims=keepdim, largest=False)


def _arg(x: Tensor, dim, keepdim: bool, largest: bool, op: str) -> np.ndarray:
    _check_nonempty(x, op)
    data = x.data
    if dim is None:
        flat = data.reshape(-1)
        # NaN counts as the extreme value, as in PyTorch
        idx = np.argmax(np.isnan(flat)) if np.isnan(flat).any() else (flat.argmax() if largest else flat.argmin())
        return np.asarray(idx, dtype=np.int64)
    (axis,) = normalize_dims(dim, x.ndim, op) or (0,)
    idx = data.argmax(axis=axis, keepdims=True) if largest else data.argmin(axis=axis, keepdims=True)
    nan = np.isnan(data)
    if nan.any():
        idx = np.where(nan.any(axis=axis, keepdims=True), nan.argmax(axis=axis, keepdims=True), idx)
    return (idx if keepdim else np.squeeze(idx, axis)).astype(np.int64)


def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return Tensor._wrap(_arg(x, dim, keepdim, True, "argmax"))


def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return Tensor._wrap(_arg(x, dim, keepdim, False, "argmin"))


def _extreme(x: Tensor, dim, keepdim: bool, largest: bool, op: str):
    result = return_types.max if largest else return_types.min
    # convprop's ``.data`` is a NumPy array: take it too, so ``torch.max(outputs.data, 1)`` keeps working
    x = x if isinstance(x, Tensor) else Tensor._wrap(np.asarray(x))
    if isinstance(dim, Tensor):  # torch.max(a, b): the elementwise maximum
        return (maximum if largest else minimum)(x, dim)
    if dim is None:
        return (amax if largest else amin)(x)
    if isinstance(dim, tuple | list):
        raise TypeError(f"{op}: dim must be one int, got {dim!r} (use amax/amin for several dims)")
    (axis,) = normalize_dims(dim, x.ndim, op) or (None,)
    if axis is None:  # a 0-d tensor: its one element, at index 0
        return result(clone(x), Tensor._wrap(np.zeros((), dtype=np.int64)))
    idx = _arg(x, axis, True, largest, op)
    values = TakeAlongAxis.apply(x, indices=idx, axis=axis)
    if not keepdim:
        values = reshape(values, np.squeeze(idx, axis).shape)
        idx = np.squeeze(idx, axis)
    return result(values, Tensor._wrap(idx))


def max(x: Tensor, dim: int | None = None, keepdim: bool = False):
    """The largest element, or ``(values, indices)`` along ``dim`` (the gradient goes to that index)."""
    return _extreme(x, dim, keepdim, True, "max")


def min(x: Tensor, dim: int | None = None, keepdim: bool = False):
    """The smallest element, or ``(values, indices)`` along ``dim`` (the gradient goes to that index)."""
    return _extreme(x, dim, keepdim, False, "min")


def _split_unbiased(dim, unbiased):
    """``std(x, True)``: PyTorch's overload where the second positional argument is ``unbiased``."""
    return (None, dim) if isinstance(dim, bool) else (dim, unbiased)


def _correction(unbiased, correction, op: str) -> float:
    if unbiased is not None and correction is not None:
        raise ValueError(f"{op}: give either unbiased or correction, not both")
    if correction is not None:
        return float(correction)
    return 0.0 if unbiased is False else 1.0


def var(x: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """Σ (x - mean)² / (n - correction) over ``dim`` (default correction 1, Bessel's);  the gradient is
    2 (x - mean) / (n - correction) by the chain rule through the ops below."""
    if not np.issubdtype(x.dtype, np.floating):
        raise RuntimeError(f"var: expected a floating point tensor, got dtype {x.dtype}")
    dim, unbiased = _split_unbiased(dim, unbiased)
    c = _correction(unbiased, correction, "var")
    axes = normalize_dims(dim, x.ndim, "var")
    n = x.data.size if axes is None else int(np.prod([x.shape[a] for a in axes]))
    d = sub(x, mean(x, dim, keepdim=True))
    scale = np.asarray(1.0 / (n - c) if n > c else np.inf, dtype=x.dtype)
    with np.errstate(invalid="ignore"):
        return mul(sum(mul(d, d), dim, keepdim), Tensor._wrap(scale))


def std(x: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """√var(x); dL/dx = dL/dy · (x - mean) / ((n - correction) · y)."""
    dim, unbiased = _split_unbiased(dim, unbiased)
    return sqrt(var(x, dim, unbiased, keepdim, correction=correction))


class Norm(Function):
    """y = (Σ |x|ᵖ)^(1/p) over axes;  dL/dx = dL/dy · sign(x) |x|^(p-1) / y^(p-1), 0 where y = 0.

    For p = ±∞, y = max |x| (min |x|) and the gradient is split among the elements where |x| = y;
    for p = 0, y counts the non-zero elements and has no gradient.
    """

    formula = "dL/dx = dL/dy · sign(x) |x|^(p-1) / y^(p-1), 0 where y = 0"

    def forward(self, x, p=2.0, axes=None, keepdims=False):
        self.x, self.p, self.axes, self.keepdims = x, p, axes, keepdims
        a = np.abs(x)
        if np.isinf(p):
            y = a.max(axis=axes, keepdims=True) if p > 0 else a.min(axis=axes, keepdims=True)
        elif p == 0:
            y = (a != 0).sum(axis=axes, keepdims=True).astype(x.dtype)
        elif p == 2:
            y = np.sqrt((a * a).sum(axis=axes, keepdims=True))
        else:
            y = ((a**p).sum(axis=axes, keepdims=True)) ** (1 / p)
        self.y_kept = y
        return np.asarray(y if keepdims else (y.reshape(()) if axes is None else np.squeeze(y, axes)))

    def backward(self, g):
        x, y, p = self.x, self.y_kept, self.p
        g = _expand(g, x.shape, self.axes, self.keepdims)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 0:
                return np.zeros_like(x)
            if np.isinf(p):
                hit = np.abs(x) == y
                local = np.sign(x) * hit / hit.sum(axis=self.axes, keepdims=True)
            elif p == 2:
                local = x / y
            else:
                local = np.sign(x) * np.abs(x) ** (p - 1) / y ** (p - 1)
        return np.where(y == 0, 0, g * local).astype(x.dtype, copy=False)


def norm(x: Tensor, p="fro", dim=None, keepdim: bool = False) -> Tensor:
    """The p-norm of ``x`` over ``dim`` (all elements by default), like ``torch.norm``: p = 'fro' (2), any
    number, ``inf`` or ``-inf`` (the nuclear norm, 'nuc', is not provided)."""
    if not np.issubdtype(x.dtype, np.floating):
        raise RuntimeError(f"norm: expected a floating point tensor, got dtype {x.dtype}")
    if p == "fro" or p is None:
        p = 2.0
    if isinstance(p, bool) or not isinstance(p, int | float) or np.isnan(p):
        raise ValueError(f"norm: p must be 'fro', a number, inf or -inf, got {p!r}")
    return Norm.apply(x, p=float(p), axes=normalize_dims(dim, x.ndim, "norm"), keepdims=keepdim)


def _sorted_indices(x: Tensor, axis: int, descending: bool) -> np.ndarray:
    """Stable order along ``axis``; NaN counts as the largest value, as in PyTorch."""
    data = x.data
    if descending:
        key = -data if data.dtype.kind in "fi" else ~data
        if data.dtype.kind == "f":
            key = np.where(np.isnan(data), -np.inf, key)
        return np.argsort(key, axis=axis, kind="stable")
    return np.argsort(data, axis=axis, kind="stable")


def sort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    """``(values, indices)`` sorted along ``dim``;  dL/dx scatters dL/dvalues back to the indices."""
    (axis,) = normalize_dims(dim, x.ndim, "sort") or (None,)
    if axis is None:
        return return_types.sort(clone(x), Tensor._wrap(np.zeros((), dtype=np.int64)))
    idx = _sorted_indices(x, axis, descending).astype(np.int64)
    return return_types.sort(TakeAlongAxis.apply(x, indices=idx, axis=axis), Tensor._wrap(idx))


def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """The ``k`` largest (or smallest) elements along ``dim`` and their indices, largest first."""
    (axis,) = normalize_dims(dim, x.ndim, "topk") or (None,)
    n = x.shape[axis] if axis is not None else 1
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 0 <= k <= n:
        raise RuntimeError(f"topk: k ({k!r}) must be an int between 0 and the size {n} of dim {dim}")
    if axis is None:
        return return_types.topk(clone(x), Tensor._wrap(np.zeros((), dtype=np.int64)))
    idx = np.take(_sorted_indices(x, axis, largest), np.arange(k), axis=axis).astype(np.int64)
    return return_types.topk(TakeAlongAxis.apply(x, indices=idx, axis=axis), Tensor._wrap(idx))


def all(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    axes = normalize_dims(dim, x.ndim, "all")
    return Tensor._wrap(np.asarray(np.all(x.data, axis=axes, keepdims=keepdim)))


def any(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    axes = normalize_dims(dim, x.ndim, "any")
    return Tensor._wrap(np.asarray(np.any(x.data, axis=axes, keepdims=keepdim)))
