"""The autograd core: graph recording, backward, gradient accumulation and its errors."""

import numpy as np
import pytest

import convprop
from convprop import Tensor, no_grad, tensor
from tests.helpers import require_torch


def test_dtype_rules_follow_torch_tensor():
    assert tensor(1.5).dtype == np.float32
    assert tensor([[1, 2], [3, 4]]).dtype == np.int64  # torch.tensor([[1, 2], [3, 4]]).dtype == torch.int64
    assert tensor([True, False]).dtype == np.bool_
    assert tensor([1, 2.5]).dtype == np.float32
    assert tensor(np.zeros(3)).dtype == np.float64
    assert tensor(np.zeros(3, dtype=np.float32)).dtype == np.float32
    assert tensor(np.arange(3)).dtype == np.int64
    assert tensor([1, 2], dtype=np.float64).dtype == np.float64


def test_tensor_copies_its_input():
    a = np.zeros(3)
    t = tensor(a)
    a[0] = 5
    assert t.data[0] == 0


def test_attributes():
    t = tensor(np.arange(6.0).reshape(2, 3))
    assert t.shape == (2, 3) and t.ndim == 2 and t.dtype == np.float64
    assert t.T.shape == (3, 2)
    assert np.array_equal(t.numpy(), np.arange(6.0).reshape(2, 3))
    assert tensor(np.array([4.0])).item() == 4.0
    with pytest.raises(ValueError, match="cannot be converted to a Python scalar"):
        t.item()


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating point"):
        tensor(np.arange(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        tensor(np.arange(3)).requires_grad_()


def test_scalar_backward_defaults_to_one_and_accumulates():
    x = tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0, 6.0])
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [5.0, 7.0, 9.0])
    x.grad = None
    assert x.grad is None


def _in_both(scenario) -> None:
    """Run ``scenario(lib)`` with convprop and with PyTorch; the lists it returns must agree item by item."""
    torch = require_torch()
    got, want = scenario(convprop), scenario(torch)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if isinstance(w, bool):
            assert g is w, f"item {i}: convprop {g}, torch {w}"
        else:
            w = w.detach().numpy() if isinstance(w, torch.Tensor) else w
            np.testing.assert_allclose(np.asarray(g, dtype=float), np.asarray(w, dtype=float), rtol=1e-12,
                                       err_msg=f"item {i}")  # fmt: skip


def _param(lib, values=(1.0, -2.0, 3.0)):
    return lib.nn.Parameter(lib.tensor(np.array(values)))


def test_grad_is_a_tensor_that_accumulates_in_place_like_torch():
    def scenario(lib):
        w = _param(lib)
        (w * w).sum().backward()
        first = w.grad
        (w * 3).sum().backward()
        return [lib.is_tensor(first), first is w.grad, first.requires_grad, first.is_leaf, first, w.grad.norm()]

    _in_both(scenario)


def test_in_place_edits_of_grad_are_what_the_optimizer_sees_like_torch():
    def scenario(lib):
        w = _param(lib)
        opt = lib.optim.SGD([w], lr=0.1, momentum=0.9)
        held = []
        for _ in range(2):
            opt.zero_grad()
            (w * w * w).sum().backward()
            w.grad.mul_(0.5)
            w.grad[0] = 4.0
            w.grad.add_(lib.ones(3, dtype=lib.float64), alpha=2)
            held.append(w.grad.clone())
            opt.step()
        return [w.detach(), *held]

    _in_both(scenario)


def test_zero_grad_keeps_or_drops_the_grad_tensor_like_torch():
    def scenario(lib):
        net = lib.nn.Linear(3, 2)
        opt = lib.optim.SGD(net.parameters(), lr=0.1)
        net(lib.ones(4, 3)).sum().backward()
        g = net.weight.grad
        opt.zero_grad(set_to_none=False)
        zeroed = [g is net.weight.grad, g.clone()]
        net(lib.ones(4, 3)).sum().backward()
        refilled = g.clone()
        net.zero_grad(set_to_none=False)
        kept = g is net.weight.grad
        net.zero_grad()
        return [*zeroed, refilled, kept, g, net.weight.grad is None, net.bias.grad is None]

    _in_both(scenario)


