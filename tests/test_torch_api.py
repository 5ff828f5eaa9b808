"""The torch namespace and Tensor methods that PyTorch programs use, each against PyTorch.

Differentiable ones run through ``compare_with_torch`` (forward, then a random upstream
gradient) in float64 and through ``gradcheck``; the others compare values and dtypes.
"""

import numpy as np
import pytest

import convprop
from tests.helpers import compare_with_torch, require_torch


def rand(*shape, seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, shape)


def _weighted_pieces(pieces):
    """Join pieces with distinct weights, so a mix-up between them changes the gradient."""
    cat = convprop.cat if isinstance(pieces[0], convprop.Tensor) else require_torch().cat
    return cat([p * (i + 1) for i, p in enumerate(pieces)], 1)


def _inplace_chain(a):
    y = a * 1
    y.add_(a, alpha=2).mul_(a).sub_(1).div_(3).clamp_(-1.0, 1.0)
    return y


def _setitem(a, b):
    y = a * 1
    y[0] = b
    y[1:, 2] = 0.5
    return y


def _copy(a, b):
    y = a * 2
    y.copy_(b)
    return y * a


def _masked_fill(a):
    return a.masked_fill(a > 0.5, -1.0) * a


# (name, convprop fn, torch fn given the torch module, arrays)
CASES = [
    ("view_as", lambda a, b: a.view_as(b), lambda t: lambda a, b: a.view_as(b), [rand(2, 6), rand(3, 4, seed=1)]),
    ("expand_as", lambda a, b: a.expand_as(b) * b, lambda t: lambda a, b: a.expand_as(b) * b, [rand(3, 1), rand(3, 4)]),
    ("repeat", lambda a: a.repeat(2, 1, 3), lambda t: lambda a: a.repeat(2, 1, 3), [rand(3, 2)]),
    ("chunk", lambda a: _weighted_pieces(a.chunk(3, 1)), lambda t: lambda a: _weighted_pieces(a.chunk(3, 1)),
     [rand(2, 7)]),
    ("split_size", lambda a: _weighted_pieces(a.split(2, 1)), lambda t: lambda a: _weighted_pieces(a.split(2, 1)),
     [rand(2, 5)]),
    ("split_sections", lambda a: _weighted_pieces(a.split([1, 4], 1)),
     lambda t: lambda a: _weighted_pieces(a.split([1, 4], 1)), [rand(2, 5)]),
    ("unbind", lambda a: convprop.stack(a.unbind(1)[::-1]), lambda t: lambda a: t.stack(a.unbind(1)[::-1]),
     [rand(2, 3)]),
    ("masked_fill", _masked_fill, lambda t: _masked_fill, [rand(4, 5)]),
    ("norm_fro", lambda a: a.norm(), lambda t: lambda a: a.norm(), [rand(3, 4)]),
    ("norm_p1_dim", lambda a: a.norm(1, dim=1), lambda t: lambda a: a.norm(1, dim=1), [rand(3, 4)]),
    ("norm_p3_keepdim", lambda a: a.norm(3, dim=0, keepdim=True), lambda t: lambda a: a.norm(3, dim=0, keepdim=True),
     [rand(3, 4)]),
    ("norm_inf", lambda a: a.norm(float("inf"), dim=1), lambda t: lambda a: a.norm(float("inf"), dim=1),
     [rand(3, 4)]),
    ("std", lambda a: a.std(), lambda t: lambda a: a.std(), [rand(3, 4)]),
    ("std_dim_unbiased_false", lambda a: a.std(1, unbiased=False), lambda t: lambda a: a.std(1, unbiased=False),
     [rand(3, 4)]),
    ("var_correction", lambda a: a.var((0, 2), keepdim=True, correction=2),
     lambda t: lambda a: a.var((0, 2), keepdim=True, correction=2), [rand(3, 4, 2)]),
    ("sort", lambda a: a.sort(1).values, lambda t: lambda a: a.sort(1).values, [rand(3, 5)]),
    ("sort_descending", lambda a: a.sort(0, descending=True)[0], lambda t: lambda a: a.sort(0, descending=True)[0],
     [rand(4, 3)]),
    ("topk", lambda a: a.topk(2).values, lambda t: lambda a: a.topk(2).values, [rand(3, 5)]),
    ("topk_smallest", lambda a: a.topk(3, 0, largest=False)[0], lambda t: lambda a: a.topk(3, 0, largest=False)[0],
     [rand(5, 2)]),
    ("max_dim", lambda a: convprop.max(a, 1).values, lambda t: lambda a: t.max(a, 1).values, [rand(3, 4)]),
    ("min_dim", lambda a: convprop.min(a, 0, keepdim=True)[0], lambda t: lambda a: t.min(a, 0, keepdim=True)[0],
     [rand(3, 4)]),
    ("clamp_tensor_bounds", lambda a, lo, hi: convprop.clamp(a, lo, hi), lambda t: t.clamp,
     [rand(3, 4), rand(4, seed=1, high=0), rand(3, 1, seed=2, low=-0.5)]),
    ("clamp_crossed_bounds", lambda a, lo, hi: a.clamp(lo, hi), lambda t: lambda a, lo, hi: a.clamp(lo, hi),
     [rand(6), rand(6, seed=1), rand(6, seed=2)]),
    ("minimum", convprop.minimum, lambda t: t.minimum, [rand(3, 4), rand(3, 4, seed=1)]),
    ("flatten", lambda a: convprop.flatten(a, 1), lambda t: lambda a: t.flatten(a, 1), [rand(2, 3, 4)]),
    ("unflatten_inferred", lambda a: convprop.unflatten(a, 1, (2, -1)), lambda t: lambda a: t.unflatten(a, 1, (2, -1)),
     [rand(2, 6, 3)]),
    ("unflatten_method_last_dim", lambda a: a.unflatten(-1, [3, 1, 1]), lambda t: lambda a: a.unflatten(-1, [3, 1, 1]),
     [rand(2, 6, 3)]),
    ("nn_Unflatten", lambda a: convprop.nn.Unflatten(1, (2, 3, 1))(a),
     lambda t: lambda a: t.nn.Unflatten(1, (2, 3, 1))(a), [rand(4, 6)]),
    ("squeeze_tuple", lambda a: a.squeeze((0, 2)), lambda t: lambda a: a.squeeze((0, 2)), [rand(1, 3, 1, 1)]),
    ("t", lambda a: a.t(), lambda t: lambda a: a.t(), [rand(2, 3)]),
    ("softmax", lambda a: convprop.softmax(a, 0), lambda t: lambda a: t.softmax(a, 0), [rand(3, 4)]),
    ("exp_log_sum_mean", lambda a: convprop.log(convprop.exp(a).sum(1)) + convprop.mean(a),
     lambda t: lambda a: t.log(t.exp(a).sum(1)) + t.mean(a), [rand(3, 4)]),
    ("matmul_relu_sigmoid_tanh", lambda a, b: convprop.tanh(convprop.sigmoid(convprop.relu(convprop.matmul(a, b)))),
     lambda t: lambda a, b: t.tanh(t.sigmoid(t.relu(t.matmul(a, b)))), [rand(3, 4), rand(4, 2, seed=1)]),
    ("square_rsqrt", lambda a: a.square() + (a * a + 1).rsqrt(), lambda t: lambda a: a.square() + (a * a + 1).rsqrt(),
     [rand(5)]),
    ("inplace_chain_in_graph", _inplace_chain, lambda t: _inplace_chain, [rand(3, 4)]),
    ("setitem_in_graph", _setitem, lambda t: _setitem, [rand(3, 4), rand(4, seed=1)]),
    ("copy_in_graph", _copy, lambda t: _copy, [rand(2, 3), rand(3, seed=1)]),
    ("pad_negative_circular", lambda a: convprop.nn.functional.pad(a, (2, -1, -1, 1), mode="circular"),
     lambda t: lambda a: t.nn.functional.pad(a, (2, -1, -1, 1), mode="circular"), [rand(1, 3, 4)]),
    ("pad_negative_reflect", lambda a: convprop.nn.functional.pad(a, (3, -2), mode="reflect"),
     lambda t: lambda a: t.nn.functional.pad(a, (3, -2), mode="reflect"), [rand(2, 5)]),
    ("pad_negative_replicate", lambda a: convprop.nn.functional.pad(a, (-2, 3), mode="replicate"),
     lambda t: lambda a: t.nn.functional.pad(a, (-2, 3), mode="replicate"), [rand(2, 5)]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "cp_fn", "torch_fn", "arrays"), CASES, ids=[c[0] for c in CASES])
