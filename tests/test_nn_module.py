"""The Module base class: registration, traversal, modes, dtype casts, state_dict and its errors."""

from __future__ import annotations

import numpy as np
import pytest

import convprop
from convprop import nn
from tests.helpers import require_torch
from tests.torch_mirror import to_torch


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, generator=np.random.default_rng(0))
        self.bn = nn.BatchNorm2d(3)
        self.scale = nn.Parameter(np.ones(3, dtype=np.float32))
        self.register_buffer("mask", np.ones(3, dtype=np.float32))
        self.register_buffer("scratch", np.zeros(2, dtype=np.float32), persistent=False)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


def _net():
    return nn.Sequential(Block(), nn.Flatten(), nn.ModuleList([nn.Linear(3, 4), nn.Dropout()]))


def test_registration_and_traversal_order():
    net = _net()
    assert [n for n, _ in net.named_parameters()] == [
        "0.scale",
        "0.conv.weight",
        "0.conv.bias",
        "0.bn.weight",
        "0.bn.bias",
        "2.0.weight",
        "2.0.bias",
    ]
    assert [n for n, _ in net.named_buffers()] == [
        "0.mask",
        "0.scratch",
        "0.bn.running_mean",
        "0.bn.running_var",
        "0.bn.num_batches_tracked",
    ]
    assert [n for n, _ in net.named_modules()] == ["", "0", "0.conv", "0.bn", "0.act", "1", "2", "2.0", "2.1"]
    assert [n for n, _ in net.named_children()] == ["0", "1", "2"]
    assert len(list(net.modules())) == 9
    assert len(list(net.parameters(recurse=False))) == 0
    assert net.get_submodule("0.bn") is net[0].bn
    with pytest.raises(AttributeError, match="no submodule `nope`"):
        net.get_submodule("0.nope")


def test_state_dict_keys_match_torch_and_skip_non_persistent():
    require_torch()
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 3))
    assert list(model.state_dict()) == list(to_torch(model).state_dict())
    assert "0.scratch" not in _net().state_dict()
    assert "0.mask" in _net().state_dict()


def test_shared_parameters_are_listed_once():
    shared = nn.Linear(3, 3)
    net = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(net.parameters())) == 2
    assert [n for n, _ in net.named_modules()] == ["", "0", "1"]


def _repeated_twins(torch):
    """The same Linear twice and a BatchNorm1d twice, in convprop and in PyTorch (equal weights)."""
    lin, bn = nn.Linear(2, 2, generator=np.random.default_rng(0)), nn.BatchNorm1d(2)
    t_lin, t_bn = torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2)
    t_lin.load_state_dict({k: torch.from_numpy(v) for k, v in lin.state_dict().items()})
    return nn.Sequential(lin, nn.ReLU(), lin, bn, bn), torch.nn.Sequential(t_lin, torch.nn.ReLU(), t_lin, t_bn, t_bn)


def _names(pairs):
    return [name for name, _ in pairs]


def test_repeated_module_is_traversed_like_torch():
    torch = require_torch()
    net, twin = _repeated_twins(torch)
    for dedup in (True, False):
        assert _names(net.named_parameters(remove_duplicate=dedup)) == _names(
            twin.named_parameters(remove_duplicate=dedup)
        )
        assert _names(net.named_buffers(remove_duplicate=dedup)) == _names(twin.named_buffers(remove_duplicate=dedup))
        assert _names(net.named_modules(remove_duplicate=dedup)) == _names(twin.named_modules(remove_duplicate=dedup))
        assert _names(net.named_parameters(prefix="m", remove_duplicate=dedup)) == _names(
            twin.named_parameters(prefix="m", remove_duplicate=dedup)
        )
    assert len(list(net.parameters())) == len(list(twin.parameters())) == 4
    assert len(list(net.buffers())) == len(list(twin.buffers())) == 3
    assert _names(net.named_children()) == _names(twin.named_children())


