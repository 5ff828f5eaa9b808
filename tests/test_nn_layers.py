"""Every layer against its PyTorch twin: same weights (through state_dict), same input,
forward, ∂L/∂x and every parameter gradient with a random upstream gradient."""

from __future__ import annotations

import numpy as np
import pytest

import convprop
from convprop import nn
from tests.helpers import require_torch
from tests.torch_mirror import assert_same_state, compare_module, one_torch_thread, to_torch

torch = require_torch()


@pytest.fixture(autouse=True, scope="module")
def _single_threaded_torch():
    with one_torch_thread():
        yield


def _x(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _gen(seed=0):
    return np.random.default_rng(seed)


CONVS = [
    (nn.Conv1d, dict(in_channels=3, out_channels=4, kernel_size=3), (2, 3, 9)),
    (nn.Conv1d, dict(in_channels=4, out_channels=6, kernel_size=2, stride=2, padding=1, groups=2), (2, 4, 8)),
    (nn.Conv2d, dict(in_channels=2, out_channels=3, kernel_size=3), (2, 2, 7, 6)),
    (nn.Conv2d, dict(in_channels=2, out_channels=4, kernel_size=(3, 2), stride=(2, 1), padding=(1, 2)), (2, 2, 7, 6)),
    (nn.Conv2d, dict(in_channels=4, out_channels=4, kernel_size=3, dilation=2, groups=4, bias=False), (1, 4, 8, 8)),
    (nn.Conv2d, dict(in_channels=2, out_channels=3, kernel_size=4, padding="same"), (2, 2, 7, 6)),
    (nn.Conv2d, dict(in_channels=2, out_channels=3, kernel_size=3, padding="valid"), (2, 2, 5, 6)),
    (
        nn.Conv3d,
        dict(in_channels=2, out_channels=3, kernel_size=(2, 3, 2), stride=(1, 2, 1), padding=1),
        (2, 2, 4, 5, 4),
    ),
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize(("cls", "kwargs", "shape"), CONVS)
def test_conv_matches_torch(cls, kwargs, shape, padding_mode):
    module = cls(**kwargs, padding_mode=padding_mode, dtype=np.float64, generator=_gen())
    compare_module(module, _x(shape))


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "circular"])
def test_conv_float32_and_same_padding_modes(padding_mode):
    module = nn.Conv2d(3, 5, (3, 4), padding="same", dilation=(1, 2), padding_mode=padding_mode, generator=_gen(1))
    assert module.weight.dtype == np.float32
    compare_module(module, _x((2, 3, 9, 10), np.float32))


def test_conv_unbatched_input():
    compare_module(nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect", dtype=np.float64), _x((2, 5, 5)))


CONV_TRANSPOSES = [
    (nn.ConvTranspose1d, dict(in_channels=3, out_channels=2, kernel_size=3, stride=2), (2, 3, 5)),
    (nn.ConvTranspose2d, dict(in_channels=3, out_channels=2, kernel_size=3), (2, 3, 4, 5)),
    (
        nn.ConvTranspose2d,
        dict(in_channels=4, out_channels=6, kernel_size=(3, 2), stride=(2, 3), padding=1, output_padding=(1, 2)),
        (2, 4, 4, 3),
    ),
    (
        nn.ConvTranspose2d,
        dict(in_channels=4, out_channels=2, kernel_size=3, groups=2, dilation=2, bias=False),
        (1, 4, 3, 3),
    ),
    (nn.ConvTranspose3d, dict(in_channels=2, out_channels=3, kernel_size=2, stride=2), (1, 2, 2, 3, 2)),
]


@pytest.mark.parametrize(("cls", "kwargs", "shape"), CONV_TRANSPOSES)
def test_conv_transpose_matches_torch(cls, kwargs, shape):
    compare_module(cls(**kwargs, dtype=np.float64, generator=_gen(2)), _x(shape))


def test_conv_transpose_output_size():
    module = nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, dtype=np.float64, generator=_gen(3))
    x = _x((2, 4, 5, 6))
    twin = to_torch(module)
    out = module(convprop.tensor(x), output_size=(2, 3, 10, 12))
    expected = twin(torch.tensor(x), output_size=[2, 3, 10, 12]).detach().numpy()
    np.testing.assert_allclose(out.data, expected, rtol=1e-10)
    assert module(convprop.tensor(x), output_size=(9, 11)).shape == (2, 3, 9, 11)
    with pytest.raises(ValueError, match=r"valid sizes range from \(9, 11\) to \(10, 12\)"):
        module(convprop.tensor(x), output_size=(13, 12))


