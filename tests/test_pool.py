"""Pooling against PyTorch: forward, input gradient (random upstream gradient) and return_indices.

Seeded sweeps over many small configurations of every parameter, in 1-D, 2-D and 3-D, batched and
unbatched, float64 (to 1e-10) and float32 (to 1e-4), on three kinds of data: distinct values, many
ties (integers 0..2 as floats) and NaNs. Then argument errors, gradcheck and a few named edge cases.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

import convprop
import convprop.nn.functional as F
from convprop import reference
from tests.helpers import compare_with_torch, require_torch
from tests.test_reference_pool import DATA, adaptive_config, avg_config, data, input_shape, regular_config, split, sweep

torch = require_torch()
TF = torch.nn.functional


@pytest.fixture(autouse=True, scope="module")
def _torch_single_thread():
    """PyTorch's thread pool costs ~10 ms per tiny call on a busy 2-core machine; one thread costs ~5 µs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


MAX_CASES = sweep(regular_config, 60, 100)
AVG_CASES = sweep(avg_config, 60, 200)
ADAPTIVE_CASES = sweep(adaptive_config, 50, 300)


def _twins(op: str, nd: int, kw: dict):
    """convprop's and PyTorch's ``{op}{nd}d`` with the case's arguments bound."""
    return partial(getattr(F, f"{op}{nd}d"), **kw), partial(getattr(TF, f"{op}{nd}d"), **kw)


def _torch_error(fn, x) -> str | None:
    try:
        fn(torch.from_numpy(x))
    except RuntimeError as e:
        return str(e)
    return None


@pytest.mark.parametrize(("nd", "i", "cfg"), MAX_CASES)
def test_max_pool_matches_torch(nd, i, cfg):
    size, kw = split(cfg)
    rng = np.random.default_rng(i)
    cp_fn, th_fn = _twins("max_pool", nd, kw)
    for kind in DATA:
        for dtype in (np.float64, np.float32):
            x = data(rng, input_shape(rng, size), kind, dtype)
            if _torch_error(th_fn, x):
                with pytest.raises(ValueError, match=f"max_pool{nd}d"):
                    cp_fn(convprop.tensor(x))
                return
            compare_with_torch(cp_fn, th_fn, [x], seed=i)
            values, indices = cp_fn(convprop.tensor(x), return_indices=True)
            th_values, th_indices = th_fn(torch.from_numpy(x), return_indices=True)
            assert indices.dtype == np.int64 and not indices.requires_grad
            np.testing.assert_array_equal(indices.data, th_indices.numpy(), err_msg=f"indices differ ({kind})")
            np.testing.assert_array_equal(values.data, th_values.numpy())


@pytest.mark.parametrize(("nd", "i", "cfg"), AVG_CASES)
def test_avg_pool_matches_torch(nd, i, cfg):
    size, kw = split(cfg)
    rng = np.random.default_rng(i)
    cp_fn, th_fn = _twins("avg_pool", nd, kw)
    for dtype in (np.float64, np.float32):
        x = data(rng, input_shape(rng, size), "distinct", dtype)
        error = _torch_error(th_fn, x)
        if error:
            try:
                out = cp_fn(convprop.tensor(x))
            except ValueError as e:
                assert f"avg_pool{nd}d" in str(e)
                return
            # PyTorch's avg_pool3d alone refuses a kernel larger than the unpadded input even when
            # padding makes every window valid; convprop applies one rule to every rank, checked here
            # against the reference instead
            assert "smaller than kernel size" in error, error
            batched = x if x.ndim == nd + 2 else x[None]
            expected = reference.avg_pool(batched, **{"ceil_mode": False, "count_include_pad": True, **kw})
            np.testing.assert_allclose(out.data.reshape(expected.shape), expected, rtol=1e-4, atol=1e-6)
            continue
        compare_with_torch(cp_fn, th_fn, [x], seed=i)


