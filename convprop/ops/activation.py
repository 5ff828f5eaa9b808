"""Activations, softmax and dropout, each backward beside its forward."""

from __future__ import annotations

import math

import numpy as np

from convprop import random
from convprop.ops._args import check_allocation
from convprop.ops.elementwise import mul, to_dtype
from convprop.ops.inplace import inplace as write_in_place
from convprop.tensor import Function, Tensor


class ReLU(Function):
    """y = max(x, 0);  dL/dx = dL/dy where x > 0, else 0 (NaN passes it on, as in PyTorch)."""

    formula = "dL/dx = dL/dy where x > 0, else 0"

    def forward(self, x):
        self.mask = ~(x <= 0)
        return np.maximum(x, x.dtype.type(0))  # NaN stays NaN, as in PyTorch

    def backward(self, g):
        return g * self.mask


class LeakyReLU(Function):
    """y = x if x > 0 else a·x;  dL/dx = dL/dy · (1 if x > 0 else a)."""

    formula = "dL/dx = dL/dy · (1 if x > 0 else a)"

    def forward(self, x, negative_slope=0.01):
        self.slope = np.where(x > 0, 1, negative_slope).astype(x.dtype)
        return x * self.slope

    def backward(self, g):
        return g * self.slope


class Sigmoid(Function):
    """y = 1 / (1 + e⁻ˣ);  dL/dx = dL/dy · y(1 - y)."""

    formula = "dL/dx = dL/dy · y(1 - y)"

    def forward(self, x):
        # exp of a non-positive number only, so it never overflows
        e = np.exp(-np.abs(x))
        self.y = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)
        return self.y

    def backward(self, g):
        return g * self.y * (1 - self.y)


class Tanh(Function):
    """y = tanh x;  dL/dx = dL/dy · (1 - y²)."""

    formula = "dL/dx = dL/dy · (1 - y²)"

    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, g):
        return g * (1 - self.y * self.y)


class Softmax(Function):
    """yᵢ = e^{xᵢ - max x} / Σⱼ e^{xⱼ - max x};  dL/dx = y ⊙ (dL/dy - Σ dL/dy ⊙ y)."""

    formula = "dL/dx = y ⊙ (dL/dy - Σ dL/dy ⊙ y)"

    def forward(self, x, dim=-1):
        self.dim = dim
        if x.size == 0:  # nothing to normalise (an empty dim has no maximum)
            self.y = x.copy()
            return self.y
        e = np.exp(x - x.max(axis=dim, keepdims=True))
        self.y = e / e.sum(axis=dim, keepdims=True)
        return self.y

    def backward(self, g):
        y = self.y
        return y * (g - (g * y).sum(axis=self.dim, keepdims=True))


class LogSoftmax(Function):
    """yᵢ = xᵢ - m - ln Σⱼ e^{xⱼ - m} (m = max x, for stability);  dL/dx = dL/dy - softmax(x) · Σ dL/dy."""

    formula = "dL/dx = dL/dy - softmax(x) · Σ dL/dy"

    def forward(self, x, dim=-1):
        self.dim = dim
        if x.size == 0:
            self.y = x.copy()
            return self.y
        shifted = x - x.max(axis=dim, keepdims=True)
        y = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
        self.y = y
        return y

    def backward(self, g):
        return g - np.exp(self.y) * g.sum(axis=self.dim, keepdims=True)


def _dim(x: Tensor, dim: int, op: str) -> int:
    if not -max(x.ndim, 1) <= dim < max(x.ndim, 1):
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor with {x.ndim} dimensions")
    return dim % max(x.ndim, 1)


def _result(x: Tensor, y: Tensor, inplace: bool, op: str) -> Tensor:
    """``y``; with ``inplace=True``, ``x`` made to hold ``y`` and returned (PyTorch's in-place rules, ops.inplace)."""
    return write_in_place(x, y, f"{op}(inplace=True)") if inplace else y


def relu(x: Tensor, inplace: bool = False) -> Tensor:
    return _result(x, ReLU.apply(x), inplace, "relu")