def test_matches_torch(name, cp_fn, torch_fn, arrays):
    torch = require_torch()
    compare_with_torch(cp_fn, torch_fn(torch), arrays)


GRADCHECKED = ["norm_fro", "norm_p3_keepdim", "std", "var_correction", "repeat", "chunk", "clamp_tensor_bounds",
               "setitem_in_graph", "inplace_chain_in_graph", "masked_fill", "topk"]  # fmt: skip


@pytest.mark.parametrize("name", GRADCHECKED)
def test_gradcheck(name):
    _, cp_fn, _, arrays = next(c for c in CASES if c[0] == name)
    inputs = [convprop.tensor(a, requires_grad=True) for a in arrays]
    assert convprop.gradcheck(cp_fn, inputs)


def test_comparisons_and_dtype_methods_match_torch():
    torch = require_torch()
    a, b = rand(3, 4), rand(3, 4, seed=1)
    a[0, 0] = b[0, 0]
    ca, cb, ta, tb = convprop.tensor(a), convprop.tensor(b), torch.tensor(a), torch.tensor(b)
    for name in ("eq", "ne", "lt", "le", "gt", "ge"):
        np.testing.assert_array_equal(getattr(ca, name)(cb).numpy(), getattr(ta, name)(tb).numpy())
        np.testing.assert_array_equal(getattr(ca, name)(0.5).numpy(), getattr(ta, name)(0.5).numpy())
    for name in ("long", "int", "float", "double", "bool"):
        got, want = getattr(ca, name)(), getattr(ta, name)()
        assert got.dtype == np.dtype(str(want.dtype).removeprefix("torch."))
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert (ca == None) is False and (ca != "text") is True  # noqa: E711 - PyTorch: not comparable, not equal
    mask = (ca > 0) & ~(ca > 1) | (ca == cb)
    np.testing.assert_array_equal(mask.numpy(), ((ta > 0) & ~(ta > 1) | (ta == tb)).numpy())
    assert ca.to(convprop.float32).dtype == np.float32 and ca.to("cpu", convprop.long).dtype == np.int64
    assert ca.to(cb.long()).dtype == np.int64 and ca.cpu() is ca and ca.contiguous() is ca
    with pytest.raises(RuntimeError, match="CPU only"):
        ca.to("cuda")
    assert ca.argmax(1, keepdim=True).shape == (3, 1)
    np.testing.assert_array_equal(ca.argmax(dim=1, keepdim=True).numpy(), ta.argmax(dim=1, keepdim=True).numpy())
    _, indices = convprop.max(ca, 1)
    np.testing.assert_array_equal(indices.numpy(), torch.max(ta, 1).indices.numpy())
    assert type(convprop.max(ca, 1)).__name__ == "max" and convprop.max(ca, 1)._fields == ("values", "indices")
    np.testing.assert_array_equal(ca.sort(1).indices.numpy(), ta.sort(1).indices.numpy())
    np.testing.assert_array_equal(ca.topk(2, 0).indices.numpy(), ta.topk(2, 0).indices.numpy())
    assert f"{ca.sum():.3f}" == f"{ta.sum():.3f}" and f"{ca}" == str(ca)  # a 0-d tensor formats its value
    with pytest.raises(TypeError, match="unsupported format string"):
        f"{ca:.3f}"  # as in PyTorch: only 0-d tensors take a format spec


