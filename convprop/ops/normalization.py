r"""Batch normalisation as one fused Function: forward and backward side by side.

For an input of shape (N, C, *S), every channel c is normalised over its
M = N * prod(S) values:

.. math::
    \mu_c = \frac{1}{M} \sum x, \quad \sigma_c^2 = \frac{1}{M} \sum (x - \mu_c)^2, \quad
    \hat x = (x - \mu_c) / \sqrt{\sigma_c^2 + \epsilon}, \quad y = \gamma_c \hat x + \beta_c

Backward (training mode, batch statistics), with g = ∂L/∂y:

.. math::
    \frac{\partial L}{\partial \beta_c} = \sum g, \quad
    \frac{\partial L}{\partial \gamma_c} = \sum g \hat x, \quad
    \frac{\partial L}{\partial x} = \frac{\gamma_c}{\sqrt{\sigma_c^2 + \epsilon}}
        \Big(g - \frac{1}{M}\frac{\partial L}{\partial \beta_c}
        - \frac{\hat x}{M}\frac{\partial L}{\partial \gamma_c}\Big)

The two subtracted terms are the paths through μ and σ². In evaluation mode the
statistics are constants, so ∂L/∂x = γ g / sqrt(running_var + ε).

Synchronised over K processes (``process_group``, see ``convprop.distributed``), each holding
M_r of the M values: the forward pass gathers every rank's (M_r, μ_r, Σ_r (x - μ_r)²) and combines
them exactly (Chan et al.), μ = Σ M_r μ_r / M and M σ² = Σ_r Σ (x - μ_r)² + Σ M_r (μ_r - μ)²; the
backward pass sums the two reductions Σ g and Σ g x̂ over the ranks before using them in ∂L/∂x. So
every rank's output and ∂L/∂x are its rows of the one-process result. ∂L/∂γ and ∂L/∂β stay the rank's
own partial sums: the gradient allreduce adds them up with the other parameters' gradients.
"""

from __future__ import annotations

import math

import numpy as np

from convprop.ops.elementwise import add, div, mul, sqrt, sub
from convprop.ops.reduce import mean
from convprop.ops.shape import clone, reshape
from convprop.tensor import Function, Tensor


def _col(v: np.ndarray) -> np.ndarray:
    """Shape (C,) -> (C, 1), to broadcast against the (N, C, S) view."""
    return v.reshape(-1, 1)


