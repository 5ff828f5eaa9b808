"""Reductions (sum, mean, max, min) and index selection, each backward beside its forward."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from convprop.ops.shape import reshape
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


class MaxResult(NamedTuple):
    """``(values, indices)``, what ``Tensor.max(dim)`` returns, as in PyTorch."""

    values: Tensor
    indices: Tensor


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
    if dim is None:
        return (amax if largest else amin)(x)
    (axis,) = normalize_dims(dim, x.ndim, op) or (0,)
    idx = _arg(x, axis, True, largest, op)
    values = TakeAlongAxis.apply(x, indices=idx, axis=axis)
    if not keepdim:
        values = reshape(values, np.squeeze(idx, axis).shape)
        idx = np.squeeze(idx, axis)
    return MaxResult(values, Tensor._wrap(idx))


def max(x: Tensor, dim: int | None = None, keepdim: bool = False):
    """The largest element, or ``(values, indices)`` along ``dim`` (the gradient goes to that index)."""
    return _extreme(x, dim, keepdim, True, "max")


def min(x: Tensor, dim: int | None = None, keepdim: bool = False):
    """The smallest element, or ``(values, indices)`` along ``dim`` (the gradient goes to that index)."""
    return _extreme(x, dim, keepdim, False, "min")