POOLS = [
    (nn.MaxPool2d(2), (2, 3, 6, 6)),
    (nn.MaxPool2d(3, stride=2, padding=1), (2, 3, 7, 8)),
    (nn.MaxPool2d((2, 3), stride=(1, 2), dilation=(2, 1), ceil_mode=True), (1, 2, 7, 9)),
    (nn.MaxPool1d(3, 2), (2, 3, 9)),
    (nn.MaxPool3d(2), (1, 2, 4, 4, 6)),
    (nn.AvgPool2d(2), (2, 3, 6, 6)),
    (nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), (2, 3, 7, 8)),
    (nn.AvgPool2d(2, ceil_mode=True, divisor_override=3), (1, 2, 5, 5)),
    (nn.AvgPool1d(3, 2, 1), (2, 3, 9)),
    (nn.AvgPool3d(2, stride=1), (1, 2, 3, 4, 3)),
    (nn.AdaptiveAvgPool2d(1), (2, 3, 5, 6)),
    (nn.AdaptiveAvgPool2d((3, 4)), (2, 3, 7, 9)),
    (nn.AdaptiveAvgPool1d(4), (2, 3, 10)),
    (nn.AdaptiveAvgPool3d((2, 1, 3)), (1, 2, 5, 4, 7)),
    (nn.AdaptiveMaxPool2d((2, 3)), (2, 3, 5, 7)),
]


@pytest.mark.parametrize(("module", "shape"), POOLS, ids=lambda v: repr(v) if isinstance(v, nn.Module) else None)
def test_pooling_matches_torch(module, shape):
    compare_module(module, _x(shape))


SIMPLE = [
    (nn.Linear(5, 3, dtype=np.float64, generator=_gen(4)), (4, 5)),
    (nn.Linear(5, 3, bias=False, dtype=np.float64, generator=_gen(4)), (2, 3, 5)),
    (nn.ReLU(), (3, 4)),
    (nn.LeakyReLU(0.2), (3, 4)),
    (nn.Sigmoid(), (3, 4)),
    (nn.Tanh(), (3, 4)),
    (nn.Softmax(dim=1), (3, 4)),
    (nn.LogSoftmax(dim=-1), (3, 4)),
    (nn.Flatten(), (2, 3, 2, 2)),
    (nn.Flatten(0, 1), (2, 3, 2)),
    (nn.Identity(), (2, 3)),
    (nn.Dropout(0.5).eval(), (4, 5)),
]


@pytest.mark.parametrize(("module", "shape"), SIMPLE, ids=lambda v: repr(v) if isinstance(v, nn.Module) else None)
def test_simple_layers_match_torch(module, shape):
    compare_module(module, _x(shape))


def test_linear_float32():
    compare_module(nn.Linear(7, 4, generator=_gen(5)), _x((3, 7), np.float32))


BATCH_NORMS = [
    (nn.BatchNorm2d, {}, (4, 3, 5, 5)),
    (nn.BatchNorm2d, {"momentum": None}, (4, 3, 5, 5)),
    (nn.BatchNorm2d, {"momentum": 0.3, "eps": 1e-3}, (2, 3, 4, 6)),
    (nn.BatchNorm2d, {"affine": False}, (4, 3, 5, 5)),
    (nn.BatchNorm2d, {"bias": False}, (4, 3, 5, 5)),
    (nn.BatchNorm2d, {"track_running_stats": False}, (4, 3, 5, 5)),
    (nn.BatchNorm1d, {}, (8, 5)),
    (nn.BatchNorm1d, {"momentum": 0.5}, (4, 3, 7)),
    (nn.BatchNorm1d, {"affine": False, "track_running_stats": False}, (6, 4)),
]