def test_factories_match_torch_values_and_dtypes():
    torch = require_torch()
    pairs = [
        (convprop.zeros(2, 3), torch.zeros(2, 3)),
        (convprop.ones((2, 3), dtype=convprop.int64), torch.ones((2, 3), dtype=torch.int64)),
        (convprop.full((2,), 7), torch.full((2,), 7)),
        (convprop.full((2,), 1.5), torch.full((2,), 1.5)),
        (convprop.arange(5), torch.arange(5)),
        (convprop.arange(1, 2.5, 0.5), torch.arange(1, 2.5, 0.5)),
        (convprop.arange(10, 0, -3), torch.arange(10, 0, -3)),
        (convprop.linspace(-1, 1, 5), torch.linspace(-1, 1, 5)),
        (convprop.eye(3, 2), torch.eye(3, 2)),
        (convprop.empty(0, 3), torch.empty(0, 3)),
        (convprop.zeros_like(convprop.ones(2, dtype=convprop.float64)), torch.zeros_like(torch.ones(2).double())),
        (convprop.tensor([1, 2]), torch.tensor([1, 2])),
        (convprop.tensor([True]), torch.tensor([True])),
        (convprop.tensor([1, 2.5]), torch.tensor([1, 2.5])),
    ]
    for got, want in pairs:
        assert got.dtype == np.dtype(str(want.dtype).removeprefix("torch.")), (got, want)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
    a = np.arange(6.0)
    shared = convprop.from_numpy(a)
    a[0] = 9
    assert shared[0].item() == 9 and convprop.as_tensor(a).data is a and convprop.as_tensor(shared) is shared
    scalar = np.array(7)  # a 0-d array, e.g. a state_dict's num_batches_tracked
    assert (
        convprop.from_numpy(scalar).shape == torch.from_numpy(scalar).shape == ()
        and convprop.from_numpy(scalar).item() == 7
    )
    assert convprop.is_tensor(shared) and not convprop.is_tensor(a) and convprop.numel(convprop.zeros(2, 5)) == 10
    assert convprop.randint(3, 9, (1000,)).data.min() >= 3 and convprop.randint(10, (4, 2)).dtype == np.int64
    assert convprop.rand(2, 3).dtype == np.float32 and convprop.randn(4, dtype=convprop.float64).dtype == np.float64


