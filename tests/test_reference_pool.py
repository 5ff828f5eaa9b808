"""Pooling: the fast path against ``convprop.reference`` (literal loops), and the article's example.

Needs no PyTorch. The seeded configuration generators here are shared with ``test_pool.py``, which
runs the same kind of sweep against PyTorch.
"""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import convprop
import convprop.nn.functional as F
from convprop import reference

DATA = ("distinct", "ties", "nan")


def data(rng: np.random.Generator, shape, kind: str, dtype) -> np.ndarray:
    """Distinct values, many ties (integers 0..2 as floats), or values with NaNs."""
    x = rng.integers(0, 3, shape).astype(dtype) if kind == "ties" else rng.standard_normal(shape).astype(dtype)
    if kind == "nan":
        x[rng.random(shape) < 0.15] = np.nan
    return x


def input_shape(rng: np.random.Generator, size) -> tuple[int, ...]:
    """(N, C, *size), unbatched (C, *size) one time in four, batch 1 sometimes."""
    c = int(rng.integers(1, 4))
    if rng.random() < 0.25:
        return (c, *size)
    return (int(rng.choice([1, 2])), c, *size)


def regular_config(rng: np.random.Generator, nd: int, dilated: bool = True) -> dict:
    """Per-axis kernel, stride (== kernel one time in three), padding (<= kernel // 2), dilation, size."""
    k = tuple(int(v) for v in rng.integers(1, 5, nd))
    s = k if rng.random() < 0.35 else tuple(int(v) for v in rng.integers(1, 4, nd))
    p = (0,) * nd if rng.random() < 0.4 else tuple(int(rng.integers(0, kk // 2 + 1)) for kk in k)
    d = tuple(int(v) for v in rng.integers(1, 4, nd)) if dilated and rng.random() < 0.6 else (1,) * nd
    # size >= dilation puts an input element in every window (PyTorch's indices are out of range otherwise)
    size = tuple(int(rng.integers(dd, 10 if nd < 3 else 7)) for dd in d)
    return {
        "kernel_size": k,
        "stride": s,
        "padding": p,
        "dilation": d,
        "ceil_mode": bool(rng.random() < 0.5),
        "size": size,
    }


def avg_config(rng: np.random.Generator, nd: int) -> dict:
    cfg = regular_config(rng, nd, dilated=False)
    del cfg["dilation"]
    cfg["count_include_pad"] = bool(rng.random() < 0.5)
    if nd > 1 and rng.random() < 0.25:
        cfg["divisor_override"] = int(rng.integers(1, 7))
    return cfg


def adaptive_config(rng: np.random.Generator, nd: int) -> dict:
    """Input sizes 1..9 and output sizes 1..size + 2: non-dividing (7 -> 3), dividing, and output > input."""
    size = tuple(int(v) for v in rng.integers(1, 10 if nd < 3 else 7, nd))
    out = tuple(int(rng.integers(1, n + 3)) for n in size)
    if nd > 1 and rng.random() < 0.2:
        out = (None, *out[1:])
    return {"size": size, "output_size": out}


def sweep(make, count: int, seed: int) -> list:
    """``count`` configurations per rank as pytest params, id'd by rank and index."""
    params = []
    for nd in (1, 2, 3):
        rng = np.random.default_rng(seed + nd)
        params += [pytest.param(nd, i, make(rng, nd), id=f"{nd}d-{i}") for i in range(count)]
    return params


def split(cfg: dict) -> tuple[tuple[int, ...], dict]:
    """(size, keyword arguments) of a configuration."""
    cfg = dict(cfg)
    return cfg.pop("size"), cfg


# ---- fast path against the reference -------------------------------------------------------------------


def _batched(rng, size, kind):
    shape = input_shape(rng, size)
    return data(rng, shape if len(shape) == len(size) + 2 else (1, *shape), kind, np.float64)


@pytest.mark.parametrize(("nd", "i", "cfg"), sweep(regular_config, 40, 500))
def test_max_pool_matches_reference(nd, i, cfg):
    size, kw = split(cfg)
    rng = np.random.default_rng(i)
    x = _batched(rng, size, DATA[i % 3])
    expected, expected_idx = reference.max_pool(x, **kw)
    fn = getattr(F, f"max_pool{nd}d")
    if expected.size == 0:
        with pytest.raises(ValueError, match="too small"):
            fn(convprop.tensor(x), **kw)
        return
    t = convprop.tensor(x, requires_grad=True)
    out, idx = fn(t, **kw, return_indices=True)
    np.testing.assert_array_equal(out.data, expected)
    np.testing.assert_array_equal(idx.data, expected_idx)
    gy = rng.standard_normal(out.shape)
    out.backward(gy)
    np.testing.assert_allclose(t.grad, reference.max_pool_backward(gy, expected_idx, x.shape), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("nd", "i", "cfg"), sweep(avg_config, 40, 600))
def test_avg_pool_matches_reference(nd, i, cfg):
    size, kw = split(cfg)
    rng = np.random.default_rng(i)
    x = _batched(rng, size, "distinct")
    expected = reference.avg_pool(x, **kw)
    fn = getattr(F, f"avg_pool{nd}d")
    if expected.size == 0:
        with pytest.raises(ValueError, match="too small"):
            fn(convprop.tensor(x), **kw)
        return
    t = convprop.tensor(x, requires_grad=True)
    out = fn(t, **kw)
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-12)
    gy = rng.standard_normal(out.shape)
    out.backward(gy)
    expected_gx = reference.avg_pool_backward(gy, x.shape, **kw)
    np.testing.assert_allclose(t.grad, expected_gx, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("nd", "i", "cfg"), sweep(adaptive_config, 30, 700))
def test_adaptive_pools_match_reference(nd, i, cfg):
    size, kw = split(cfg)
    out_size = tuple(n if o is None else o for o, n in zip(kw["output_size"], size, strict=True))
    rng = np.random.default_rng(i)
    x = _batched(rng, size, DATA[i % 3])

    t = convprop.tensor(x, requires_grad=True)
    out, idx = getattr(F, f"adaptive_max_pool{nd}d")(t, **kw, return_indices=True)
    expected, expected_idx = reference.adaptive_max_pool(x, out_size)
    np.testing.assert_array_equal(out.data, expected)
    np.testing.assert_array_equal(idx.data, expected_idx)
    gy = rng.standard_normal(out.shape)
    out.backward(gy)
    np.testing.assert_allclose(t.grad, reference.max_pool_backward(gy, expected_idx, x.shape), rtol=1e-10, atol=1e-12)

    x = np.nan_to_num(x)
    t = convprop.tensor(x, requires_grad=True)
    out = getattr(F, f"adaptive_avg_pool{nd}d")(t, **kw)
    np.testing.assert_allclose(out.data, reference.adaptive_avg_pool(x, out_size), rtol=1e-10, atol=1e-12)
    out.backward(gy)
    np.testing.assert_allclose(t.grad, reference.adaptive_avg_pool_backward(gy, x.shape), rtol=1e-10, atol=1e-12)


def test_float32_matches_reference():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    out, idx = F.max_pool2d(convprop.tensor(x), 3, 2, 1, return_indices=True)
    expected, expected_idx = reference.max_pool(x, (3, 3), (2, 2), (1, 1), (1, 1))
    np.testing.assert_array_equal(out.data, expected)
    np.testing.assert_array_equal(idx.data, expected_idx)
    t = convprop.tensor(x, requires_grad=True)
    out = F.avg_pool2d(t, 3, 2, 1, count_include_pad=False)
    np.testing.assert_allclose(
        out.data, reference.avg_pool(x, (3, 3), (2, 2), (1, 1), count_include_pad=False), rtol=1e-5
    )
    gy = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(gy)
    expected_gx = reference.avg_pool_backward(gy, x.shape, (3, 3), (2, 2), (1, 1), count_include_pad=False)
    assert t.grad.dtype == np.float32
    np.testing.assert_allclose(t.grad, expected_gx, rtol=1e-5, atol=1e-6)


# ---- the article's example --------------------------------------------------------------------------


# A 4x4 input A pooled by 2x2 windows into B (2x2); A11, A13, A31, A33 are the maxima of their windows
A = np.array(
    [
        [9.0, 1.0, 8.0, 2.0],
        [3.0, 4.0, 5.0, 6.0],
        [7.0, 0.0, 9.5, 1.5],
        [2.5, 6.5, 3.0, 4.5],
    ]
)
DL_DB = np.array([[0.5, -1.25], [2.0, 3.5]])


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_article_max_pool_routes_each_gradient_to_its_maximum(engine):
    if engine == "fast":
        a = convprop.tensor(A[None, None], requires_grad=True)
        b = F.max_pool2d(a, 2)
        b.backward(DL_DB[None, None])
        out, grad = b.data[0, 0], a.grad[0, 0]
    else:
        out, idx = reference.max_pool(A[None, None], (2, 2), (2, 2), (0, 0), (1, 1))
        grad = reference.max_pool_backward(DL_DB[None, None], idx, (1, 1, 4, 4))[0, 0]
        out = out[0, 0]
    np.testing.assert_array_equal(out, [[9.0, 8.0], [7.0, 9.5]])
    # ∂L/∂A: ∂L/∂B11 at A11, ∂L/∂B12 at A13, ∂L/∂B21 at A31, ∂L/∂B22 at A33, zero elsewhere
    expected = np.array(
        [
            [0.5, 0.0, -1.25, 0.0],
            [0.0, 0.0, 0.0, 0.0],
            [2.0, 0.0, 3.5, 0.0],
            [0.0, 0.0, 0.0, 0.0],
        ]
    )
    np.testing.assert_array_equal(grad, expected)


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_article_average_pool_gives_a_quarter_to_every_element(engine):
    if engine == "fast":
        a = convprop.tensor(A[None, None], requires_grad=True)
        b = F.avg_pool2d(a, 2)
        b.backward(DL_DB[None, None])
        out, grad = b.data[0, 0], a.grad[0, 0]
    else:
        out = reference.avg_pool(A[None, None], (2, 2), (2, 2), (0, 0))[0, 0]
        grad = reference.avg_pool_backward(DL_DB[None, None], (1, 1, 4, 4), (2, 2), (2, 2), (0, 0))[0, 0]
    np.testing.assert_allclose(out, [[17 / 4, 21 / 4], [16 / 4, 18.5 / 4]], rtol=1e-15)
    # ∂L/∂A = 1/4 · ∂L/∂B of the element's window, for every element
    np.testing.assert_array_equal(grad, np.kron(DL_DB, np.ones((2, 2))) / 4)


def test_article_ties_go_to_the_first_element_in_row_major_order():
    a = convprop.tensor(np.array([[[[1.0, 2.0], [2.0, 0.0]]]]), requires_grad=True)
    F.max_pool2d(a, 2).backward(np.array([[[[3.0]]]]))
    np.testing.assert_array_equal(a.grad[0, 0], [[0.0, 3.0], [0.0, 0.0]])


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("name", ["max_pool", "avg_pool", "adaptive_avg_pool", "adaptive_max_pool"])
def test_docstring_examples_run(name, nd):
    fn = getattr(F, f"{name}{nd}d")
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner()
    for test in finder.find(fn, globs={"convprop": convprop, "np": np, "F": F}):
        runner.run(test)
    assert runner.summarize(verbose=False).attempted > 0
    assert runner.summarize(verbose=False).failed == 0
