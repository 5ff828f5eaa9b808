"""Activations, normalisation, resizing, padding and loss layers against PyTorch (values and gradients)."""

import numpy as np
import pytest

import convprop
import convprop.nn.functional as F
from convprop import nn
from tests.helpers import compare_with_torch, require_torch


def rand(*shape, seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, shape)


def probs(*shape, seed=0):
    return rand(*shape, seed=seed, low=0.05, high=0.95)


def _log_probs(shape, seed):
    x = rand(*shape, seed=seed)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


# (name, convprop fn, torch fn given torch.nn.functional, arrays)
FUNCTIONAL = [
    ("gelu", F.gelu, lambda tf: tf.gelu, [rand(3, 5, low=-4, high=4)]),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), lambda tf: lambda x: tf.gelu(x, approximate="tanh"),
     [rand(3, 5, low=-4, high=4)]),
    ("silu", F.silu, lambda tf: tf.silu, [rand(4, 5, low=-6, high=6)]),
    ("elu", lambda x: F.elu(x, 0.7), lambda tf: lambda x: tf.elu(x, 0.7), [rand(4, 5)]),
    ("relu6", F.relu6, lambda tf: tf.relu6, [rand(4, 5, low=-3, high=9)]),
    ("hardtanh", lambda x: F.hardtanh(x, -0.5, 1.5), lambda tf: lambda x: tf.hardtanh(x, -0.5, 1.5), [rand(4, 5)]),
    ("hardswish", F.hardswish, lambda tf: tf.hardswish, [rand(4, 5, low=-5, high=5)]),
    ("hardsigmoid", F.hardsigmoid, lambda tf: tf.hardsigmoid, [rand(4, 5, low=-5, high=5)]),
    ("softplus", lambda x: F.softplus(x, 2.0, 5.0), lambda tf: lambda x: tf.softplus(x, 2.0, 5.0),
     [rand(4, 5, low=-5, high=5)]),
    ("prelu_channels", F.prelu, lambda tf: tf.prelu, [rand(2, 3, 4, 2), rand(3, seed=1, low=0, high=0.5)]),
    ("prelu_shared", F.prelu, lambda tf: tf.prelu, [rand(2, 3, 4), np.array([0.2])]),
    ("layer_norm", lambda x, w, b: F.layer_norm(x, (4, 3), w, b, 1e-3),
     lambda tf: lambda x, w, b: tf.layer_norm(x, (4, 3), w, b, 1e-3), [rand(2, 5, 4, 3), rand(4, 3, seed=1),
                                                                     rand(4, 3, seed=2)]),
    ("layer_norm_plain", lambda x: F.layer_norm(x, 6), lambda tf: lambda x: tf.layer_norm(x, (6,)), [rand(3, 6)]),
    ("group_norm", lambda x, w, b: F.group_norm(x, 3, w, b), lambda tf: lambda x, w, b: tf.group_norm(x, 3, w, b),
     [rand(2, 6, 3, 4), rand(6, seed=1), rand(6, seed=2)]),
    ("instance_norm", lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
     lambda tf: lambda x, w, b: tf.instance_norm(x, weight=w, bias=b), [rand(2, 3, 4, 5), rand(3, seed=1),
                                                                       rand(3, seed=2)]),
    ("interpolate_nearest_size", lambda x: F.interpolate(x, size=(5, 7)),
     lambda tf: lambda x: tf.interpolate(x, size=(5, 7)), [rand(2, 3, 3, 4)]),
    ("interpolate_nearest_scale", lambda x: F.interpolate(x, scale_factor=2),
     lambda tf: lambda x: tf.interpolate(x, scale_factor=2), [rand(1, 2, 3, 4)]),
    ("interpolate_nearest_down", lambda x: F.interpolate(x, size=(2, 3)),
     lambda tf: lambda x: tf.interpolate(x, size=(2, 3)), [rand(1, 2, 5, 7)]),
    ("interpolate_bilinear", lambda x: F.interpolate(x, size=(5, 8), mode="bilinear"),
     lambda tf: lambda x: tf.interpolate(x, size=(5, 8), mode="bilinear"), [rand(2, 2, 3, 4)]),
    ("interpolate_bilinear_scale", lambda x: F.interpolate(x, scale_factor=1.5, mode="bilinear"),
     lambda tf: lambda x: tf.interpolate(x, scale_factor=1.5, mode="bilinear"), [rand(1, 2, 4, 6)]),
    ("interpolate_bilinear_corners", lambda x: F.interpolate(x, size=(6, 3), mode="bilinear", align_corners=True),
     lambda tf: lambda x: tf.interpolate(x, size=(6, 3), mode="bilinear", align_corners=True), [rand(1, 2, 4, 5)]),
    ("interpolate_linear_down", lambda x: F.interpolate(x, size=3, mode="linear"),
     lambda tf: lambda x: tf.interpolate(x, size=3, mode="linear"), [rand(2, 2, 7)]),
    ("pixel_shuffle", lambda x: F.pixel_shuffle(x, 2), lambda tf: lambda x: tf.pixel_shuffle(x, 2), [rand(2, 8, 3, 2)]),
    ("pixel_unshuffle", lambda x: F.pixel_unshuffle(x, 2), lambda tf: lambda x: tf.pixel_unshuffle(x, 2),
     [rand(2, 3, 4, 6)]),
    ("normalize", lambda x: F.normalize(x, dim=1), lambda tf: lambda x: tf.normalize(x, dim=1), [rand(3, 4, 2)]),
    ("normalize_p1", lambda x: F.normalize(x, p=1, dim=0), lambda tf: lambda x: tf.normalize(x, p=1, dim=0),
     [rand(3, 4)]),
    ("cosine_similarity", F.cosine_similarity, lambda tf: tf.cosine_similarity, [rand(3, 5), rand(3, 5, seed=1)]),
    ("cosine_similarity_broadcast", lambda a, b: F.cosine_similarity(a, b, dim=-1),
     lambda tf: lambda a, b: tf.cosine_similarity(a, b, dim=-1), [rand(2, 3, 4), rand(3, 4, seed=1)]),
    ("l1_loss", F.l1_loss, lambda tf: tf.l1_loss, [rand(3, 4), rand(3, 4, seed=1)]),
    ("smooth_l1_loss", lambda a, b: F.smooth_l1_loss(a, b, beta=0.7, reduction="sum"),
     lambda tf: lambda a, b: tf.smooth_l1_loss(a, b, beta=0.7, reduction="sum"), [rand(3, 4), rand(3, 4, seed=1)]),
    ("huber_loss", lambda a, b: F.huber_loss(a, b, delta=0.5, reduction="none"),
     lambda tf: lambda a, b: tf.huber_loss(a, b, delta=0.5, reduction="none"), [rand(3, 4), rand(3, 4, seed=1)]),
    ("kl_div_batchmean", lambda a, b: F.kl_div(a, b, reduction="batchmean"),
     lambda tf: lambda a, b: tf.kl_div(a, b, reduction="batchmean"),
     [_log_probs((3, 4), 0), np.concatenate([np.zeros((3, 1)), probs(3, 3, seed=1)], 1)]),
    ("kl_div_log_target", lambda a, b: F.kl_div(a, b, reduction="sum", log_target=True),
     lambda tf: lambda a, b: tf.kl_div(a, b, reduction="sum", log_target=True),
     [_log_probs((3, 4), 0), _log_probs((3, 4), 1)]),
    ("binary_cross_entropy", F.binary_cross_entropy, lambda tf: tf.binary_cross_entropy,
     [probs(3, 4), probs(3, 4, seed=1)]),
    ("binary_cross_entropy_weighted", lambda a, b, w: F.binary_cross_entropy(a, b, w, reduction="sum"),
     lambda tf: lambda a, b, w: tf.binary_cross_entropy(a, b, w, reduction="sum"),
     [probs(3, 4), probs(3, 4, seed=1), probs(4, seed=2)]),
    ("pad_reflect_layer", lambda x: nn.ReflectionPad2d((1, 2, 2, 1))(x),
     lambda tf: lambda x: tf.pad(x, (1, 2, 2, 1), mode="reflect"), [rand(1, 2, 4, 5)]),
    ("pad_replicate_layer", lambda x: nn.ReplicationPad2d(2)(x),
     lambda tf: lambda x: tf.pad(x, (2, 2, 2, 2), mode="replicate"), [rand(1, 2, 3, 3)]),
    ("pad_constant_layer", lambda x: nn.ConstantPad2d((1, 0, 2, 1), 3.5)(x),
     lambda tf: lambda x: tf.pad(x, (1, 0, 2, 1), value=3.5), [rand(2, 3, 3)]),
    ("softmax2d", lambda x: nn.Softmax2d()(x), lambda tf: lambda x: tf.softmax(x, -3), [rand(2, 3, 2, 2)]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "cp_fn", "torch_fn", "arrays"), FUNCTIONAL, ids=[c[0] for c in FUNCTIONAL])