def leaky_relu(x: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    return _result(x, LeakyReLU.apply(x, negative_slope=negative_slope), inplace, "leaky_relu")


def sigmoid(x: Tensor) -> Tensor:
    return Sigmoid.apply(x)


def tanh(x: Tensor) -> Tensor:
    return Tanh.apply(x)


def _floating(x: Tensor, dtype, op: str) -> Tensor:
    """``x`` cast to ``dtype`` if given; else it must be floating already (PyTorch has no integer kernel)."""
    if dtype is not None:
        return to_dtype(x, dtype)
    if x.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point input, got dtype {x.dtype}; pass dtype= to cast it")
    return x


def softmax(x: Tensor, dim: int = -1, dtype=None) -> Tensor:
    """e^x / Σ e^x along ``dim``; ``dtype`` casts the input first, as in PyTorch."""
    x = _floating(x, dtype, "softmax")
    check_allocation(x.shape, x.dtype, "softmax")
    return Softmax.apply(x, dim=_dim(x, dim, "softmax"))


def log_softmax(x: Tensor, dim: int = -1, dtype=None) -> Tensor:
    """x - ln Σ e^x along ``dim``; ``dtype`` casts the input first, as in PyTorch."""
    x = _floating(x, dtype, "log_softmax")
    check_allocation(x.shape, x.dtype, "log_softmax")
    return LogSoftmax.apply(x, dim=_dim(x, dim, "log_softmax"))


def dropout(
    x: Tensor,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (inverted dropout).

    The mask is drawn from ``generator`` (an ``np.random.Generator``), else from the
    default generator that ``convprop.manual_seed`` seeds. dL/dx = dL/dy · mask / (1 - p).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return x
    rng = random.resolve(generator, "dropout")
    if p == 1.0:
        scale = np.zeros(x.shape, dtype=x.dtype)
    else:
        scale = (rng.random(x.shape, dtype=np.float64) >= p).astype(x.dtype) / x.dtype.type(1 - p)
    return _result(x, mul(x, Tensor._wrap(scale)), inplace, "dropout")


class _Pointwise(Function):
    """y = f(x) elementwise;  dL/dx = dL/dy · f'(x). Subclasses give ``f`` and ``df`` (the local slope)."""

    def forward(self, x, **params):
        self.x, self.params = x, params
        with np.errstate(over="ignore", invalid="ignore"):
            return np.asarray(self.f(x, **params)).astype(x.dtype, copy=False)

    def backward(self, g):
        with np.errstate(over="ignore", invalid="ignore"):
            return np.asarray(g * self.df(self.x, **self.params)).astype(g.dtype, copy=False)


def _phi(x: np.ndarray) -> np.ndarray:
    """The standard normal CDF Φ(x) = ½(1 + erf(x/√2)) (NumPy has no vectorised erf; math.erf is exact)."""
    erf = np.frompyfunc(math.erf, 1, 1)
    return 0.5 * (1.0 + np.asarray(erf(x / math.sqrt(2.0)), dtype=np.float64))


_GELU_C = math.sqrt(2.0 / math.pi)


class GELU(_Pointwise):
    """y = x Φ(x);  dy/dx = Φ(x) + x φ(x).  ``approximate='tanh'``: y = ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³),
    dy/dx = ½(1 + tanh u) + ½x(1 - tanh²u)·√(2/π)(1 + 3·0.044715x²)."""

    formula = "dy/dx = Φ(x) + x φ(x)"

    @staticmethod
    def f(x, approximate="none"):
        if approximate == "tanh":
            return 0.5 * x * (1 + np.tanh(_GELU_C * (x + 0.044715 * x**3)))
        return x * _phi(x)

    @staticmethod
    def df(x, approximate="none"):
        if approximate == "tanh":
            t = np.tanh(_GELU_C * (x + 0.044715 * x**3))
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _GELU_C * (1 + 3 * 0.044715 * x * x)
        return _phi(x) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


class SiLU(_Pointwise):
    """y = x σ(x);  dy/dx = σ(x)(1 + x(1 - σ(x)))."""

    formula = "dy/dx = σ(x)(1 + x(1 - σ(x)))"

    @staticmethod
    def f(x):
        return x * _sigmoid(x)

    @staticmethod
    def df(x):
        s = _sigmoid(x)
        return s * (1 + x * (1 - s))


class ELU(_Pointwise):
    """y = x if x > 0 else α(eˣ - 1);  dy/dx = 1 if x > 0 else α eˣ."""

    formula = "dy/dx = 1 if x > 0 else α eˣ"

    @staticmethod
    def f(x, alpha=1.0):
        return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))

    @staticmethod
    def df(x, alpha=1.0):
        return np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0)))


class Hardtanh(_Pointwise):
    """y = min(max(x, lo), hi);  dy/dx = 1 where lo < x < hi, else 0 (ReLU6 is lo = 0, hi = 6)."""

    formula = "dy/dx = 1 where lo < x < hi, else 0"

    @staticmethod
    def f(x, lo=-1.0, hi=1.0):
        return np.clip(x, lo, hi)

    @staticmethod
    def df(x, lo=-1.0, hi=1.0):
        return ((x > lo) & (x < hi)).astype(x.dtype)


class Hardswish(_Pointwise):
    """y = x · min(max(x + 3, 0), 6) / 6;  dy/dx = 0 for x < -3, x/3 + ½ for -3 ≤ x ≤ 3, 1 above."""

    formula = "dy/dx = 0 for x < -3, x/3 + ½ for -3 ≤ x ≤ 3, 1 above"

    @staticmethod
    def f(x):
        return x * np.clip(x + 3, 0, 6) / 6

    @staticmethod
    def df(x):
        return np.where(x < -3, 0.0, np.where(x <= 3, x / 3 + 0.5, 1.0))


