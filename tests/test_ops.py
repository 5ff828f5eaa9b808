"""Elementwise, activation, reduction, shape, linear-algebra and loss ops against PyTorch and gradcheck."""

import numpy as np
import pytest

import convprop
import convprop.nn.functional as F
from convprop import ops
from tests.helpers import compare_with_torch, require_torch


def rand(*shape, seed=0, low=-2.0, high=2.0, dtype=np.float64):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(dtype)


def positive(*shape, seed=0):
    return rand(*shape, seed=seed, low=0.5, high=2.0)


# (name, convprop fn, torch fn (given the torch module), input arrays)
UNARY_AND_BINARY = [
    ("add_broadcast", lambda a, b: a + b, lambda t: lambda a, b: a + b, [rand(3, 1, 4), rand(5, 1, seed=1)]),
    ("sub_broadcast", lambda a, b: a - b, lambda t: lambda a, b: a - b, [rand(2, 3), rand(3, seed=1)]),
    ("mul_broadcast", lambda a, b: a * b, lambda t: lambda a, b: a * b, [rand(4, 1), rand(1, 5, seed=1)]),
    ("div", lambda a, b: a / b, lambda t: lambda a, b: a / b, [rand(3, 4), positive(3, 4, seed=1)]),
    ("pow_tensor", lambda a, b: a**b, lambda t: lambda a, b: a**b, [positive(3, 4), rand(3, 4, seed=1)]),
    ("pow_scalar", lambda a: a**3, lambda t: lambda a: a**3, [rand(3, 4)]),
    ("rsub_rdiv", lambda a: (1.0 - a) / (2.0 + a * a), lambda t: lambda a: (1.0 - a) / (2.0 + a * a), [rand(5)]),
    ("neg", lambda a: -a, lambda t: lambda a: -a, [rand(3, 2)]),
    ("exp", lambda a: a.exp(), lambda t: lambda a: a.exp(), [rand(3, 4)]),
    ("log", lambda a: a.log(), lambda t: lambda a: a.log(), [positive(3, 4)]),
    ("sqrt", lambda a: a.sqrt(), lambda t: lambda a: a.sqrt(), [positive(3, 4)]),
    ("abs", lambda a: a.abs(), lambda t: lambda a: a.abs(), [rand(3, 4)]),
    ("clip", lambda a: a.clip(-0.5, 1.0), lambda t: lambda a: a.clamp(-0.5, 1.0), [rand(4, 5)]),
    ("clip_min_only", lambda a: a.clamp(min=0.2), lambda t: lambda a: a.clamp(min=0.2), [rand(4, 5)]),
    ("maximum", ops.maximum, lambda t: t.maximum, [rand(3, 4), rand(3, 4, seed=1)]),
    ("relu", F.relu, lambda t: t.nn.functional.relu, [rand(3, 4)]),
    ("leaky_relu", lambda a: F.leaky_relu(a, 0.2), lambda t: lambda a: t.nn.functional.leaky_relu(a, 0.2), [rand(7)]),
    ("sigmoid", F.sigmoid, lambda t: t.sigmoid, [rand(3, 4, low=-30, high=30)]),
    ("tanh", F.tanh, lambda t: t.tanh, [rand(3, 4)]),
    ("softmax", lambda a: F.softmax(a, 1), lambda t: lambda a: t.softmax(a, 1), [rand(3, 5, 2, low=-50, high=50)]),
    ("log_softmax", lambda a: F.log_softmax(a, -1), lambda t: lambda a: t.log_softmax(a, -1), [rand(4, 6) * 100]),
    (
        "where",
        lambda a, b: ops.where(a.data > 0, a, b),
        lambda t: lambda a, b: t.where(a > 0, a, b),
        [rand(3, 4), rand(4, seed=1)],
    ),
    ("sum_all", lambda a: a.sum(), lambda t: lambda a: a.sum(), [rand(3, 4)]),
    (
        "sum_dims_keep",
        lambda a: a.sum((0, 2), keepdim=True),
        lambda t: lambda a: a.sum((0, 2), keepdim=True),
        [rand(2, 3, 4)],
    ),
    ("mean_dim", lambda a: a.mean(-1), lambda t: lambda a: a.mean(-1), [rand(2, 3, 4)]),
    ("amax_ties", lambda a: a.amax(1), lambda t: lambda a: a.amax(1), [np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])]),
    ("max_all_ties", lambda a: a.max(), lambda t: lambda a: a.max(), [np.array([[1.0, 3.0, 3.0], [2.0, 3.0, 0.0]])]),
    ("max_dim", lambda a: a.max(1).values, lambda t: lambda a: a.max(1).values, [rand(4, 5)]),
    ("min_dim_keep", lambda a: a.min(0, keepdim=True)[0], lambda t: lambda a: a.min(0, keepdim=True)[0], [rand(4, 5)]),
    (
        "reshape_view",
        lambda a: a.reshape(4, -1).view(2, 6),
        lambda t: lambda a: a.reshape(4, -1).view(2, 6),
        [rand(3, 4)],
    ),
    ("permute", lambda a: a.permute(2, 0, 1), lambda t: lambda a: a.permute(2, 0, 1), [rand(2, 3, 4)]),
    (
        "transpose_T",
        lambda a: a.transpose(0, 2).T,
        lambda t: lambda a: a.transpose(0, 2).permute(2, 1, 0),
        [rand(2, 3, 4)],
    ),
    ("flatten", lambda a: a.flatten(1), lambda t: lambda a: a.flatten(1), [rand(2, 3, 4)]),
    ("index_slices", lambda a: a[1:, ::2, None, -1], lambda t: lambda a: a[1:, ::2, None, -1], [rand(3, 5, 4)]),
    ("index_int_array_repeats", lambda a: a[np.array([0, 2, 0, 0])], lambda t: lambda a: a[[0, 2, 0, 0]], [rand(3, 4)]),
    ("index_bool_mask", lambda a: a[a.data > 0], lambda t: lambda a: a[a > 0], [rand(4, 5)]),
    ("matmul_2d", lambda a, b: a @ b, lambda t: lambda a, b: a @ b, [rand(3, 4), rand(4, 5, seed=1)]),
    (
        "matmul_batched_broadcast",
        lambda a, b: a @ b,
        lambda t: lambda a, b: a @ b,
        [rand(2, 1, 3, 4), rand(5, 4, 2, seed=1)],
    ),
    ("matmul_vec", lambda a, b: a @ b, lambda t: lambda a, b: a @ b, [rand(4), rand(2, 4, 3, seed=1)]),
    ("matmul_mat_vec", lambda a, b: a @ b, lambda t: lambda a, b: a @ b, [rand(3, 4), rand(4, seed=1)]),
    ("matmul_dot", lambda a, b: a @ b, lambda t: lambda a, b: a @ b, [rand(4), rand(4, seed=1)]),
    ("clone_pow_neg", lambda a: a.clone().pow(2).neg(), lambda t: lambda a: a.clone().pow(2).neg(), [rand(3)]),
    ("linear", F.linear, lambda t: t.nn.functional.linear, [rand(2, 3, 4), rand(5, 4, seed=1), rand(5, seed=2)]),
    ("linear_no_bias", F.linear, lambda t: t.nn.functional.linear, [rand(6, 4), rand(5, 4, seed=1)]),
    (
        "cat",
        lambda a, b: convprop.cat([a, b, a], 1),
        lambda t: lambda a, b: t.cat([a, b, a], 1),
        [rand(2, 3), rand(2, 1, seed=1)],
    ),
    (
        "stack",
        lambda a, b: convprop.stack([a, b], -1),
        lambda t: lambda a, b: t.stack([a, b], -1),
        [rand(2, 3), rand(2, 3, seed=1)],
    ),
    ("expand", lambda a: a.expand(3, -1, 4), lambda t: lambda a: a.expand(3, -1, 4), [rand(2, 1)]),
    ("double_then_float", lambda a: (a.float() * 2).double(), lambda t: lambda a: (a.float() * 2).double(), [rand(3)]),
]