@pytest.mark.parametrize(("nd", "i", "cfg"), ADAPTIVE_CASES)
def test_adaptive_pools_match_torch(nd, i, cfg):
    size, kw = split(cfg)
    rng = np.random.default_rng(i)
    avg_cp, avg_th = _twins("adaptive_avg_pool", nd, kw)
    max_cp, max_th = _twins("adaptive_max_pool", nd, kw)
    for dtype in (np.float64, np.float32):
        x = data(rng, input_shape(rng, size), "distinct", dtype)
        compare_with_torch(avg_cp, avg_th, [x], seed=i)
        for kind in DATA:
            x = data(rng, x.shape, kind, dtype)
            compare_with_torch(max_cp, max_th, [x], seed=i)
            if kind == "nan":
                compare_with_torch(avg_cp, avg_th, [x], seed=i)
            _, indices = max_cp(convprop.tensor(x), return_indices=True)
            _, th_indices = max_th(torch.from_numpy(x), return_indices=True)
            np.testing.assert_array_equal(indices.data, th_indices.numpy(), err_msg=f"indices differ ({kind})")


# ---- named edge cases --------------------------------------------------------------------------------


def test_ceil_mode_drops_a_window_that_would_start_in_the_padding():
    # ⌈(5 + 2 − 2) / 2⌉ + 1 = 4 windows, but the 4th would start at input position 5: only padding
    x = np.arange(5.0).reshape(1, 1, 5)
    out = compare_with_torch(
        lambda t: F.avg_pool1d(t, 2, 2, 1, ceil_mode=True, count_include_pad=False),
        lambda t: TF.avg_pool1d(t, 2, 2, 1, ceil_mode=True, count_include_pad=False),
        [x],
    )
    np.testing.assert_allclose(out.data, [[[0.0, 1.5, 3.5]]])


def test_ceil_mode_overhang_is_not_counted_by_count_include_pad():
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 7))
    compare_with_torch(
        lambda t: F.avg_pool2d(t, 3, 2, 1, ceil_mode=True), lambda t: TF.avg_pool2d(t, 3, 2, 1, ceil_mode=True), [x]
    )


@pytest.mark.parametrize(
    ("size", "output_size"), [((7, 7), (3, 3)), ((5, 9), (4, 4)), ((3, 2), (5, 7)), ((6, 8), (3, 4))]
)
@pytest.mark.parametrize("kind", DATA)
def test_adaptive_pools_named_sizes(size, output_size, kind):
    """7 -> 3 and 5 -> 4 (overlapping windows), output larger than input (repeated elements), dividing."""
    x = data(np.random.default_rng(0), (2, 3, *size), kind, np.float64)
    compare_with_torch(
        lambda t: F.adaptive_avg_pool2d(t, output_size),
        lambda t: TF.adaptive_avg_pool2d(t, output_size),
        [np.nan_to_num(x)],
    )
    compare_with_torch(
        lambda t: F.adaptive_avg_pool2d(t, output_size), lambda t: TF.adaptive_avg_pool2d(t, output_size), [x]
    )
    compare_with_torch(
        lambda t: F.adaptive_max_pool2d(t, output_size), lambda t: TF.adaptive_max_pool2d(t, output_size), [x]
    )
    _, indices = F.adaptive_max_pool2d(convprop.tensor(x), output_size, return_indices=True)
    _, th_indices = TF.adaptive_max_pool2d(torch.from_numpy(x), output_size, return_indices=True)
    np.testing.assert_array_equal(indices.data, th_indices.numpy())


def test_adaptive_avg_pool_1d_non_finite_stays_in_its_windows():
    x = np.arange(8.0)[None, None]
    x[0, 0, 3] = np.nan
    np.testing.assert_array_equal(F.adaptive_avg_pool1d(convprop.tensor(x), 4).data, [[[0.5, np.nan, 4.5, 6.5]]])
    x[0, 0, 3] = np.inf
    np.testing.assert_array_equal(F.adaptive_avg_pool1d(convprop.tensor(x), 5).data, [[[0.5, np.inf, np.inf, 5, 6.5]]])
    x[0, 0, 4] = -np.inf  # windows [1, 4), [3, 5), [4, 7): inf only, both (NaN), -inf only
    np.testing.assert_array_equal(
        F.adaptive_avg_pool1d(convprop.tensor(x), 5).data, [[[0.5, np.inf, np.nan, -np.inf, 6.5]]]
    )


