"""The training loop in-process: exact resume from any stopping point, metrics and run-folder contents."""

from __future__ import annotations

import json

import numpy as np
import pytest

from convprop.data import write_idx_dataset
from convprop.train.checkpoint import load_checkpoint
from convprop.train.config import TrainConfig
from convprop.train.trainer import BEST, LAST, METRICS_FIELDS, Trainer, TrainingInterrupted

STEPS_PER_EPOCH = 10  # 240 images, 24 per class, less round(2.4) per class for validation: 220 / batch 24


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_idx_dataset(tmp_path_factory.mktemp("idx"), n_train=240, n_test=60, seed=3)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    # Should a file ever be missing, a download must fail at once instead of reaching the internet.
    monkeypatch.setenv("CONVPROP_DATA_URL", "http://127.0.0.1:9/")


def _config(**overrides):
    settings = {
        "model": "lenet5",
        "epochs": 2,
        "batch_size": 24,
        "lr": 0.02,
        "optimizer": "sgd",
        "momentum": 0.9,
        "weight_decay": 1e-4,
        "scheduler": "onecycle",
        "augment": True,
        "seed": 11,
        "threads": 1,
        "checkpoint_every": 4,
        "eval_batch_size": 25,
    }
    settings.update(overrides)
    return TrainConfig(**settings)


