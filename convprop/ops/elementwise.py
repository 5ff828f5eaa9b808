"""Elementwise arithmetic and maths, each backward beside its forward.

Binary operations follow NumPy broadcasting; their backward passes sum the
upstream gradient back to each input's shape (:func:`unbroadcast`), which is
the chain rule for a broadcast copy.
"""

from __future__ import annotations

import numpy as np

from convprop.dtypes import as_dtype
from convprop.ops._args import check_allocation
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


def as_operands(a, b, op: str = "operation") -> tuple[Tensor, Tensor]:
    """Two Tensors; a Python or NumPy scalar takes the other operand's dtype (no silent upcast)."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{op}: expected at least one Tensor argument, got {type(a).__name__} and {type(b).__name__}")
    if not isinstance(a, Tensor):
        a = _beside(a, b)
    elif not isinstance(b, Tensor):
        b = _beside(b, a)
    return a, b


def _beside(value, tensor: Tensor) -> Tensor:
    """``value`` as a Tensor to combine with ``tensor``: scalars and lists take its dtype, arrays keep theirs.

    A float scalar beside an integer or bool tensor gives a float32 operand, as PyTorch promotes.
    """
    if np.ndim(value) > 0 and hasattr(value, "dtype"):
        return Tensor._wrap(np.asarray(value))
    if isinstance(value, bool | int | float | np.number | np.bool_) or np.ndim(value) == 0:
        is_float = isinstance(value, float | np.floating)
        dtype = np.float32 if is_float and tensor.dtype.kind != "f" else tensor.dtype
        return Tensor._wrap(np.asarray(value, dtype=dtype))
    return Tensor._wrap(np.asarray(value, dtype=tensor.dtype))


def _check_broadcast(op: str, a: np.ndarray, b: np.ndarray) -> None:
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{op}: operands of shape {a.shape} and {b.shape} cannot be broadcast together") from None
    if shape != a.shape and shape != b.shape:  # only a broadcast can ask for more than the inputs hold
        check_allocation(shape, np.result_type(a.dtype, b.dtype), op)


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


class RoundedDiv(_Binary):
    """y = trunc(a / b) or floor(a / b);  a step function, so dL/da = dL/db = 0 (PyTorch gives zeros too)."""

    formula = "dL/da = dL/db = 0"

    op = "div"

    def forward(self, a, b, mode="trunc"):
        self.mode = mode
        return super().forward(a, b)

    def compute(self, a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            if a.dtype.kind != "f" and b.dtype.kind != "f":  # integers: exact integer division
                q = np.floor_divide(a, b) if self.mode == "floor" else np.trunc(a / b)
                return np.asarray(q).astype(np.result_type(a.dtype, b.dtype))
            q = a / b
            return np.asarray(np.trunc(q) if self.mode == "trunc" else np.floor(q))

    def backward(self, g):
        return None, None


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


class Clamp(Function):
    """y = min(max(x, lo), hi) with lo, hi tensors (broadcast);  PyTorch's gradients:

    dL/dx = dL/dy where lo <= x <= hi;  dL/dlo = dL/dy where x < lo < hi;
    dL/dhi = dL/dy where x > hi or hi < lo (hi wins when the bounds cross).
    A missing bound is given as ±inf and takes no gradient.
    """

    formula = "dL/dx = dL/dy where lo <= x <= hi;  dL/dlo = dL/dy where x < lo < hi"

    def forward(self, x, lo, hi):
        self.x, self.lo, self.hi = x, lo, hi
        return np.minimum(np.maximum(x, lo), hi).astype(x.dtype, copy=False)

    def backward(self, g):
        x, lo, hi = self.x, self.lo, self.hi
        zero = np.zeros((), dtype=g.dtype)
        gx = np.where((x >= lo) & (x <= hi), g, zero) if self.needs_input_grad[0] else None
        glo = unbroadcast(np.where((x < lo) & (lo < hi), g, zero), lo.shape) if self.needs_input_grad[1] else None
        ghi = unbroadcast(np.where((x > hi) | (hi < lo), g, zero), hi.shape) if self.needs_input_grad[2] else None
        return gx, glo, ghi


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
    return Add.apply(*as_operands(a, b, "add"))


def sub(a, b) -> Tensor:
    return Sub.apply(*as_operands(a, b, "sub"))


def mul(a, b) -> Tensor:
    return Mul.apply(*as_operands(a, b, "mul"))


def div(a, b, rounding_mode: str | None = None) -> Tensor:
    """a / b; ``rounding_mode='trunc'`` or ``'floor'`` rounds the quotient (its gradient is zero, as in PyTorch)."""
    if rounding_mode is None:
        return Div.apply(*as_operands(a, b, "div"))
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
    return RoundedDiv.apply(*as_operands(a, b, "div"), mode=rounding_mode)


def pow(a, b) -> Tensor:
    return Pow.apply(*as_operands(a, b, "pow"))


def _both_tensors(a, b, op: str) -> None:
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"{op}: expected two Tensors, got {type(a).__name__} and {type(b).__name__}")


def maximum(a: Tensor, b: Tensor) -> Tensor:
    """The elementwise larger of two tensors (NaN wins), like ``torch.maximum``."""
    _both_tensors(a, b, "maximum")
    return Maximum.apply(a, b)


def minimum(a: Tensor, b: Tensor) -> Tensor:
    """The elementwise smaller of two tensors: -maximum(-a, -b), so ties split the gradient evenly."""
    _both_tensors(a, b, "minimum")
    return neg(Maximum.apply(neg(a), neg(b)))


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


def clamp(x: Tensor, min=None, max=None) -> Tensor:
    """Clamp ``x`` into [min, max], like ``torch.clamp``; either bound may be None, a number or a Tensor."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if not isinstance(x, Tensor):
        raise TypeError(f"clamp: input must be a Tensor, got {type(x).__name__}")
    bounds = []
    for name, bound, missing in (("min", min, -np.inf), ("max", max, np.inf)):
        if bound is None:
            bound = Tensor._wrap(np.asarray(missing, dtype=x.dtype if x.dtype.kind == "f" else np.float64))
        elif not isinstance(bound, Tensor):
            if isinstance(bound, bool) or not isinstance(bound, int | float | np.number):
                raise TypeError(f"clamp: {name} must be a number or a Tensor, got {type(bound).__name__}")
            bound = _beside(bound, x)
        _check_broadcast("clamp", x.data, bound.data)
        bounds.append(bound)
    return Clamp.apply(x, *bounds)


