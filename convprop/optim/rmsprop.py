"""RMSprop (Hinton), with exactly PyTorch's update, including the centered and momentum variants."""

from __future__ import annotations

import numpy as np

from convprop.optim.optimizer import Optimizer, check_hyper
from convprop.tensor import Tensor


class RMSprop(Optimizer):
    r"""RMSprop: divide the gradient by a running RMS of recent gradients.

    .. math::
        g &\leftarrow g + \lambda \theta \\
        v_t &= \alpha v_{t-1} + (1 - \alpha) g^2 \\
        \bar g_t &= \bar g_{t-1} + (1 - \alpha)(g - \bar g_{t-1}) \quad \text{(centered only)} \\
        d &= \sqrt{v_t - \bar g_t^2} + \epsilon \text{ if centered else } \sqrt{v_t} + \epsilon \\
        b_t &= \mu b_{t-1} + g / d, \quad \theta \leftarrow \theta - \gamma b_t
            \quad \text{(or } \theta \leftarrow \theta - \gamma g / d \text{ when } \mu = 0)

    Args:
        params: parameters or parameter groups (dicts).
        lr: learning rate γ. Default: 1e-2.
        alpha: α, the smoothing constant. Default: 0.99.
        eps: ε. Default: 1e-8.
        weight_decay: λ. Default: 0.
        momentum: μ. Default: 0.
        centered: normalise by the estimated variance instead of the second moment. Default: False.
        maximize: maximize the objective instead. Default: False.

    State per parameter: ``step``, ``square_avg``, and ``momentum_buffer`` / ``grad_avg`` when used.
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0,
                 momentum: float = 0, centered: bool = False, *, maximize: bool = False):  # fmt: skip
        check_hyper(lr >= 0.0, f"Invalid learning rate: {lr}")
        check_hyper(eps >= 0.0, f"Invalid epsilon value: {eps}")
        check_hyper(momentum >= 0.0, f"Invalid momentum value: {momentum}")
        check_hyper(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        check_hyper(alpha >= 0.0, f"Invalid alpha value: {alpha}")
        defaults = {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay, "momentum": momentum,
                    "centered": centered, "maximize": maximize}  # fmt: skip
        super().__init__(params, defaults)

    def _update(self, group: dict, param: Tensor, grad: np.ndarray, state: dict) -> None:
        alpha, momentum = group["alpha"], group["momentum"]
        if not state:
            state.update(step=0, square_avg=np.zeros_like(param.data))
            if momentum > 0:
                state["momentum_buffer"] = np.zeros_like(param.data)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(param.data)
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param.data
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * (grad * grad)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg += (1 - alpha) * (grad - grad_avg)
            avg = np.sqrt(square_avg - grad_avg * grad_avg) + group["eps"]
        else:
            avg = np.sqrt(square_avg) + group["eps"]
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += grad / avg
            param.data -= group["lr"] * buf
        else:
            param.data -= group["lr"] * (grad / avg)
