"""``torch.nn.utils``: gradient clipping.

Clipping scales or clips each gradient in place (through ``param._grad_array``, the memory
``param.grad`` shares), so a Tensor taken from ``param.grad`` before sees the clipped values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from convprop.tensor import Tensor


def _with_grads(parameters) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p for p in params if p._grad_array is not None]


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach=None) -> Tensor:  # fmt: skip
    r"""Scale all gradients together so that their joint norm is at most ``max_norm``.

    .. math:: \|g\| = \big(\sum_p \|g_p\|_q^q\big)^{1/q}, \qquad
        g_p \leftarrow g_p \cdot \min\Big(1, \frac{\text{max\_norm}}{\|g\| + 10^{-6}}\Big)

    Returns the total norm before clipping (a 0-d Tensor), as PyTorch does.
    """
    grads = [p._grad_array for p in _with_grads(parameters)]
    if not grads:
        return Tensor._wrap(np.asarray(0.0, dtype=np.float32))
    q = float(norm_type)
    if q == math.inf:
        norms = [np.abs(g).max() if g.size else 0.0 for g in grads]
        total = max(norms)
    else:
        norms = [np.linalg.norm(g.reshape(-1), q) for g in grads]
        total = np.linalg.norm(np.asarray(norms, dtype=np.float64), q)
    total = np.asarray(total, dtype=grads[0].dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it cannot be "
            "clipped. To disable this error and scale the gradients by the non-finite norm anyway, set "
            "`error_if_nonfinite=False`"
        )
    coef = min(max_norm / (float(total) + 1e-6), 1.0)
    for g in grads:
        g *= g.dtype.type(coef)
    return Tensor._wrap(total)


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float, foreach=None) -> None:
    """Clip every gradient element into [-clip_value, clip_value], in place."""
    for p in _with_grads(parameters):
        np.clip(p._grad_array, -clip_value, clip_value, out=p._grad_array)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened into one 1-D tensor (a copy)."""
    return Tensor._wrap(np.concatenate([p.data.reshape(-1) for p in parameters]))


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vec`` into the parameters, in place."""
    start = 0
    for p in parameters:
        n = p.data.size
        p.data[...] = vec.data[start : start + n].reshape(p.shape)
        start += n