def test_functional_matches_torch(name, cp_fn, torch_fn, arrays):
    torch = require_torch()
    # PyTorch has no gradient for a loss weight; its hardsigmoid gradient multiplies by float32(1/6) in every dtype
    requires_grad = [True, True, False] if name.endswith("_weighted") else None
    rtol = 1e-7 if name == "hardsigmoid" else None
    compare_with_torch(cp_fn, torch_fn(torch.nn.functional), arrays, requires_grad=requires_grad, rtol=rtol)


GRADCHECKED = ["gelu", "silu", "elu", "softplus", "prelu_channels", "layer_norm", "group_norm", "instance_norm",
               "interpolate_bilinear", "pixel_shuffle", "normalize", "cosine_similarity", "smooth_l1_loss",
               "kl_div_batchmean", "binary_cross_entropy"]  # fmt: skip


@pytest.mark.parametrize("name", GRADCHECKED)
def test_gradcheck(name):
    _, cp_fn, _, arrays = next(c for c in FUNCTIONAL if c[0] == name)
    assert convprop.gradcheck(cp_fn, [convprop.tensor(a, requires_grad=True) for a in arrays])


# (convprop module, torch module) built with the same arguments; parameters are copied across.
MODULES = [
    lambda lib: lib.nn.PReLU(3),
    lambda lib: lib.nn.LayerNorm([4, 5]),
    lambda lib: lib.nn.GroupNorm(3, 6),
    lambda lib: lib.nn.InstanceNorm2d(6, affine=True, track_running_stats=True),
    lambda lib: lib.nn.GELU(approximate="tanh"),
    lambda lib: lib.nn.Upsample(scale_factor=2, mode="bilinear"),
    lambda lib: lib.nn.PixelShuffle(2),
    lambda lib: lib.nn.ZeroPad2d((1, 1, 0, 2)),
]