clip = clamp


def _is_scalar(value) -> bool:
    return isinstance(value, bool | int | float | np.bool_ | np.integer | np.floating)


def where(condition, input, other) -> Tensor:
    """``input`` where ``condition`` holds, else ``other`` (broadcast), like ``torch.where``.

    Two Python scalars take PyTorch's dtype for them: float32 if either is a float, else int64 if either is
    an int, else bool.
    """
    cond = np.asarray(condition.data if isinstance(condition, Tensor) else condition, dtype=bool)
    if _is_scalar(input) and _is_scalar(other):
        kinds = {np.asarray(input).dtype.kind, np.asarray(other).dtype.kind}
        dtype = np.float32 if "f" in kinds else np.int64 if kinds & {"i", "u"} else np.bool_
        input, other = Tensor._wrap(np.asarray(input, dtype)), Tensor._wrap(np.asarray(other, dtype))
    a, b = as_operands(input, other, "where")
    _check_broadcast("where", a.data, b.data)
    return Where.apply(a, b, cond=cond)


def to_dtype(x: Tensor, dtype) -> Tensor:
    """``x`` as ``dtype``; the gradient flows back converted to the original dtype."""
    dtype = as_dtype(dtype, "to")
    if dtype == x.dtype:
        return x
    if not np.issubdtype(dtype, np.floating) or not np.issubdtype(x.dtype, np.floating):
        return Tensor._wrap(x.data.astype(dtype))
    return Cast.apply(x, dtype=dtype)


# ---- comparisons and logic: boolean results, outside the graph ----------
def _compare(op, a, b, name: str) -> Tensor:
    a, b = as_operands(a, b, name)
    _check_broadcast(name, a.data, b.data)
    return Tensor._wrap(np.asarray(op(a.data, b.data)))


def eq(input, other) -> Tensor:
    return _compare(np.equal, input, other, "eq")


def ne(input, other) -> Tensor:
    return _compare(np.not_equal, input, other, "ne")


def lt(input, other) -> Tensor:
    return _compare(np.less, input, other, "lt")


def le(input, other) -> Tensor:
    return _compare(np.less_equal, input, other, "le")


def gt(input, other) -> Tensor:
    return _compare(np.greater, input, other, "gt")


def ge(input, other) -> Tensor:
    return _compare(np.greater_equal, input, other, "ge")


def logical_op(op, a, b) -> Tensor:
    """``&``, ``|``, ``^`` on bool or integer tensors (bitwise, as in PyTorch)."""
    a, b = as_operands(a, b, op.__name__)
    if a.dtype.kind not in "biu" or b.dtype.kind not in "biu":
        raise TypeError(f"{op.__name__}: expected bool or integer tensors, got {a.dtype} and {b.dtype}")
    return Tensor._wrap(np.asarray(op(a.data, b.data)))


def logical_not(x: Tensor) -> Tensor:
    if x.dtype.kind not in "biu":
        raise TypeError(f"~ (bitwise_not): expected a bool or integer tensor, got {x.dtype}")
    return Tensor._wrap(np.asarray(~x.data))


def masked_fill(x: Tensor, mask, value) -> Tensor:
    """``value`` where ``mask`` (bool, broadcast to ``x``) is True, else ``x``;  dL/dx = dL/dy where not mask."""
    m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_fill: mask must be a bool tensor, got dtype {m.dtype}")
    try:
        np.broadcast_shapes(m.shape, x.shape)
    except ValueError:
        raise ValueError(
            f"masked_fill: mask of shape {m.shape} does not broadcast with input shape {x.shape}"
        ) from None
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got shape {value.shape}")
        fill = value
    else:
        fill = Tensor._wrap(np.asarray(value, dtype=x.dtype))
    return Where.apply(fill, x, cond=m)