# sizes with overlapping windows (7 -> 3, 5 -> 4), a dividing one (8 -> 4) and an output larger than the input
NON_FINITE_SIZES = {1: [((8,), (5,)), ((8,), (4,)), ((3,), (7,))], 2: [((7, 8), (3, 4)), ((3, 5), (5, 4))]}
NON_FINITE_SIZES[3] = [((5, 7, 8), (4, 3, 4)), ((2, 6, 3), (3, 4, 5))]


@pytest.mark.parametrize(("nd", "size", "output_size"), [(nd, *c) for nd, cs in NON_FINITE_SIZES.items() for c in cs])
@pytest.mark.parametrize("values", [(np.nan,), (np.inf,), (-np.inf,), (np.inf, -np.inf), (np.nan, np.inf, -np.inf)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adaptive_avg_pool_non_finite_input_matches_torch(nd, size, output_size, values, dtype):
    """A NaN or ±inf spoils only the windows that hold it; +inf and -inf in one window give NaN, as in PyTorch."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, *size)).astype(dtype)
    # the values next to each other (so adjacent windows hold one, the other, or both), then one more
    # of each at random places
    mid = tuple(n // 2 for n in size)
    for k, v in enumerate(values):
        x[(0, 1, *mid[:-1], min(mid[-1] + k, size[-1] - 1))] = v
        x[(int(rng.integers(2)), int(rng.integers(3)), *(int(rng.integers(n)) for n in size))] = v
    out = compare_with_torch(
        partial(getattr(F, f"adaptive_avg_pool{nd}d"), output_size=output_size),
        partial(getattr(TF, f"adaptive_avg_pool{nd}d"), output_size=output_size),
        [x],
    )
    assert np.isfinite(out.data).any() or min(output_size) == 1


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_adaptive_avg_pool_non_finite_gradient_matches_torch(nd):
    """A NaN or ±inf in the upstream gradient reaches only the inputs of its window."""
    size, output_size = NON_FINITE_SIZES[nd][0]
    x = np.random.default_rng(0).standard_normal((2, 3, *size))
    gy = np.random.default_rng(1).standard_normal((2, 3, *output_size))
    gy[(0, 0, *(o // 2 for o in output_size))] = np.nan
    gy[(0, 1, *(o // 2 for o in output_size))] = np.inf
    gy[(1, 2, *(0 for _ in output_size))] = -np.inf
    gy[(1, 2, *(1 for _ in output_size))] = np.inf
    t, th = convprop.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    getattr(F, f"adaptive_avg_pool{nd}d")(t, output_size).backward(gy)
    getattr(TF, f"adaptive_avg_pool{nd}d")(th, output_size).backward(torch.from_numpy(gy))
    assert np.isfinite(th.grad.numpy()).any() and not np.isfinite(th.grad.numpy()).all()
    np.testing.assert_allclose(t.grad, th.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_max_pool_of_all_minus_infinity_picks_the_first_input_element():
    x = np.full((1, 1, 4, 5), -np.inf)
    values, indices = F.max_pool2d(convprop.tensor(x), 3, 2, 1, return_indices=True)
    th_values, th_indices = TF.max_pool2d(torch.from_numpy(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(values.data, th_values.numpy())
    np.testing.assert_array_equal(indices.data, th_indices.numpy())


def test_max_pool_integer_input_matches_torch():
    x = np.random.default_rng(0).integers(-50, 50, (2, 3, 7, 6))
    values, indices = F.max_pool2d(convprop.tensor(x), 3, 2, 1, return_indices=True)
    th_values, th_indices = TF.max_pool2d(torch.from_numpy(x), 3, 2, 1, return_indices=True)
    assert values.dtype == np.int64
    np.testing.assert_array_equal(values.data, th_values.numpy())
    np.testing.assert_array_equal(indices.data, th_indices.numpy())


def test_no_grad_and_constant_input_give_the_same_values_without_a_graph():
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 8))
    t = convprop.tensor(x, requires_grad=True)
    with_graph = F.max_pool2d(t, 3, 2, 1)
    with convprop.no_grad():
        without = F.max_pool2d(t, 3, 2, 1)
    constant = F.max_pool2d(convprop.tensor(x), 3, 2, 1)
    assert with_graph.requires_grad and not without.requires_grad and not constant.requires_grad
    np.testing.assert_array_equal(without.data, with_graph.data)
    np.testing.assert_array_equal(constant.data, with_graph.data)


def test_pooling_modules_call_the_functions():
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8))
    cases = [
        (convprop.nn.MaxPool2d(3, 2, 1), torch.nn.MaxPool2d(3, 2, 1)),
        (convprop.nn.AvgPool2d(3, 2, 1, count_include_pad=False), torch.nn.AvgPool2d(3, 2, 1, count_include_pad=False)),
        (convprop.nn.AdaptiveAvgPool2d((3, 5)), torch.nn.AdaptiveAvgPool2d((3, 5))),
        (convprop.nn.AdaptiveMaxPool2d((3, 5)), torch.nn.AdaptiveMaxPool2d((3, 5))),
    ]
    for cp_mod, th_mod in cases:
        compare_with_torch(cp_mod, th_mod, [x])


# ---- gradcheck --------------------------------------------------------------------------------------


def _distinct(shape, seed):
    """Values at least 0.1 apart, so every argmax is stable under the finite-difference step."""
    rng = np.random.default_rng(seed)
    return (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1).astype(np.float64)


@pytest.mark.parametrize(
    "fn",
    [
        lambda t: F.max_pool2d(t, 3, 2, 1),  # overlapping windows
        lambda t: F.max_pool2d(t, (2, 3), (1, 2), (1, 0), dilation=(2, 1), ceil_mode=True),
        lambda t: F.max_pool1d(t[0], 2),
        lambda t: F.adaptive_max_pool2d(t, (3, 4)),
        lambda t: F.avg_pool2d(t, 3, 2, 1, ceil_mode=True, count_include_pad=False),
        lambda t: F.avg_pool2d(t, 2, divisor_override=3),
        lambda t: F.adaptive_avg_pool2d(t, (4, 3)),
    ],
)
def test_gradcheck(fn):
    x = convprop.tensor(_distinct((2, 2, 7, 6), seed=3), requires_grad=True)
    assert convprop.gradcheck(fn, [x], eps=1e-6, atol=1e-7, rtol=1e-6)


def test_gradcheck_3d():
    x = convprop.tensor(_distinct((1, 2, 5, 4, 6), seed=4), requires_grad=True)
    assert convprop.gradcheck(lambda t: F.max_pool3d(t, 2, 1, 1), [x], eps=1e-6, atol=1e-7, rtol=1e-6)
    assert convprop.gradcheck(lambda t: F.avg_pool3d(t, 3, 2, 1), [x], eps=1e-6, atol=1e-7, rtol=1e-6)


# ---- bad input --------------------------------------------------------------------------------------


def _x(*shape, dtype=np.float32):
    return convprop.tensor(np.zeros(shape, dtype=dtype))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: F.max_pool2d(_x(4, 4), 2), ValueError, r"max_pool2d: expected a 3-D \(unbatched\) or 4-D"),
        (lambda: F.max_pool1d(_x(1, 1, 4, 4), 2), ValueError, r"max_pool1d: .*got shape \(1, 1, 4, 4\)"),
        (lambda: F.avg_pool3d(_x(1, 4, 4), 2), ValueError, r"avg_pool3d: expected a 4-D"),
        (lambda: F.max_pool2d(_x(1, 1, 4, 4), 0), ValueError, r"kernel_size must be positive, got \(0, 0\)"),
        (lambda: F.max_pool2d(_x(1, 1, 4, 4), (2, -1)), ValueError, r"kernel_size must be positive, got \(2, -1\)"),
        (lambda: F.max_pool2d(_x(1, 1, 4, 4), 2, 0), ValueError, r"stride must be positive, got \(0, 0\)"),
        (lambda: F.avg_pool1d(_x(1, 1, 4), 2, -1), ValueError, r"avg_pool1d: stride must be positive"),
        (lambda: F.max_pool2d(_x(1, 1, 4, 4), 2, dilation=0), ValueError, r"dilation must be positive"),
        (lambda: F.max_pool2d(_x(1, 1, 4, 4), 2, padding=-1), ValueError, r"padding must be non-negative, got"),
        (
            lambda: F.max_pool2d(_x(1, 1, 9, 9), 3, padding=2, dilation=2),
            ValueError,
            r"padding should be at most half of kernel_size, got padding=\(2, 2\) and kernel_size=\(3, 3\)",
        ),
        (lambda: F.avg_pool2d(_x(1, 1, 4, 4), 2, padding=(0, 2)), ValueError, r"at most half of kernel_size"),
        (
            lambda: F.max_pool2d(_x(1, 1, 4, 4), 5),
            ValueError,
            r"input of spatial size \(4, 4\) is too small .* the output size would be \(0, 0\)",
        ),
        (lambda: F.avg_pool1d(_x(1, 1, 3), 4), ValueError, r"avg_pool1d: input of spatial size \(3,\) is too small"),
        (lambda: F.max_pool2d(_x(1, 1, 4, 4), (2, 2, 2)), ValueError, r"kernel_size must be an int or a tuple of 2"),
        (lambda: F.max_pool2d(_x(1, 1, 4, 4), 2.0), TypeError, r"kernel_size must be an int or a tuple of 2 ints"),
        (lambda: F.avg_pool2d(_x(1, 1, 4, 4), 2, divisor_override=0), ValueError, r"divisor_override must be non-zero"),
        (lambda: F.avg_pool2d(_x(1, 1, 4, 4), 2, divisor_override=1.5), TypeError, r"divisor_override must be an int"),
        (
            lambda: F.avg_pool2d(_x(1, 1, 4, 4, dtype=np.int64), 2),
            TypeError,
            r"avg_pool2d: expected a floating point input, got dtype int64",
        ),
        (lambda: F.adaptive_avg_pool2d(_x(1, 1, 4, 4, dtype=np.int32), 2), TypeError, r"floating point input"),
        (lambda: F.max_pool2d(_x(1, 1, 4, 4, dtype=np.bool_), 2), TypeError, r"floating point or integer input"),
        (lambda: F.adaptive_avg_pool2d(_x(1, 1, 4, 4), 0), ValueError, r"output_size must be positive, got \(0, 0\)"),
        (lambda: F.adaptive_max_pool1d(_x(1, 1, 4), -1), ValueError, r"output_size must be positive, got \(-1,\)"),
        (
            lambda: F.adaptive_avg_pool2d(_x(1, 1, 4, 4), (2, 2, 2)),
            ValueError,
            r"adaptive_avg_pool2d: output_size must be an int or a tuple of 2 ints .* got \(2, 2, 2\)",
        ),
        (lambda: F.adaptive_max_pool3d(_x(1, 4, 4, 4), (2, 0, None)), ValueError, r"got \(2, 0, 4\)"),
        (lambda: F.max_pool2d(_x(1, 0, 4, 4), 2), ValueError, r"channel and spatial sizes .* non-zero"),
        (lambda: F.max_pool2d(np.zeros((1, 1, 4, 4)), 2), TypeError, r"max_pool2d: input must be a Tensor"),
    ],
)
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("max_pool2d", (2,)),
        ("max_pool2d", (3, 1, 1)),
        ("avg_pool2d", (3, 1, 1)),
        ("adaptive_avg_pool2d", (3,)),
        ("adaptive_max_pool2d", (3,)),
    ],
)
def test_empty_batch_is_allowed(name, args):
    x = np.zeros((0, 2, 5, 5))
    t = convprop.tensor(x, requires_grad=True)
    y = getattr(F, name)(t, *args)
    assert y.shape == tuple(getattr(TF, name)(torch.from_numpy(x), *args).shape)
    y.backward(np.zeros(y.shape))
    assert t.grad.shape == x.shape
