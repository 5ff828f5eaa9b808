"""Gradient flow during training: GradientTracker, plot_gradients and ``convprop train --track-gradients``."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from PIL import Image

import convprop
import convprop.nn.functional as F
from convprop import nn, optim
from convprop.cli import main
from convprop.data import write_idx_dataset
from convprop.train.gradients import GRADIENT_FIELDS, GradientTracker, plot_gradients


def sigmoid_stack(depth: int, width: int = 32, seed: int = 0) -> nn.Sequential:
    """``depth`` Linear + Sigmoid pairs and a linear head: each sigmoid multiplies the gradient by at most 1/4."""
    rng = np.random.default_rng(seed)
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width, generator=rng), nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(width, 10, generator=rng))


def train(model, tracker, steps: int, lr: float = 0.1, momentum: float = 0.0, seed: int = 1):
    rng = np.random.default_rng(seed)
    opt = optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    for step in range(1, steps + 1):
        x = convprop.tensor(rng.standard_normal((16, 32)).astype(np.float32))
        loss = F.cross_entropy(model(x), rng.integers(0, 10, 16))
        opt.zero_grad()
        loss.backward()
        tracker.before_step(step)
        opt.step()
        tracker.after_step()


def test_vanishing_gradient_in_a_deep_sigmoid_stack():
    model = sigmoid_stack(12)
    tracker = GradientTracker(model, every=1)
    train(model, tracker, steps=3)
    assert tracker.layers == [str(2 * i) for i in range(12)] + ["24"]
    grads = tracker.series("grad_norm")
    first, last = grads["0"][1], grads["24"][1]
    assert np.all(first > 0)
    # twelve sigmoids: the first layer's gradient is many orders of magnitude below the head's
    assert np.all(first < 1e-6 * last), (first, last)
    # and it falls layer by layer on the way back
    per_layer = np.array([grads[name][1][0] for name in tracker.layers])
    assert np.all(np.diff(per_layer) > 0), per_layer


def test_update_ratio_of_plain_sgd_is_lr_times_grad_over_weight():
    """Without momentum, Δθ = -lr ∂L/∂θ, so ‖Δθ‖/‖θ‖ = lr ‖∂L/∂θ‖ / ‖θ‖ exactly (the norms measured independently)."""
    model = sigmoid_stack(3)
    tracker = GradientTracker(model, every=2)
    train(model, tracker, steps=5, lr=0.05)
    assert sorted({r["step"] for r in tracker.records}) == [2, 4]
    assert len(tracker.records) == 2 * len(tracker.layers)
    for r in tracker.records:
        assert list(r) == list(GRADIENT_FIELDS)
        assert r["update_ratio"] == pytest.approx(0.05 * r["grad_norm"] / r["weight_norm"], rel=1e-4)


def test_norms_match_the_parameters():
    """grad_norm joins the layer's weight and bias; weight_norm is of the weights before the step."""
    model = sigmoid_stack(2)
    tracker = GradientTracker(model, every=1)
    layer = model[2]
    x = convprop.tensor(np.random.default_rng(3).standard_normal((4, 32)).astype(np.float32))
    F.cross_entropy(model(x), np.arange(4)).backward()
    before = np.concatenate([layer.weight.data.ravel(), layer.bias.data.ravel()]).astype(np.float64)
    grad = np.concatenate([layer.weight.grad.numpy().ravel(), layer.bias.grad.numpy().ravel()]).astype(np.float64)
    tracker.before_step(1)
    for p in model.parameters():
        p.data = p.data * 3  # any change: the ratio is ‖θ_after − θ_before‖ / ‖θ_before‖ = 2
    tracker.after_step()
    (record,) = [r for r in tracker.records if r["layer"] == "2"]
    assert record["grad_norm"] == pytest.approx(np.linalg.norm(grad), rel=1e-6)
    assert record["weight_norm"] == pytest.approx(np.linalg.norm(before), rel=1e-6)
    assert record["update_ratio"] == pytest.approx(2.0, rel=1e-6)