def test_manual_seed_drives_default_randomness_and_explicit_generators_win():
    state = np.random.get_state()
    convprop.manual_seed(3)
    first = (convprop.randn(5), convprop.nn.Linear(4, 2).weight.data.copy(), convprop.nn.Dropout()(convprop.ones(50)))
    convprop.manual_seed(3)
    second = (convprop.randn(5), convprop.nn.Linear(4, 2).weight.data.copy(), convprop.nn.Dropout()(convprop.ones(50)))
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert all(np.array_equal(x, y) for x, y in zip(state[1:2], np.random.get_state()[1:2], strict=True))
    g = convprop.Generator().manual_seed(3)
    convprop.manual_seed(4)
    np.testing.assert_array_equal(convprop.randn(5, generator=g).numpy(), first[0].numpy())
    assert g.initial_seed() == 3 and isinstance(g, np.random.Generator)
    saved = g.get_state()
    x = convprop.rand(3, generator=g)
    g.set_state(saved)
    np.testing.assert_array_equal(convprop.rand(3, generator=g).numpy(), x.numpy())
    with pytest.raises(TypeError, match="generator must be"):
        convprop.randn(2, generator=3)


def test_hooks_and_retain_grad_match_torch():
    torch = require_torch()
    a = rand(3, 4)
    up = rand(3, 4, seed=5)
    grads = {}
    for lib, make in (("cp", lambda v: convprop.tensor(v, requires_grad=True)),
                      ("th", lambda v: torch.tensor(v, requires_grad=True))):  # fmt: skip
        x = make(a)
        y = x * x
        y.retain_grad()
        handle = y.register_hook(lambda g: g * 3)
        y.register_hook(lambda g: None)
        z = y.sigmoid()
        z.backward(make(up).detach() if lib == "th" else up)
        handle.remove()
        grads[lib] = (np.asarray(x.grad), np.asarray(y.grad))
    for got, want in zip(grads["cp"], grads["th"], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10)


