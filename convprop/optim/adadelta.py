"""Adadelta (Zeiler, 2012), with exactly PyTorch's update."""

from __future__ import annotations

import numpy as np

from convprop.optim.optimizer import Optimizer, check_hyper
from convprop.tensor import Tensor


class Adadelta(Optimizer):
    r"""Adadelta: a step whose size is the ratio of two running RMS values, so ``lr`` is only a scale.

    For each parameter θ with gradient g (negated when ``maximize``):

    .. math::
        g &\leftarrow g + \lambda \theta \\
        v_t &= \rho v_{t-1} + (1 - \rho) g^2 \\
        \Delta &= \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}} \, g \\
        u_t &= \rho u_{t-1} + (1 - \rho) \Delta^2 \\
        \theta &\leftarrow \theta - \gamma \Delta

    Args:
        params: parameters or parameter groups (dicts).
        lr: the scale γ of each step. Default: 1.0.
        rho: ρ, the decay of both running averages. Default: 0.9.
        eps: ε inside both square roots. Default: 1e-6.
        weight_decay: λ (an L2 penalty added to the gradient). Default: 0.
        maximize: maximize the objective instead. Default: False.

    State per parameter: ``step`` (int), ``square_avg`` (v) and ``acc_delta`` (u).

    Example::

        >>> opt = Adadelta(model.parameters(), lr=1.0)
    """

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0, *,
                 maximize: bool = False):  # fmt: skip
        check_hyper(lr >= 0.0, f"Invalid learning rate: {lr}")
        check_hyper(0.0 <= rho <= 1.0, f"Invalid rho value: {rho}")
        check_hyper(eps >= 0.0, f"Invalid epsilon value: {eps}")
        check_hyper(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay, "maximize": maximize}
        super().__init__(params, defaults)

    def _update(self, group: dict, param: Tensor, grad: np.ndarray, state: dict) -> None:
        rho, eps = group["rho"], group["eps"]
        if not state:
            state.update(step=0, square_avg=np.zeros_like(param.data), acc_delta=np.zeros_like(param.data))
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param.data
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg *= rho
        square_avg += (1 - rho) * (grad * grad)
        delta = np.sqrt(acc_delta + eps) / np.sqrt(square_avg + eps) * grad
        acc_delta *= rho
        acc_delta += (1 - rho) * (delta * delta)
        param.data -= group["lr"] * delta