def test_write_resume_and_plot(tmp_path):
    model = sigmoid_stack(20, width=8)  # 21 layers: the plot shows depth as a colour scale, not a legend
    tracker = GradientTracker(model, every=2)
    x = convprop.tensor(np.ones((2, 8), np.float32))
    model[-1].weight.data[:] = 0  # a layer with zero weights has no ratio: NaN in CSV, null in JSON
    model[-1].bias.data[:] = 0
    for step in range(1, 7):
        F.cross_entropy(model(x), np.arange(2)).backward()
        tracker.before_step(step)
        tracker.after_step()
    tracker.write(tmp_path)
    with open(tmp_path / "gradients.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == GRADIENT_FIELDS and len(rows) == 3 * 21
    records = json.loads((tmp_path / "gradients.json").read_text())
    assert records[-1]["layer"] == "40" and records[-1]["update_ratio"] is None
    path = plot_gradients(tracker.records, tmp_path / "gradients.png", title="sigmoid stack")
    with Image.open(path) as image:
        assert image.size[0] > 600 and image.size[1] > 300

    resumed = GradientTracker(model, every=2)
    resumed.resume(tmp_path, step=4)  # a run resumed from the checkpoint of step 4
    assert [r["step"] for r in resumed.records] == [2] * 21 + [4] * 21
    assert math.isnan(resumed.records[-1]["update_ratio"])
    resumed.resume(tmp_path / "nowhere", step=4)  # a fresh run: nothing to continue
    assert len(resumed.records) == 42
    for text in ("{not json", '[{"step": 2}]', "[1, 2]"):
        (tmp_path / "gradients.json").write_text(text)
        with pytest.raises(ValueError, match=r"gradients\.json: not a file of gradient records"):
            resumed.resume(tmp_path, step=4)


@pytest.mark.parametrize("every", [0, -3, 1.5, True])
def test_bad_every(every):
    with pytest.raises(ValueError, match="every must be a positive integer"):
        GradientTracker(sigmoid_stack(1), every=every)


def test_model_without_parameters():
    with pytest.raises(ValueError, match="Sigmoid has no parameters"):
        GradientTracker(nn.Sigmoid())


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_idx_dataset(tmp_path_factory.mktemp("idx"), n_train=96, n_test=32, seed=0)


def _train_args(data_dir, out, *extra):
    return [
        "train", "--data-dir", str(data_dir), "--out", str(out), "--model", "lenet5", "--epochs", "2",
        "--batch-size", "32", "--lr", "0.02", "--threads", "1", "--no-progress", *extra,
    ]  # fmt: skip


def test_cli_track_gradients(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("CONVPROP_DATA_URL", "http://127.0.0.1:9/")
    assert main(_train_args(data_dir, tmp_path, "--track-gradients", "2")) == 0
    with open(tmp_path / "gradients.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    layers = ["features.0", "features.3", "classifier.1", "classifier.3", "classifier.5"]
    steps = [2, 4, 6]  # 2 epochs of 3 batches, every 2nd step
    assert [(int(r["step"]), r["layer"]) for r in rows] == [(s, name) for s in steps for name in layers]
    assert [r["type"] for r in rows[:5]] == ["Conv2d", "Conv2d", "Linear", "Linear", "Linear"]
    assert all(float(r["grad_norm"]) > 0 and 0 < float(r["update_ratio"]) < 1 for r in rows)
    assert len(json.loads((tmp_path / "gradients.json").read_text())) == len(rows)
    with Image.open(tmp_path / "gradients.png") as image:
        assert image.format == "PNG"


def test_cli_track_gradients_default_every_and_off(tmp_path, data_dir, capsys):
    from convprop.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["train", "--track-gradients"]).track_gradients == 10
    assert parser.parse_args(["train"]).track_gradients is None
    assert main(_train_args(data_dir, tmp_path, "--epochs", "1")) == 0
    assert not any(tmp_path.glob("gradients.*"))
    with pytest.raises(SystemExit) as exc:
        main(_train_args(data_dir, tmp_path / "x", "--track-gradients", "0"))
    assert exc.value.code == 2
    assert "--track-gradients: must be a positive integer, got 0" in capsys.readouterr().err


def test_resumed_run_records_the_same_gradients(tmp_path, data_dir, monkeypatch):
    """A run that dies between checkpoints and is resumed writes the same records as one that never stopped."""
    from convprop.train import TrainConfig, Trainer, load_checkpoint

    monkeypatch.setenv("CONVPROP_DATA_URL", "http://127.0.0.1:9/")
    config = TrainConfig(model="lenet5", epochs=2, batch_size=32, lr=0.02, threads=1, checkpoint_every=2)

    class Crash(Trainer):
        def train_step(self, x, y):
            if self.step == 4:  # step 5 starts after the checkpoint of step 4: die as kill -9 would
                raise RuntimeError("killed")
            return super().train_step(x, y)

    def trainer(cls, out):
        return cls(
            config, out, data_dir=data_dir, progress=False, plots=False, log=lambda line: None, track_gradients=1
        )

    trainer(Trainer, tmp_path / "whole").fit()
    with pytest.raises(RuntimeError, match="killed"):
        trainer(Crash, tmp_path / "crashed").fit()
    assert {r["step"] for r in json.loads((tmp_path / "crashed" / "gradients.json").read_text())} == {1, 2, 3, 4}
    resumed = trainer(Trainer, tmp_path / "crashed")
    resumed.restore(load_checkpoint(tmp_path / "crashed" / "last.npz"))
    resumed.fit()
    for name in ("gradients.csv", "gradients.json"):
        assert (tmp_path / "crashed" / name).read_text() == (tmp_path / "whole" / name).read_text()
