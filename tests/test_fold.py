"""unfold (im2col) and fold (col2im): PyTorch, adjointness, gradcheck, errors."""

from __future__ import annotations

import numpy as np
import pytest

import convprop
import convprop.nn.functional as F
from tests.helpers import compare_with_torch, require_torch


def _config(seed: int):
    rng = np.random.default_rng(seed)
    kernel = tuple(int(k) for k in rng.integers(1, 4, 2))
    dilation = tuple(int(d) for d in rng.integers(1, 3, 2))
    padding = tuple(int(p) for p in rng.integers(0, 3, 2))
    stride = tuple(int(s) for s in rng.integers(1, 4, 2))
    span = np.array(dilation) * (np.array(kernel) - 1) + 1
    size = tuple(int(s) for s in np.maximum(1, span - 2 * np.array(padding) + rng.integers(0, 5, 2)))
    batch = int(rng.choice([0, 1, 3]))
    channels = int(rng.integers(1, 4))
    kwargs = {"kernel_size": kernel, "dilation": dilation, "padding": padding, "stride": stride}
    return rng, batch, channels, size, kwargs


@pytest.mark.parametrize("seed", range(40))
def test_unfold_matches_torch(seed):
    torch = require_torch()
    rng, batch, channels, size, kwargs = _config(seed)
    x = rng.standard_normal(((batch,) if batch else ()) + (channels, *size))
    compare_with_torch(lambda t: F.unfold(t, **kwargs), lambda t: torch.nn.functional.unfold(t, **kwargs), [x])


@pytest.mark.parametrize("seed", range(40))
def test_fold_matches_torch(seed):
    torch = require_torch()
    rng, batch, channels, size, kwargs = _config(seed)
    blocks = torch.nn.functional.unfold(torch.zeros(1, channels, *size), **kwargs).shape[1:]
    cols = rng.standard_normal(((batch,) if batch else ()) + tuple(blocks))
    compare_with_torch(
        lambda t: F.fold(t, size, **kwargs), lambda t: torch.nn.functional.fold(t, size, **kwargs), [cols]
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_is_weight_matrix_times_unfold(dtype):
    """The identity that makes im2col a convolution: conv2d(x, w) == w.view(O, -1) @ unfold(x)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 7, 6)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 2)).astype(dtype)
    kwargs = {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2)}
    cols = F.unfold(convprop.tensor(x), (3, 2), **kwargs).data
    y = F.conv2d(convprop.tensor(x), convprop.tensor(w), **kwargs).data
    tol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(np.matmul(w.reshape(4, -1), cols).reshape(y.shape), y, rtol=tol, atol=tol)


@pytest.mark.parametrize("seed", range(10))
def test_fold_is_the_adjoint_of_unfold(seed):
    """<unfold(x), c> == <x, fold(c)> for every x and c: col2im is im2col transposed."""
    rng, batch, channels, size, kwargs = _config(seed)
    x = rng.standard_normal((batch or 1, channels, *size))
    ux = F.unfold(convprop.tensor(x), **kwargs).data
    c = rng.standard_normal(ux.shape)
    fc = F.fold(convprop.tensor(c), size, **kwargs).data
    np.testing.assert_allclose(np.sum(ux * c), np.sum(x * fc), rtol=1e-10)


def test_gradcheck():
    rng = np.random.default_rng(2)
    kwargs = {"kernel_size": (2, 3), "dilation": (2, 1), "padding": 1, "stride": (1, 2)}
    x = convprop.tensor(rng.standard_normal((2, 2, 4, 5)), requires_grad=True)
    assert convprop.gradcheck(lambda t: F.unfold(t, **kwargs), [x], atol=1e-7, rtol=1e-6)
    cols = F.unfold(x.detach(), **kwargs)
    c = convprop.tensor(rng.standard_normal(cols.shape), requires_grad=True)
    assert convprop.gradcheck(lambda t: F.fold(t, (4, 5), **kwargs), [c], atol=1e-7, rtol=1e-6)


def _t(*shape):
    return convprop.tensor(np.ones(shape))


@pytest.mark.parametrize(
    ("fn", "args", "kwargs", "error", "match"),
    [
        (F.unfold, (_t(1, 2, 3, 3, 3), 2), {}, ValueError, r"unfold: expected a 3-D \(unbatched\) or 4-D"),
        (F.unfold, (_t(1, 1, 2, 2), 3), {}, ValueError, r"every dimension needs at least one"),
        (F.unfold, (_t(1, 1, 4, 4), 2), {"stride": 0}, ValueError, r"unfold: stride must be positive"),
        (F.unfold, (_t(1, 1, 4, 4), 2), {"padding": -1}, ValueError, r"unfold: padding must be non-negative"),
        (F.unfold, (np.ones((1, 1, 4, 4)), 2), {}, TypeError, r"unfold: input must be a Tensor"),
        (F.fold, (_t(1, 7, 4), (3, 3), 2), {}, ValueError, r"input.size\(1\) = 7 must be divisible"),
        (F.fold, (_t(1, 8, 5), (3, 3), 2), {}, ValueError, r"give 2 x 2 sliding blocks, but input.size\(2\) = 5"),
        (F.fold, (_t(1, 1, 4, 4), (3, 3), 2), {}, ValueError, r"fold: expected a 2-D \(unbatched\) or 3-D"),
        (F.fold, (_t(1, 4, 1), (3, 3), 2), {"dilation": 0}, ValueError, r"fold: dilation must be positive"),
        (F.fold, (_t(1, 4, 1), (0, 3), 2), {}, ValueError, r"fold: output_size must be positive"),
    ],
)
def test_errors(fn, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        fn(*args, **kwargs)
