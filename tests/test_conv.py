"""Convolution and transposed convolution: PyTorch, the reference oracle, gradcheck, errors, memory.

The sweeps draw many small random configurations from fixed seeds (every parameter, odd sizes,
batch 1, unbatched, groups with dilation and stride, asymmetric kernels/strides/paddings, 'same'
with even kernels, 1-D to 3-D) and compare the forward output and every gradient.
"""

from __future__ import annotations

import doctest
import subprocess
import sys
import tracemalloc
from dataclasses import dataclass

import numpy as np
import pytest

import convprop
import convprop.nn.functional as F
from convprop import reference as R
from convprop import threads as threads_mod
from convprop.ops import _conv_exec as conv_exec
from convprop.ops import _conv_kernels as conv_kernels
from convprop.ops import conv as conv_ops
from tests.helpers import compare_with_torch, require_torch, tolerances

# PyTorch warns that it copies the input for an even 'same' kernel; that is its business, not ours
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")


@dataclass
class Case:
    nd: int
    transposed: bool
    x: np.ndarray
    w: np.ndarray
    b: np.ndarray | None
    kwargs: dict

    def convprop_fn(self):
        name = f"conv_transpose{self.nd}d" if self.transposed else f"conv{self.nd}d"
        return getattr(F, name)

    def arrays(self):
        return [self.x, self.w] if self.b is None else [self.x, self.w, self.b]