def test_retained_non_leaf_grads_and_hooks_like_torch():
    def scenario(lib):
        x = lib.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
        y = x * x
        y.retain_grad()
        seen = []
        y.register_hook(lambda g: seen.append(g.clone()))
        handle = x.register_hook(lambda g: g * 2)
        upstream = lib.tensor(np.array([0.5, -1.0, 2.0]))
        y.backward(upstream, retain_graph=True)
        first = y.grad
        y.backward(upstream)
        handle.remove()
        (x * 1.0).sum().backward()
        return [x.grad, y.grad, first is y.grad, first, *seen]

    _in_both(scenario)


GRAD_VALUES = {
    "tensor": lambda lib, p: lib.zeros(3, dtype=lib.float64),
    "none": lambda lib, p: None,
    "array": lambda lib, p: np.zeros(3),
    "list": lambda lib, p: [0.0, 0.0, 0.0],
    "wrong_shape": lambda lib, p: lib.zeros(2, dtype=lib.float64),
    "wrong_dtype": lambda lib, p: lib.zeros(3, dtype=lib.float32),
    "integer": lambda lib, p: lib.zeros(3, dtype=lib.int64),
    "itself": lambda lib, p: p,
}


@pytest.mark.parametrize("name", sorted(GRAD_VALUES))
def test_grad_assignment_accepts_and_rejects_like_torch(name):
    torch = require_torch()
    outcomes = []
    for lib in (torch, convprop):
        p = _param(lib)
        try:
            p.grad = GRAD_VALUES[name](lib, p)
        except (TypeError, RuntimeError) as exc:
            assert "\n" not in str(exc)
            outcomes.append(type(exc))
        else:
            outcomes.append(None)
    assert outcomes[1] is outcomes[0]


def test_grad_of_a_tensor_without_requires_grad_can_be_set_and_a_read_only_grad_cannot_accumulate():
    t = tensor(np.zeros(2))
    t.grad = tensor(np.ones(2))
    np.testing.assert_array_equal(t.grad, [1.0, 1.0])
    w = _param(convprop)
    w.grad = convprop.zeros(1, dtype=convprop.float64).expand(3)
    with pytest.raises(RuntimeError, match="read-only view"):  # PyTorch refuses too: "unsupported operation"
        (w * 2).sum().backward()


def test_non_scalar_backward_needs_grad_of_matching_shape():
    x = tensor(np.ones((2, 3)), requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
        y.backward()
    with pytest.raises(RuntimeError, match=r"grad has shape \(3, 2\) but the tensor has shape \(2, 3\)"):
        y.backward(np.ones((3, 2)))
    g = np.random.default_rng(0).standard_normal((2, 3))
    y.backward(tensor(g))
    np.testing.assert_allclose(x.grad, 2 * g)


def test_backward_twice_is_an_error_unless_retained():
    x = tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.clone()
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * first)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_backward_without_grad_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tensor(np.ones(2)).sum().backward()


def test_shared_subexpression_gets_both_paths():
    x = tensor(np.array([3.0]), requires_grad=True)
    y = x * x  # used twice below
    z = (y + y * x).sum()  # z = x² + x³, dz/dx = 2x + 3x²
    z.backward()
    np.testing.assert_allclose(x.grad, [2 * 3 + 3 * 9])


def test_deep_graph_has_no_recursion_limit():
    x = tensor(np.array([1.0]), requires_grad=True)
    y = x
    for _ in range(20000):
        y = y + 1.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0])


def test_no_grad_and_detach():
    x = tensor(np.ones(2), requires_grad=True)
    with no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert convprop.is_grad_enabled()
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    with pytest.raises(RuntimeError, match="requires grad"):
        x.numpy()


def test_non_leaf_requires_grad_cannot_be_cleared():
    x = tensor(np.ones(2), requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        (x * 2).requires_grad_(False)


def test_incoming_gradient_is_not_mutated():
    x = tensor(np.ones(3), requires_grad=True)
    g = np.array([1.0, 2.0, 3.0])
    (x + x).backward(g)
    np.testing.assert_array_equal(g, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(x.grad, [2.0, 4.0, 6.0])


def test_scalar_operands_keep_float32():
    x = tensor([1.0, 2.0])
    assert (x * 2.5 + 1).dtype == np.float32
    assert (2.0 / x).dtype == np.float32
    assert (np.float64(2.0) * x).dtype == np.float32


def test_repr_mentions_grad_fn():
    x = tensor([1.0], requires_grad=True)
    assert "requires_grad=True" in repr(x)
    assert "grad_fn=<MulBackward>" in repr(x * 2)
    assert isinstance(x * 2, Tensor)