def test_set_grad_enabled_and_inplace_rules():
    x = convprop.tensor([1.0, 2.0], requires_grad=True)
    with convprop.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert convprop.is_grad_enabled()
    convprop.set_grad_enabled(False)
    assert not convprop.is_grad_enabled()
    convprop.set_grad_enabled(True)
    with pytest.raises(RuntimeError, match="leaf Tensor that requires grad"):
        x.add_(1)
    with convprop.no_grad():
        x.add_(1).mul_(2)
        x.zero_().fill_(3.0)
    assert x.tolist() == [3.0, 3.0] and x.is_leaf
    n = convprop.ones(2, dtype=convprop.int64)
    with pytest.raises(RuntimeError, match="can't be cast"):
        n.add_(0.5)
    view = np.zeros(3)
    t = convprop.from_numpy(view)
    t[1] = 5.0
    t.add_(1)
    assert view.tolist() == [1.0, 6.0, 1.0]  # outside the graph, in-place writes reach the shared memory


def test_init_fills_weight_data_in_place_as_pytorch_code_writes_it():
    convprop.use_deterministic_algorithms(True)  # accepted; convprop is deterministic
    layer = convprop.nn.Conv2d(2, 3, 3)
    weight = layer.weight
    convprop.manual_seed(0)
    convprop.nn.init.normal_(layer.weight.data, 1.0, 0.02)  # the DCGAN tutorial's weights_init
    convprop.nn.init.constant_(layer.bias.data, 0)
    assert layer.weight is weight and abs(float(weight.data.mean()) - 1.0) < 0.02
    assert layer.bias.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("method, args", [("normal_", (0.5, 2.0)), ("uniform_", (-1.0, 3.0)), ("bernoulli_", (0.3,))])