def channel_sums(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Σ a, or Σ a·b, per channel over the batch and space of (N, C, S) views: batch norm's reductions.

    Every batch statistic and both sums of the backward pass go through here (Σx for μ, Σ(x − μ)²
    for σ², Σg and Σg·(x − μ) for ∂L/∂β and ∂L/∂γ); under a process group these per-rank sums are
    then combined over the ranks (:func:`_global_moments` forward, one all-reduce backward).
    ``einsum`` multiplies and adds in one pass, keeping no full-size product.
    """
    return a.sum(axis=(0, 2)) if b is None else np.einsum("ncs,ncs->c", a, b)


class BatchNormFunction(Function):
    """y = γ x̂ + β with x̂ = (x - μ) / sqrt(σ² + ε), over the channel axis 1;  with g = ∂L/∂y (training mode):
    ∂L/∂x = γ/√(σ² + ε) · (g - mean(g) - x̂ · mean(g x̂)); ∂L/∂γ = Σ g x̂; ∂L/∂β = Σ g (derived in the module docstring).

    Works on an (N, C, S) view of any (N, C, *) input. Saves the centred input x − μ (not x̂: the
    scale 1/√(σ² + ε) is folded into per-channel factors instead, one full-size pass fewer forward):
    forward ``y = (x − μ)·(γ/√(σ² + ε)) + β`` in two passes; backward, with Σg·x̂ = Σg·(x − μ)/√(σ² + ε),
    ``∂L/∂x = γ/√(σ² + ε) · ((x − μ)·(−Σg·x̂ / (M √(σ² + ε))) + g − Σg/M)`` in four. Full-size
    temporaries are few and updated in place: on large activations each fresh array costs page
    faults, not just arithmetic. The reductions are :func:`channel_sums`.
    """

    formula = "∂L/∂x = γ/√(σ² + ε) · (g - mean(g) - x̂ · mean(g x̂)); ∂L/∂γ = Σ g x̂; ∂L/∂β = Σ g"

    def forward(
        self,
        x: np.ndarray,
        *affine: np.ndarray,
        has_weight: bool,
        has_bias: bool,
        running_mean: np.ndarray | None,
        running_var: np.ndarray | None,
        training: bool,
        momentum: float,
        eps: float,
        group=None,
    ) -> np.ndarray:
        n, c = x.shape[:2]
        x3 = x.reshape(n, c, -1)
        m = x3.shape[0] * x3.shape[2]
        w = affine[0] if has_weight else None
        b = affine[-1] if has_bias else None
        self.has_weight, self.has_bias, self.training = has_weight, has_bias, training

        if training:
            mean = channel_sums(x3) / m
            centred = x3 - _col(mean)
            var = channel_sums(centred, centred) / m
            if group is not None:
                local_mean = mean
                mean, var, m = _global_moments(group, mean, var, m)
                centred += _col((local_mean - mean).astype(x.dtype))  # x - μ_r becomes x - μ
            inv_std = (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False)
            if running_mean is not None:
                # In place, like PyTorch: the module's buffers are these very arrays. Running var is unbiased.
                running_mean *= 1 - momentum
                running_mean += momentum * mean
                running_var *= 1 - momentum
                running_var += momentum * var * (m / (m - 1))
        else:
            mean = running_mean.astype(x.dtype, copy=False)
            inv_std = (1.0 / np.sqrt(running_var + eps)).astype(x.dtype, copy=False)
            # evaluation saves x itself: x − μ is needed only if γ wants a gradient
            centred = x3
        scale = inv_std if w is None else w * inv_std
        if training:
            y = centred * _col(scale)
            if b is not None:
                y += _col(b)
        else:  # y = x·scale + (β − μ·scale), two passes as well
            y = x3 * _col(scale)
            y += _col(-mean * scale if b is None else b - mean * scale)
        self.centred, self.mean, self.inv_std, self.scale = centred, mean, inv_std, scale
        self.m, self.group = m, group
        return y.reshape(x.shape)

    def backward(self, grad_out: np.ndarray):
        inv_std, scale = self.inv_std, self.scale
        g = grad_out.reshape(self.centred.shape)
        m = self.m  # the global batch's, under a process group
        need_x = self.needs_input_grad[0]
        need_w = self.has_weight and self.needs_input_grad[1]
        need_b = self.has_bias and self.needs_input_grad[-1]
        # In training, ∂L/∂x needs ∂L/∂γ and ∂L/∂β (the paths through σ² and μ) even if γ, β are not learned.
        stats = need_x and self.training
        gb = channel_sums(g) if need_b or stats else None
        gw = None  # Σ g·x̂ = Σ g·(x − μ) / √(σ² + ε)
        if need_w or stats:
            centred = self.centred if self.training else self.centred - _col(self.mean)
            gw = channel_sums(g, centred) * inv_std
        gx = None
        if need_x:
            if self.training:
                sum_gw, sum_gb = gw, gb
                if self.group is not None:  # the global batch's sums; the parameters keep their own
                    c = len(gb)
                    sums = self.group.all_reduce(np.concatenate([gw, gb]).astype(np.float64))
                    sum_gw, sum_gb = sums[:c].astype(gw.dtype), sums[c:].astype(gb.dtype)
                gx = self.centred * _col(-sum_gw * inv_std / m)
                gx += g
                gx -= _col(sum_gb / m)
                gx *= _col(scale)
            else:
                gx = g * _col(scale)
            gx = gx.reshape(grad_out.shape)
        grads = [gx]
        if self.has_weight:
            grads.append(gw if need_w else None)
        if self.has_bias:
            grads.append(gb if need_b else None)
        return tuple(grads)


def _global_moments(group, mean: np.ndarray, var: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The global batch's per-channel mean and biased variance, and its size, from every rank's (M_r, μ_r, σ²_r).

    Combined in float64 as Chan et al.'s parallel variance: exact in exact arithmetic, and without the
    cancellation of E[x²] - μ² in float32.
    """
    c = len(mean)
    every = group.all_gather(np.concatenate([[m], mean, var * m]).astype(np.float64))
    counts, means, sq_dev = every[:, :1], every[:, 1 : 1 + c], every[:, 1 + c :]
    total = counts.sum()
    global_mean = (counts * means).sum(axis=0) / total
    m2 = sq_dev.sum(axis=0) + (counts * (means - global_mean) ** 2).sum(axis=0)
    return global_mean, m2 / total, int(total)


def _stat(value, name: str, channels: int) -> np.ndarray | None:
    if value is None:
        return None
    arr = value.data if isinstance(value, Tensor) else value
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"batch_norm: {name} must be a Tensor or None, got {type(value).__name__}")
    if arr.shape != (channels,):
        raise ValueError(f"batch_norm: {name} must have shape ({channels},) (the input's channels), got {arr.shape}")
    return arr