@pytest.mark.parametrize(("cls", "kwargs", "shape"), BATCH_NORMS)
def test_batch_norm_train_then_eval_matches_torch(cls, kwargs, shape):
    module = cls(shape[1], dtype=np.float64, **kwargs)
    if module.affine:
        module.weight.data[...] = _x(module.weight.shape, seed=9) + 1
        if module.bias is not None:
            module.bias.data[...] = _x(module.bias.shape, seed=10)
    twin = to_torch(module)
    for step in range(4):
        # Shifted, scaled inputs so the running statistics move away from (0, 1).
        compare_module(module, 3 * _x(shape, seed=step) + 1.5, seed=step, twin=twin)
        assert_same_state(module, twin)
    if module.track_running_stats:
        assert int(module.num_batches_tracked.data) == 4
    module.eval()
    twin.eval()
    compare_module(module, 2 * _x(shape, seed=7) - 1, seed=7, twin=twin)
    assert_same_state(module, twin)


def test_batch_norm_float32():
    module = nn.BatchNorm2d(4)
    twin = to_torch(module)
    for step in range(3):
        compare_module(module, _x((3, 4, 6, 6), np.float32, seed=step) * 2 + 1, twin=twin, seed=step)
    assert_same_state(module, twin, rtol=1e-5, atol=1e-6)
    module.eval()
    twin.eval()
    compare_module(module, _x((3, 4, 6, 6), np.float32, seed=5), twin=twin)


