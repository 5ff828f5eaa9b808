"""Shared test helpers: run the same computation in convprop and in PyTorch and compare.

Every comparison backpropagates a *random* upstream gradient (ones would hide
flips and transposes) and compares the forward output and the gradient of every
input that requires one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest

import convprop


def require_torch():
    """PyTorch, or skip the test with a clear reason (CI always installs it)."""
    return pytest.importorskip(
        "torch", reason="PyTorch is the test oracle: pip install torch==2.13.0", exc_type=ImportError
    )


def tolerances(dtype) -> dict:
    return {"rtol": 1e-10, "atol": 1e-12} if np.dtype(dtype) == np.float64 else {"rtol": 1e-4, "atol": 1e-5}


def compare_with_torch(
    cp_fn: Callable,
    torch_fn: Callable,
    arrays: Sequence[np.ndarray],
    requires_grad: Sequence[bool] | None = None,
    seed: int = 0,
    rtol: float | None = None,
    atol: float | None = None,
):
    """Run ``cp_fn(*convprop tensors)`` and ``torch_fn(*torch tensors)`` on the same arrays.

    Compares the outputs, then backpropagates the same random upstream gradient
    through both and compares every input gradient. Returns the convprop output.
    """
    torch = require_torch()
    if requires_grad is None:
        requires_grad = [np.issubdtype(a.dtype, np.floating) for a in arrays]
    tol = tolerances(arrays[0].dtype)
    if rtol is not None:
        tol["rtol"] = rtol
    if atol is not None:
        tol["atol"] = atol

    cp_in = [convprop.tensor(a, requires_grad=r) for a, r in zip(arrays, requires_grad, strict=True)]
    th_in = [torch.tensor(a, requires_grad=r) for a, r in zip(arrays, requires_grad, strict=True)]
    cp_out = cp_fn(*cp_in)
    th_out = torch_fn(*th_in)
    expected = th_out.detach().numpy()
    assert cp_out.shape == expected.shape, f"forward shape {cp_out.shape} != torch {expected.shape}"
    np.testing.assert_allclose(cp_out.data, expected, err_msg="forward output differs from PyTorch", **tol)

    if any(requires_grad) and cp_out.requires_grad:
        upstream = np.random.default_rng(seed).standard_normal(expected.shape).astype(expected.dtype)
        cp_out.backward(upstream)
        th_out.backward(torch.from_numpy(upstream.copy()))
        for i, (c, t) in enumerate(zip(cp_in, th_in, strict=True)):
            if not requires_grad[i]:
                continue
            tg = np.zeros(t.shape, dtype=expected.dtype) if t.grad is None else t.grad.numpy()
            cg = np.zeros(c.shape, dtype=expected.dtype) if c.grad is None else c.grad
            np.testing.assert_allclose(cg, tg, err_msg=f"gradient of input {i} differs from PyTorch", **tol)
    return cp_out