@pytest.mark.parametrize("make", MODULES)
def test_modules_match_torch_in_train_and_eval(make):
    torch = require_torch()
    cp, th = make(convprop).double(), make(torch).double()
    assert list(cp.state_dict()) == list(th.state_dict())
    assert repr(cp).split("(")[0] == repr(th).split("(")[0]
    rng = np.random.default_rng(0)
    for p in th.parameters():
        p.data = torch.tensor(rng.uniform(0.5, 1.5, tuple(p.shape)))
    cp.load_state_dict({k: v.numpy() for k, v in th.state_dict().items()})
    shapes = {nn.PReLU: (2, 3, 4), nn.PixelShuffle: (2, 8, 4, 5)}
    x = rand(*shapes.get(type(cp), (2, 6, 4, 5)))
    for train in (True, False):
        cp.train(train), th.train(train)
        compare_with_torch(cp, th, [x])
    for key, value in th.state_dict().items():
        np.testing.assert_allclose(cp.state_dict()[key], value.numpy(), rtol=1e-12, err_msg=key)


def test_one_hot_matches_torch():
    torch = require_torch()
    labels = np.array([[0, 3], [2, 1]])
    np.testing.assert_array_equal(F.one_hot(convprop.tensor(labels)).numpy(), torch.nn.functional.one_hot(
        torch.tensor(labels)).numpy())  # fmt: skip
    assert F.one_hot(convprop.tensor(labels), 6).shape == (2, 2, 6)
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        F.one_hot(convprop.tensor(labels), 3)
    with pytest.raises(TypeError, match="integer"):
        F.one_hot(convprop.tensor([0.0, 1.0]))


