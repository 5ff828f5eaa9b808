"""Adam and AdamW (decoupled weight decay), with exactly PyTorch's update."""

from __future__ import annotations

import numpy as np

from convprop.optim.optimizer import Optimizer
from convprop.tensor import Tensor


class Adam(Optimizer):
    r"""Adam, with exactly PyTorch's update (same operations in the same order).

    For each parameter θ with gradient g (negated when ``maximize``), at step t:

    .. math::
        g &\leftarrow g + \lambda \theta \quad \text{(AdamW instead: } \theta \leftarrow \theta (1 - \gamma\lambda)) \\
        m_t &= m_{t-1} + (1 - \beta_1)(g - m_{t-1}) \\
        v_t &= \beta_2 v_{t-1} + (1 - \beta_2) g^2 \\
        \hat v &= \max(\hat v, v_t) \text{ if amsgrad else } v_t \\
        \theta &\leftarrow \theta - \frac{\gamma}{1 - \beta_1^t}
            \frac{m_t}{\sqrt{\hat v} / \sqrt{1 - \beta_2^t} + \epsilon}

    Args:
        params: parameters or parameter groups (dicts).
        lr: learning rate γ. Default: 1e-3.
        betas: (β1, β2), decay rates of the moment estimates. Default: (0.9, 0.999).
        eps: ε added to the denominator. Default: 1e-8.
        weight_decay: λ (an L2 penalty added to the gradient). Default: 0.
        amsgrad: use the running maximum of v. Default: False.
        maximize: maximize the objective instead. Default: False.

    State per parameter: ``step`` (int), ``exp_avg``, ``exp_avg_sq`` and, with amsgrad, ``max_exp_avg_sq``.

    Example::

        >>> opt = Adam(model.parameters(), lr=1e-3)
    """

    _decoupled_weight_decay = False

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ):
        if not lr >= 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not eps >= 0.0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        if not weight_decay >= 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {
            "lr": lr,
            "betas": tuple(float(b) for b in betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _update(self, group: dict, param: Tensor, grad: np.ndarray, state: dict) -> None:
        lr, (beta1, beta2), eps, weight_decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param.data)
            state["exp_avg_sq"] = np.zeros_like(param.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(param.data)
        state["step"] += 1
        step = state["step"]
        if weight_decay != 0:
            if self._decoupled_weight_decay:
                param.data *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * param.data
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        # m += (1 - β1)(g - m) is PyTorch's lerp; it rounds differently from β1 m + (1 - β1) g.
        exp_avg += (1 - beta1) * (grad - exp_avg)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * (grad * grad)
        step_size = lr / (1 - beta1**step)
        bias_correction2_sqrt = (1 - beta2**step) ** 0.5
        if group["amsgrad"]:
            max_sq = state.get("max_exp_avg_sq")
            if max_sq is None:  # amsgrad switched on after the state was created
                max_sq = state["max_exp_avg_sq"] = np.zeros_like(param.data)
            np.maximum(max_sq, exp_avg_sq, out=max_sq)
            second = max_sq
        else:
            second = exp_avg_sq
        denom = np.sqrt(second) / bias_correction2_sqrt + eps
        param.data -= step_size * (exp_avg / denom)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter), exactly PyTorch's ``AdamW``.

    Before the Adam step, :math:`\theta \leftarrow \theta (1 - \gamma \lambda)`; the gradient itself is not
    changed. Arguments as :class:`Adam`, with ``weight_decay`` defaulting to 1e-2.

    Example::

        >>> opt = AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    """

    _decoupled_weight_decay = True

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