@pytest.mark.parametrize("name, cp_fn, torch_fn, arrays", UNARY_AND_BINARY, ids=[c[0] for c in UNARY_AND_BINARY])
def test_matches_torch(name, cp_fn, torch_fn, arrays):
    torch = require_torch()
    tol = {"rtol": 1e-6} if name == "double_then_float" else {}
    compare_with_torch(cp_fn, torch_fn(torch), arrays, **tol)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad", [(1, 2), (2, 0, 1, 3), (1, 1, 0, 2, 2, 1)])
def test_pad_matches_torch(mode, pad):
    torch = require_torch()
    x = rand(2, 3, *(4, 5, 6)[: len(pad) // 2])  # (N, C, *spatial), as torch's non-constant modes require
    compare_with_torch(lambda a: F.pad(a, pad, mode), lambda a: torch.nn.functional.pad(a, pad, mode), [x])


def test_pad_constant_value_and_negative_crop():
    torch = require_torch()
    compare_with_torch(
        lambda a: F.pad(a, (-1, 2, 1, -2), value=3.5),
        lambda a: torch.nn.functional.pad(a, (-1, 2, 1, -2), value=3.5),
        [rand(2, 5, 6)],
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"reduction": "sum"},
        {"reduction": "none"},
        {"label_smoothing": 0.1},
        {"weight": np.array([0.2, 1.0, 3.0, 0.5])},
        {"weight": np.array([0.2, 1.0, 3.0, 0.5]), "label_smoothing": 0.3},
        {"ignore_index": 1},
        {"ignore_index": 1, "label_smoothing": 0.2, "reduction": "sum"},
    ],
)
def test_cross_entropy_class_indices(kwargs, dtype):
    torch = require_torch()
    logits = rand(6, 4, dtype=dtype) * 3
    target = np.array([0, 1, 3, 2, 1, 3])
    th_kwargs = {k: torch.tensor(v, dtype=getattr(torch, np.dtype(dtype).name)) if k == "weight" else v
                 for k, v in kwargs.items()}  # fmt: skip
    compare_with_torch(
        lambda x: F.cross_entropy(x, target, **kwargs),
        lambda x: torch.nn.functional.cross_entropy(x, torch.tensor(target), **th_kwargs),
        [logits],
    )


