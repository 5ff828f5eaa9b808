"""Loss functions, built from the differentiable ops (so their gradients are those ops' chain rule).

Cross-entropy is log-softmax followed by a weighted sum of the log-probabilities:
for class indices, L_n = -Σ_c coef[n, c] · log p[n, c] with coef the (smoothed,
weighted) one-hot target, which makes dL/dx = softmax(x)·Σ coef - coef.
"""

from __future__ import annotations

import numpy as np

from convprop.ops._args import check_allocation
from convprop.ops.activation import log_softmax, relu
from convprop.ops.elementwise import abs, add, exp, log, maximum, mul, neg, sub, where
from convprop.ops.reduce import mean, sum
from convprop.tensor import Function, Tensor

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str, op: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return mean(loss)
    return sum(loss) if reduction == "sum" else loss


def _as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))


def _indexed_nll(
    logp: Tensor, target: np.ndarray, weight, ignore_index: int, reduction: str, smoothing: float, op: str
) -> Tensor:
    """-Σ_c coef[n, c] log p[n, c] for class-index targets, reduced as PyTorch does.

    coef = (1 - ε)·w[t]·onehot(t) + (ε / C)·w, zero where t == ignore_index; the
    mean divides by Σ_n w[t_n] over the targets that are not ignored.
    """
    batched = logp.ndim >= 2
    c = logp.shape[1] if batched else logp.shape[0]
    expected = (logp.shape[0], *logp.shape[2:]) if batched else ()
    if target.shape != expected:
        raise ValueError(
            f"{op}: expected target of shape {expected} for input of shape {logp.shape}, got {target.shape}"
        )
    if not np.issubdtype(target.dtype, np.integer):
        raise TypeError(f"{op}: class-index targets must be integers, got dtype {target.dtype}")
    if logp.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point input, got dtype {logp.dtype}")
    check_allocation((*target.shape, c), logp.dtype, op)
    if isinstance(weight, Tensor) and weight.dtype != logp.dtype:
        raise RuntimeError(f"{op}: weight has dtype {weight.dtype} but the input has dtype {logp.dtype}")
    keep = target != ignore_index
    bad = keep & ((target < 0) | (target >= c))
    if bad.any():
        raise IndexError(f"{op}: target {int(target[bad].flat[0])} is out of bounds for {c} classes")
    w = np.ones(c, dtype=logp.dtype) if weight is None else np.asarray(weight, dtype=logp.dtype)
    if w.shape != (c,):
        raise ValueError(f"{op}: weight must have shape ({c},), got {w.shape}")
    safe = np.where(keep, target, 0)
    onehot = np.zeros((*target.shape, c), dtype=logp.dtype)
    np.put_along_axis(onehot, safe[..., None], 1, axis=-1)
    smooth = smoothing / c if c else 0.0  # no classes: an empty sum
    coef = ((1 - smoothing) * onehot * w[safe][..., None] + smooth * w) * keep[..., None]
    coef = np.moveaxis(coef, -1, 1) if batched else coef
    # Only classes with a non-zero coefficient enter the sum, so a -inf logit elsewhere (a masked class)
    # contributes nothing rather than 0 * -inf = NaN, as in PyTorch.
    with np.errstate(invalid="ignore"):  # the 0 * -inf products computed here are discarded by `where`
        terms = where(coef != 0, mul(logp, Tensor._wrap(-coef.astype(logp.dtype))), 0.0)
    per_item = sum(terms, dim=1 if batched else 0)
    if reduction != "mean":
        return _reduce(per_item, reduction)
    denom = (w[safe] * keep).sum()
    with np.errstate(divide="ignore", invalid="ignore"):  # nothing counted: 0 / 0 = NaN, as in PyTorch
        scale = np.asarray(np.float64(1) / denom if denom else np.nan, dtype=logp.dtype)
    return mul(sum(per_item), Tensor._wrap(scale))


