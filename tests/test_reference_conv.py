"""The reference oracle reproduces the article's worked example, and agrees with PyTorch.

The article's example: X is 3x3, F is 2x2, stride 1, no padding, so O and ∂L/∂O are 2x2.
With SymPy symbols the reference must print the article's equations exactly; with distinct
primes as values, the fast path must give the same numbers.
"""

from __future__ import annotations

import numpy as np
import pytest

import convprop
import convprop.nn.functional as F
from convprop import reference as R
from tests.helpers import require_torch

sympy = pytest.importorskip("sympy")


def _symbols(name: str, rows: int, cols: int) -> np.ndarray:
    return np.array([[sympy.Symbol(f"{name}{i}{j}") for j in range(1, cols + 1)] for i in range(1, rows + 1)])


X, Fl, dO = _symbols("X", 3, 3), _symbols("F", 2, 2), _symbols("dO", 2, 2)
S = {str(s): s for a in (X, Fl, dO) for s in a.flat}


def _expr(text: str):
    return sympy.sympify(text, locals=S)


# The article's equations, written out as it prints them (with its two typos corrected).
ARTICLE_FORWARD = {
    (0, 0): "X11*F11 + X12*F12 + X21*F21 + X22*F22",
    (0, 1): "X12*F11 + X13*F12 + X22*F21 + X23*F22",
    (1, 0): "X21*F11 + X22*F12 + X31*F21 + X32*F22",
    (1, 1): "X22*F11 + X23*F12 + X32*F21 + X33*F22",
}
ARTICLE_GRAD_F = {
    (0, 0): "X11*dO11 + X12*dO12 + X21*dO21 + X22*dO22",
    (0, 1): "X12*dO11 + X13*dO12 + X22*dO21 + X23*dO22",
    (1, 0): "X21*dO11 + X22*dO12 + X31*dO21 + X32*dO22",
    (1, 1): "X22*dO11 + X23*dO12 + X32*dO21 + X33*dO22",
}
ARTICLE_GRAD_X = {
    (0, 0): "dO11*F11",
    (0, 1): "dO11*F12 + dO12*F11",
    (0, 2): "dO12*F12",
    (1, 0): "dO11*F21 + dO21*F11",
    (1, 1): "dO11*F22 + dO12*F21 + dO21*F12 + dO22*F11",
    (1, 2): "dO12*F22 + dO22*F12",
    (2, 0): "dO21*F21",
    (2, 1): "dO21*F22 + dO22*F21",  # printed as ∂L/∂X23 in the article: it is ∂L/∂X32
    (2, 2): "dO22*F22",
}


def _assert_equations(result: np.ndarray, equations: dict) -> None:
    assert result.shape == (1, 1, *np.array(list(equations)).max(axis=0) + 1)
    for index, text in equations.items():
        assert sympy.expand(result[(0, 0, *index)] - _expr(text)) == 0, (index, result[(0, 0, *index)], text)


def test_reference_forward_is_the_articles_sliding_window():
    _assert_equations(R.conv_forward(X[None, None], Fl[None, None]), ARTICLE_FORWARD)


def test_reference_grad_weight_is_x_correlated_with_grad_output():
    _assert_equations(R.conv_grad_weight(X[None, None], dO[None, None], (1, 1, 2, 2)), ARTICLE_GRAD_F)


def test_reference_grad_input_is_full_correlation_with_rotated_filter():
    _assert_equations(R.conv_grad_input(dO[None, None], Fl[None, None], (1, 1, 3, 3)), ARTICLE_GRAD_X)


