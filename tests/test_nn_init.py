"""convprop.nn.init: bounds and standard deviations (statistically), gains and fans as PyTorch's."""

from __future__ import annotations

import math

import numpy as np
import pytest

from convprop import nn
from convprop.nn import init
from tests.helpers import require_torch


def _param(*shape):
    return nn.Parameter(np.zeros(shape))


@pytest.mark.parametrize(
    ("nonlinearity", "param"),
    [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
     ("leaky_relu", 0.2), ("selu", None)],
)  # fmt: skip
def test_calculate_gain_matches_torch(nonlinearity, param):
    torch = require_torch()
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(torch.nn.init.calculate_gain(nonlinearity, param))


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="negative_slope"):
        init.calculate_gain("leaky_relu", "x")


# (function, kwargs, shape, expected bound of U(-b, b) or None, expected std)
FAN_IN, FAN_OUT = 16 * 9, 32 * 9
CASES = [
    (init.kaiming_uniform_, {}, math.sqrt(3) * math.sqrt(2 / 1.0001) / math.sqrt(FAN_IN)),
    (init.kaiming_uniform_, {"a": math.sqrt(5)}, 1 / math.sqrt(FAN_IN)),
    (init.kaiming_uniform_, {"mode": "fan_out", "nonlinearity": "relu"}, math.sqrt(6 / FAN_OUT)),
    (init.xavier_uniform_, {}, math.sqrt(6 / (FAN_IN + FAN_OUT))),
    (init.xavier_uniform_, {"gain": 2.0}, 2 * math.sqrt(6 / (FAN_IN + FAN_OUT))),
]


@pytest.mark.parametrize(("fn", "kwargs", "bound"), CASES)
def test_uniform_initialisers_bounds_and_spread(fn, kwargs, bound):
    w = _param(32, 16, 3, 3)
    assert fn(w, **kwargs, generator=np.random.default_rng(0)) is w
    assert np.abs(w.data).max() <= bound
    assert np.abs(w.data).max() > 0.99 * bound
    # U(-b, b): std b / sqrt(3); 4608 samples give a relative error of about 1%.
    assert w.data.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)
    assert abs(w.data.mean()) < 0.05 * bound


@pytest.mark.parametrize(
    ("fn", "kwargs", "std"),
    [
        (init.kaiming_normal_, {}, math.sqrt(2 / 1.0001) / math.sqrt(FAN_IN)),
        (init.kaiming_normal_, {"mode": "fan_out", "nonlinearity": "relu"}, math.sqrt(2 / FAN_OUT)),
        (init.xavier_normal_, {}, math.sqrt(2 / (FAN_IN + FAN_OUT))),
        (init.normal_, {"mean": 0.0, "std": 0.3}, 0.3),
    ],
)
def test_normal_initialisers_std(fn, kwargs, std):
    w = _param(32, 16, 3, 3)
    fn(w, **kwargs, generator=np.random.default_rng(1))
    assert w.data.std() == pytest.approx(std, rel=0.05)
    assert abs(w.data.mean()) < 0.05 * std


def test_fills_and_uniform_range():
    w = _param(4, 5)
    init.ones_(w)
    np.testing.assert_array_equal(w.data, 1)
    init.zeros_(w)
    np.testing.assert_array_equal(w.data, 0)
    init.constant_(w, 0.25)
    np.testing.assert_array_equal(w.data, 0.25)
    init.uniform_(w, 2.0, 3.0, generator=np.random.default_rng(2))
    assert w.data.min() >= 2.0 and w.data.max() < 3.0
    init.normal_(w, 5.0, 0.0)
    np.testing.assert_array_equal(w.data, 5.0)


def test_generator_reproducibility_and_in_place_dtype():
    a, b = nn.Parameter(np.zeros((8, 8), np.float32)), nn.Parameter(np.zeros((8, 8), np.float32))
    data = a.data
    init.kaiming_uniform_(a, generator=np.random.default_rng(3))
    init.kaiming_uniform_(b, generator=np.random.default_rng(3))
    np.testing.assert_array_equal(a.data, b.data)
    assert a.data is data and a.dtype == np.float32


def test_errors():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(_param(5))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_normal_(_param(3, 3), mode="fan_avg")
    with pytest.raises(TypeError, match=r"numpy\.random\.Generator"):
        init.uniform_(_param(3), generator=42)
    with pytest.raises(ValueError, match="a <= b"):
        init.uniform_(_param(3), 1.0, 0.0)


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors is a no-op")  # torch says so; we agree
def test_zero_element_layers_initialise_like_torch():
    torch = require_torch()
    assert nn.Linear(0, 3).weight.shape == tuple(torch.nn.Linear(0, 3).weight.shape) == (3, 0)
    assert np.all(np.abs(nn.Linear(0, 3).bias.data) == 0)