def batch_norm(
    input: Tensor,
    running_mean,
    running_var,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
    *,
    process_group=None,
) -> Tensor:
    r"""Batch normalisation over channel axis 1, like ``torch.nn.functional.batch_norm``.

    .. math::
        y = \frac{x - \mathrm{E}[x]}{\sqrt{\mathrm{Var}[x] + \epsilon}} \gamma + \beta

    With ``training=True`` the batch statistics are used, and ``running_mean`` /
    ``running_var`` (when given) are updated in place:
    ``running = (1 - momentum) running + momentum batch_stat`` with the unbiased batch
    variance. With ``training=False`` the running statistics are used.

    Args:
        input: (N, C) or (N, C, *S).
        running_mean, running_var: (C,) Tensors, or None (then batch statistics are required: ``training=True``).
        weight, bias: γ and β, (C,) Tensors or None.
        training: use batch statistics (and update the running ones). Default: False.
        momentum: running-statistics update factor. Default: 0.1.
        eps: added to the variance for stability. Default: 1e-5.
        process_group: (keyword only; convprop's) in training, take the statistics over the global batch of
            the processes of this ``convprop.distributed.ProcessGroup``, as ``torch.nn.SyncBatchNorm`` does.

    Shape:
        Output has the input's shape.

    Example::

        >>> y = batch_norm(x, None, None, training=True)  # per-channel zero mean, unit variance
    """
    x = input if isinstance(input, Tensor) else Tensor(input)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C) or (N, C, *), got shape {x.shape}")
    c = x.shape[1]
    rm = _stat(running_mean, "running_mean", c)
    rv = _stat(running_var, "running_var", c)
    if (rm is None) != (rv is None):
        raise ValueError("batch_norm: running_mean and running_var must both be given or both be None")
    if not training and rm is None:
        raise ValueError("batch_norm: running_mean and running_var must be defined in evaluation mode")
    if training and x.numel() // max(c, 1) == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {x.shape}")
    affine = []
    for name, t in (("weight", weight), ("bias", bias)):
        if t is None:
            continue
        if t.shape != (c,):
            raise ValueError(f"batch_norm: {name} must have shape ({c},) to match the input's channels, got {t.shape}")
        affine.append(t)
    if not math.isfinite(eps) or eps < 0:
        raise ValueError(f"batch_norm: eps must be a non-negative number, got {eps}")
    if training and eps <= 0:
        raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    if x.data.size == 0:  # nothing to normalise (and no statistics to update), as in PyTorch
        return clone(x)
    return BatchNormFunction.apply(
        x,
        *affine,
        has_weight=weight is not None,
        has_bias=bias is not None,
        running_mean=rm,
        running_var=rv,
        training=bool(training),
        momentum=float(momentum),
        eps=float(eps),
        group=process_group if training and process_group is not None and process_group.size() > 1 else None,
    )