def nll_loss(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` (N, C, ...) at class indices ``target`` (N, ...)."""
    _check_reduction(reduction, "nll_loss")
    target = target.data if isinstance(target, Tensor) else np.asarray(target)
    return _indexed_nll(_as_tensor(input), target, weight, ignore_index, reduction, 0.0, "nll_loss")


def cross_entropy(
    input,
    target,
    weight=None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy of logits ``input`` (N, C, ...) against class indices (N, ...) or probabilities (N, C, ...).

    L = -Σ_c q_c log softmax(x)_c, with q the target (smoothed: q(1-ε) + ε/C),
    like ``torch.nn.functional.cross_entropy``.
    """
    _check_reduction(reduction, "cross_entropy")
    if label_smoothing > 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    # PyTorch checks only the upper bound, and smooths only when label_smoothing > 0 (negative or NaN: none)
    label_smoothing = label_smoothing if label_smoothing > 0.0 else 0.0
    input = _as_tensor(input)
    if input.ndim == 0:
        raise ValueError("cross_entropy: input must have at least 1 dimension (classes), got a scalar")
    class_dim = 1 if input.ndim >= 2 else 0
    logp = log_softmax(input, dim=class_dim)
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if np.issubdtype(t.dtype, np.integer):
        return _indexed_nll(logp, t, weight, ignore_index, reduction, label_smoothing, "cross_entropy")
    # probability targets
    if t.dtype.kind != "f":
        raise RuntimeError(
            f"cross_entropy: expected floating point type for target with class probabilities, got {t.dtype}"
        )
    if ignore_index != -100:
        raise RuntimeError("cross_entropy: ignore_index is not supported for floating point target")
    if t.shape != input.shape:
        raise ValueError(f"cross_entropy: probability target shape {t.shape} must equal input shape {input.shape}")
    q = _as_tensor(target)
    c = input.shape[class_dim]
    if label_smoothing:
        q = add(mul(q, 1 - label_smoothing), label_smoothing / c)
    if weight is not None:
        w = np.asarray(weight, dtype=input.dtype)
        if w.shape != (c,):
            raise ValueError(f"cross_entropy: weight must have shape ({c},), got {w.shape}")
        q = mul(q, Tensor._wrap(w.reshape((c,) + (1,) * (input.ndim - class_dim - 1))))
    per_item = -sum(mul(logp, q), dim=class_dim)
    return _reduce(per_item, reduction)


def _check_same_shape(input: Tensor, target: Tensor, op: str) -> None:
    if input.shape != target.shape:
        raise ValueError(f"{op}: target shape {target.shape} must equal input shape {input.shape}")


def mse_loss(input, target, reduction: str = "mean") -> Tensor:
    """Mean squared error: (input - target)², reduced."""
    _check_reduction(reduction, "mse_loss")
    input, target = _pair(input, target, "mse_loss")
    d = sub(input, target)
    return _reduce(mul(d, d), reduction)


def binary_cross_entropy_with_logits(
    input,
    target,
    weight=None,
    reduction: str = "mean",
    pos_weight=None,
) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable expression.

    l = (1 - t)·x + (1 + (p - 1)·t)·(ln(1 + e^{-|x|}) + max(-x, 0)), p = pos_weight,
    which equals -[p·t·ln σ(x) + (1 - t)·ln(1 - σ(x))] without overflow.
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    x, t = _as_tensor(input), _as_tensor(target)
    _check_same_shape(x, t, "binary_cross_entropy_with_logits")
    softplus_neg = add(log(add(exp(-abs(x)), 1.0)), relu(-x))
    scale = 1.0 if pos_weight is None else add(mul(sub(_as_tensor(pos_weight), 1.0), t), 1.0)
    loss = add(mul(sub(1.0, t), x), mul(scale, softplus_neg))
    if weight is not None:
        loss = mul(loss, _as_tensor(weight))
    return _reduce(loss, reduction)


def _pair(input, target, op: str) -> tuple[Tensor, Tensor]:
    """Input and target as tensors of one shape; the target takes the input's floating dtype, as in PyTorch."""
    input, target = _as_tensor(input), _as_tensor(target)
    _check_same_shape(input, target, op)
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point input, got dtype {input.dtype}")
    if target.dtype != input.dtype:
        target = target.to(input.dtype) if not target.requires_grad or target.dtype.kind == "f" else target
    return input, target


def l1_loss(input, target, reduction: str = "mean") -> Tensor:
    """Mean absolute error |input - target|, reduced; gradient sign(input - target) / n."""
    _check_reduction(reduction, "l1_loss")
    x, t = _pair(input, target, "l1_loss")
    return _reduce(abs(sub(x, t)), reduction)


def smooth_l1_loss(input, target, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d² / β where d = |input - target| < β, else d - 0.5 β (β = 0 gives the L1 loss)."""
    _check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    x, t = _pair(input, target, "smooth_l1_loss")
    d = abs(sub(x, t))
    if beta == 0:
        return _reduce(d, reduction)
    loss = where(d.data < beta, mul(mul(d, d), 0.5 / beta), sub(d, 0.5 * beta))
    return _reduce(loss, reduction)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """0.5 d² where d = |input - target| < δ, else δ (d - 0.5 δ)."""
    _check_reduction(reduction, "huber_loss")
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    x, t = _pair(input, target, "huber_loss")
    d = abs(sub(x, t))
    loss = where(d.data < delta, mul(mul(d, d), 0.5), mul(sub(d, 0.5 * delta), delta))
    return _reduce(loss, reduction)


class XLogX(Function):
    """y = t ln t, defined as 0 at t = 0 (PyTorch's ``xlogy(t, t)``);  dL/dt = dL/dy (ln t + t/t), the sum of
    xlogy's two partial derivatives as PyTorch takes them (so NaN at t = 0 and for t < 0, as there)."""

    formula = "dL/dt = dL/dy (ln t + t/t)"

    def forward(self, t):
        self.t = t
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(t == 0, 0, t * np.log(t)).astype(t.dtype, copy=False)

    def backward(self, g):
        t = self.t
        with np.errstate(divide="ignore", invalid="ignore"):
            return g * (np.where(t != 0, np.log(t), 0) + t / t)


def kl_div(input, target, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL divergence with log-probabilities ``input``: t (ln t - x), 0 where t = 0 (or eᵗ (t - x) with
    ``log_target``); ``reduction='batchmean'`` divides the sum by the batch size, the true KL per sample."""
    if reduction not in (*_REDUCTIONS, "batchmean"):
        raise ValueError(f"kl_div: reduction must be one of {(*_REDUCTIONS, 'batchmean')}, got {reduction!r}")
    x, t = _pair(input, target, "kl_div")
    loss = mul(exp(t), sub(t, x)) if log_target else sub(XLogX.apply(t), mul(t, x))
    if reduction == "batchmean":
        return mul(sum(loss), 1.0 / (x.shape[0] if x.ndim else 1))
    return _reduce(loss, reduction)


def binary_cross_entropy(input, target, weight=None, reduction: str = "mean") -> Tensor:
    """-w [t ln x + (1 - t) ln(1 - x)] for probabilities ``input`` in [0, 1]; each log is clamped at -100,
    as in PyTorch, so x = 0 or 1 gives a finite loss."""
    _check_reduction(reduction, "binary_cross_entropy")
    x, t = _pair(input, target, "binary_cross_entropy")
    if ((x.data < 0) | (x.data > 1)).any() or np.isnan(x.data).any():
        raise RuntimeError("binary_cross_entropy: all elements of input should be between 0 and 1")
    with np.errstate(divide="ignore"):
        log_x = maximum(log(x), Tensor._wrap(np.asarray(-100.0, dtype=x.dtype)))
        log_1mx = maximum(log(sub(1.0, x)), Tensor._wrap(np.asarray(-100.0, dtype=x.dtype)))
    loss = neg(add(mul(t, log_x), mul(sub(1.0, t), log_1mx)))
    if weight is not None:
        loss = mul(loss, _as_tensor(weight))
    return _reduce(loss, reduction)