class _StopAfter(Trainer):
    """Simulates Ctrl-C after ``stop_at`` training steps (or, with ``stop_in_eval``, while validating)."""

    def __init__(self, *args, stop_at=None, stop_in_eval=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.stop_at, self.stop_in_eval = stop_at, stop_in_eval

    def train_step(self, x, y):
        result = super().train_step(x, y)
        if self.step + 1 == self.stop_at:  # self.step counts the steps before this one
            self.request_stop()
        return result

    def _stop(self):
        # evaluate_model puts the model in eval mode; each training step puts it back in train mode.
        return super()._stop() or (self.stop_in_eval and not self.model.training)


def _quiet(cls, config, out, data_dir, plots=False, **kwargs):
    return cls(config, out, data_dir=data_dir, progress=False, plots=plots, log=lambda line: None, **kwargs)


def _train(out, data_dir, config, plots=False, **kwargs):
    trainer = _quiet(_StopAfter, config, out, data_dir, plots=plots, **kwargs)
    return trainer, trainer.fit()


def _assert_same_run(dir_a, dir_b):
    a, b = load_checkpoint(dir_a / LAST), load_checkpoint(dir_b / LAST)
    assert sorted(a.model_state) == sorted(b.model_state)
    for key in a.model_state:
        assert np.array_equal(a.model_state[key], b.model_state[key]), key
    opt_a, opt_b = a.header["states"]["optimizer"], b.header["states"]["optimizer"]
    for index, state in opt_a["state"].items():
        for name, value in state.items():
            assert np.array_equal(value, opt_b["state"][index][name]), (index, name)
    assert a.header["states"]["scheduler"] == b.header["states"]["scheduler"]
    assert a.header["position"] == b.header["position"]
    drop = ("train_seconds", "train_cpu_seconds", "eval_seconds", "images_per_second")
    strip = [{k: v for k, v in h.items() if k not in drop} for h in a.header["history"]]
    assert strip == [{k: v for k, v in h.items() if k not in drop} for h in b.header["history"]]


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("reference")
    trainer, summary = _train(out, data_dir, _config(), plots=True)
    return out, trainer, summary


def test_run_folder_and_summary(reference_run):
    out, trainer, summary = reference_run
    for name in (LAST, BEST, "metrics.csv", "metrics.json", "config.json", "curves.png", "confusion.png"):
        assert (out / name).is_file(), name
    history = json.loads((out / "metrics.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert [h["step"] for h in history] == [STEPS_PER_EPOCH, 2 * STEPS_PER_EPOCH]
    assert len((out / "metrics.csv").read_text().splitlines()) == 3
    config = json.loads((out / "config.json").read_text())
    assert config == trainer.cfg.to_dict()
    assert summary == json.loads((out / "summary.json").read_text())
    assert summary["val_accuracy"]["final"] == history[-1]["val_acc"]
    assert summary["val_accuracy"]["best"] == max(h["val_acc"] for h in history)
    assert summary["val_size"] == 20 and summary["train_size"] == 220  # 10% of each class held out
    assert sum(sum(row) for row in summary["confusion_matrix"]) == 60
    assert history[1]["train_loss"] < history[0]["train_loss"]
    ck = load_checkpoint(out / LAST, model_name="lenet5")
    assert ck.header["position"] == {"epoch": 2, "batch": 0, "step": 2 * STEPS_PER_EPOCH}
    assert ck.header["dataset"]["classes"][0] == "T-shirt/top"


@pytest.mark.parametrize(
    "stop",
    [
        {"stop_at": 1},  # inside the first epoch, before any periodic checkpoint
        {"stop_at": 6},  # mid-epoch, after a periodic checkpoint at step 4
        {"stop_at": STEPS_PER_EPOCH},  # the last batch of an epoch, before validating
        {"stop_at": STEPS_PER_EPOCH + 3},  # mid second epoch
        {"stop_in_eval": True},  # while validating after epoch 1
    ],
    ids=["step1", "step6", "epoch-end", "epoch2", "in-eval"],
)
def test_interrupt_and_resume_is_exact(tmp_path, data_dir, reference_run, stop):
    with pytest.raises(TrainingInterrupted) as info:
        _train(tmp_path, data_dir, _config(), **stop)
    assert info.value.path == tmp_path / LAST
    position = load_checkpoint(tmp_path / LAST).header["position"]
    if "stop_at" in stop:
        assert position["step"] == stop["stop_at"]
    else:
        assert position == {"epoch": 0, "batch": STEPS_PER_EPOCH, "step": STEPS_PER_EPOCH}
    resumed = _quiet(Trainer, _config(), tmp_path, data_dir)
    resumed.restore(load_checkpoint(tmp_path / LAST))
    resumed.fit()
    _assert_same_run(reference_run[0], tmp_path)
    # The history restored from the checkpoint keeps the fresh run's columns and key order.
    fresh = (reference_run[0] / "metrics.csv").read_text().splitlines()[0]
    assert (tmp_path / "metrics.csv").read_text().splitlines()[0] == fresh == ",".join(METRICS_FIELDS)
    assert all(list(h) == list(METRICS_FIELDS) for h in json.loads((tmp_path / "metrics.json").read_text()))


def test_resume_with_batchnorm_and_dropout_is_exact(tmp_path, data_dir):
    """vggsmall adds BatchNorm running statistics and dropout masks to what a checkpoint must carry."""
    config = _config(model="vggsmall", width=4, optimizer="adamw", scheduler="cosine", epochs=1, lr=0.01)
    _train(tmp_path / "reference", data_dir, config)
    with pytest.raises(TrainingInterrupted):
        _train(tmp_path / "resumed", data_dir, config, stop_at=5)
    resumed = _quiet(Trainer, config, tmp_path / "resumed", data_dir)
    resumed.restore(load_checkpoint(tmp_path / "resumed" / LAST))
    resumed.fit()
    _assert_same_run(tmp_path / "reference", tmp_path / "resumed")
    assert "features.1.running_mean" in load_checkpoint(tmp_path / "resumed" / LAST).model_state


def test_resume_twice_from_periodic_checkpoints(tmp_path, data_dir, reference_run):
    """Two interruptions in a row, each resumed from the last checkpoint on disk."""
    with pytest.raises(TrainingInterrupted):
        _train(tmp_path, data_dir, _config(), stop_at=3)
    trainer = _StopAfter(
        _config(), tmp_path, data_dir=data_dir, progress=False, plots=False, log=lambda line: None, stop_at=14
    )
    trainer.restore(load_checkpoint(tmp_path / LAST))
    with pytest.raises(TrainingInterrupted):
        trainer.fit()
    final = _quiet(Trainer, _config(), tmp_path, data_dir)
    final.restore(load_checkpoint(tmp_path / LAST))
    final.fit()
    _assert_same_run(reference_run[0], tmp_path)


def test_restore_refuses_other_settings(tmp_path, data_dir, reference_run):
    trainer = _quiet(Trainer, _config(lr=0.5), tmp_path, data_dir)
    with pytest.raises(ValueError, match=r"other settings \(lr\)"):
        trainer.restore(load_checkpoint(reference_run[0] / LAST))


@pytest.mark.parametrize("setting", [{"lr": float("inf")}, {"lr": float("nan")}, {"weight_decay": float("inf")}])
def test_non_finite_settings_are_refused_before_config_json(tmp_path, data_dir, setting):
    with pytest.raises(ValueError, match="finite"):
        _quiet(Trainer, _config(**setting), tmp_path, data_dir)
    assert not (tmp_path / "config.json").exists()


def test_other_seed_gives_other_weights(tmp_path, data_dir, reference_run):
    _train(tmp_path, data_dir, _config(seed=12, epochs=1))
    a = load_checkpoint(reference_run[0] / LAST).model_state
    b = load_checkpoint(tmp_path / LAST).model_state
    assert not all(np.array_equal(a[k], b[k]) for k in a)


def test_every_dropout_layer_draws_from_the_runs_generator():
    """Dropout2d as well as Dropout: otherwise its masks would come from the default generator, which neither a
    checkpoint nor an MPI run's global-batch slicing knows about."""
    from convprop import nn
    from convprop.train.trainer import _set_dropout_generator

    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Dropout2d(0.3), nn.Flatten(), nn.Dropout(0.2))
    run = np.random.default_rng(5)
    _set_dropout_generator(model, run)
    assert [m.generator for m in model.modules() if isinstance(m, nn.Dropout | nn.Dropout2d)] == [run, run]
