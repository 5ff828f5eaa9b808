"""PyTorch's own module samples (ModuleInfo ``module_db``) for every layer convprop has, run in both libraries.

Each sample builds the layer in both libraries with the same constructor arguments, copies PyTorch's
parameters and buffers across through ``load_state_dict``, and compares, in training and in eval mode,
the output, the buffers after the call and, for a random upstream gradient, the gradients of the
inputs and of every parameter (float64). Dropout's masks are random: only shapes are compared.
"""

from __future__ import annotations

import numpy as np
import pytest

import convprop
from tests.helpers import require_torch

torch = require_torch()
pytest.importorskip("expecttest", reason="torch's test suite needs it: pip install expecttest (CI installs it)")
from torch.testing._internal.common_modules import module_db  # noqa: E402

MODULES = [info for info in module_db if hasattr(convprop.nn, info.module_cls.__name__)]
TOL = {"rtol": 1e-7, "atol": 1e-9}


_SEEN: dict[int, tuple] = {}  # a tensor passed twice (input and target alike) stays one tensor


def _to_convprop(x):
    if isinstance(x, torch.Tensor):
        if id(x) not in _SEEN or _SEEN[id(x)][0] is not x:
            _SEEN[id(x)] = (x, convprop.tensor(x.detach().numpy().copy(), requires_grad=x.requires_grad))
        return _SEEN[id(x)][1]
    if isinstance(x, torch.Size):
        return tuple(x)
    if isinstance(x, torch.dtype):
        return np.dtype(str(x).removeprefix("torch."))
    if isinstance(x, list | tuple):
        return type(x)(_to_convprop(v) for v in x)
    if isinstance(x, dict):
        return {k: _to_convprop(v) for k, v in x.items()}
    return x


def _flat(x) -> list:
    return [v for item in x for v in _flat(item)] if isinstance(x, list | tuple) else [x]


def _check(info, sample, training: bool) -> None:
    _SEEN.clear()
    name = info.module_cls.__name__
    args, kwargs = sample.constructor_input.args, sample.constructor_input.kwargs
    th = info.module_cls(*args, **kwargs).to(torch.float64).train(training)
    cp = getattr(convprop.nn, name)(*_to_convprop(args), **_to_convprop(kwargs)).double().train(training)
    cp.load_state_dict({k: v.detach().numpy().copy() for k, v in th.state_dict().items()})
    f_args, f_kwargs = sample.forward_input.args, sample.forward_input.kwargs
    cp_args = _to_convprop(f_args)
    th_out, cp_out = _flat(th(*f_args, **f_kwargs)), _flat(cp(*cp_args, **_to_convprop(f_kwargs)))
    assert len(th_out) == len(cp_out)
    random = name.startswith("Dropout")
    for t, c in zip(th_out, cp_out, strict=True):
        assert tuple(c.shape) == tuple(t.shape)
        if not random:
            np.testing.assert_allclose(np.asarray(c.data, dtype=float), t.detach().double().numpy(), **TOL)
    for key, value in th.state_dict().items():  # running statistics after the call
        np.testing.assert_allclose(np.asarray(cp.state_dict()[key], dtype=float), value.double().numpy(), **TOL)
    th_in = [x for x in _flat(list(f_args)) if isinstance(x, torch.Tensor) and x.requires_grad]
    cp_in = [x for x in _flat(list(cp_args)) if isinstance(x, convprop.Tensor) and x.requires_grad]
    pairs = [(t, c) for t, c in zip(th_out, cp_out, strict=True) if t.requires_grad]
    if random or not pairs:
        return
    rng = np.random.default_rng(0)
    upstream = [rng.standard_normal(tuple(t.shape)) for t, _ in pairs]
    th_params = [p for _, p in th.named_parameters()]
    th_grads = torch.autograd.grad([t for t, _ in pairs], th_in + th_params, [torch.tensor(u) for u in upstream],
                                   allow_unused=True)  # fmt: skip
    total = sum(((c * convprop.tensor(u)).sum() for (_, c), u in zip(pairs, upstream, strict=True)), start=0.0)
    total.backward()
    cp_params = [p for _, p in cp.named_parameters()]
    assert [n for n, _ in cp.named_parameters()] == [n for n, _ in th.named_parameters()]
    for tg, c in zip(th_grads, cp_in + cp_params, strict=True):
        got = np.zeros(c.shape) if c.grad is None else c.grad
        want = np.zeros(c.shape) if tg is None else tg.numpy()
        np.testing.assert_allclose(got, want, err_msg="gradient", **TOL)


@pytest.mark.parametrize("info", MODULES, ids=[info.module_cls.__name__ for info in MODULES])
def test_moduleinfo_samples_match_pytorch(info):
    checked = 0
    for training in (True, False):
        samples = info.module_inputs_func(info, device="cpu", dtype=torch.float64, requires_grad=True,
                                          training=training)  # fmt: skip
        for i, sample in enumerate(samples):
            if sample.forward_input is None:
                continue
            try:
                _check(info, sample, training)
            except AssertionError as exc:
                raise AssertionError(f"training={training}, sample {i}: {sample.constructor_input}\n{exc}") from None
            checked += 1
    assert checked