def test_batch_norm_errors():
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 4D input \(got 3D input"):
        nn.BatchNorm2d(3)(convprop.tensor(np.zeros((3, 4, 4))))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm1d(3)(convprop.tensor(np.zeros((1, 3))))
    with pytest.raises(ValueError, match=r"running_mean must have shape \(4,\)"):
        nn.BatchNorm2d(3).eval()(convprop.tensor(np.zeros((2, 4, 3, 3), np.float32)))
    # A single sample is fine in eval mode.
    assert nn.BatchNorm1d(3).eval()(convprop.tensor(np.zeros((1, 3), np.float32))).shape == (1, 3)


def test_batch_norm_gradcheck():
    module = nn.BatchNorm2d(2, dtype=np.float64)
    module.weight.data[...] = [0.5, -2.0]
    x = convprop.tensor(_x((3, 2, 2, 3)), requires_grad=True)
    assert convprop.gradcheck(lambda x, w, b: module(x), [x, module.weight, module.bias])


def test_dropout_masks_come_from_the_generator():
    x = convprop.tensor(np.ones((200, 50)))
    a = nn.Dropout(0.3, generator=np.random.default_rng(11))(x)
    b = nn.Dropout(0.3, generator=np.random.default_rng(11))(x)
    np.testing.assert_array_equal(a.data, b.data)
    kept = a.data != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(a.data[kept], 1 / 0.7)
    module = nn.Dropout(0.3)
    assert module.generator is None  # draws from convprop.default_generator
    convprop.manual_seed(5)
    first = module(x).data
    convprop.manual_seed(5)
    np.testing.assert_array_equal(module(x).data, first)
    module.generator = np.random.default_rng(11)
    np.testing.assert_array_equal(module(x).data, a.data)
    with pytest.raises(ValueError, match=r"dropout probability has to be between 0 and 1, but got 1\.5"):
        nn.Dropout(1.5)


LOSSES = [
    (nn.CrossEntropyLoss(), "class"),
    (nn.CrossEntropyLoss(reduction="sum", label_smoothing=0.1), "class"),
    (nn.CrossEntropyLoss(weight=np.array([0.2, 1.0, 2.0, 0.5]), ignore_index=1), "class"),
    (nn.NLLLoss(), "class"),
    (nn.NLLLoss(weight=np.array([0.2, 1.0, 2.0, 0.5]), reduction="none"), "class"),
    (nn.MSELoss(), "real"),
    (nn.MSELoss(reduction="sum"), "real"),
]


@pytest.mark.parametrize(("loss", "kind"), LOSSES, ids=repr)
def test_losses_match_torch(loss, kind):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((6, 4))
    target = rng.integers(0, 4, size=6) if kind == "class" else rng.standard_normal((6, 4))
    twin = to_torch(loss)
    cx, tx = convprop.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    cy, ty = loss(cx, target), twin(tx, torch.tensor(target))
    np.testing.assert_allclose(cy.data, ty.detach().numpy(), rtol=1e-10)
    upstream = rng.standard_normal(ty.shape)
    cy.backward(upstream)
    ty.backward(torch.tensor(upstream))
    np.testing.assert_allclose(cx.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_loss_weight_is_a_buffer_like_torch():
    loss = nn.CrossEntropyLoss(weight=np.array([1.0, 2.0]))
    assert list(loss.state_dict()) == list(to_torch(loss).state_dict()) == ["weight"]
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")


REPRS = [
    (nn.Conv2d(1, 6, 5), "Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))"),
    (
        nn.Conv2d(4, 8, 3, stride=2, padding=1, dilation=2, groups=2, bias=False, padding_mode="reflect"),
        None,
    ),
    (nn.Conv1d(2, 4, 3, padding="same"), None),
    (nn.ConvTranspose2d(4, 2, 3, stride=2, output_padding=1), None),
    (nn.MaxPool2d(2), None),
    (nn.AvgPool2d(3, 2, 1), None),
    (nn.AdaptiveAvgPool2d((1, 1)), None),
    (nn.Linear(3, 4), None),
    (nn.BatchNorm2d(6), None),
    (nn.BatchNorm1d(6, momentum=None, affine=False), None),
    (nn.ReLU(), None),
    (nn.LeakyReLU(0.2), None),
    (nn.Dropout(0.25), None),
    (nn.Flatten(), None),
    (nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Sequential(nn.Flatten(), nn.Linear(2, 3))), None),
]


@pytest.mark.parametrize(("module", "expected"), REPRS, ids=lambda v: type(v).__name__)
def test_repr_matches_torch(module, expected):
    assert repr(module) == repr(to_torch(module))
    if expected is not None:
        assert repr(module) == expected


def test_default_initialisation_bounds_match_torch():
    # kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)); so does the bias. Seeded: with an
    # unseeded generator, 64 bias draws all stay below 0.95 of the bound 4% of the time.
    g = np.random.default_rng(0)
    for module, fan_in in [
        (nn.Conv2d(8, 64, 3, generator=g), 8 * 9),
        (nn.Conv2d(8, 64, 3, groups=4, generator=g), 2 * 9),
        (nn.ConvTranspose2d(8, 64, 3, generator=g), 64 * 9),
        (nn.Linear(50, 400, generator=g), 50),
    ]:
        bound = 1 / np.sqrt(fan_in)
        for p in (module.weight, module.bias):
            assert np.abs(p.data).max() <= bound
            assert np.abs(p.data).max() > 0.95 * bound
            # U(-b, b) has variance b^2 / 3.
            assert abs(p.data.std() - bound / np.sqrt(3)) < 0.1 * bound
    bn = nn.BatchNorm2d(3)
    np.testing.assert_array_equal(bn.weight.data, 1)
    np.testing.assert_array_equal(bn.bias.data, 0)


def test_generator_makes_layers_reproducible():
    a = nn.Conv2d(3, 4, 3, generator=np.random.default_rng(5))
    b = nn.Conv2d(3, 4, 3, generator=np.random.default_rng(5))
    c = nn.Conv2d(3, 4, 3, generator=np.random.default_rng(6))
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    assert not np.array_equal(a.weight.data, c.weight.data)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: nn.Conv2d(3, 4, 3, groups=2), ValueError, r"in_channels \(3\) must be divisible by groups \(2\)"),
        (lambda: nn.Conv2d(4, 3, 3, groups=2), ValueError, r"out_channels \(3\) must be divisible by groups \(2\)"),
        (lambda: nn.Conv2d(0, 3, 3), ValueError, "in_channels must be a positive integer"),
        (lambda: nn.Conv2d(1, 3, 0), ValueError, "kernel_size must be positive"),
        (lambda: nn.Conv2d(1, 3, 3, stride=2, padding="same"), ValueError, "not supported for strided"),
        (lambda: nn.Conv2d(1, 3, 3, padding="full"), ValueError, "invalid padding string"),
        (lambda: nn.Conv2d(1, 3, 3, padding_mode="mirror"), ValueError, "padding_mode must be one of"),
        (lambda: nn.Conv2d(1, 3, (3, 3, 3)), ValueError, "kernel_size must be an int or a tuple of 2 ints"),
        (lambda: nn.ConvTranspose2d(1, 3, 3, padding_mode="reflect"), ValueError, 'Only "zeros" padding mode'),
        (lambda: nn.ConvTranspose2d(1, 3, 3, stride=2, output_padding=2), ValueError, "output_padding must be smaller"),
        (lambda: nn.Linear(-1, 3), ValueError, "in_features must be a non-negative integer"),
        (lambda: nn.BatchNorm2d(0), ValueError, "num_features must be a positive integer"),
    ],
)
def test_constructor_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_conv_shape_errors_are_clear():
    conv = nn.Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"\(1, 2, 8, 8\)|channels"):
        conv(convprop.tensor(np.zeros((1, 2, 8, 8), np.float32)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("affine", ["none", "weight", "bias", "both"])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 6), (2, 3, 4, 5), (2, 3, 2, 3, 2)])
