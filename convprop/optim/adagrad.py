"""Adagrad (Duchi et al., 2011), with exactly PyTorch's update."""

from __future__ import annotations

import numpy as np

from convprop.optim.optimizer import Optimizer, check_hyper
from convprop.tensor import Tensor


class Adagrad(Optimizer):
    r"""Adagrad: each coordinate's step shrinks with the sum of its squared gradients.

    .. math::
        g &\leftarrow g + \lambda \theta, \qquad \tilde\gamma = \gamma / (1 + (t - 1) \eta) \\
        s_t &= s_{t-1} + g^2 \\
        \theta &\leftarrow \theta - \tilde\gamma \, g / (\sqrt{s_t} + \epsilon)

    Args:
        params: parameters or parameter groups (dicts).
        lr: learning rate γ. Default: 1e-2.
        lr_decay: η. Default: 0.
        weight_decay: λ. Default: 0.
        initial_accumulator_value: the starting value of s. Default: 0.
        eps: ε. Default: 1e-10.
        maximize: maximize the objective instead. Default: False.

    State per parameter: ``step`` (int) and ``sum`` (s).
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, *, maximize: bool = False):  # fmt: skip
        check_hyper(lr >= 0.0, f"Invalid learning rate: {lr}")
        check_hyper(lr_decay >= 0.0, f"Invalid lr_decay value: {lr_decay}")
        check_hyper(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        check_hyper(initial_accumulator_value >= 0.0, f"Invalid initial_accumulator_value value: "
                    f"{initial_accumulator_value}")  # fmt: skip
        check_hyper(eps >= 0.0, f"Invalid epsilon value: {eps}")
        defaults = {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay, "eps": eps, "maximize": maximize,
                    "initial_accumulator_value": initial_accumulator_value}  # fmt: skip
        super().__init__(params, defaults)

    def _update(self, group: dict, param: Tensor, grad: np.ndarray, state: dict) -> None:
        if not state:
            state.update(step=0, sum=np.full_like(param.data, group["initial_accumulator_value"]))
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param.data
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"] += grad * grad
        param.data -= clr * (grad / (np.sqrt(state["sum"]) + group["eps"]))