class Hardsigmoid(_Pointwise):
    """y = min(max(x + 3, 0), 6) / 6;  dy/dx = 1/6 for -3 < x < 3, else 0."""

    formula = "dy/dx = 1/6 for -3 < x < 3, else 0"

    @staticmethod
    def f(x):
        return np.clip(x + 3, 0, 6) / 6

    @staticmethod
    def df(x):
        return ((x > -3) & (x < 3)) / 6.0


class Softplus(_Pointwise):
    """y = ln(1 + e^{βx}) / β (x itself where βx > threshold);  dy/dx = σ(βx) (1 above the threshold)."""

    formula = "dy/dx = σ(βx) (1 above the threshold)"

    @staticmethod
    def f(x, beta=1.0, threshold=20.0):
        z = beta * x
        return np.where(z > threshold, x, (np.log1p(np.exp(-np.abs(z))) + np.maximum(z, 0)) / beta)

    @staticmethod
    def df(x, beta=1.0, threshold=20.0):
        z = beta * x
        return np.where(z > threshold, 1.0, _sigmoid(z))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


class PReLU(Function):
    """y = x if x > 0 else a·x, with a learned slope a per channel (axis 1);
    dL/dx = dL/dy · (1 if x > 0 else a),  dL/da = Σ dL/dy · x over the elements where x ≤ 0."""

    formula = "dL/dx = dL/dy · (1 if x > 0 else a),  dL/da = Σ dL/dy · x over the elements where x ≤ 0"

    def forward(self, x, a):
        self.x, self.a_shape = x, a.shape
        self.a = a.reshape((-1,) + (1,) * (x.ndim - 2)) if x.ndim >= 2 and a.size > 1 else a.reshape(())
        return np.where(x > 0, x, self.a * x)

    def backward(self, g):
        x, neg = self.x, self.x <= 0
        gx = np.where(neg, g * self.a, g) if self.needs_input_grad[0] else None
        ga = None
        if self.needs_input_grad[1]:
            contrib = np.where(neg, g * x, 0)
            if self.a.ndim:
                ga = contrib.sum(axis=(0, *range(2, x.ndim))).reshape(self.a_shape)
            else:
                ga = np.asarray(contrib.sum()).reshape(self.a_shape).astype(g.dtype)
        return gx, ga


def _pointwise(cls, x: Tensor, op: str, **params) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point tensor, got dtype {x.dtype}")
    return cls.apply(x, **params)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _pointwise(GELU, input, "gelu", approximate=approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    return _result(input, _pointwise(SiLU, input, "silu"), inplace, "silu")


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return _result(input, _pointwise(ELU, input, "elu", alpha=float(alpha)), inplace, "elu")


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    y = _pointwise(Hardtanh, input, "hardtanh", lo=float(min_val), hi=float(max_val))
    return _result(input, y, inplace, "hardtanh")


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    return hardtanh(input, 0.0, 6.0, inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    return _result(input, _pointwise(Hardswish, input, "hardswish"), inplace, "hardswish")


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    return _result(input, _pointwise(Hardsigmoid, input, "hardsigmoid"), inplace, "hardsigmoid")


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return _pointwise(Softplus, input, "softplus", beta=float(beta), threshold=float(threshold))


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """PReLU with slopes ``weight``: one value, or one per channel (axis 1 of ``input``)."""
    if weight.ndim > 1 or (weight.size(0) if weight.ndim else 1) not in (1, input.shape[1] if input.ndim >= 2 else 1):
        raise ValueError(
            f"prelu: weight of shape {weight.shape} must hold 1 value or one per channel of input {input.shape}"
        )
    return PReLU.apply(input, weight)


def dropout2d(
    input: Tensor,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Zero whole channels with probability ``p`` and scale the rest by 1/(1-p), for (N, C, H, W).

    One draw per (sample, channel), broadcast over the spatial axes; dL/dx = dL/dy · mask / (1 - p).
    A 3-D input is taken as (N, C, L), as PyTorch does today (with a warning there).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected a 3-D (N, C, L) or 4-D (N, C, H, W) input, got shape {input.shape}")
    if not training or p == 0.0:
        return input
    shape = (*input.shape[:2], *(1,) * (input.ndim - 2))
    rng = random.resolve(generator, "dropout2d")
    keep = rng.random(shape) >= p if p < 1 else np.zeros(shape, dtype=bool)
    scale = keep.astype(input.dtype) / input.dtype.type(1 - p) if p < 1 else keep.astype(input.dtype)
    return _result(input, mul(input, Tensor._wrap(scale)), inplace, "dropout2d")