def test_functional_batch_norm_matches_torch(shape, training, affine, dtype):
    from convprop.nn import functional as F
    from tests.helpers import compare_with_torch

    c = shape[1]
    rng = np.random.default_rng(13)
    x = (2 * rng.standard_normal(shape) + 1).astype(dtype)
    w, b = rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype)
    mean, var = rng.standard_normal(c).astype(dtype), rng.uniform(0.5, 2.0, c).astype(dtype)
    stats = {}

    def run(lib_fn, to_array, wrap):
        def fn(x, w, b):
            rm, rv = wrap(mean.copy()), wrap(var.copy())
            out = lib_fn(
                x,
                rm,
                rv,
                w if affine in ("weight", "both") else None,
                b if affine in ("bias", "both") else None,
                training=training,
                momentum=0.2,
                eps=1e-3,
            )
            stats[lib_fn.__module__.split(".")[0]] = (to_array(rm), to_array(rv))
            return out

        return fn

    compare_with_torch(
        run(F.batch_norm, lambda t: t.data, convprop.tensor),
        run(torch.nn.functional.batch_norm, lambda t: t.numpy(), torch.tensor),
        [x, w, b],
    )
    for ours, theirs in zip(stats["convprop"], stats["torch"], strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12 if dtype == np.float64 else 1e-5)
    if not training:
        np.testing.assert_array_equal(stats["convprop"][0], mean)


def test_functional_batch_norm_argument_errors():
    from convprop.nn import functional as F

    x = convprop.tensor(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="must be defined in evaluation mode"):
        F.batch_norm(x, None, None)
    with pytest.raises(ValueError, match="both be given or both be None"):
        F.batch_norm(x, np.zeros(3), None, training=True)
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        F.batch_norm(x, None, None, weight=convprop.tensor(np.ones(4)), training=True)
    with pytest.raises(ValueError, match=r"expected an input of shape \(N, C\)"):
        F.batch_norm(convprop.tensor(np.zeros(3)), None, None, training=True)
