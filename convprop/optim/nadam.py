"""NAdam (Dozat, 2016) and RAdam (Liu et al., 2019), with exactly PyTorch's updates."""

from __future__ import annotations

import numpy as np

from convprop.optim.optimizer import Optimizer, check_hyper
from convprop.tensor import Tensor


def _check_adam_like(lr, betas, eps, weight_decay) -> None:
    check_hyper(lr >= 0.0, f"Invalid learning rate: {lr}")
    check_hyper(eps >= 0.0, f"Invalid epsilon value: {eps}")
    check_hyper(len(betas) == 2, f"betas must be a pair (beta1, beta2), got {betas!r}")
    for i, beta in enumerate(betas):
        check_hyper(0.0 <= beta < 1.0, f"Invalid beta parameter at index {i}: {beta}")
    check_hyper(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")


def _moments(group: dict, param: Tensor, grad: np.ndarray, state: dict) -> np.ndarray:
    """Weight decay (L2 or decoupled), then m += (1 - β1)(g - m) and v = β2 v + (1 - β2) g²; returns g."""
    lr, weight_decay, (beta1, beta2) = group["lr"], group["weight_decay"], group["betas"]
    if weight_decay != 0:
        if group["decoupled_weight_decay"]:
            param.data *= 1 - lr * weight_decay
        else:
            grad = grad + weight_decay * param.data
    state["exp_avg"] += (1 - beta1) * (grad - state["exp_avg"])
    state["exp_avg_sq"] *= beta2
    state["exp_avg_sq"] += (1 - beta2) * (grad * grad)
    return grad


class NAdam(Optimizer):
    r"""Adam with Nesterov momentum and a momentum schedule μ_t = β1 (1 - ½ · 0.96^{t ψ}).

    .. math::
        \theta \leftarrow \theta - \gamma \frac{1 - \mu_t}{1 - \prod_{i \le t} \mu_i} \frac{g}{d}
            - \gamma \frac{\mu_{t+1}}{1 - \prod_{i \le t+1} \mu_i} \frac{m_t}{d},
        \qquad d = \sqrt{v_t / (1 - \beta_2^t)} + \epsilon

    with m, v Adam's moments. The running product of μ is kept in float32, as PyTorch keeps it.

    Args:
        params: parameters or parameter groups (dicts).
        lr: γ. Default: 2e-3.
        betas: (β1, β2). Default: (0.9, 0.999).
        eps: ε. Default: 1e-8.
        weight_decay: λ. Default: 0.
        momentum_decay: ψ. Default: 4e-3.
        decoupled_weight_decay: θ ← θ(1 - γλ) instead of adding λθ to g. Default: False.
        maximize: maximize the objective instead. Default: False.
    """

    def __init__(self, params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3, decoupled_weight_decay: bool = False, *,
                 maximize: bool = False):  # fmt: skip
        _check_adam_like(lr, betas, eps, weight_decay)
        check_hyper(momentum_decay >= 0.0, f"Invalid momentum_decay value: {momentum_decay}")
        defaults = {"lr": lr, "betas": tuple(float(b) for b in betas), "eps": eps, "weight_decay": weight_decay,
                    "momentum_decay": momentum_decay, "decoupled_weight_decay": decoupled_weight_decay,
                    "maximize": maximize}  # fmt: skip
        super().__init__(params, defaults)

    def _update(self, group: dict, param: Tensor, grad: np.ndarray, state: dict) -> None:
        lr, (beta1, beta2), psi = group["lr"], group["betas"], group["momentum_decay"]
        if not state:
            state.update(step=0, mu_product=1.0, exp_avg=np.zeros_like(param.data),
                         exp_avg_sq=np.zeros_like(param.data))  # fmt: skip
        state["step"] += 1
        step = state["step"]
        grad = _moments(group, param, grad, state)
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * psi)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * psi)))
        state["mu_product"] = float(np.float32(state["mu_product"]) * np.float32(mu))
        mu_product = state["mu_product"]
        denom = np.sqrt(state["exp_avg_sq"] / (1 - beta2**step)) + group["eps"]
        param.data += (-lr * (1.0 - mu) / (1.0 - mu_product)) * (grad / denom)
        param.data += (-lr * mu_next / (1.0 - mu_product * mu_next)) * (state["exp_avg"] / denom)


class RAdam(Optimizer):
    r"""Rectified Adam: plain momentum SGD while the variance estimate is unreliable, then rectified Adam.

    With ρ∞ = 2/(1 - β2) - 1 and ρ_t = ρ∞ - 2 t β2^t / (1 - β2^t):

    .. math::
        \theta \leftarrow \theta - \gamma \frac{m_t}{1 - \beta_1^t} \cdot
            \begin{cases} r_t \sqrt{1 - \beta_2^t} / (\sqrt{v_t} + \epsilon) & \rho_t > 5 \\ 1 & \text{else}
            \end{cases},
        \quad r_t = \sqrt{\frac{(\rho_t - 4)(\rho_t - 2)\rho_\infty}{(\rho_\infty - 4)(\rho_\infty - 2)\rho_t}}

    Args:
        params: parameters or parameter groups (dicts).
        lr: γ. Default: 1e-3.
        betas: (β1, β2). Default: (0.9, 0.999).
        eps: ε. Default: 1e-8.
        weight_decay: λ. Default: 0.
        decoupled_weight_decay: θ ← θ(1 - γλ) instead of adding λθ to g. Default: False.
        maximize: maximize the objective instead. Default: False.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *, maximize: bool = False):  # fmt: skip
        _check_adam_like(lr, betas, eps, weight_decay)
        defaults = {"lr": lr, "betas": tuple(float(b) for b in betas), "eps": eps, "weight_decay": weight_decay,
                    "decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize}  # fmt: skip
        super().__init__(params, defaults)

    def _update(self, group: dict, param: Tensor, grad: np.ndarray, state: dict) -> None:
        lr, (beta1, beta2) = group["lr"], group["betas"]
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(param.data), exp_avg_sq=np.zeros_like(param.data))
        state["step"] += 1
        step = state["step"]
        _moments(group, param, grad, state)
        bias_correction2 = 1 - beta2**step
        corrected = state["exp_avg"] / (1 - beta1**step)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            adaptive = (bias_correction2**0.5) / (np.sqrt(state["exp_avg_sq"]) + group["eps"])
            param.data -= corrected * lr * adaptive * rect
        else:
            param.data -= corrected * lr
