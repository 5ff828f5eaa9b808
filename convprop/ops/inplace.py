"""In-place operations (``add_``, ``zero_``, ``copy_``, ``x[i] = v``...), with PyTorch's autograd rules.

Outside the graph (no gradient wanted, or under ``no_grad``) the new values are
written into the tensor's array, so every view of it sees them. Inside the graph
the tensor becomes the output of the operation: it takes the new array and the
new ``grad_fn``, and that operation's input is the tensor's previous value, so
the gradient flows through both. A leaf that requires a gradient cannot be
modified in place while gradients are recorded (its ``.grad`` would no longer
belong to the values it holds); as in PyTorch, that is an error.
"""

from __future__ import annotations

import numpy as np

from convprop import random
from convprop.ops.elementwise import Where, to_dtype, unbroadcast
from convprop.ops.shape import broadcast_to, getitem
from convprop.tensor import Function, Tensor, is_grad_enabled


def _check_leaf(x: Tensor, op: str) -> None:
    if x.is_leaf and x.requires_grad and is_grad_enabled():
        raise RuntimeError(
            f"{op}: a leaf Tensor that requires grad is being used in an in-place operation; "
            "wrap it in convprop.no_grad() or modify x.detach()"
        )


def inplace(x: Tensor, result: Tensor, op: str = "in-place operation") -> Tensor:
    """Make ``x`` hold ``result`` (computed from ``x``), as an in-place operation; returns ``x``."""
    _check_leaf(x, op)
    if result.shape != x.shape:
        raise RuntimeError(f"{op}: the result has shape {result.shape}, which does not fit the tensor's {x.shape}")
    if not np.can_cast(result.dtype, x.dtype, casting="same_kind"):
        raise RuntimeError(f"{op}: result type {result.dtype} can't be cast to the tensor's dtype {x.dtype}")
    fn = result.grad_fn
    if fn is None:
        x.data[...] = result.data
        return x
    previous = Tensor._wrap(x.data)
    previous._ctx, previous.requires_grad = x._ctx, x.requires_grad
    fn.parents = tuple(previous if p is x else p for p in fn.parents)
    x.data = result.data.astype(x.dtype, copy=False)
    x._ctx, x.requires_grad = fn, True
    return x


def _replace(x: Tensor, src: Tensor, op: str) -> Tensor:
    """Make ``x`` hold ``src`` (broadcast, cast to x's dtype): dL/dsrc = dL/dx, and x's old values get no gradient."""
    return inplace(x, Where.apply(to_dtype(src, x.dtype), x, cond=np.ones((), dtype=bool)), op)


def fill_(x: Tensor, value) -> Tensor:
    """Set every element to ``value`` (a number or a 0-d tensor); the old values get no gradient."""
    if isinstance(value, Tensor) and value.ndim != 0:
        raise RuntimeError(f"fill_: value must be a number or a 0-d tensor, got shape {value.shape}")
    fill = value if isinstance(value, Tensor) else Tensor._wrap(np.asarray(value, dtype=x.dtype))
    return _replace(x, fill, "fill_")


def copy_(x: Tensor, src) -> Tensor:
    """Copy ``src`` (broadcast to ``x``'s shape, cast to its dtype) into ``x``;  dL/dsrc = dL/dx summed back."""
    src = src if isinstance(src, Tensor) else Tensor(np.asarray(src))
    try:
        np.broadcast_shapes(src.shape, x.shape)
        src = broadcast_to(src, x.shape)
    except (ValueError, RuntimeError):
        raise RuntimeError(f"copy_: source of shape {src.shape} does not broadcast to the tensor's {x.shape}") from None
    return _replace(x, src, "copy_")


def _check_floating(x: Tensor, op: str) -> None:
    if x.dtype.kind != "f":
        raise RuntimeError(f"{op}: expects a floating point tensor, got dtype {x.dtype}")


def normal_(x: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill ``x`` with samples of N(mean, std^2), like ``torch.Tensor.normal_``; the old values get no gradient."""
    _check_floating(x, "normal_")
    if not std >= 0:
        raise RuntimeError(f"normal_: expects std >= 0.0, but found std {std}")
    return _replace(x, Tensor._wrap(random.resolve(generator, "normal_").normal(mean, std, size=x.shape)), "normal_")


def uniform_(x: Tensor, from_: float = 0.0, to: float = 1.0, generator=None) -> Tensor:
    """Fill ``x`` with samples of U[from_, to), like ``torch.Tensor.uniform_``; the old values get no gradient."""
    _check_floating(x, "uniform_")
    if not from_ <= to:
        raise RuntimeError(f"uniform_: expects a [from, to) range, but found from={from_} > to={to}")
    return _replace(x, Tensor._wrap(random.resolve(generator, "uniform_").uniform(from_, to, size=x.shape)), "uniform_")


def bernoulli_(x: Tensor, p=0.5, generator=None) -> Tensor:
    """Fill ``x`` with 1 where U[0, 1) < p and 0 elsewhere; ``p`` is a number or a tensor broadcast to ``x``."""
    prob = p.data if isinstance(p, Tensor) else np.asarray(p, dtype=np.float64)
    if prob.dtype.kind not in "fiub" or np.any(prob < 0) or np.any(prob > 1):
        raise RuntimeError(f"bernoulli_: expects p to be in [0, 1], but got p={p}")
    try:
        prob = np.broadcast_to(prob, x.shape)
    except ValueError:
        raise RuntimeError(
            f"bernoulli_: p of shape {prob.shape} does not broadcast to the tensor's {x.shape}"
        ) from None
    draws = random.resolve(generator, "bernoulli_").random(x.shape)
    return _replace(x, Tensor._wrap((draws < prob).astype(x.dtype)), "bernoulli_")


class IndexPut(Function):
    """y = x with y[index] = v;  dL/dx = dL/dy with zeros at index,  dL/dv = dL/dy[index] summed to v's shape."""

    formula = "dL/dx = dL/dy with zeros at index,  dL/dv = dL/dy[index] summed to v's shape"

    def forward(self, x, v, index=None):
        self.index, self.v_shape = index, v.shape
        y = x.copy()
        y[index] = v
        return y

    def backward(self, g):
        gx = gv = None
        if self.needs_input_grad[0]:
            gx = g.copy()
            gx[self.index] = 0
        if self.needs_input_grad[1]:
            gv = unbroadcast(np.asarray(g[self.index]), self.v_shape)
        return gx, gv


def setitem(x: Tensor, index, value) -> None:
    """``x[index] = value``, like PyTorch's indexed assignment."""
    target = getitem(Tensor._wrap(x.data), index)  # checks the index and gives the selected shape
    v = value if isinstance(value, Tensor) else Tensor._wrap(np.asarray(value, dtype=x.dtype))
    try:
        np.broadcast_to(v.data, target.shape)
    except ValueError:
        raise RuntimeError(
            f"setitem: value of shape {v.shape} does not broadcast to the selected shape {target.shape}"
        ) from None
    index = index.data if isinstance(index, Tensor) else index
    if isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    inplace(x, IndexPut.apply(x, to_dtype(v, x.dtype), index=index), "setitem")