def test_repeated_module_state_dict_keeps_every_key_like_torch():
    torch = require_torch()
    net, twin = _repeated_twins(torch)
    state, expected = net.state_dict(), twin.state_dict()
    assert list(state) == list(expected)
    assert {"0.weight", "2.weight", "3.running_mean", "4.running_mean"} <= set(state)
    for key, value in expected.items():
        np.testing.assert_array_equal(state[key], value.numpy(), err_msg=key)
    assert list(net.state_dict(prefix="m.")) == list(twin.state_dict(prefix="m."))


def test_repeated_module_load_state_dict_like_torch():
    torch = require_torch()
    net, twin = _repeated_twins(torch)
    rng = np.random.default_rng(1)
    state = {k: rng.standard_normal(v.shape).astype(v.dtype) for k, v in net.state_dict().items()}
    assert net.load_state_dict(state) == (([], []))
    assert twin.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}).missing_keys == []
    # the repeated module holds the later key's value, in both libraries
    np.testing.assert_array_equal(net[0].weight.data, state["2.weight"])
    for key, value in twin.state_dict().items():
        np.testing.assert_array_equal(net.state_dict()[key], value.numpy(), err_msg=key)

    partial = {k: v for k, v in state.items() if k not in ("2.bias", "4.running_var")}
    partial["2.extra"] = np.zeros(1, np.float32)
    result = net.load_state_dict(partial, strict=False)
    t_result = twin.load_state_dict({k: torch.from_numpy(v) for k, v in partial.items()}, strict=False)
    assert result == (t_result.missing_keys, t_result.unexpected_keys) == (["2.bias", "4.running_var"], ["2.extra"])
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "2.bias", "4.running_var"'):
        net.load_state_dict(partial)


def test_attribute_assignment_rules():
    block = Block()
    block.scale = None
    assert block.scale is None and "scale" in block._parameters
    with pytest.raises(TypeError, match="cannot assign 'ndarray' as parameter 'scale'"):
        block.scale = np.ones(3)
    block.scale = nn.Parameter(np.zeros(3))
    block.conv = nn.Identity()
    assert isinstance(block.conv, nn.Identity)
    with pytest.raises(TypeError, match="cannot assign 'int' as child module 'conv'"):
        block.conv = 3
    with pytest.raises(TypeError, match="cannot assign 'list' as buffer 'mask'"):
        block.mask = [1, 2]
    block.mask = convprop.tensor(np.zeros(3, np.float32))
    np.testing.assert_array_equal(block.state_dict()["mask"], 0)
    del block.bn
    assert "bn" not in dict(block.named_children())
    with pytest.raises(AttributeError, match="'Block' object has no attribute 'bn'"):
        _ = block.bn
    with pytest.raises(KeyError, match='attribute "forward" already exists'):
        block.register_buffer("forward", None)
    with pytest.raises(KeyError, match="be empty or contain"):
        block.register_parameter("a.b", None)

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.ones(1))

    with pytest.raises(AttributeError, match=r"before Module\.__init__"):
        Early()


def test_parameter():
    p = nn.Parameter(np.arange(3.0))
    assert p.requires_grad and p.is_leaf and isinstance(p, convprop.Tensor)
    assert not nn.Parameter(np.ones(2), requires_grad=False).requires_grad
    assert repr(p).startswith("Parameter containing:\ntensor(")


def test_train_eval_and_zero_grad():
    net = _net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="boolean"):
        net.train("yes")
    x = convprop.tensor(np.random.default_rng(0).standard_normal((2, 2, 3, 3)).astype(np.float32))
    (net[2][0](net[1](net[0](x))).sum() + net[0].scale.sum()).backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_dtype_casts_keep_identity_and_integer_buffers():
    net = _net()
    weight = net[0].conv.weight
    weight.grad = convprop.ones(weight.shape)
    assert net.double() is net
    assert net[0].conv.weight is weight and weight.dtype == np.float64 and weight.grad.dtype == np.float64
    assert net[0].bn.running_var.dtype == np.float64 and net[0].mask.dtype == np.float64
    assert net[0].bn.num_batches_tracked.dtype == np.int64
    net.float()
    assert all(p.dtype == np.float32 for p in net.parameters())
    net.to("float64")
    assert net[2][0].weight.dtype == np.float64
    with pytest.raises(TypeError, match="only accepts floating point dtypes"):
        net.to(np.int32)


