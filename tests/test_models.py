"""The model zoo: shapes, documented sizes, reproducible init, and forward/backward against the torch twin."""

from __future__ import annotations

import numpy as np
import pytest

import convprop
from convprop import nn
from convprop.models import count_macs, count_parameters, get_model, list_models
from tests.helpers import require_torch
from tests.torch_mirror import assert_same_state, compare_module, one_torch_thread, to_torch

torch = require_torch()


@pytest.fixture(autouse=True, scope="module")
def _single_threaded_torch():
    with one_torch_thread():
        yield


# (name, kwargs, input shape, parameters, multiply-accumulates): the numbers the docstrings state.
SIZES = [
    ("lenet5", {}, (1, 28, 28), 61_706, 416_520),
    ("lenet5", {"in_channels": 3, "input_size": 32}, (3, 32, 32), 62_006, 651_720),
    ("vggsmall", {}, (1, 28, 28), 468_010, 18_691_840),
    ("vggsmall", {"in_channels": 3, "input_size": 32}, (3, 32, 32), 591_466, 25_003_264),
    ("resnet8", {"in_channels": 3}, (3, 32, 32), 78_042, 12_501_632),
    ("resnet20", {"in_channels": 3}, (3, 32, 32), 272_474, 40_813_184),
]


def test_registry():
    assert list_models() == [
        "lenet5", "mobilenet_v2", "resnet18", "resnet20", "resnet34", "resnet50", "resnet8", "vgg11_bn", "vggsmall"
    ]  # fmt: skip
    with pytest.raises(
        ValueError, match=r"unknown model 'vgg99'; available: lenet5, mobilenet_v2, resnet18, .*vggsmall"
    ):
        get_model("vgg99")
    with pytest.raises(ValueError, match="get_model\\('lenet5'\\)"):
        get_model("lenet5", depth=3)
    with pytest.raises(TypeError, match=r"generator must be a numpy\.random\.Generator"):
        get_model("lenet5", generator=0)
    with pytest.raises(ValueError, match="depth must be 6n \\+ 2"):
        convprop.models.ResNetCIFAR(10)
    with pytest.raises(ValueError, match="input_size must be at least 12"):
        get_model("lenet5", input_size=8)


@pytest.mark.parametrize(("name", "kwargs", "shape", "params", "macs"), SIZES)
def test_documented_sizes_and_output_shape(name, kwargs, shape, params, macs):
    model = get_model(name, num_classes=7, generator=np.random.default_rng(0), **kwargs)
    assert count_parameters(model) == params + (7 - 10) * (model_last_in_features(model) + 1)
    assert count_macs(model, shape) == macs + (7 - 10) * model_last_in_features(model)
    assert model.training, "count_macs restores the training flag"
    with convprop.no_grad():
        assert model.eval()(convprop.tensor(np.zeros((2, *shape), np.float32))).shape == (2, 7)


def model_last_in_features(model: nn.Module) -> int:
    return [m for m in model.modules() if isinstance(m, nn.Linear)][-1].in_features


@pytest.mark.parametrize("name", ["lenet5", "vggsmall", "resnet8"])
def test_generator_makes_models_reproducible(name):
    kwargs = {"in_channels": 3} if name.startswith("resnet") else {}
    a = get_model(name, generator=np.random.default_rng(3), **kwargs).state_dict()
    b = get_model(name, generator=np.random.default_rng(3), **kwargs).state_dict()
    c = get_model(name, generator=np.random.default_rng(4), **kwargs).state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize("name", ["lenet5", "vggsmall", "resnet8"])
def test_manual_seed_makes_models_reproducible_and_an_explicit_generator_wins(name):
    kwargs = {"in_channels": 3} if name.startswith("resnet") else {}
    numpy_global = np.random.get_state()[1].copy()
    weights = {}
    for key, seed in (("a", 3), ("b", 3), ("c", 4)):
        convprop.manual_seed(seed)
        weights[key] = get_model(name, **kwargs).state_dict()
    convprop.manual_seed(4)
    explicit = get_model(name, generator=np.random.default_rng(3), **kwargs).state_dict()
    after_explicit = get_model(name, **kwargs).state_dict()  # the default generator was not drawn from
    a, b, c = weights["a"], weights["b"], weights["c"]
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)
    assert all(np.array_equal(c[k], after_explicit[k]) for k in a)
    assert not all(np.array_equal(explicit[k], c[k]) for k in a)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_global)  # NumPy's global RNG never touched


def test_layers_draw_from_the_default_generator():
    convprop.manual_seed(7)
    a = [nn.Conv2d(2, 3, 3).weight.data, nn.Linear(4, 5).bias.data, nn.ConvTranspose2d(2, 2, 2).weight.data]
    convprop.manual_seed(7)
    b = [nn.Conv2d(2, 3, 3).weight.data, nn.Linear(4, 5).bias.data, nn.ConvTranspose2d(2, 2, 2).weight.data]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_he_initialisation_statistics():
    model = get_model("vggsmall", generator=np.random.default_rng(5))
    conv = model.features[7]  # Conv2d(32, 64, 3): fan_out = 64 * 9
    assert conv.weight.data.std() == pytest.approx(np.sqrt(2 / (64 * 9)), rel=0.03)


@pytest.mark.parametrize(
    ("name", "kwargs", "shape"),
    [
        ("lenet5", {}, (2, 1, 28, 28)),
        ("lenet5", {"in_channels": 3, "input_size": 32}, (2, 3, 32, 32)),
        ("vggsmall", {"width": 4}, (3, 1, 28, 28)),
        ("resnet8", {"in_channels": 3, "width": 4}, (3, 3, 16, 16)),
        ("resnet20", {"in_channels": 3, "width": 2}, (2, 3, 16, 16)),
    ],
)
def test_model_matches_torch_twin(name, kwargs, shape):
    model = get_model(name, generator=np.random.default_rng(6), **kwargs).double()
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0  # PyTorch draws its masks from its own generator
    twin = to_torch(model)
    assert list(model.state_dict()) == list(twin.state_dict())
    x = np.random.default_rng(7).standard_normal(shape)
    compare_module(model, x, twin=twin)  # training mode: batch statistics
    assert_same_state(model, twin)
    model.eval()
    twin.eval()
    compare_module(model, x + 0.5, twin=twin, seed=1)


def test_models_round_trip_through_state_dict():
    a = get_model("resnet8", in_channels=3, width=4, generator=np.random.default_rng(8))
    b = get_model("resnet8", in_channels=3, width=4, generator=np.random.default_rng(9))
    b.load_state_dict(a.state_dict())
    x = convprop.tensor(np.random.default_rng(10).standard_normal((2, 3, 8, 8)).astype(np.float32))
    with convprop.no_grad():
        np.testing.assert_array_equal(a.eval()(x).data, b.eval()(x).data)
