"""A small network end to end, written with the functional API, against the same network in PyTorch."""

import numpy as np
import pytest

import convprop
import convprop.nn.functional as F
from tests.helpers import compare_with_torch, require_torch


def _params(dtype, seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(6, 2, 3, 3), (6,), (8, 3, 3, 2), (8,), (10, 8 * 2 * 2), (10,)]
    return [(rng.standard_normal(s) * 0.5).astype(dtype) for s in shapes]


def _forward(lib, functional, x, w1, b1, w2, b2, w3, b3, target):
    """conv(stride 1, pad 1) -> relu -> max pool (overlapping) -> grouped dilated conv -> relu -> avg pool ->
    linear -> cross_entropy: every kind of layer the engine differentiates, chained."""
    h = functional.relu(functional.conv2d(x, w1, b1, padding=1))
    h = functional.max_pool2d(h, 3, stride=2, padding=1)
    h = functional.relu(functional.conv2d(h, w2, b2, stride=(1, 2), padding=(2, 1), dilation=(2, 1), groups=2))
    h = functional.adaptive_avg_pool2d(h, (2, 2))
    logits = functional.linear(h.reshape(h.shape[0], -1), w3, b3)
    return functional.cross_entropy(logits, target, label_smoothing=0.1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_small_network_matches_torch(dtype):
    torch = require_torch()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 2, 11, 9)).astype(dtype)
    target = np.array([3, 0, 9, 5])
    arrays = [x, *_params(dtype)]
    compare_with_torch(
        lambda *t: _forward(convprop, F, *t, target),
        lambda *t: _forward(torch, torch.nn.functional, *t, torch.tensor(target)),
        arrays,
        requires_grad=[False] + [True] * 6,
    )


def test_small_network_gradcheck():
    rng = np.random.default_rng(2)
    x = convprop.tensor(rng.standard_normal((2, 2, 7, 6)), requires_grad=True)
    params = [convprop.tensor(p, requires_grad=True) for p in _params(np.float64, seed=3)]
    assert convprop.gradcheck(lambda *t: _forward(convprop, F, *t, np.array([1, 7])), [x, *params])