def _conv_case(seed: int, dtype=np.float64) -> Case:
    rng = np.random.default_rng(seed)
    nd = int(rng.integers(1, 4))
    groups = int(rng.choice([1, 1, 2, 3]))
    c, o = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))
    kernel = rng.integers(1, 4 if nd < 3 else 3, nd)
    dilation = rng.integers(1, 3, nd)
    stride = rng.integers(1, 4, nd)
    span = dilation * (kernel - 1) + 1
    style = rng.integers(0, 4)
    if style == 0 and np.all(stride == 1):
        padding, pad_total = "same", span - 1
    elif style == 1:
        padding, pad_total = "valid", np.zeros(nd, int)
    else:
        pads = np.full(nd, rng.integers(0, 3)) if style == 2 else rng.integers(0, 3, nd)
        padding, pad_total = (int(pads[0]) if style == 2 else tuple(int(p) for p in pads)), 2 * pads
    size = np.maximum(1, span - pad_total + rng.integers(0, 5 if nd < 3 else 3, nd))
    batch = int(rng.choice([0, 1, 2, 3]))  # 0: unbatched
    x = rng.standard_normal(((batch,) if batch else ()) + (c, *size)).astype(dtype)
    w = rng.standard_normal((o, c // groups, *kernel)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype) if rng.random() < 0.7 else None
    kwargs = {"stride": tuple(int(s) for s in stride), "padding": padding, "dilation": tuple(int(d) for d in dilation)}
    kwargs["groups"] = groups
    return Case(nd, False, x, w, b, kwargs)


def _conv_transpose_case(seed: int, dtype=np.float64) -> Case:
    rng = np.random.default_rng(10_000 + seed)
    nd = int(rng.integers(1, 4))
    groups = int(rng.choice([1, 1, 2, 3]))
    c, o = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))
    kernel = rng.integers(1, 4 if nd < 3 else 3, nd)
    dilation = rng.integers(1, 3, nd)
    stride = rng.integers(1, 4, nd)
    output_padding = np.array([rng.integers(0, max(s, d)) for s, d in zip(stride, dilation, strict=True)])
    size = rng.integers(1, 5 if nd < 3 else 4, nd)
    full = (size - 1) * stride + dilation * (kernel - 1) + output_padding + 1
    padding = np.array([rng.integers(0, (f - 1) // 2 + 1) for f in full])
    batch = int(rng.choice([0, 1, 2]))
    x = rng.standard_normal(((batch,) if batch else ()) + (c, *size)).astype(dtype)
    w = rng.standard_normal((c, o // groups, *kernel)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype) if rng.random() < 0.7 else None
    kwargs = {
        "stride": tuple(int(s) for s in stride),
        "padding": tuple(int(p) for p in padding),
        "output_padding": tuple(int(p) for p in output_padding),
        "groups": groups,
        "dilation": tuple(int(d) for d in dilation),
    }
    return Case(nd, True, x, w, b, kwargs)


def _torch_fn(case: Case):
    import torch.nn.functional as TF

    name = f"conv_transpose{case.nd}d" if case.transposed else f"conv{case.nd}d"
    return lambda *t: getattr(TF, name)(*t, **case.kwargs)


def _compare(case: Case, requires_grad=None):
    cp = case.convprop_fn()
    return compare_with_torch(
        lambda *t: cp(*t, **case.kwargs), _torch_fn(case), case.arrays(), requires_grad=requires_grad
    )


# ---- against PyTorch ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(80))
def test_conv_matches_torch_float64(seed):
    require_torch()
    _compare(_conv_case(seed))


@pytest.mark.parametrize("seed", range(80))
def test_conv_transpose_matches_torch_float64(seed):
    require_torch()
    _compare(_conv_transpose_case(seed))


@pytest.mark.parametrize("seed", range(0, 80, 3))
def test_large_problem_paths_match_torch(seed, monkeypatch):
    """The branch taken only for big layers (batch chunks in worker threads), forced on for the
    small sweep configurations."""
    require_torch()
    monkeypatch.setattr(conv_exec, "THREAD_MIN_MACS", 0)
    monkeypatch.setattr(threads_mod, "_num_threads", 3)
    _compare(_conv_case(seed))
    _compare(_conv_transpose_case(seed))


@pytest.mark.parametrize("seed", range(0, 80, 4))
def test_float32_matches_torch(seed):
    require_torch()
    _compare(_conv_case(seed, np.float32))
    _compare(_conv_transpose_case(seed, np.float32))


@pytest.mark.parametrize("seed", range(12))
def test_only_the_requested_gradients(seed):
    """Input only, weight only, bias only: each gradient is right on its own (and the others skipped)."""
    require_torch()
    for case in (_conv_case(seed), _conv_transpose_case(seed)):
        n = len(case.arrays())
        for i in range(n):
            _compare(case, requires_grad=[j == i for j in range(n)])


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "kwargs"),
    [
        ((4, 3, 9, 9), (6, 3, 3, 3), {"padding": 1}),  # the common 3x3 layer
        ((2, 8, 7, 7), (8, 1, 3, 3), {"padding": 1, "groups": 8}),  # depthwise
        ((2, 4, 7, 7), (12, 1, 3, 2), {"stride": (2, 1), "dilation": 2, "groups": 4}),  # depthwise, multiplier 3
        ((2, 16, 5, 5), (4, 16, 1, 1), {}),  # 1x1
        ((3, 4, 6, 8), (4, 2, 4, 2), {"padding": "same", "dilation": (1, 3), "groups": 2}),  # even 'same'
        ((2, 2, 9), (3, 2, 4), {"padding": "same"}),
        ((1, 2, 5, 6, 7), (4, 1, 2, 3, 2), {"stride": (2, 1, 3), "padding": (1, 0, 2), "groups": 2}),
    ],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_named_layers_match_torch(x_shape, w_shape, kwargs, dtype):
    require_torch()
    rng = np.random.default_rng(7)
    nd = len(x_shape) - 2
    case = Case(
        nd,
        False,
        rng.standard_normal(x_shape).astype(dtype),
        rng.standard_normal(w_shape).astype(dtype),
        rng.standard_normal(w_shape[0]).astype(dtype),
        kwargs,
    )
    _compare(case)


@pytest.mark.parametrize("groups", [2, 6])
def test_depthwise_transpose_matches_torch(groups):
    """One channel per group on the transposed side too (the depthwise kernels run in reverse)."""
    require_torch()
    rng = np.random.default_rng(groups)
    x = rng.standard_normal((2, 6, 4, 5))
    w = rng.standard_normal((6, 12 // groups, 3, 3)) if groups == 6 else rng.standard_normal((6, 1, 3, 3))
    kwargs = {"stride": 2, "padding": 1, "output_padding": 1, "groups": groups, "dilation": 1}
    _compare(Case(2, True, x, w, rng.standard_normal(w.shape[1] * groups), kwargs))


# ---- against the reference oracle (no PyTorch needed) ------------------------------------------


def _pairs(case: Case) -> tuple:
    """The padding as (before, after) pairs, as the reference takes it."""
    nd, kw = case.nd, case.kwargs
    span = [d * (k - 1) for d, k in zip(kw["dilation"], case.w.shape[2:], strict=True)]
    if kw["padding"] == "same":
        return tuple((t // 2, t - t // 2) for t in span)
    if kw["padding"] == "valid":
        return ((0, 0),) * nd
    pads = kw["padding"] if isinstance(kw["padding"], tuple) else (kw["padding"],) * nd
    return tuple((p, p) for p in pads)


def _run(case: Case, gy_seed: int):
    """Forward + backward in convprop (batched view), with a random upstream gradient."""
    inputs = [convprop.tensor(a, requires_grad=True) for a in case.arrays()]
    y = case.convprop_fn()(*inputs, **case.kwargs)
    gy = np.random.default_rng(gy_seed).standard_normal(y.shape).astype(y.dtype)
    y.backward(gy)
    return inputs, y.data, gy


@pytest.mark.parametrize("seed", range(40))
def test_conv_matches_reference(seed):
    case = _conv_case(seed)
    (x, w, *b), y, gy = _run(case, seed)
    unbatched = case.x.ndim == case.nd + 1
    xb, yb, gyb = (a[None] for a in (case.x, y, gy)) if unbatched else (case.x, y, gy)
    kw = case.kwargs
    geo = {"stride": kw["stride"], "padding": _pairs(case), "dilation": kw["dilation"], "groups": kw["groups"]}
    tol = tolerances(np.float64)
    np.testing.assert_allclose(yb, R.conv_forward(xb, case.w, case.b, **geo), **tol)
    gx = R.conv_grad_input(gyb, case.w, xb.shape, **geo)
    np.testing.assert_allclose(x.grad, gx[0] if unbatched else gx, **tol)
    np.testing.assert_allclose(w.grad, R.conv_grad_weight(xb, gyb, case.w.shape, **geo), **tol)
    if b:
        np.testing.assert_allclose(b[0].grad, gyb.sum(axis=(0, *range(2, gyb.ndim))), **tol)


@pytest.mark.parametrize("seed", range(25))
def test_conv_transpose_matches_reference(seed):
    """The transposed pair read the other way: forward = conv's ∂L/∂X, ∂L/∂X = conv forward,
    ∂L/∂W = conv's weight gradient with the roles of input and output gradient swapped."""
    case = _conv_transpose_case(seed)
    (x, w, *_), y, gy = _run(case, seed)
    unbatched = case.x.ndim == case.nd + 1
    xb, gyb = (case.x[None], gy[None]) if unbatched else (case.x, gy)
    kw = case.kwargs
    geo = {"stride": kw["stride"], "padding": kw["padding"], "dilation": kw["dilation"], "groups": kw["groups"]}
    tol = tolerances(np.float64)
    expected = R.conv_transpose_forward(xb, case.w, case.b, output_padding=kw["output_padding"], **geo)
    np.testing.assert_allclose(y, expected[0] if unbatched else expected, **tol)
    gx = R.conv_forward(gyb, case.w, **geo)[(..., *(slice(0, s) for s in xb.shape[2:]))]
    np.testing.assert_allclose(x.grad, gx[0] if unbatched else gx, **tol)
    np.testing.assert_allclose(w.grad, R.conv_grad_weight(gyb, xb, case.w.shape, **geo), **tol)


# ---- numerical gradients -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "x_shape", "w_shape", "kwargs"),
    [
        (F.conv2d, (2, 4, 5, 4), (4, 2, 3, 2), {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2), "groups": 2}),
        (F.conv1d, (2, 3, 7), (2, 3, 4), {"padding": "same", "dilation": 2}),
        (F.conv3d, (1, 2, 4, 3, 4), (2, 1, 2, 2, 3), {"stride": 2, "padding": 1, "groups": 2}),
        (F.conv2d, (2, 3, 5, 5), (6, 1, 3, 3), {"padding": 1, "groups": 3}),
        (F.conv_transpose2d, (2, 4, 3, 3), (4, 1, 3, 2), {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2}),
        (F.conv_transpose1d, (2, 2, 4), (2, 3, 3), {"stride": 3, "dilation": 2, "output_padding": 2}),
        (F.conv_transpose3d, (1, 2, 2, 3, 2), (2, 2, 2, 2, 2), {"stride": (1, 2, 2), "padding": (0, 1, 0)}),
    ],
)
def test_gradcheck(fn, x_shape, w_shape, kwargs):
    rng = np.random.default_rng(3)
    x = convprop.tensor(rng.standard_normal(x_shape), requires_grad=True)
    w = convprop.tensor(rng.standard_normal(w_shape), requires_grad=True)
    channels = w_shape[0] if fn in (F.conv1d, F.conv2d, F.conv3d) else w_shape[1] * kwargs.get("groups", 1)
    b = convprop.tensor(rng.standard_normal(channels), requires_grad=True)
    assert convprop.gradcheck(lambda x, w, b: fn(x, w, b, **kwargs), [x, w, b], atol=1e-7, rtol=1e-6)


# ---- behaviour ---------------------------------------------------------------------------------


def test_inputs_are_not_mutated():
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((2, 4, 6, 6)), rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)]
    copies = [a.copy() for a in arrays]
    for fn, kwargs in ((F.conv2d, {"padding": 1, "groups": 2}), (F.conv_transpose2d, {"stride": 2, "groups": 2})):
        inputs = [convprop.tensor(a, requires_grad=True) for a in arrays]
        y = fn(*inputs, **kwargs)
        gy = rng.standard_normal(y.shape)
        gy_copy = gy.copy()
        y.backward(gy)
        np.testing.assert_array_equal(gy, gy_copy)
        for t, c in zip(inputs, copies, strict=True):
            np.testing.assert_array_equal(t.data, c)


def test_non_finite_values_propagate():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1] = np.nan
    x[0, 0, 3, 3] = np.inf
    y = F.conv2d(convprop.tensor(x), convprop.tensor(np.ones((1, 1, 2, 2))))
    assert np.isnan(y.data[0, 0, :2, :2]).all()
    assert np.isinf(y.data[0, 0, 2, 2])
    assert np.isfinite(y.data[0, 0, 0, 2:]).all()


@pytest.mark.parametrize(
    ("fn", "w_shape", "groups"),
    [("conv2d", (3, 2, 3, 3), 1), ("conv2d", (2, 1, 3, 3), 2), ("conv_transpose2d", (2, 3, 3, 3), 1)],
)
def test_empty_batch(fn, w_shape, groups):
    """N = 0 is legal in PyTorch: an empty output and zero weight and bias gradients."""
    torch = require_torch()
    rng = np.random.default_rng(0)
    bias = w_shape[0] if fn == "conv2d" else w_shape[1] * groups
    arrays = [rng.standard_normal((0, 2, 5, 5)), rng.standard_normal(w_shape), rng.standard_normal(bias)]
    compare_with_torch(
        lambda *t: getattr(F, fn)(*t, groups=groups),
        lambda *t: getattr(torch.nn.functional, fn)(*t, groups=groups),
        arrays,
    )


def test_no_grad_records_nothing():
    x = convprop.tensor(np.ones((1, 2, 4, 4)), requires_grad=True)
    with convprop.no_grad():
        y = F.conv2d(x, convprop.tensor(np.ones((3, 2, 3, 3))))
    assert not y.requires_grad and y.grad_fn is None


def test_output_dtype_follows_input():
    for dtype in (np.float32, np.float64):
        y = F.conv_transpose2d(
            convprop.tensor(np.ones((1, 2, 3, 3), dtype)), convprop.tensor(np.ones((2, 1, 2, 2), dtype))
        )
        assert y.dtype == dtype


# ---- memory ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("w_shape", "groups"), [((8, 8, 3, 3), 1), ((8, 2, 3, 3), 4), ((16, 1, 3, 3), 8)])
@pytest.mark.parametrize("threads", [1, 2])
def test_workspace_limit_is_honoured(w_shape, groups, threads):
    """With a small cap, every kernel chunks the batch so its temporaries stay under the cap
    (GEMM, grouped and depthwise paths; with BLAS threads too)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 8, 20, 20))
    w = rng.standard_normal(w_shape)
    gy = rng.standard_normal((16, w_shape[0], 20, 20))
    geom = conv_ops.Geometry((1, 1), (1, 1), (1, 1), (1, 1), groups)
    kernels = [
        lambda: conv_ops.conv_forward(x, w, None, geom),
        lambda: conv_ops.conv_grad_input(gy, w, x.shape, geom),
        lambda: conv_ops.conv_grad_weight(x, gy, w.shape, geom),
    ]
    unlimited = [kernel() for kernel in kernels]
    # one unchunked column matrix alone would be 16*400*72*8 bytes = 3.7 MB
    cap = 2**20
    previous = conv_ops.get_workspace_limit(), threads_mod.get_num_threads()
    conv_ops.set_workspace_limit(cap)
    threads_mod.set_num_threads(threads)
    try:
        for kernel, expected in zip(kernels, unlimited, strict=True):
            tracemalloc.start()
            result = kernel()
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-12)
            assert peak - result.nbytes <= cap, (peak, result.nbytes)
    finally:
        conv_ops.set_workspace_limit(previous[0])
        threads_mod.set_num_threads(previous[1])


@pytest.mark.parametrize(
    ("w_shape", "kwargs"), [((16, 8, 3, 3), {"padding": 1, "groups": 2}), ((16, 1, 3, 3), {"groups": 16})]
)
@pytest.mark.parametrize("stride", [1, 2])
def test_worker_threads_give_identical_results(w_shape, kwargs, stride):
    """Worker threads (batch chunks, which change how float32 partial sums are grouped) give the same numbers."""
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal((4, 16, 96, 96)).astype(np.float32), rng.standard_normal(w_shape).astype(np.float32)]
    arrays.append(rng.standard_normal(w_shape[0]).astype(np.float32))
    results = []
    previous = threads_mod.get_num_threads()
    try:
        for threads in (1, 3):
            threads_mod.set_num_threads(threads)
            inputs = [convprop.tensor(a, requires_grad=True) for a in arrays]
            y = F.conv2d(*inputs, stride=stride, **kwargs)
            y.backward(np.random.default_rng(2).standard_normal(y.shape).astype(np.float32))
            results.append([y.data, *(t.grad for t in inputs)])
    finally:
        threads_mod.set_num_threads(previous)
    for single, threaded in zip(*results, strict=True):
        np.testing.assert_allclose(threaded, single, rtol=1e-5, atol=1e-6 * np.abs(single).max())


def test_limits_from_environment_and_validation():
    code = "from convprop import threads; from convprop.ops import conv; "
    code += "print(conv.get_workspace_limit(), threads.get_num_threads())"
    env = {"CONVPROP_WORKSPACE_MB": "3", "CONVPROP_NUM_THREADS": "3", "PYTHONPATH": ":".join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str(3 * 2**20), "3"]
    env["CONVPROP_WORKSPACE_MB"] = "lots"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert "CONVPROP_WORKSPACE_MB must be a number of megabytes, got 'lots'" in out.stderr
    with pytest.raises(ValueError, match="nbytes must be a positive int"):
        conv_ops.set_workspace_limit(0)
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        threads_mod.set_num_threads(0)


# ---- errors ------------------------------------------------------------------------------------


def _t(*shape, dtype=np.float32):
    return convprop.tensor(np.ones(shape, dtype=dtype))


@pytest.mark.parametrize(
    ("fn", "args", "kwargs", "error", "match"),
    [
        (F.conv2d, (_t(2, 3, 4), _t(1, 1, 1, 1, 1)), {}, ValueError, r"conv2d: expected a 4-D weight"),
        (F.conv2d, (_t(1, 1, 2, 3, 4, 4), _t(1, 1, 1, 1)), {}, ValueError, r"conv2d: expected a 3-D \(unbatched\)"),
        (F.conv1d, (_t(1, 3, 8), _t(2, 2, 3)), {}, ValueError, r"expected input of shape \(1, 3, 8\) to have 2 chan"),
        (F.conv2d, (_t(1, 3, 8, 8), _t(4, 1, 3, 3)), {"groups": 2}, ValueError, r"in_channels \(3\) and out_channe"),
        (F.conv2d, (_t(1, 4, 8, 8), _t(3, 2, 3, 3)), {"groups": 2}, ValueError, r"out_channels \(3\) must both be"),
        (F.conv2d, (_t(1, 1, 2, 2), _t(1, 1, 3, 3)), {}, ValueError, r"padded input size \(2, 2\) is smaller"),
        (F.conv2d, (_t(1, 1, 4, 4), _t(1, 1, 2, 2)), {"stride": (1, 0)}, ValueError, r"stride must be positive"),
        (F.conv2d, (_t(1, 1, 4, 4), _t(1, 1, 2, 2)), {"dilation": -1}, ValueError, r"dilation must be positive"),
        (F.conv2d, (_t(1, 1, 4, 4), _t(1, 1, 2, 2)), {"padding": (1, -1)}, ValueError, r"padding must be non-neg"),
        (F.conv2d, (_t(1, 1, 4, 4), _t(1, 1, 2, 2)), {"padding": "same", "stride": 2}, ValueError, r"'same' is not"),
        (F.conv2d, (_t(1, 1, 4, 4), _t(1, 1, 2, 2)), {"padding": "full"}, ValueError, r"'valid', 'same', an int"),
        (F.conv2d, (_t(1, 1, 4, 4), _t(1, 1, 2, 2)), {"groups": 0}, ValueError, r"groups must be a positive int"),
        (F.conv2d, (_t(1, 1, 4, 4), _t(1, 1, 0, 2)), {}, ValueError, r"weight of shape \(1, 1, 0, 2\) is empty"),
        (F.conv2d, (_t(1, 1, 4, 4), _t(2, 1, 2, 2), _t(3)), {}, ValueError, r"expected bias of shape \(2,\), got"),
        (F.conv2d, (_t(1, 1, 4, 4), _t(1, 1, 2, 2, dtype=np.float64)), {}, RuntimeError, r"float32 but weight has"),
        (F.conv2d, (_t(1, 1, 4, 4), _t(1, 1, 2, 2), _t(1, dtype=np.float64)), {}, RuntimeError, r"but bias has dtype"),
        (F.conv2d, (_t(1, 1, 4, 4, dtype=np.int64), _t(1, 1, 2, 2)), {}, TypeError, r"floating point input, got"),
        (F.conv2d, (np.ones((1, 1, 4, 4)), _t(1, 1, 2, 2)), {}, TypeError, r"input must be a Tensor, got ndarray"),
        (F.conv2d, (_t(1, 1, 4, 4), _t(1, 1, 2, 2), [1.0]), {}, TypeError, r"bias must be a Tensor or None"),
        (F.conv2d, (_t(1, 1, 4, 4), _t(1, 1, 2, 2)), {"stride": (1, 2, 3)}, ValueError, r"stride must be an int or"),
        (
            F.conv_transpose2d,
            (_t(1, 2, 3, 3), _t(2, 1, 3, 3)),
            {"stride": 2, "output_padding": 2},
            ValueError,
            r"output_padding must be smaller than either stride or dilation",
        ),
        (F.conv_transpose2d, (_t(1, 2, 2, 2), _t(2, 1, 3, 3)), {"padding": 3}, ValueError, r"output size is too sm"),
        (F.conv_transpose2d, (_t(1, 3, 2, 2), _t(2, 1, 3, 3)), {}, ValueError, r"to have 2 channels, but got 3"),
        (F.conv_transpose2d, (_t(1, 3, 2, 2), _t(3, 1, 3, 3)), {"groups": 2}, ValueError, r"in_channels \(3\) must"),
        (F.conv_transpose2d, (_t(1, 2, 2, 2), _t(2, 3, 3, 3), _t(3)), {"groups": 2}, ValueError, r"bias of shape \(6,"),
        (F.conv_transpose1d, (_t(1, 2, 2), _t(2, 3, 3)), {"padding": -1}, ValueError, r"padding must be non-neg"),
        (F.conv_transpose3d, (_t(2, 2, 2), _t(2, 3, 3, 3, 3)), {}, ValueError, r"expected a 4-D \(unbatched\)"),
    ],
)
def test_errors(fn, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        fn(*args, **kwargs)


def test_integer_tensors_cannot_ask_for_gradients():
    with pytest.raises(RuntimeError, match="floating point dtype can require gradients"):
        convprop.tensor(np.ones((1, 1, 4, 4), dtype=np.int64), requires_grad=True)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("name", ["conv", "conv_transpose"])
def test_docstring_examples_run(name, nd):
    runner = doctest.DocTestRunner()
    for test in doctest.DocTestFinder().find(
        getattr(F, f"{name}{nd}d"), globs={"convprop": convprop, "np": np, "F": F}
    ):
        runner.run(test)
    assert runner.summarize(verbose=False).attempted > 0
    assert runner.summarize(verbose=False).failed == 0


# ---- each algorithm on each shape class --------------------------------------------------------

# (x shape, weight shape, kwargs): the shape classes the algorithm choice distinguishes
SHAPE_CLASSES = [
    ((3, 16, 9, 9), (16, 16, 3, 3), {"padding": 1}),  # small channels, O = C: shifted by default
    ((3, 8, 9, 9), (12, 8, 3, 3), {"padding": 1}),  # O > C: im2col by default
    ((2, 6, 10, 10), (16, 6, 5, 5), {}),  # LeNet conv2-like: few channels, big kernel
    ((2, 12, 11, 9), (8, 12, 3, 2), {"padding": (2, 1), "dilation": (2, 3)}),  # dilated, uneven
    ((2, 8, 10, 10), (12, 2, 3, 3), {"padding": 1, "groups": 4}),  # grouped
    ((2, 4, 13, 12), (6, 4, 3, 3), {"padding": 1, "stride": 2}),  # strided: im2col whatever is forced
    ((2, 4, 7), (6, 4, 3), {"padding": 2, "dilation": 2}),  # 1-D
    ((1, 4, 5, 6, 5), (4, 4, 2, 3, 2), {"padding": 1}),  # 3-D
]


@pytest.mark.parametrize("algorithm", ["im2col", "shifted", "channel-major"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("x_shape", "w_shape", "kwargs"), SHAPE_CLASSES)
def test_each_algorithm_matches_torch_and_reference(algorithm, dtype, x_shape, w_shape, kwargs, monkeypatch):
    """Forced on every shape class it applies to: forward, ∂L/∂X and ∂L/∂F against PyTorch (float32
    and float64) and against the article's literal formulas in ``reference.py``."""
    torch = require_torch()
    monkeypatch.setattr(conv_kernels, "force", algorithm)
    rng = np.random.default_rng(len(x_shape) + sum(w_shape))
    x, w = rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    nd = len(x_shape) - 2
    fn = getattr(F, f"conv{nd}d")
    compare_with_torch(
        lambda *t: fn(*t, **kwargs), lambda *t: getattr(torch.nn.functional, f"conv{nd}d")(*t, **kwargs), [x, w, b]
    )
    cx, cw = convprop.tensor(x, requires_grad=True), convprop.tensor(w, requires_grad=True)
    y = fn(cx, cw, **kwargs)
    gy = rng.standard_normal(y.shape).astype(dtype)
    y.backward(gy)
    tol = tolerances(dtype)
    np.testing.assert_allclose(y.data, R.conv_forward(x, w, **kwargs), **tol)
    np.testing.assert_allclose(cx.grad, R.conv_grad_input(gy, w, x.shape, **kwargs), **tol)
    np.testing.assert_allclose(cw.grad, R.conv_grad_weight(x, gy, w.shape, **kwargs), **tol)


def test_algorithm_choice_table():
    """The table in ``_conv_kernels``' docstring, as the code reads it."""
    geom = conv_ops.Geometry((1, 1), (1, 1), (1, 1), (1, 1), 1)
    choose = conv_kernels.algorithm
    # forward (and the literal stride-1 ∂L/∂X): channel-major up to 16 channels on a mostly valid frame
    assert choose((16, 16, 3, 3), geom, (28, 28), (28, 28)) == "channel-major"
    assert choose((32, 16, 3, 3), geom, (14, 14), (14, 14)) == "channel-major"  # 77% of the padded frame valid
    assert choose((16, 1, 3, 3), geom, (28, 28), (28, 28)) == "channel-major"  # the first layer too
    assert choose((1, 16, 3, 3), geom, (28, 28), (28, 28)) == "im2col"  # but not its ∂L/∂X: one output channel
    assert choose((32, 32, 3, 3), geom, (14, 14), (14, 14)) == "im2col"  # 32 channels: a wash, im2col kept
    assert choose((64, 64, 3, 3), geom, (8, 8), (8, 8)) == "im2col"  # wide channels
    lenet = conv_ops.Geometry((1, 1), (0, 0), (0, 0), (1, 1), 1)
    assert choose((16, 6, 5, 5), lenet, (14, 14), (10, 10)) == "im2col"  # half the frame garbage
    # ∂L/∂F: shifted views for 8-32 channels, no more outputs than inputs, at least 80% of the frame valid
    assert choose((16, 16, 3, 3), geom, (28, 28), (28, 28), "grad_weight") == "shifted"
    assert choose((16, 32, 3, 3), geom, (28, 28), (28, 28), "grad_weight") == "shifted"  # O < C
    assert choose((32, 16, 3, 3), geom, (28, 28), (28, 28), "grad_weight") == "im2col"  # O > C
    assert choose((64, 64, 3, 3), geom, (28, 28), (28, 28), "grad_weight") == "im2col"  # wide channels
    assert choose((6, 4, 3, 3), geom, (28, 28), (28, 28), "grad_weight") == "im2col"  # too few channels
    assert choose((16, 16, 3, 3), geom, (14, 14), (14, 14), "grad_weight") == "im2col"  # 77% valid
    assert choose((16, 16, 5, 5), lenet, (14, 14), (10, 10), "grad_weight") == "im2col"
    strided = conv_ops.Geometry((2, 2), (1, 1), (1, 1), (1, 1), 1)
    assert choose((16, 16, 3, 3), strided, (28, 28), (14, 14)) == "im2col"
    grouped = conv_ops.Geometry((1, 1), (1, 1), (1, 1), (1, 1), 16)
    assert choose((16, 1, 3, 3), grouped, (28, 28), (28, 28)) == "depthwise"
    grouped4 = conv_ops.Geometry((1, 1), (1, 1), (1, 1), (1, 1), 4)
    assert choose((16, 4, 3, 3), grouped4, (28, 28), (28, 28)) == "im2col"  # channel-major is groups 1 only


# Paddings far wider than the kernel: windows wholly in the padding give the bias alone, and only the
# windows that overlap the input are computed (conv_ops.reach), so a padding of 10⁶ costs nothing.
FAR_PADDING = [
    ("conv2d", (1, 1, 3, 3), (1, 1, 1, 1), {"padding": 10**6, "stride": 10**6}),
    ("conv2d", (2, 3, 5, 4), (4, 3, 2, 3), {"padding": (7, 5), "stride": (3, 4)}),
    ("conv2d", (2, 4, 5, 4), (4, 2, 2, 3), {"padding": (7, 5), "stride": (3, 4), "dilation": (2, 1), "groups": 2}),
    ("conv2d", (2, 3, 5, 4), (4, 3, 1, 1), {"padding": 2}),
    ("conv2d", (2, 3, 5, 4), (4, 3, 1, 1), {"padding": 2, "stride": 10}),
    ("conv1d", (2, 3, 5), (4, 3, 2), {"padding": 10**6, "stride": 10**6 - 1}),
    ("conv3d", (1, 2, 3, 3, 3), (2, 2, 1, 2, 1), {"padding": (10**5, 3, 2), "stride": (10**5, 2, 3)}),
    ("conv_transpose2d", (2, 3, 12, 14), (3, 2, 2, 3), {"padding": (3, 5)}),
    ("conv_transpose2d", (2, 3, 5, 4), (3, 2, 1, 1), {"padding": (2, 1), "stride": (3, 2)}),
    ("conv_transpose2d", (1, 2, 3, 3), (2, 3, 3, 3),
     {"padding": (10**5 - 5, 10**5 - 9), "stride": 10**5, "output_padding": (5, 7)}),
    ("conv_transpose1d", (1, 2, 4), (2, 2, 3), {"padding": 10**6 - 2, "stride": 10**6}),
]  # fmt: skip


@pytest.mark.parametrize(("op", "x_shape", "w_shape", "kwargs"), FAR_PADDING)
def test_far_padding_computes_only_the_windows_that_reach_the_input(op, x_shape, w_shape, kwargs):
    torch = require_torch()
    rng = np.random.default_rng(sum(x_shape) + sum(w_shape))
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[1] * kwargs.get("groups", 1) if "transpose" in op else w_shape[0])
    y = compare_with_torch(lambda *t: getattr(F, op)(*t, **kwargs),
                           lambda *t: getattr(torch.nn.functional, op)(*t, **kwargs), [x, w, b])  # fmt: skip
    cx = convprop.tensor(x, requires_grad=True)
    tracemalloc.start()
    getattr(F, op)(cx, convprop.tensor(w), convprop.tensor(b), **kwargs).backward(np.ones(y.shape))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 * (y.data.nbytes + x.nbytes) + 2**16  # the padded input was never built


def test_far_padding_with_a_huge_output_is_still_refused():
    x, w = convprop.ones(1, 1, 3, 3), convprop.ones(1, 1, 1, 1)
    with pytest.raises(
        RuntimeError, match=r"conv2d: this call would allocate 14\.6 TiB \(shape \(1, 1, 2000003, 2000003\)"
    ):
        F.conv2d(x, w, padding=10**6)
    with pytest.raises(RuntimeError, match=r"conv_transpose2d: this call would allocate [0-9.]+ TiB"):
        F.conv_transpose2d(x, w, stride=10**6)
