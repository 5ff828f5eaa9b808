"""Activations, softmax and dropout, each backward beside its forward."""

from __future__ import annotations

import numpy as np

from convprop import random
from convprop.ops.elementwise import mul
from convprop.tensor import Function, Tensor


class ReLU(Function):
    """y = max(x, 0);  dL/dx = dL/dy where x > 0, else 0 (NaN passes it on, as in PyTorch)."""

    def forward(self, x):
        self.mask = ~(x <= 0)
        return np.maximum(x, x.dtype.type(0))  # NaN stays NaN, as in PyTorch

    def backward(self, g):
        return g * self.mask


class LeakyReLU(Function):
    """y = x if x > 0 else a·x;  dL/dx = dL/dy · (1 if x > 0 else a)."""

    def forward(self, x, negative_slope=0.01):
        self.slope = np.where(x > 0, 1, negative_slope).astype(x.dtype)
        return x * self.slope

    def backward(self, g):
        return g * self.slope


class Sigmoid(Function):
    """y = 1 / (1 + e⁻ˣ);  dL/dx = dL/dy · y(1 - y)."""

    def forward(self, x):
        # exp of a non-positive number only, so it never overflows
        e = np.exp(-np.abs(x))
        self.y = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)
        return self.y

    def backward(self, g):
        return g * self.y * (1 - self.y)


class Tanh(Function):
    """y = tanh x;  dL/dx = dL/dy · (1 - y²)."""

    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, g):
        return g * (1 - self.y * self.y)


class Softmax(Function):
    """yᵢ = e^{xᵢ - max x} / Σⱼ e^{xⱼ - max x};  dL/dx = y ⊙ (dL/dy - Σ dL/dy ⊙ y)."""

    def forward(self, x, dim=-1):
        self.dim = dim
        e = np.exp(x - x.max(axis=dim, keepdims=True))
        self.y = e / e.sum(axis=dim, keepdims=True)
        return self.y

    def backward(self, g):
        y = self.y
        return y * (g - (g * y).sum(axis=self.dim, keepdims=True))


class LogSoftmax(Function):
    """yᵢ = xᵢ - m - ln Σⱼ e^{xⱼ - m} (m = max x, for stability);  dL/dx = dL/dy - softmax(x) · Σ dL/dy."""

    def forward(self, x, dim=-1):
        self.dim = dim
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


def relu(x: Tensor) -> Tensor:
    return ReLU.apply(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return LeakyReLU.apply(x, negative_slope=negative_slope)


def sigmoid(x: Tensor) -> Tensor:
    return Sigmoid.apply(x)


def tanh(x: Tensor) -> Tensor:
    return Tanh.apply(x)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    return Softmax.apply(x, dim=_dim(x, dim, "softmax"))


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    return LogSoftmax.apply(x, dim=_dim(x, dim, "log_softmax"))


def dropout(x: Tensor, p: float = 0.5, training: bool = True, generator: np.random.Generator | None = None) -> Tensor:
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
    return mul(x, Tensor._wrap(scale))
