"""Numerical gradient checking: the analytic backward pass against central differences."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from convprop.tensor import Tensor, no_grad


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` when an analytic gradient disagrees with the numeric one."""


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Tensor],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Check ``fn``'s gradients with respect to every input that requires grad.

    ``fn(*inputs)`` may return a tensor of any shape; it is reduced to a scalar
    as ``L = sum(out * G)`` with a fixed random ``G`` (ones would hide flips and
    transposes). For each element x_k of each input, the numeric gradient is the
    central difference ``(L(x_k + eps) - L(x_k - eps)) / (2 eps)``, computed in
    float64, and must satisfy ``|analytic - numeric| <= atol + rtol * |numeric|``.

    Returns True, or raises :class:`GradcheckError` naming the worst element:
    which input, its index, the analytic and the numeric value.

    Example::

        >>> x = convprop.tensor(np.random.rand(1, 1, 5, 5), requires_grad=True)
        >>> w = convprop.tensor(np.random.rand(2, 1, 3, 3), requires_grad=True)
        >>> convprop.gradcheck(lambda x, w: F.conv2d(x, w, stride=2), [x, w])
        True
    """
    inputs = list(inputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"gradcheck: inputs[{i}] must be a Tensor, got {type(t).__name__}")
    work = [Tensor(t.data.astype(np.float64), requires_grad=t.requires_grad) for t in inputs]
    checked = [i for i, t in enumerate(work) if t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True, so there is nothing to check")

    out = fn(*work)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    upstream = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(upstream)

    def loss() -> float:
        with no_grad():
            return float(np.sum(fn(*work).data.astype(np.float64) * upstream))

    worst = None  # (excess, input index, element index, analytic, numeric)
    for i in checked:
        t = work[i]
        analytic = t._grad_array if t._grad_array is not None else np.zeros_like(t.data)
        flat = t.data.reshape(-1)  # a view of the float64 copy: perturb in place
        numeric = np.empty(flat.size)
        for k in range(flat.size):
            orig = flat[k]
            flat[k] = orig + eps
            plus = loss()
            flat[k] = orig - eps
            minus = loss()
            flat[k] = orig
            numeric[k] = (plus - minus) / (2 * eps)
        a = analytic.reshape(-1)
        excess = np.abs(a - numeric) - (atol + rtol * np.abs(numeric))
        k = int(np.argmax(excess))
        if excess[k] > 0 and (worst is None or excess[k] > worst[0]):
            worst = (excess[k], i, np.unravel_index(k, t.shape), a[k], numeric[k])
    if worst is not None:
        _, i, index, a, n = worst
        raise GradcheckError(
            f"gradcheck failed for input {i} at index {tuple(int(v) for v in index)}: "
            f"analytic {a:.10g}, numeric {n:.10g} (|diff| {abs(a - n):.3g}, atol {atol}, rtol {rtol})"
        )
    return True
