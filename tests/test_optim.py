"""Optimizers and schedulers against PyTorch: the same parameters and gradients give the same updates."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from convprop import optim, tensor
from convprop.nn import Parameter
from convprop.optim import lr_scheduler
from tests.helpers import require_torch
from tests.torch_mirror import one_torch_thread

torch = require_torch()


@pytest.fixture(autouse=True, scope="module")
def _single_threaded_torch():
    with one_torch_thread():
        yield


SHAPES = [(3, 4), (5,), (2, 3, 2)]

OPTIMIZERS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 1e-3}),
    ("SGD", {"lr": 0.05, "momentum": 0.5, "maximize": True}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "maximize": True, "weight_decay": 0.01}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.02, "weight_decay": 0.3, "amsgrad": True}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-5, "weight_decay": 0.1, "maximize": True}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.05, "initial_accumulator_value": 0.2, "eps": 1e-8}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "momentum": 0.8, "centered": True, "weight_decay": 0.01}),
    ("RMSprop", {"lr": 0.003, "momentum": 0.5, "maximize": True}),
    ("NAdam", {}),
    ("NAdam", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1, "momentum_decay": 0.01}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("RAdam", {}),
    ("RAdam", {"lr": 0.01, "betas": (0.7, 0.9), "weight_decay": 0.1}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True}),
]


def _make(name, options, arrays, groups=False):
    cp_params = [Parameter(a.copy()) for a in arrays]
    th_params = [torch.nn.Parameter(torch.tensor(a.copy())) for a in arrays]

    def wrap(params):
        if not groups:
            return params
        return [{"params": params[:1], "lr": 0.003}, {"params": params[1:]}]

    return (
        cp_params,
        getattr(optim, name)(wrap(cp_params), **options),
        th_params,
        getattr(torch.optim, name)(wrap(th_params), **options),
    )


def _step(cp_params, cp_opt, th_params, th_opt, rng, dtype):
    for c, t in zip(cp_params, th_params, strict=True):
        g = rng.standard_normal(c.shape).astype(dtype)
        c.grad = tensor(g)
        t.grad = torch.tensor(g.copy())
    cp_opt.step()
    th_opt.step()


def _assert_same(cp_params, th_params, dtype):
    tol = {"rtol": 1e-12, "atol": 1e-14} if dtype == np.float64 else {"rtol": 1e-5, "atol": 1e-6}
    for c, t in zip(cp_params, th_params, strict=True):
        np.testing.assert_allclose(c.data, t.detach().numpy(), **tol)


def _arrays(seed, dtype):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("name", "options"), OPTIMIZERS)
def test_optimizer_matches_torch(name, options, dtype):
    cp_params, cp_opt, th_params, th_opt = _make(name, options, _arrays(0, dtype))
    rng = np.random.default_rng(1)
    for _ in range(25):
        _step(cp_params, cp_opt, th_params, th_opt, rng, dtype)
        _assert_same(cp_params, th_params, dtype)


@pytest.mark.parametrize(("name", "options"), [OPTIMIZERS[2], OPTIMIZERS[6], OPTIMIZERS[10]])
def test_param_groups_match_torch(name, options):
    cp_params, cp_opt, th_params, th_opt = _make(name, options, _arrays(2, np.float64), groups=True)
    assert cp_opt.param_groups[0]["lr"] == 0.003
    rng = np.random.default_rng(3)
    for _ in range(10):
        _step(cp_params, cp_opt, th_params, th_opt, rng, np.float64)
    _assert_same(cp_params, th_params, np.float64)


def _json_npz_round_trip(state: dict) -> dict:
    """Store as a checkpoint would: arrays in an npz, everything else in JSON (no pickle)."""
    arrays, header = {}, {"state": {}, "param_groups": state["param_groups"]}
    for index, entry in state["state"].items():
        header["state"][index] = {}
        for key, value in entry.items():
            if isinstance(value, np.ndarray):
                arrays[f"{index}.{key}"] = value
                header["state"][index][key] = None
            else:
                header["state"][index][key] = value
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    loaded = np.load(buffer, allow_pickle=False)
    header = json.loads(json.dumps(header))
    for index, entry in header["state"].items():
        for key, value in entry.items():
            if value is None:
                entry[key] = loaded[f"{index}.{key}"]
    return header


@pytest.mark.parametrize(("name", "options"), OPTIMIZERS)
def test_state_dict_round_trip_continues_identically(name, options):
    arrays = _arrays(4, np.float64)
    cp_params, cp_opt, th_params, th_opt = _make(name, options, arrays, groups=True)
    rng = np.random.default_rng(5)
    for _ in range(5):
        _step(cp_params, cp_opt, th_params, th_opt, rng, np.float64)
    saved = _json_npz_round_trip(cp_opt.state_dict())
    resumed = [Parameter(p.data.copy()) for p in cp_params]
    groups = [{"params": resumed[:1], "lr": 0.5}, {"params": resumed[1:]}]  # lr overwritten by the load
    resumed_opt = getattr(optim, name)(groups, **options)
    resumed_opt.load_state_dict(saved)
    assert resumed_opt.param_groups[0]["lr"] == 0.003
    for _ in range(5):
        _step(cp_params, cp_opt, th_params, th_opt, rng, np.float64)
    rng = np.random.default_rng(5)
    for _ in range(5):
        [rng.standard_normal(s) for s in SHAPES]
    for _ in range(5):
        for p in resumed:
            p.grad = tensor(rng.standard_normal(p.shape))
        resumed_opt.step()
    for a, b in zip(resumed, cp_params, strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    _assert_same(cp_params, th_params, np.float64)


def test_state_dict_layout_and_load_errors():
    params = [Parameter(np.ones((2, 2))), Parameter(np.ones(3))]
    opt = optim.Adam(params, lr=0.01)
    for p in params:
        p.grad = tensor(np.ones(p.shape))
    opt.step()
    state = opt.state_dict()
    assert sorted(state["state"]) == [0, 1]
    assert state["state"][0]["step"] == 1 and state["state"][0]["exp_avg"].shape == (2, 2)
    assert state["param_groups"][0]["params"] == [0, 1]
    json.dumps(state["param_groups"])
    other = optim.Adam([Parameter(np.ones((2, 2)))])
    with pytest.raises(ValueError, match="doesn't match the size"):
        other.load_state_dict(state)
    bad = optim.Adam([Parameter(np.ones((2, 3))), Parameter(np.ones(3))])
    with pytest.raises(ValueError, match=r"shape \(2, 2\).*shape \(2, 3\)"):
        bad.load_state_dict(state)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.Adam([{"params": params[:1]}, {"params": params[1:]}]).load_state_dict(state)


def test_zero_grad_and_skips_params_without_grad():
    a, b = Parameter(np.ones(2)), Parameter(np.ones(2))
    opt = optim.SGD([a, b], lr=1.0)
    a.grad = tensor(np.array([1.0, 2.0]))
    opt.step()
    np.testing.assert_array_equal(a.data, [0.0, -1.0])
    np.testing.assert_array_equal(b.data, [1.0, 1.0])
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad, [0.0, 0.0])
    assert b.grad is None
    opt.zero_grad()
    assert a.grad is None


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: optim.SGD(p, lr=-1), "Invalid learning rate: -1"),
        (lambda p: optim.SGD(p, momentum=-0.1), "Invalid momentum value: -0.1"),
        (lambda p: optim.SGD(p, weight_decay=-1), "Invalid weight_decay value: -1"),
        (lambda p: optim.SGD(p, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
        (lambda p: optim.Adam(p, lr=-0.5), "Invalid learning rate: -0.5"),
        (lambda p: optim.Adam(p, eps=-1), "Invalid epsilon value: -1"),
        (lambda p: optim.Adam(p, betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
        (lambda p: optim.AdamW(p, betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
        (lambda p: optim.Adam(p, eps=float("nan")), "Invalid epsilon value: nan"),
        (lambda p: optim.Adadelta(p, rho=1.5), "Invalid rho value: 1.5"),
        (lambda p: optim.RMSprop(p, alpha=-1), "Invalid alpha value: -1"),
        (lambda p: optim.NAdam(p, momentum_decay=-1), "Invalid momentum_decay value: -1"),
        (lambda p: optim.RAdam(p, betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
        (lambda p: optim.SGD([], lr=0.1), "empty parameter list"),
        (lambda p: optim.SGD([p[0], p[0]], lr=0.1), "duplicate parameters"),
        (lambda p: optim.SGD([{"params": p}, {"params": p}], lr=0.1), "more than one parameter group"),
    ],
)
def test_argument_validation(make, message):
    with pytest.raises(ValueError, match=message):
        make([Parameter(np.ones(2))])


def test_rejects_non_tensors_and_sets():
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(TypeError, match="set"):
        optim.SGD({Parameter(np.ones(2))}, lr=0.1)


# ---- schedulers -------------------------------------------------------------

SCHEDULERS = [
    ("StepLR", {"step_size": 3}),
    ("StepLR", {"step_size": 2, "gamma": 0.5}),
    ("CosineAnnealingLR", {"T_max": 7}),
    ("CosineAnnealingLR", {"T_max": 5, "eta_min": 1e-3}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": 40}),
    ("OneCycleLR", {"max_lr": [0.5, 0.2], "epochs": 4, "steps_per_epoch": 10, "anneal_strategy": "linear"}),
    ("OneCycleLR", {"max_lr": 0.3, "total_steps": 40, "three_phase": True, "pct_start": 0.25}),
    (
        "OneCycleLR",
        {"max_lr": 0.3, "total_steps": 40, "div_factor": 10.0, "final_div_factor": 100.0, "cycle_momentum": False},
    ),
    ("OneCycleLR", {"max_lr": 0.3, "total_steps": 40, "base_momentum": 0.7, "max_momentum": 0.9}),
    ("MultiStepLR", {"milestones": [2, 5, 5, 11], "gamma": 0.5}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("LambdaLR", {"lr_lambda": lambda epoch: 0.95**epoch + 0.01 * epoch}),
    ("MultiplicativeLR", {"lr_lambda": lambda epoch: 0.9 if epoch % 3 else 1.05}),
    ("ConstantLR", {"factor": 0.25, "total_iters": 4}),
    ("LinearLR", {}),
    ("LinearLR", {"start_factor": 0.1, "end_factor": 0.8, "total_iters": 7}),
    ("PolynomialLR", {"total_iters": 9, "power": 2.0}),
    ("CosineAnnealingWarmRestarts", {"T_0": 4}),
    ("CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2, "eta_min": 0.01}),
]


def _momentum(group):
    return group["betas"][0] if "betas" in group else group["momentum"]


@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
@pytest.mark.parametrize(("name", "options"), SCHEDULERS)
def test_scheduler_matches_torch(name, options, opt_name):
    opt_options = {"lr": 0.1, "momentum": 0.9} if opt_name == "SGD" else {"lr": 0.1}
    cp_params, cp_opt, th_params, th_opt = _make(opt_name, opt_options, _arrays(6, np.float64), groups=True)
    cp_sched = getattr(lr_scheduler, name)(cp_opt, **options)
    th_sched = getattr(torch.optim.lr_scheduler, name)(th_opt, **options)
    rng = np.random.default_rng(7)
    steps = 40 if name == "OneCycleLR" else 25
    for i in range(steps):
        np.testing.assert_allclose(cp_sched.get_last_lr(), th_sched.get_last_lr(), rtol=1e-13, err_msg=f"step {i}")
        for c, t in zip(cp_opt.param_groups, th_opt.param_groups, strict=True):
            assert _momentum(c) == pytest.approx(_momentum(t), rel=1e-13)
        _step(cp_params, cp_opt, th_params, th_opt, rng, np.float64)
        if i < steps - 1:
            cp_sched.step()
            th_sched.step()
    _assert_same(cp_params, th_params, np.float64)


@pytest.mark.parametrize(("name", "options"), SCHEDULERS)
def test_scheduler_state_dict_round_trip(name, options):
    def build():
        params = [Parameter(np.ones(2)), Parameter(np.ones(3))]
        opt = optim.SGD([{"params": params[:1]}, {"params": params[1:]}], lr=0.1, momentum=0.9)
        return opt, getattr(lr_scheduler, name)(opt, **options)

    opt, sched = build()
    for _ in range(9):
        sched.step()
    saved_opt = json.loads(json.dumps(opt.state_dict()))
    saved_sched = json.loads(json.dumps(sched.state_dict()))
    opt2, sched2 = build()
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved_sched)
    for _ in range(15):
        sched.step()
        sched2.step()
        assert sched.get_last_lr() == sched2.get_last_lr()
        assert [_momentum(g) for g in opt.param_groups] == [_momentum(g) for g in opt2.param_groups]


def test_scheduler_validation():
    opt = optim.SGD([Parameter(np.ones(2))], lr=0.1)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=2)
    with pytest.raises(ValueError, match="step_size"):
        lr_scheduler.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="total_steps OR"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(ValueError, match="pct_start"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, pct_start=1.5)
    with pytest.raises(ValueError, match="anneal_strategy"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, anneal_strategy="exp")
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=3)
    sched.step()
    sched.step()
    sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        sched.step()


def _two_libs(build):
    """The same schedule built on a convprop and on a torch optimizer (SGD, two groups)."""
    cp_params, cp_opt, th_params, th_opt = _make("SGD", {"lr": 0.1, "momentum": 0.9}, _arrays(6, np.float64), True)
    return (cp_params, cp_opt, build(optim, cp_opt)), (th_params, th_opt, build(torch.optim, th_opt))


@pytest.mark.parametrize(
    "build",
    [
        lambda lib, opt: lib.lr_scheduler.SequentialLR(
            opt,
            [lib.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=4),
             lib.lr_scheduler.CosineAnnealingLR(opt, T_max=10)],
            milestones=[4],
        ),
        lambda lib, opt: lib.lr_scheduler.SequentialLR(
            opt,
            [lib.lr_scheduler.ConstantLR(opt, factor=0.5, total_iters=3),
             lib.lr_scheduler.ExponentialLR(opt, gamma=0.8),
             lib.lr_scheduler.MultiStepLR(opt, milestones=[3, 6], gamma=0.5)],
            milestones=[3, 9],
        ),
    ],
)  # fmt: skip
def test_sequential_lr_matches_torch(build):
    (cp_params, cp_opt, cp_sched), (th_params, th_opt, th_sched) = _two_libs(build)
    rng = np.random.default_rng(8)
    for i in range(20):
        np.testing.assert_allclose(cp_sched.get_last_lr(), th_sched.get_last_lr(), rtol=1e-13, err_msg=f"step {i}")
        _step(cp_params, cp_opt, th_params, th_opt, rng, np.float64)
        cp_sched.step()
        th_sched.step()
    _assert_same(cp_params, th_params, np.float64)
    saved = json.loads(json.dumps(cp_sched.state_dict()))
    cp_sched.load_state_dict(saved)


@pytest.mark.parametrize(
    "options",
    [{}, {"mode": "max", "factor": 0.5, "patience": 2, "threshold": 0.1, "cooldown": 2},
     {"threshold_mode": "abs", "patience": 1, "min_lr": [0.02, 0.001], "threshold": 0.05}],
)  # fmt: skip
def test_reduce_lr_on_plateau_matches_torch(options):
    (cp_params, cp_opt, cp_sched), (th_params, th_opt, th_sched) = _two_libs(
        lambda lib, opt: lib.lr_scheduler.ReduceLROnPlateau(opt, **options)
    )
    rng = np.random.default_rng(9)
    metrics = np.concatenate([np.linspace(1.0, 0.5, 5), np.full(30, 0.5) + rng.uniform(0, 0.05, 30)])
    for metric in metrics:
        _step(cp_params, cp_opt, th_params, th_opt, rng, np.float64)
        cp_sched.step(metric)
        th_sched.step(metric)
        assert cp_sched.get_last_lr() == pytest.approx(th_sched.get_last_lr(), rel=1e-13)
    assert cp_opt.param_groups[0]["lr"] < 0.1
    _assert_same(cp_params, th_params, np.float64)


def test_warm_restarts_with_fractional_epochs_match_torch():
    (*_, cp_sched), (*_, th_sched) = _two_libs(
        lambda lib, opt: lib.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
    )
    for epoch in np.arange(0, 12, 0.25):
        cp_sched.step(float(epoch))
        th_sched.step(float(epoch))
        np.testing.assert_allclose(cp_sched.get_last_lr(), th_sched.get_last_lr(), rtol=1e-13)
