"""Elementwise arithmetic and maths, each backward beside its forward.

Binary operations follow NumPy broadcasting; their backward passes sum the
upstream gradient back to each input's shape (:func:`unbroadcast`), which is
the chain rule for a broadcast copy.
"""

from __future__ import annotations

import numpy as np

from convprop.tensor import Function, Tensor


def unbroadcast(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``g`` over the axes that broadcasting added or stretched, giving ``shape``.

    Broadcasting copies an input along those axes, so dL/dinput adds up the
    gradient of every copy.
    """
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and g.shape[i + lead] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape) if axes else g.reshape(shape)


def as_operands(a, b) -> tuple[Tensor, Tensor]:
    """Two Tensors; a Python or NumPy scalar takes the other operand's dtype (no silent upcast)."""
    if not isinstance(a, Tensor):
        a = _beside(a, b)
    elif not isinstance(b, Tensor):
        b = _beside(b, a)
    return a, b


def _beside(value, tensor: Tensor) -> Tensor:
    """``value`` as a Tensor to combine with ``tensor``: scalars and lists take its dtype, arrays keep theirs."""
    keeps_dtype = np.ndim(value) > 0 and hasattr(value, "dtype")
    return Tensor._wrap(np.asarray(value, dtype=value.dtype if keeps_dtype else tensor.dtype))


def _check_broadcast(op: str, a: np.ndarray, b: np.ndarray) -> None:
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{op}: operands of shape {a.shape} and {b.shape} cannot be broadcast together") from None


class _Binary(Function):
    """Shared bookkeeping for broadcasting binary ops: remember both input shapes."""

    op = "binary op"

    def forward(self, a, b):
        _check_broadcast(self.op, a, b)
        self.a_shape, self.b_shape = a.shape, b.shape
        return self.compute(a, b)


class Add(_Binary):
    """y = a + b;  dL/da = dL/dy,  dL/db = dL/dy (each summed to its input's shape)."""

    formula = "dL/da = dL/dy,  dL/db = dL/dy"

    op = "add"

    def compute(self, a, b):
        return a + b

    def backward(self, g):
        return (
            unbroadcast(g, self.a_shape) if self.needs_input_grad[0] else None,
            unbroadcast(g, self.b_shape) if self.needs_input_grad[1] else None,
        )


class Sub(_Binary):
    """y = a - b;  dL/da = dL/dy,  dL/db = -dL/dy."""

    formula = "dL/da = dL/dy,  dL/db = -dL/dy"

    op = "sub"

    def compute(self, a, b):
        return a - b

    def backward(self, g):
        return (
            unbroadcast(g, self.a_shape) if self.needs_input_grad[0] else None,
            unbroadcast(-g, self.b_shape) if self.needs_input_grad[1] else None,
        )


class Mul(_Binary):
    """y = a * b;  dL/da = dL/dy * b,  dL/db = dL/dy * a."""

    formula = "dL/da = dL/dy * b,  dL/db = dL/dy * a"

    op = "mul"

    def compute(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        return (
            unbroadcast(g * self.b, self.a_shape) if self.needs_input_grad[0] else None,
            unbroadcast(g * self.a, self.b_shape) if self.needs_input_grad[1] else None,
        )


class Div(_Binary):
    """y = a / b;  dL/da = dL/dy / b,  dL/db = -dL/dy * a / b²."""

    formula = "dL/da = dL/dy / b,  dL/db = -dL/dy * a / b²"

    op = "div"

    def compute(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, g):
        ga = g / self.b
        return (
            unbroadcast(ga, self.a_shape) if self.needs_input_grad[0] else None,
            unbroadcast(-ga * self.a / self.b, self.b_shape) if self.needs_input_grad[1] else None,
        )


class Pow(_Binary):
    """y = a ** b;  dL/da = dL/dy * b * a^(b-1),  dL/db = dL/dy * y * ln(a)."""

    formula = "dL/da = dL/dy * b * a^(b-1),  dL/db = dL/dy * y * ln(a)"

    op = "pow"

    def compute(self, a, b):
        self.a, self.b = a, b
        self.y = a**b
        return self.y

    def backward(self, g):
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = unbroadcast(g * self.b * self.a ** (self.b - 1), self.a_shape)
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                # d(a^b)/db = a^b ln a; PyTorch defines it as 0 where a == 0 and b >= 0.
                log_a = np.where((self.a == 0) & (self.b >= 0), 0, np.log(self.a))
            gb = unbroadcast(g * self.y * log_a, self.b_shape)
        return ga, gb


class Maximum(_Binary):
    """y = max(a, b);  the gradient goes to the larger input, split evenly on ties (as PyTorch)."""

    formula = "the gradient goes to the larger input, split evenly on ties"

    op = "maximum"

    def compute(self, a, b):
        self.a, self.b = a, b
        return np.maximum(a, b)

    def backward(self, g):
        wa = (self.a > self.b) + 0.5 * (self.a == self.b)
        return (
            unbroadcast(g * wa, self.a_shape) if self.needs_input_grad[0] else None,
            unbroadcast(g * (1 - wa), self.b_shape) if self.needs_input_grad[1] else None,
        )


class Neg(Function):
    """y = -x;  dL/dx = -dL/dy."""

    formula = "dL/dx = -dL/dy"

    def forward(self, x):
        return -x

    def backward(self, g):
        return -g


class Exp(Function):
    """y = eˣ;  dL/dx = dL/dy * y."""

    formula = "dL/dx = dL/dy * y"

    def forward(self, x):
        self.y = np.exp(x)
        return self.y

    def backward(self, g):
        return g * self.y


class Log(Function):
    """y = ln x;  dL/dx = dL/dy / x."""

    formula = "dL/dx = dL/dy / x"

    def forward(self, x):
        self.x = x
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(x)

    def backward(self, g):
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / self.x


class Sqrt(Function):
    """y = √x;  dL/dx = dL/dy / (2y)."""

    formula = "dL/dx = dL/dy / (2y)"

    def forward(self, x):
        with np.errstate(invalid="ignore"):
            self.y = np.sqrt(x)
        return self.y

    def backward(self, g):
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / (2 * self.y)


class Abs(Function):
    """y = |x|;  dL/dx = dL/dy * sign(x) (0 at x = 0, as PyTorch)."""

    formula = "dL/dx = dL/dy * sign(x)"

    def forward(self, x):
        self.sign = np.sign(x)
        return np.abs(x)

    def backward(self, g):
        return g * self.sign


class Clip(Function):
    """y = min(max(x, lo), hi);  dL/dx = dL/dy where lo <= x <= hi, else 0."""

    formula = "dL/dx = dL/dy where lo <= x <= hi, else 0"

    def forward(self, x, lo=None, hi=None):
        self.inside = np.ones(x.shape, dtype=bool)
        if lo is not None:
            self.inside &= x >= lo
        if hi is not None:
            self.inside &= x <= hi
        return np.clip(x, lo, hi)

    def backward(self, g):
        return g * self.inside


class Where(Function):
    """y = cond ? a : b;  dL/da = dL/dy where cond, dL/db = dL/dy elsewhere."""

    formula = "dL/da = dL/dy where cond, dL/db = dL/dy elsewhere"

    def forward(self, a, b, cond=None):
        self.cond, self.a_shape, self.b_shape = cond, a.shape, b.shape
        return np.where(cond, a, b)

    def backward(self, g):
        zero = np.zeros((), dtype=g.dtype)
        return (
            unbroadcast(np.where(self.cond, g, zero), self.a_shape) if self.needs_input_grad[0] else None,
            unbroadcast(np.where(self.cond, zero, g), self.b_shape) if self.needs_input_grad[1] else None,
        )


class Cast(Function):
    """y = x converted to another float dtype;  dL/dx = dL/dy converted back."""

    formula = "dL/dx = dL/dy converted back"

    def forward(self, x, dtype=None):
        self.dtype = x.dtype
        return x.astype(dtype)

    def backward(self, g):
        return g.astype(self.dtype)


def add(a, b) -> Tensor:
    return Add.apply(*as_operands(a, b))


def sub(a, b) -> Tensor:
    return Sub.apply(*as_operands(a, b))


def mul(a, b) -> Tensor:
    return Mul.apply(*as_operands(a, b))


def div(a, b) -> Tensor:
    return Div.apply(*as_operands(a, b))


def pow(a, b) -> Tensor:
    return Pow.apply(*as_operands(a, b))


def maximum(a, b) -> Tensor:
    return Maximum.apply(*as_operands(a, b))


def neg(x: Tensor) -> Tensor:
    return Neg.apply(x)


def exp(x: Tensor) -> Tensor:
    return Exp.apply(x)


def log(x: Tensor) -> Tensor:
    return Log.apply(x)


def sqrt(x: Tensor) -> Tensor:
    return Sqrt.apply(x)


def abs(x: Tensor) -> Tensor:
    return Abs.apply(x)


def clip(x: Tensor, min=None, max=None) -> Tensor:
    """Clamp ``x`` into [min, max], like ``torch.clamp``; either bound may be None."""
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    return Clip.apply(x, lo=min, hi=max)


clamp = clip


def where(condition, input, other) -> Tensor:
    """``input`` where ``condition`` holds, else ``other`` (broadcast), like ``torch.where``."""
    cond = np.asarray(condition.data if isinstance(condition, Tensor) else condition, dtype=bool)
    a, b = as_operands(input, other)
    _check_broadcast("where", a.data, b.data)
    return Where.apply(a, b, cond=cond)


def to_dtype(x: Tensor, dtype) -> Tensor:
    """``x`` as ``dtype``; the gradient flows back converted to the original dtype."""
    dtype = np.dtype(dtype)
    if dtype == x.dtype:
        return x
    if x.requires_grad and not np.issubdtype(dtype, np.floating):
        return Tensor._wrap(x.data.astype(dtype))
    return Cast.apply(x, dtype=dtype)