def test_load_state_dict_round_trip_and_dtype_preserved():
    a, b = Block(), Block()
    a.conv.weight.data[...] = 3.0
    a.bn.num_batches_tracked.data[...] = 7
    state = a.state_dict()
    state["conv.weight"] = state["conv.weight"].astype(np.float64)
    result = b.load_state_dict(state)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert b.conv.weight.dtype == np.float32
    np.testing.assert_array_equal(b.conv.weight.data, 3.0)
    assert int(b.bn.num_batches_tracked.data) == 7
    # state_dict returns copies: later training does not change a saved snapshot.
    a.conv.weight.data[...] = 5.0
    np.testing.assert_array_equal(state["conv.weight"], 3.0)


def test_load_state_dict_errors_name_keys_and_shapes():
    block = Block()
    state = block.state_dict()
    del state["bn.running_var"]
    state["bn.extra"] = np.zeros(1)
    state["conv.weight"] = np.zeros((3, 2, 5, 5))
    before = block.conv.bias.data.copy()
    state["conv.bias"] = before + 1
    with pytest.raises(RuntimeError) as info:
        block.load_state_dict(state)
    message = str(info.value)
    assert "Error(s) in loading state_dict for Block" in message
    assert 'Missing key(s) in state_dict: "bn.running_var".' in message
    assert 'Unexpected key(s) in state_dict: "bn.extra".' in message
    assert (
        "size mismatch for conv.weight: copying a param with shape (3, 2, 5, 5) from checkpoint, "
        "the shape in current model is (3, 2, 3, 3)." in message
    )
    np.testing.assert_array_equal(block.conv.bias.data, before)  # nothing was loaded

    state["conv.weight"] = block.conv.weight.data
    result = block.load_state_dict(state, strict=False)
    assert result.missing_keys == ["bn.running_var"] and result.unexpected_keys == ["bn.extra"]
    np.testing.assert_array_equal(block.conv.bias.data, before + 1)

    with pytest.raises(RuntimeError, match=r"value for \"conv\.bias\" must be a numeric array"):
        block.load_state_dict({**block.state_dict(), "conv.bias": np.array(["a", "b", "c"])})
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        block.load_state_dict([1, 2])


def test_sequential_and_module_list_containers():
    layers = [nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and list(seq) == layers and seq[-1] is layers[2]
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and list(head) == layers[:2]
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and "3" in dict(seq.named_children())
    seq[3] = nn.Tanh()
    assert isinstance(seq[3], nn.Tanh)
    del seq[3]
    assert len(seq) == 3
    with pytest.raises(IndexError, match="index 5 is out of range"):
        seq[5]
    x = convprop.tensor(np.ones((4, 2), np.float32))
    np.testing.assert_array_equal(seq(x).data, layers[2](layers[1](layers[0](x))).data)
    from collections import OrderedDict

    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert [n for n, _ in named.named_parameters()] == ["fc.weight", "fc.bias"]
    assert named[0] is named.fc

    ml = nn.ModuleList([nn.ReLU(), nn.Tanh()])
    ml.append(nn.Sigmoid())
    ml.insert(0, nn.Identity())
    assert [type(m).__name__ for m in ml] == ["Identity", "ReLU", "Tanh", "Sigmoid"]
    del ml[1]
    assert [n for n, _ in ml.named_children()] == ["0", "1", "2"]
    assert isinstance(ml[1:], nn.ModuleList) and len(ml[1:]) == 2
    with pytest.raises(TypeError, match="iterable"):
        ml.extend(nn.ReLU())
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        ml(x)


def test_apply_visits_children_first():
    net = _net()
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Sequential" and seen[0] == "Conv2d"


def test_repr_of_a_custom_module():
    assert repr(Block()).splitlines()[:2] == [
        "Block(",
        "  (conv): Conv2d(2, 3, kernel_size=(3, 3), stride=(1, 1))",
    ]