def test_reference_primitives_follow_the_article():
    """rot180 swaps F11<->F22 and F12<->F21; the full padding surrounds ∂L/∂O by kernel − 1 zeros."""
    assert R.rot180(Fl).tolist() == [[S["F22"], S["F21"]], [S["F12"], S["F11"]]]
    padded = R.pad(dO, ((1, 1), (1, 1)))
    assert padded.shape == (4, 4) and padded[2, 2] == S["dO22"] and padded[0].tolist() == [0, 0, 0, 0]
    np.testing.assert_array_equal(
        R.dilate(np.array([[1, 2], [3, 4]]), (2, 3)), [[1, 0, 0, 2], [0, 0, 0, 0], [3, 0, 0, 4]]
    )
    np.testing.assert_array_equal(
        R.crop(np.arange(25).reshape(5, 5), ((1, 2), (0, 1))), np.arange(25).reshape(5, 5)[1:3, :4]
    )
    np.testing.assert_array_equal(R.correlate(np.arange(5.0), np.array([1.0, -1.0])), [-1, -1, -1, -1])


# distinct primes, so that a swapped or missing term changes the value
PRIMES = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59]


def _numbers():
    p = np.array(PRIMES, dtype=np.float64)
    return p[:9].reshape(3, 3), p[9:13].reshape(2, 2), p[13:17].reshape(2, 2)


def _substitute(text: str, x, f, g) -> float:
    values = {f"X{i + 1}{j + 1}": x[i, j] for i in range(3) for j in range(3)}
    values |= {f"F{i + 1}{j + 1}": f[i, j] for i in range(2) for j in range(2)}
    values |= {f"dO{i + 1}{j + 1}": g[i, j] for i in range(2) for j in range(2)}
    return float(_expr(text).subs({S[k]: v for k, v in values.items()}))


def test_fast_path_gives_the_articles_numbers():
    x, f, g = _numbers()
    xt = convprop.tensor(x[None, None], requires_grad=True)
    ft = convprop.tensor(f[None, None], requires_grad=True)
    y = F.conv2d(xt, ft)
    y.backward(g[None, None])
    for table, result in ((ARTICLE_FORWARD, y.data), (ARTICLE_GRAD_F, ft.grad), (ARTICLE_GRAD_X, xt.grad)):
        for index, text in table.items():
            assert result[(0, 0, *index)] == _substitute(text, x, f, g), (index, text)


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "kwargs"),
    [
        ((2, 4, 6, 5), (6, 2, 3, 2), {"stride": (2, 1), "padding": ((1, 1), (0, 0)), "dilation": (1, 2), "groups": 2}),
        ((1, 2, 7), (3, 2, 4), {"padding": ((1, 2),), "dilation": 2}),  # 'same' with an even dilated kernel
        ((2, 2, 4, 3, 5), (2, 1, 2, 2, 3), {"stride": 2, "padding": 1, "groups": 2}),
    ],
)
def test_reference_matches_torch(x_shape, w_shape, kwargs):
    """The oracle itself is checked against PyTorch's autograd, so the fast path cannot share a bug with it."""
    torch = require_torch()
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    nd = len(x_shape) - 2
    pads = kwargs["padding"]
    pads = ((pads, pads),) * nd if isinstance(pads, int) else pads
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    xpad = torch.nn.functional.pad(xt, [p for pair in reversed(pads) for p in pair])
    conv = getattr(torch.nn.functional, f"conv{nd}d")
    tk = {k: v for k, v in kwargs.items() if k != "padding"}
    yt = conv(xpad, wt, bt, **tk)
    gy = rng.standard_normal(yt.shape)
    yt.backward(torch.tensor(gy))
    y = R.conv_forward(x, w, b, **kwargs)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(R.conv_grad_input(gy, w, x.shape, **kwargs), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(R.conv_grad_weight(x, gy, w.shape, **kwargs), wt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_reference_conv_transpose_matches_torch():
    torch = require_torch()
    rng = np.random.default_rng(6)
    x, w, b = rng.standard_normal((2, 4, 3, 4)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(6)
    kwargs = {"stride": (2, 3), "padding": (1, 0), "output_padding": (1, 2), "groups": 2, "dilation": (1, 2)}
    expected = torch.nn.functional.conv_transpose2d(*(torch.tensor(a) for a in (x, w, b)), **kwargs).numpy()
    np.testing.assert_allclose(R.conv_transpose_forward(x, w, b, **kwargs), expected, rtol=1e-10, atol=1e-12)