def test_cross_entropy_spatial_and_probability_targets():
    torch = require_torch()
    target = np.random.default_rng(1).integers(0, 3, (2, 4, 5))
    compare_with_torch(
        lambda x: F.cross_entropy(x, target, label_smoothing=0.05),
        lambda x: torch.nn.functional.cross_entropy(x, torch.tensor(target), label_smoothing=0.05),
        [rand(2, 3, 4, 5)],
    )
    probs = np.random.default_rng(2).dirichlet(np.ones(5), size=4)
    compare_with_torch(
        lambda x, p: F.cross_entropy(x, p, label_smoothing=0.1),
        lambda x, p: torch.nn.functional.cross_entropy(x, p, label_smoothing=0.1),
        [rand(4, 5), probs],
    )


def test_nll_mse_bce_match_torch():
    torch = require_torch()
    target = np.array([2, 0, 1])
    compare_with_torch(
        lambda x: F.nll_loss(F.log_softmax(x, 1), target),
        lambda x: torch.nn.functional.nll_loss(torch.log_softmax(x, 1), torch.tensor(target)),
        [rand(3, 4)],
    )
    compare_with_torch(F.mse_loss, torch.nn.functional.mse_loss, [rand(3, 4), rand(3, 4, seed=1)])
    compare_with_torch(
        lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction="sum"),
        lambda x, t: torch.nn.functional.binary_cross_entropy_with_logits(x, t, reduction="sum"),
        [rand(3, 4, low=-40, high=40), rand(3, 4, seed=1, low=0, high=1)],
    )
    pos_weight = np.array([0.5, 2.0, 1.0, 3.0])
    compare_with_torch(
        lambda x, t: F.binary_cross_entropy_with_logits(x, t, pos_weight=pos_weight),
        lambda x, t: torch.nn.functional.binary_cross_entropy_with_logits(x, t, pos_weight=torch.tensor(pos_weight)),
        [rand(3, 4), rand(3, 4, seed=1, low=0, high=1)],
    )