def _normalize(x: Tensor, axes: tuple[int, ...], eps: float) -> Tensor:
    """x̂ = (x - mean) / sqrt(var + ε) over ``axes`` (biased variance), built from differentiable ops,
    so dL/dx is their chain rule: the same three-term formula as batch norm's."""
    centred = sub(x, mean(x, axes, keepdim=True))
    var = mean(mul(centred, centred), axes, keepdim=True)
    return div(centred, sqrt(add(var, eps)))


def _affine(y: Tensor, weight, bias, shape: tuple[int, ...]) -> Tensor:
    if weight is not None:
        y = mul(y, reshape(weight, shape))
    if bias is not None:
        y = add(y, reshape(bias, shape))
    return y


def layer_norm(input: Tensor, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """y = γ (x - μ) / sqrt(σ² + ε) + β with μ, σ² over the trailing ``normalized_shape`` dimensions."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or input.shape[input.ndim - k :] != shape:
        raise ValueError(
            f"layer_norm: normalized_shape {shape} must match the last dimensions of input of shape {input.shape}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != shape:
            raise ValueError(f"layer_norm: {name} must have shape {shape}, got {t.shape}")
    y = _normalize(input, tuple(range(input.ndim - k, input.ndim)), eps)
    return _affine(y, weight, bias, shape)


def group_norm(input: Tensor, num_groups: int, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """Normalise each sample over groups of C / num_groups channels (and all spatial positions), then
    apply the per-channel γ, β."""
    if input.ndim < 2:
        raise ValueError(f"group_norm: expected an input of shape (N, C, *), got {input.shape}")
    n, c = input.shape[:2]
    if num_groups <= 0 or c % num_groups:
        raise ValueError(f"group_norm: num_channels {c} must be divisible by num_groups {num_groups}")
    grouped = reshape(input, n, num_groups, -1) if input.data.size else reshape(input, n, num_groups, c // num_groups)
    y = reshape(_normalize(grouped, (2,), eps), input.shape)
    return _affine(y, weight, bias, (c,) + (1,) * (input.ndim - 2))


def instance_norm(
    input: Tensor,
    running_mean=None,
    running_var=None,
    weight=None,
    bias=None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each (sample, channel) over its spatial positions; with running statistics given, they are
    updated (momentum, unbiased variance averaged over the batch) or, if not ``use_input_stats``, used."""
    if input.ndim < 3:
        raise ValueError(f"instance_norm: expected an input of shape (N, C, *spatial), got {input.shape}")
    c = input.shape[1]
    axes = tuple(range(2, input.ndim))
    shape = (c,) + (1,) * (input.ndim - 2)
    if use_input_stats:
        if running_mean is not None and running_var is not None:
            m = int(np.prod(input.shape[2:]))
            mean_nc = input.data.mean(axis=axes)
            var_nc = input.data.var(axis=axes) * (m / (m - 1) if m > 1 else np.inf)
            running_mean.data[...] = (1 - momentum) * running_mean.data + momentum * mean_nc.mean(axis=0)
            running_var.data[...] = (1 - momentum) * running_var.data + momentum * var_nc.mean(axis=0)
        y = _normalize(input, axes, eps)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("instance_norm: use_input_stats=False needs running_mean and running_var")
        rm = Tensor._wrap(running_mean.data.reshape(shape))
        rv = Tensor._wrap(running_var.data.reshape(shape))
        y = div(sub(input, rm), sqrt(add(rv, eps)))
    return _affine(y, weight, bias, shape)
