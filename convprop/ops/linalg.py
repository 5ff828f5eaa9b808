"""Matrix products: matmul and the fused linear layer, each backward beside its forward."""

from __future__ import annotations

import numpy as np

from convprop.ops import reduce
from convprop.ops.elementwise import clamp, div, mul, unbroadcast
from convprop.ops.shape import broadcast_to
from convprop.tensor import Function, Tensor


class MatMul(Function):
    """Y = A @ B (batched, broadcasting);  dL/dA = dL/dY @ Bᵀ,  dL/dB = Aᵀ @ dL/dY.

    1-D operands are promoted to matrices the way NumPy and PyTorch do, and the
    promoted axes are removed again from the gradients.
    """

    formula = "dL/dA = dL/dY @ Bᵀ,  dL/dB = Aᵀ @ dL/dY"

    def forward(self, a, b):
        self.a_shape, self.b_shape = a.shape, b.shape
        self.a = a[None, :] if a.ndim == 1 else a
        self.b = b[:, None] if b.ndim == 1 else b
        return a @ b

    def backward(self, g):
        # the gradient of the promoted product: promotion only added axes of size 1, so a reshape restores them
        a, b = self.a, self.b
        g = g.reshape(*np.broadcast_shapes(a.shape[:-2], b.shape[:-2]), a.shape[-2], b.shape[-1])
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = unbroadcast(g @ np.swapaxes(b, -1, -2), a.shape).reshape(self.a_shape)
        if self.needs_input_grad[1]:
            gb = unbroadcast(np.swapaxes(a, -1, -2) @ g, b.shape).reshape(self.b_shape)
        return ga, gb


class Linear(Function):
    """y = x Wᵀ + b over the last axis;  dL/dx = dL/dy W,  dL/dW = dL/dyᵀ x,  dL/db = Σ dL/dy.

    The sums run over every leading (batch) axis, as one GEMM on flattened rows.
    """

    formula = "dL/dx = dL/dy W,  dL/dW = dL/dyᵀ x,  dL/db = Σ dL/dy"

    def forward(self, x, w, b=None):
        self.x, self.w = x, w
        y = x @ w.T
        return y + b if b is not None else y

    def backward(self, g):
        g2 = g.reshape(-1, g.shape[-1])
        gx = (g @ self.w) if self.needs_input_grad[0] else None
        gw = g2.T @ self.x.reshape(-1, self.x.shape[-1]) if self.needs_input_grad[1] else None
        if len(self.needs_input_grad) == 2:  # called without a bias
            return gx, gw
        return gx, gw, g2.sum(axis=0) if self.needs_input_grad[2] else None


def matmul(a: Tensor, b: Tensor) -> Tensor:
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"matmul: both arguments need at least 1 dimension, got shapes {a.shape} and {b.shape}")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied ({k_a} != {k_b})")
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch dimensions of {a.shape} and {b.shape} cannot be broadcast") from None
    return MatMul.apply(a, b)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = input @ weightᵀ + bias, like ``torch.nn.functional.linear``.

    Shape: input (*, in_features), weight (out_features, in_features), bias (out_features,).
    """
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {weight.shape}")
    if input.ndim < 1 or input.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input's last dimension must equal in_features={weight.shape[1]} (weight shape {weight.shape}), "
            f"got input shape {input.shape}"
        )
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    if input.dtype != weight.dtype:
        raise TypeError(f"linear: input dtype {input.dtype} does not match weight dtype {weight.dtype}")
    return Linear.apply(input, weight) if bias is None else Linear.apply(input, weight, bias)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """x / max(‖x‖_p, ε) along ``dim``, like ``torch.nn.functional.normalize``."""
    return div(input, clamp(reduce.norm(input, p, dim, keepdim=True), min=eps))


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Σ (x1 / max(‖x1‖, ε)) (x2 / max(‖x2‖, ε)) along ``dim`` (inputs broadcast)."""
    try:
        shape = np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise ValueError(f"cosine_similarity: shapes {x1.shape} and {x2.shape} cannot be broadcast") from None
    # broadcast first: a size-1 axis along ``dim`` is copied before the norms are taken, as in PyTorch
    x1, x2 = broadcast_to(x1, shape), broadcast_to(x2, shape)
    return reduce.sum(mul(normalize(x1, 2.0, dim, eps), normalize(x2, 2.0, dim, eps)), dim)