def test_dropout_uses_the_generator_and_scales():
    x = convprop.tensor(np.ones((200, 50)), requires_grad=True)
    y1 = F.dropout(x, 0.3, generator=np.random.default_rng(7))
    y2 = F.dropout(x, 0.3, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(y1.data, y2.data)
    kept = y1.data != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(y1.data[kept], 1 / 0.7)
    g = np.random.default_rng(0).standard_normal(x.shape)
    y1.backward(g)
    np.testing.assert_allclose(x.grad, g * y1.data)
    assert F.dropout(x, 0.3, training=False) is x
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, 1.5)


GRADCHECK_CASES = [
    ("pow", lambda a, b: a**b, [positive(2, 3), rand(2, 3, seed=1)]),
    ("div_broadcast", lambda a, b: a / b, [rand(2, 3), positive(3, seed=1)]),
    ("softmax", lambda a: F.softmax(a, 0), [rand(4, 3)]),
    ("log_softmax", lambda a: F.log_softmax(a, 1), [rand(2, 5)]),
    ("sigmoid_tanh", lambda a: F.sigmoid(a) * F.tanh(a), [rand(3, 3)]),
    ("matmul", lambda a, b: a @ b, [rand(2, 3, 4), rand(4, 2, seed=1)]),
    ("linear", F.linear, [rand(3, 4), rand(2, 4, seed=1), rand(2, seed=2)]),
    ("mean_max", lambda a: a.mean(0) * a.max(1).values.sum(), [rand(3, 4)]),
    ("index_cat", lambda a: convprop.cat([a[np.array([1, 1, 0])], a], 0), [rand(2, 3)]),
    ("pad_reflect", lambda a: F.pad(a, (2, 1, 1, 2), "reflect"), [rand(1, 3, 4)]),
    ("pad_circular", lambda a: F.pad(a, (1, 2), "circular"), [rand(2, 4)]),
    ("cross_entropy", lambda a: F.cross_entropy(a, np.array([1, 0, 2]), label_smoothing=0.1), [rand(3, 4)]),
    ("bce", lambda a, t: F.binary_cross_entropy_with_logits(a, t), [rand(3, 2), rand(3, 2, seed=1, low=0, high=1)]),
    ("clip_abs_sqrt", lambda a: (a.clip(-1, 1).abs() + 1).sqrt().log().exp(), [rand(3, 4) + 0.01]),
    ("add_sub_mul_neg", lambda a, b: -(a + b) * (a - b), [rand(2, 3), rand(3, seed=1)]),
    ("maximum_where", lambda a, b: ops.where(a.data > 0, ops.maximum(a, b), b), [rand(3, 4), rand(3, 4, seed=1)]),
    ("relu_leaky", lambda a: F.relu(a) + F.leaky_relu(a, 0.1), [rand(3, 4) + 0.01]),
    ("reshape_permute", lambda a: a.reshape(3, 2, 2).permute(1, 2, 0).transpose(0, 1).flatten(), [rand(2, 6)]),
    ("stack_expand", lambda a: convprop.stack([a, a * 2], 1).expand(2, 2, 3), [rand(1, 3)]),
    ("sum_amax_amin", lambda a: a.sum((0,), keepdim=True) * a.amax(1).sum() + a.amin(), [rand(3, 4)]),
    ("pad_constant_replicate", lambda a: F.pad(F.pad(a, (1, -1), value=2.0), (2, 1), "replicate"), [rand(2, 4)]),
    ("mse_nll", lambda a, b: F.mse_loss(a, b) + F.nll_loss(a, np.array([0, 3, 1])), [rand(3, 4), rand(3, 4, seed=1)]),
    ("dropout", lambda a: F.dropout(a, 0.4, generator=np.random.default_rng(3)), [rand(4, 5)]),
]