def test_dropout2d_zeroes_whole_channels():
    x = convprop.ones(50, 40, 3, 3)
    y = nn.Dropout2d(0.3, generator=np.random.default_rng(0))(x).numpy()
    per_channel = y.reshape(50, 40, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 1 / 0.7).all(-1))
    assert abs((per_channel[..., 0] == 0).mean() - 0.3) < 0.03
    assert nn.Dropout2d().eval()(x) is x


def test_containers_register_like_torch():
    torch = require_torch()
    for lib in (convprop, torch):
        heads = lib.nn.ModuleDict({"cls": lib.nn.Linear(3, 2), "box": lib.nn.Linear(3, 4)})
        heads["extra"] = lib.nn.Linear(2, 2)
        params = lib.nn.ParameterList([lib.nn.Parameter(lib.zeros(2)), lib.nn.Parameter(lib.ones(3))])
        params.append(lib.nn.Parameter(lib.ones(1)))
        table = lib.nn.ParameterDict({"a": lib.nn.Parameter(lib.zeros(2))})
        keys = [k for m in (heads, params, table) for k in m.state_dict()]
        if lib is convprop:
            cp_keys = keys
            assert list(heads) == ["cls", "box", "extra"] and len(params) == 3 and "a" in table
    assert cp_keys == keys


def test_clip_grad_matches_torch():
    torch = require_torch()
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(s) for s in ((3, 4), (5,))]
    for norm_type, max_norm in ((2.0, 1.0), (1.0, 2.0), (float("inf"), 0.5), (2.0, 100.0)):
        cp = [nn.Parameter(np.zeros(g.shape)) for g in grads]
        th = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64)) for g in grads]
        for c, t, g in zip(cp, th, grads, strict=True):
            c.grad, t.grad = convprop.tensor(g), torch.tensor(g)
        held = [c.grad for c in cp]  # clipping is in place: a grad Tensor taken before sees it
        total = nn.utils.clip_grad_norm_(cp, max_norm, norm_type)
        want = torch.nn.utils.clip_grad_norm_(th, max_norm, norm_type)
        np.testing.assert_allclose(total.item(), want.item(), rtol=1e-12)
        for c, h, t in zip(cp, held, th, strict=True):
            assert h is c.grad
            np.testing.assert_allclose(h, t.grad.numpy(), rtol=1e-12)
    cp = [nn.Parameter(np.zeros(4))]
    cp[0].grad = convprop.tensor(np.array([-3.0, -0.1, 0.2, 5.0]))
    nn.utils.clip_grad_value_(cp, 1.0)
    assert cp[0].grad.tolist() == [-1.0, -0.1, 0.2, 1.0]
    with pytest.raises(RuntimeError, match="non-finite"):
        cp[0].grad = convprop.tensor(np.array([np.inf, 0, 0, 0]))
        nn.utils.clip_grad_norm_(cp, 1.0, error_if_nonfinite=True)


def test_argument_errors_name_the_argument():
    x = convprop.randn(2, 6, 4, 4)
    with pytest.raises(ValueError, match="divisible by num_groups"):
        F.group_norm(x, 4)
    with pytest.raises(ValueError, match="normalized_shape"):
        F.layer_norm(x, (5,))
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(convprop.tensor([1.5]), convprop.tensor([1.0]))
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(x, approximate="fast")
