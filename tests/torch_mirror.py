"""Compare a convprop module with its PyTorch twin (built by :mod:`convprop.testing.torch_twin`).

Used by the module, model and parity tests.
"""

from __future__ import annotations

import numpy as np

from convprop import nn
from tests.helpers import require_torch

torch = require_torch()  # skips the importing test module when PyTorch is absent, before the twin needs it
from convprop.testing.torch_twin import one_torch_thread, to_torch  # noqa: E402

__all__ = ["assert_same_state", "compare_module", "one_torch_thread", "to_torch", "torch"]
tnn = torch.nn


def compare_module(
    module: nn.Module,
    x: np.ndarray,
    seed: int = 0,
    twin: tnn.Module | None = None,
    rtol: float | None = None,
    atol: float | None = None,
):
    """Run ``module`` and its torch twin on ``x``; compare the output, ∂L/∂x and every parameter's gradient.

    The upstream gradient is random. Returns ``(convprop output, twin)`` so callers can
    continue (e.g. compare running statistics after several steps).
    """
    import convprop

    twin = to_torch(module) if twin is None else twin
    tol = {"rtol": 1e-10, "atol": 1e-12} if x.dtype == np.float64 else {"rtol": 1e-4, "atol": 1e-5}
    if rtol is not None:
        tol["rtol"] = rtol
    if atol is not None:
        tol["atol"] = atol
    module.zero_grad()
    twin.zero_grad()
    cx = convprop.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    cy, ty = module(cx), twin(tx)
    expected = ty.detach().numpy()
    assert cy.shape == expected.shape, f"output shape {cy.shape} != torch {expected.shape}"
    np.testing.assert_allclose(cy.data, expected, err_msg="forward differs from PyTorch", **tol)
    upstream = np.random.default_rng(seed).standard_normal(expected.shape).astype(expected.dtype)
    cy.backward(upstream)
    ty.backward(torch.from_numpy(upstream.copy()))
    np.testing.assert_allclose(cx.grad, tx.grad.numpy(), err_msg="input gradient differs from PyTorch", **tol)
    th_params = dict(twin.named_parameters())
    for name, p in module.named_parameters():
        tg = th_params[name].grad
        expected_grad = np.zeros(p.shape, p.dtype) if tg is None else tg.numpy()
        got = np.zeros(p.shape, p.dtype) if p.grad is None else p.grad
        np.testing.assert_allclose(got, expected_grad, err_msg=f"gradient of {name} differs from PyTorch", **tol)
    return cy, twin


def assert_same_state(module: nn.Module, twin: tnn.Module, rtol: float = 1e-10, atol: float = 1e-12) -> None:
    """Parameters and buffers (running statistics, num_batches_tracked) equal in both."""
    theirs = twin.state_dict()
    ours = module.state_dict()
    assert list(ours) == list(theirs), f"state_dict keys differ:\n{list(ours)}\n{list(theirs)}"
    for key, value in ours.items():
        np.testing.assert_allclose(value, theirs[key].numpy(), rtol=rtol, atol=atol, err_msg=key)
