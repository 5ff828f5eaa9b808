"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay (PyTorch's rule)."""

from __future__ import annotations

import numpy as np

from convprop.optim.optimizer import Optimizer
from convprop.tensor import Tensor


class SGD(Optimizer):
    r"""Stochastic gradient descent, with exactly PyTorch's update.

    For each parameter θ with gradient g (negated when ``maximize``), at step t:

    .. math::
        g &\leftarrow g + \lambda \theta \\
        b_t &\leftarrow g \text{ if } t = 1 \text{ else } \mu b_{t-1} + (1 - \tau) g \\
        g &\leftarrow g + \mu b_t \text{ if nesterov else } b_t \\
        \theta &\leftarrow \theta - \gamma g

    (the momentum lines only when μ ≠ 0), with γ = lr, μ = momentum, τ = dampening, λ = weight_decay.

    Args:
        params: parameters or parameter groups (dicts).
        lr: learning rate. Default: 1e-3.
        momentum: momentum factor μ. Default: 0.
        dampening: dampening τ for momentum. Default: 0.
        weight_decay: L2 penalty λ. Default: 0.
        nesterov: Nesterov momentum. Default: False.
        maximize: maximize the objective instead. Default: False.

    State per parameter: ``momentum_buffer`` (ndarray) once momentum is used.

    Example::

        >>> opt = SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
        >>> opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ):
        # `x < 0`, not `not x >= 0`: PyTorch's SGD lets NaN through (Adam and the others reject it)
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _update(self, group: dict, param: Tensor, grad: np.ndarray, state: dict) -> None:
        momentum, lr = group["momentum"], group["lr"]
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param.data
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(grad, dtype=param.dtype, copy=True)
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        param.data -= lr * grad
