"""PyTorch's own sample inputs (OpInfo ``op_db``) for every op convprop has, run in both libraries.

For each sample: where PyTorch returns, convprop returns outputs of the same shapes and values and, for a
random upstream gradient, the same input gradients (float64); where PyTorch raises, convprop raises a
ValueError, TypeError, RuntimeError or IndexError. Dropout's masks are random: only shapes are compared.

``NOT_PROVIDED`` lists the variants convprop does not implement; their samples must be refused with a
clear error (checked too), so nothing here is skipped.
"""

from __future__ import annotations

import numpy as np
import pytest

import convprop
import convprop.nn.functional as CF
from tests.helpers import require_torch

torch = require_torch()
pytest.importorskip("expecttest", reason="torch's test suite needs it: pip install expecttest (CI installs it)")
from torch.testing._internal.common_methods_invocations import op_db  # noqa: E402

CLEAR_ERRORS = (ValueError, TypeError, RuntimeError, IndexError)

# Tensor methods with torch's names and signatures
METHODS = {
    "T", "abs", "add", "amax", "amin", "argmax", "argmin", "chunk", "clamp", "clone", "div", "eq", "exp", "expand",
    "expand_as", "flatten", "ge", "gt", "le", "log", "log_softmax", "lt", "masked_fill", "matmul", "max", "maximum",
    "mean", "min", "minimum", "mul", "ne", "neg", "norm", "permute", "pow", "repeat", "reshape", "reshape_as",
    "rsqrt", "sigmoid", "softmax", "sort", "split", "sqrt", "square", "squeeze", "std", "sub", "sum", "t", "tanh",
    "topk", "transpose", "unbind", "unsqueeze", "var", "view", "view_as",
}  # fmt: skip
FUNCTIONS = {
    "cat": convprop.cat,
    "stack": convprop.stack,
    "where": lambda x, condition, other: convprop.where(condition, x, other),
}
# (op name, variant): what convprop does not provide, with the reason
NOT_PROVIDED = {
    ("nn.functional.interpolate", "bicubic"): "bicubic interpolation is not implemented",
    ("norm", "nuc"): "the nuclear norm needs an SVD; not implemented",
}
# single samples outside convprop's domain: (op name, variant, input shape)
NOT_PROVIDED_SAMPLES = {
    ("nn.functional.batch_norm", "", (0,)): "batch_norm of a 1-D input (convprop needs (N, C, *))",
    ("nn.functional.batch_norm", "without_cudnn", (0,)): "batch_norm of a 1-D input (convprop needs (N, C, *))",
}


def _convprop_op(name: str):
    if name in METHODS:
        return (lambda x, *a, **k: x.T) if name == "T" else (lambda x, *a, **k: getattr(x, name)(*a, **k))
    if name in FUNCTIONS:
        return FUNCTIONS[name]
    if name.startswith("nn.functional.") and hasattr(CF, name.removeprefix("nn.functional.")):
        return getattr(CF, name.removeprefix("nn.functional."))
    return None


OPS = [op for op in op_db if _convprop_op(op.name) is not None]


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


def _check_sample(op, cp_op, sample) -> None:
    _SEEN.clear()
    cp_args = [_to_convprop(sample.input), *_to_convprop(sample.args)]
    cp_kwargs = _to_convprop(sample.kwargs)
    try:
        th_out = op(sample.input, *sample.args, **sample.kwargs)
    except Exception:  # PyTorch rejects this sample: convprop must refuse it clearly
        with pytest.raises(CLEAR_ERRORS):
            cp_op(*cp_args, **cp_kwargs)
        return
    cp_out = cp_op(*cp_args, **cp_kwargs)
    th_list, cp_list = _flat(th_out), _flat(cp_out)
    assert len(cp_list) == len(th_list)
    for t, c in zip(th_list, cp_list, strict=True):
        if not isinstance(t, torch.Tensor):
            assert c == pytest.approx(t)
            continue
        assert tuple(c.shape) == tuple(t.shape)
        if not op.name.startswith("nn.functional.dropout"):
            want = t.detach().double().numpy()
            np.testing.assert_allclose(np.asarray(c.data, dtype=float), want, rtol=1e-7, atol=1e-9, equal_nan=True)
    th_inputs = [x for x in _flat([sample.input, *sample.args]) if isinstance(x, torch.Tensor) and x.requires_grad]
    cp_inputs = [x for x in _flat(cp_args) if isinstance(x, convprop.Tensor) and x.requires_grad]
    pairs = [(t, c) for t, c in zip(th_list, cp_list, strict=True) if isinstance(t, torch.Tensor) and t.requires_grad]
    if not pairs or not th_inputs or op.name.startswith("nn.functional.dropout"):
        return
    rng = np.random.default_rng(0)
    upstream = [rng.standard_normal(tuple(t.shape)) for t, _ in pairs]
    th_grads = torch.autograd.grad([t for t, _ in pairs], th_inputs, [torch.tensor(u) for u in upstream],
                                   allow_unused=True)  # fmt: skip
    total = sum(((c * convprop.tensor(u)).sum() for (_, c), u in zip(pairs, upstream, strict=True)), start=0.0)
    if isinstance(total, convprop.Tensor) and total.requires_grad:
        total.backward()
    assert len(cp_inputs) == len(th_inputs)
    for tg, c in zip(th_grads, cp_inputs, strict=True):
        got = np.zeros(c.shape) if c.grad is None else c.grad
        want = np.zeros(c.shape) if tg is None else tg.numpy()
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9, err_msg="gradient")


@pytest.mark.parametrize("op", OPS, ids=[f"{op.name}.{op.variant_test_name}".rstrip(".") for op in OPS])
def test_opinfo_samples_match_pytorch(op):
    cp_op = _convprop_op(op.name)
    samples = list(op.sample_inputs("cpu", torch.float64, requires_grad=op.supports_autograd))
    assert samples
    for i, sample in enumerate(samples):
        reason = NOT_PROVIDED.get((op.name, op.variant_test_name)) or NOT_PROVIDED_SAMPLES.get(
            (op.name, op.variant_test_name, tuple(getattr(sample.input, "shape", ())))
        )
        if reason:
            with pytest.raises(ValueError):
                cp_op(_to_convprop(sample.input), *_to_convprop(sample.args), **_to_convprop(sample.kwargs))
            continue
        try:
            _check_sample(op, cp_op, sample)
        except AssertionError as exc:
            raise AssertionError(f"sample {i}: {sample}\n{exc}") from None