def test_random_fills_in_place_match_torch(method, args):
    """``normal_``, ``uniform_``, ``bernoulli_``: the same distribution as PyTorch's (the draws are NumPy's),
    in place on the same object, dtype kept; a leaf that requires grad is refused; in a graph the old values
    get a zero gradient, as in PyTorch (compared with a random upstream gradient)."""
    torch = require_torch()
    g = convprop.Generator().manual_seed(1)
    cp = convprop.empty(200_000, dtype=convprop.float32)
    assert getattr(cp, method)(*args, generator=g) is cp and cp.dtype == np.float32
    th = getattr(torch.empty(200_000), method)(*args).numpy()
    stats = {"mean": np.mean, "std": np.std, "quantiles": lambda v: np.quantile(v, [0.01, 0.1, 0.5, 0.9, 0.99])}
    for name, stat in stats.items():
        np.testing.assert_allclose(stat(cp.numpy()), stat(th), atol=0.02 * (1 + np.max(np.abs(stat(th)))), err_msg=name)
    np.testing.assert_array_equal(
        getattr(convprop.empty(5), method)(*args, generator=convprop.Generator().manual_seed(2)).numpy(),
        getattr(convprop.empty(5), method)(*args, generator=convprop.Generator().manual_seed(2)).numpy(),
    )
    up = rand(3, seed=4)
    grads = {}
    for lib in (convprop, torch):
        x = lib.tensor(rand(3), requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf"):
            getattr(x, method)(*args)
        y = x * 2
        filled = getattr(y, method)(*args)
        assert filled is y and y.requires_grad
        (y + 3 * x).backward(lib.tensor(up))
        grads[lib.__name__] = np.asarray(x.grad)  # 3 * up: through y's old values, x gets nothing
    np.testing.assert_allclose(grads["convprop"], grads["torch"], rtol=1e-10)


def test_random_fills_refuse_what_torch_refuses():
    torch = require_torch()
    for lib in (convprop, torch):
        with pytest.raises(RuntimeError, match="std"):
            lib.zeros(3).normal_(0.0, -1.0)
        with pytest.raises(RuntimeError, match="from"):
            lib.zeros(3).uniform_(1.0, 0.0)
        with pytest.raises(RuntimeError, match="p"):
            lib.zeros(3).bernoulli_(1.5)
        with pytest.raises(RuntimeError):
            lib.zeros(3, dtype=lib.int64).normal_()
    p = convprop.tensor([0.0, 1.0, 0.0, 1.0])
    assert convprop.ones(2, 4, dtype=convprop.int64).bernoulli_(p).tolist() == [[0, 1, 0, 1]] * 2  # p broadcast
    with pytest.raises(RuntimeError, match="does not broadcast"):
        convprop.zeros(3).bernoulli_(p)


INPLACE_ACTIVATIONS = {
    "relu": lambda F, x: F.relu(x, inplace=True),
    "leaky_relu": lambda F, x: F.leaky_relu(x, 0.2, inplace=True),
    "elu": lambda F, x: F.elu(x, 0.7, inplace=True),
    "relu6": lambda F, x: F.relu6(x, inplace=True),
    "hardtanh": lambda F, x: F.hardtanh(x, -0.5, 1.5, inplace=True),
    "silu": lambda F, x: F.silu(x, inplace=True),
    "hardswish": lambda F, x: F.hardswish(x, inplace=True),
    "hardsigmoid": lambda F, x: F.hardsigmoid(x, inplace=True),
    "dropout": lambda F, x: F.dropout(x, 1.0, True, True),  # p = 1: the same (all-zero) mask in both libraries
    "dropout2d": lambda F, x: F.dropout2d(x, 1.0, True, True),
}


@pytest.mark.parametrize("name", sorted(INPLACE_ACTIVATIONS))
def test_functional_inplace_argument_matches_torch(name):
    """``F.relu(x, inplace=True)`` and the like: the same tensor comes back holding the result; inside a graph
    the gradient is PyTorch's (random upstream gradient, float64); on a leaf that requires grad, an error."""
    torch = require_torch()
    call = INPLACE_ACTIVATIONS[name]
    a, up = rand(2, 3, 4, 5), rand(2, 3, 4, 5, seed=1)
    results = {}
    for lib in (convprop, torch):
        F = lib.nn.functional
        plain = lib.tensor(a.copy())
        assert call(F, plain) is plain
        leaf = lib.tensor(a, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf"):
            call(F, leaf)
        y = leaf * 1.5
        out = call(F, y)
        assert out is y
        (out * leaf).backward(lib.tensor(up))
        results[lib.__name__] = (plain.detach().numpy(), y.detach().numpy(), np.asarray(leaf.grad))
    rtol = 1e-6 if name == "hardsigmoid" else 1e-10  # PyTorch's hardsigmoid gradient uses float32(1/6) in float64
    for got, want in zip(results["convprop"], results["torch"], strict=True):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-12)


def test_backends_cudnn_flags_as_pytorch_code_sets_them():
    torch = require_torch()
    import convprop.backends.cudnn as cudnn

    # PyTorch's defaults, read in a fresh torch 2.13 process (its test utilities freeze the live flags)
    defaults = {"benchmark": False, "deterministic": False, "enabled": True, "allow_tf32": True}
    assert {flag: getattr(cudnn, flag) for flag in defaults} == defaults
    assert cudnn.is_available() is torch.backends.cudnn.is_available() is False and cudnn.version() is None
    assert convprop.backends.cudnn is cudnn  # `cudnn.benchmark = True` itself runs in the DCGAN example's test


def test_unflatten_refuses_what_torch_refuses():
    torch = require_torch()
    for lib in (convprop, torch):
        x = lib.zeros(4, 18)
        with pytest.raises(RuntimeError, match="multiply up"):
            x.unflatten(1, (2, 4))
        with pytest.raises(RuntimeError, match="non-empty"):
            x.unflatten(1, ())
        with pytest.raises(RuntimeError, match="only one dimension can be inferred"):
            x.unflatten(1, (-1, -1, 2))
        with pytest.raises(IndexError):
            x.unflatten(2, (1, 4))
        with pytest.raises(TypeError, match="unflattened_size must be a tuple of ints"):
            lib.nn.Unflatten(1, 18)
    assert repr(convprop.nn.Unflatten(1, [8, 7, 7])) == repr(torch.nn.Unflatten(1, (8, 7, 7)))


def test_random_split_matches_torch_lengths_and_partitions_the_dataset():
    torch = require_torch()
    cases = [(10, [0.33, 0.33, 0.34]), (7, [0.5, 0.5]), (10, [3, 7]), (0, [0, 0])]
    for n, lengths in cases:
        ours = convprop.utils.data.random_split(range(n), lengths, generator=convprop.Generator().manual_seed(1))
        theirs = torch.utils.data.random_split(range(n), lengths, generator=torch.Generator().manual_seed(1))
        assert [len(s) for s in ours] == [len(s) for s in theirs], (n, lengths)
        assert sorted(i for subset in ours for i in subset) == list(range(n))  # disjoint, and every sample is in one
        assert all(isinstance(s, convprop.utils.data.Subset) for s in ours)
    for lib in (convprop, torch):
        with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
            assert [len(s) for s in lib.utils.data.random_split(range(5), [0.2, 0.0, 0.8])] == [1, 0, 4]
    dataset = convprop.utils.data.TensorDataset(convprop.arange(10))
    first = convprop.utils.data.random_split(dataset, [5, 5], generator=convprop.Generator().manual_seed(2))
    second = convprop.utils.data.random_split(dataset, [5, 5], generator=convprop.Generator().manual_seed(2))
    assert first[0].indices == second[0].indices and first[0][0][0].item() == first[0].indices[0]
    for lib in (convprop, torch):
        for lengths in ([3, 3], [0.5, 0.6]):
            with pytest.raises(ValueError, match="length of the input dataset"):
                lib.utils.data.random_split(range(10), lengths)
        with pytest.raises(ValueError, match=r"(?i)fraction at index 1 is not between 0 and 1"):
            lib.utils.data.random_split(range(10), [0.5, -0.5, 1.0])


@pytest.mark.parametrize("obj", [convprop.nn.Unflatten, convprop.utils.data.random_split], ids=lambda o: o.__name__)
def test_docstring_examples_run(obj):
    import doctest

    runner = doctest.DocTestRunner()
    tests = doctest.DocTestFinder().find(obj, globs={"convprop": convprop, "np": np, obj.__name__: obj})
    results = [runner.run(test) for test in tests]
    assert sum(r.attempted for r in results) > 0 and sum(r.failed for r in results) == 0


def test_where_with_two_scalars_matches_torch():
    torch = require_torch()
    condition = rand(2, 3) > 0
    for a, b in [(1.0, 0.0), (1, 0), (1.0, 0), (True, False), (2, True), (np.float64(0.5), -1)]:
        got = convprop.where(convprop.tensor(condition), a, b)
        want = torch.where(torch.tensor(condition), a, b)
        assert got.dtype == np.dtype(str(want.dtype).removeprefix("torch.")), (a, b)
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_thread_count_is_set_and_read_as_in_torch():
    """``torch.set_num_threads(n)`` / ``torch.get_num_threads()`` are common first lines of CPU code."""
    before = convprop.get_num_threads()
    try:
        convprop.set_num_threads(1)
        assert convprop.get_num_threads() == 1
        with pytest.raises(ValueError, match="positive integer"):
            convprop.set_num_threads(0)
    finally:
        convprop.set_num_threads(before)
    assert convprop.get_num_threads() == before
