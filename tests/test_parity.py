"""The issue's parity test: train the same small conv net in convprop and in PyTorch.

Same architecture, same initial weights (copied through load_state_dict), same
batches, 100 steps in float64, once with SGD + momentum + weight decay and once
with Adam: the loss must agree with PyTorch's at every step to 1e-8 relative.
"""

from __future__ import annotations

import numpy as np
import pytest

import convprop
from convprop import nn, optim
from tests.helpers import require_torch
from tests.torch_mirror import assert_same_state, one_torch_thread, to_torch

torch = require_torch()


@pytest.fixture(autouse=True, scope="module")
def _single_threaded_torch():
    with one_torch_thread():
        yield


STEPS = 100


def _small_convnet(batch_norm: bool, generator: np.random.Generator) -> nn.Module:
    g = generator
    return nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1, generator=g),
        nn.BatchNorm2d(6) if batch_norm else nn.Identity(),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 8, 3, generator=g),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 2 * 2, 10, generator=g),
    ).double()


def _batches(n: int, rng: np.random.Generator):
    """Learnable synthetic data: each class adds its own fixed pattern to the noise."""
    patterns = rng.standard_normal((10, 1, 12, 12))
    for _ in range(n):
        labels = rng.integers(0, 10, size=16)
        yield patterns[labels] + 0.7 * rng.standard_normal((16, 1, 12, 12)), labels


def _optimizers(name, cp_model, th_model):
    if name == "sgd":
        options = {"lr": 0.05, "momentum": 0.9, "weight_decay": 5e-3}
    else:
        options = {"lr": 3e-3, "weight_decay": 1e-4}
    cp_cls, th_cls = (optim.SGD, torch.optim.SGD) if name == "sgd" else (optim.Adam, torch.optim.Adam)
    return cp_cls(cp_model.parameters(), **options), th_cls(th_model.parameters(), **options)


@pytest.mark.parametrize("batch_norm", [True, False], ids=["bn", "no-bn"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_training_matches_torch_step_by_step(optimizer, batch_norm):
    cp_model = _small_convnet(batch_norm, np.random.default_rng(0))
    th_model = to_torch(cp_model)  # the same initial weights, through load_state_dict
    cp_opt, th_opt = _optimizers(optimizer, cp_model, th_model)
    cp_loss_fn, th_loss_fn = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    losses = []
    for step, (x, y) in enumerate(_batches(STEPS, np.random.default_rng(1))):
        cp_opt.zero_grad()
        cp_loss = cp_loss_fn(cp_model(convprop.tensor(x)), y)
        cp_loss.backward()
        cp_opt.step()

        th_opt.zero_grad()
        th_loss = th_loss_fn(th_model(torch.from_numpy(x)), torch.from_numpy(y))
        th_loss.backward()
        th_opt.step()

        expected = th_loss.item()
        assert cp_loss.item() == pytest.approx(expected, rel=1e-8), f"step {step}"
        losses.append(expected)
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10]), "the net should learn the synthetic classes"
    assert_same_state(cp_model, th_model, rtol=1e-7, atol=1e-9)

    # Evaluation mode (running statistics for BatchNorm) agrees too.
    cp_model.eval()
    th_model.eval()
    x, _ = next(_batches(1, np.random.default_rng(2)))
    with convprop.no_grad(), torch.no_grad():
        np.testing.assert_allclose(cp_model(convprop.tensor(x)).data, th_model(torch.from_numpy(x)).numpy(), rtol=1e-7)