@pytest.mark.parametrize("name, fn, arrays", GRADCHECK_CASES, ids=[c[0] for c in GRADCHECK_CASES])
def test_gradcheck(name, fn, arrays):
    inputs = [convprop.tensor(a, requires_grad=True) for a in arrays]
    assert convprop.gradcheck(fn, inputs)


def test_gradcheck_reports_the_worst_element():
    class WrongSquare(convprop.Function):
        def forward(self, x):
            self.x = x
            return x * x

        def backward(self, g):
            return g * self.x  # should be 2x

    x = convprop.tensor(rand(3), requires_grad=True)
    with pytest.raises(convprop.GradcheckError, match=r"input 0 at index \(\d,\): analytic .* numeric"):
        convprop.gradcheck(WrongSquare.apply, [x])


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: convprop.tensor(np.ones((2, 3))) + convprop.tensor(np.ones((4,))), ValueError, r"\(2, 3\) and \(4,\)"),
        (
            lambda: convprop.tensor(np.ones((2, 3))) @ convprop.tensor(np.ones((2, 3))),
            ValueError,
            "cannot be multiplied",
        ),
        (lambda: convprop.tensor(np.ones(6)).reshape(4, -1), RuntimeError, "invalid for input of size 6"),
        (lambda: convprop.tensor(np.ones((2, 3))).sum(2), IndexError, "out of range"),
        (lambda: convprop.tensor(np.ones((2, 3))).permute(0, 0), ValueError, "not a permutation"),
        (lambda: F.pad(convprop.tensor(np.ones((2, 3))), (3, 0), "reflect"), ValueError, "less than the corresponding"),
        (lambda: F.pad(convprop.tensor(np.ones((2, 3))), (1,)), ValueError, "even number"),
        (lambda: F.pad(convprop.tensor(np.ones((2, 3))), (1, 1), "mirror"), ValueError, "mode must be one of"),
        (lambda: F.cross_entropy(convprop.tensor(np.ones((2, 3))), np.array([0, 3])), IndexError, "out of bounds"),
        (lambda: F.cross_entropy(convprop.tensor(np.ones((2, 3))), np.array([0])), ValueError, "expected target"),
        (
            lambda: F.cross_entropy(convprop.tensor(np.ones((2, 3))), np.array([0, 1]), reduction="avg"),
            ValueError,
            "reduction",
        ),
        (
            lambda: F.linear(convprop.tensor(np.ones((2, 3))), convprop.tensor(np.ones((4, 2)))),
            ValueError,
            "in_features=2",
        ),
        (lambda: F.mse_loss(convprop.tensor(np.ones(3)), convprop.tensor(np.ones(4))), ValueError, "target shape"),
        (
            lambda: convprop.cat([convprop.tensor(np.ones((2, 3))), convprop.tensor(np.ones((3, 2)))], 0),
            ValueError,
            "must match except in dimension 0",
        ),
    ],
)
def test_bad_input_gives_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_non_finite_values_propagate():
    x = convprop.tensor(np.array([np.nan, np.inf, -np.inf, 1.0]), requires_grad=True)
    y = F.relu(x) + F.sigmoid(x) + F.softmax(x, 0)
    assert np.isnan(y.data[0])
    y.backward(np.ones(4))
    assert x.grad.shape == (4,)


def test_cross_entropy_ignores_masked_minus_inf_logits():
    torch = require_torch()
    logits = np.array([[0.0, -np.inf, 1.0], [-np.inf, 2.0, 0.5]])
    target = np.array([0, 1])
    compare_with_torch(
        lambda x: F.cross_entropy(x, target),
        lambda x: torch.nn.functional.cross_entropy(x, torch.tensor(target)),
        [logits],
    )


def test_relu_passes_the_gradient_at_nan_like_torch():
    torch = require_torch()
    x = np.array([np.nan, -1.0, 0.0, 2.0])
    compare_with_torch(F.relu, torch.relu, [x], rtol=0, atol=0)
