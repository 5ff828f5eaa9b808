"""Validation: a seeded stratified split, best.npz chosen on validation (never the test set), early stopping."""

from __future__ import annotations

import json

import numpy as np
import pytest

from convprop.data import write_idx_dataset
from convprop.data.split import stratified_split
from convprop.train.checkpoint import load_checkpoint
from convprop.train.config import TrainConfig
from convprop.train.models import load_model
from convprop.train.trainer import BEST, LAST, Trainer, evaluate_model, load_splits


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_idx_dataset(tmp_path_factory.mktemp("idx"), n_train=200, n_test=60, seed=5)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    monkeypatch.setenv("CONVPROP_DATA_URL", "http://127.0.0.1:9/")


def _config(**overrides):
    settings = {"model": "lenet5", "epochs": 3, "batch_size": 20, "lr": 0.05, "threads": 1, "seed": 2}
    return TrainConfig(**{**settings, **overrides})


def test_stratified_split_holds_out_each_class_in_proportion():
    labels = np.repeat(np.arange(4), [50, 30, 15, 5])
    train, val = stratified_split(labels, 0.2, np.random.default_rng(0))
    assert np.bincount(labels[val]).tolist() == [10, 6, 3, 1]
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(len(labels)))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)


def test_stratified_split_keeps_one_training_image_per_class():
    labels = np.array([0, 0, 1])  # class 1 has a single image: it stays in training
    train, val = stratified_split(labels, 0.5, np.random.default_rng(0))
    assert labels[train].tolist() == [0, 1] and labels[val].tolist() == [0]


def test_stratified_split_refuses_an_empty_validation_set():
    with pytest.raises(ValueError, match="leaves no validation image"):
        stratified_split(np.arange(10), 0.1, np.random.default_rng(0))


def test_the_split_is_reproducible_from_the_seed(data_dir):
    cfg = Trainer(_config(), "unused", data_dir=data_dir, progress=False, plots=False, log=lambda _: None).cfg
    _, val_a, _ = load_splits(cfg, data_dir)
    _, val_b, _ = load_splits(cfg, data_dir)
    _, val_c, _ = load_splits(TrainConfig(**{**cfg.to_dict(), "seed": 3}), data_dir)
    assert np.array_equal(val_a.images, val_b.images) and np.array_equal(val_a.labels, val_b.labels)
    assert not np.array_equal(val_a.images, val_c.images)
    assert np.bincount(val_a.labels).tolist() == np.bincount(val_c.labels).tolist()  # stratified: same counts


class _ScriptedValidation(Trainer):
    """Reports the given validation accuracies and losses per epoch; the test set is measured for real."""

    def __init__(self, *args, val_acc, val_loss, **kwargs):
        super().__init__(*args, progress=False, plots=False, log=lambda _: None, **kwargs)
        self.script = list(zip(val_acc, val_loss, strict=True))

    def _evaluate(self, model, loader):
        result = super()._evaluate(model, loader)
        if loader is self.val_loader:
            result.accuracy, result.loss = self.script[self.epoch]
        return result


def test_best_is_chosen_on_validation_when_test_disagrees(tmp_path, data_dir):
    """Validation peaks at epoch 1; the test set, measured at the end, prefers the final model (epoch 3)."""
    trainer = _ScriptedValidation(_config(), tmp_path, data_dir=data_dir, val_acc=[0.9, 0.3, 0.4], val_loss=[1, 2, 3])
    summary = trainer.fit()
    assert summary["best_epoch"] == 1
    assert load_checkpoint(tmp_path / BEST).header["position"]["epoch"] == 1
    assert summary["val_accuracy"] == {"final": 0.4, "best": 0.9}
    # Measured independently: the best.npz model's test accuracy, and the final model's.
    best_result = evaluate_model(load_model(load_checkpoint(tmp_path / BEST)), trainer.test_loader, 10)
    assert summary["test_accuracy"]["best"] == best_result.accuracy
    assert summary["test_accuracy"]["final"] > summary["test_accuracy"]["best"]  # test would have picked epoch 3
    assert json.loads((tmp_path / "summary.json").read_text()) == summary


def test_early_stopping_on_validation_loss(tmp_path, data_dir):
    config = _config(epochs=6, early_stopping=2)
    losses = [1.0, 0.5, 0.6, 0.7, 0.1, 0.1]
    summary = _ScriptedValidation(config, tmp_path, data_dir=data_dir, val_acc=[0.5] * 6, val_loss=losses).fit()
    assert summary["epochs"] == 4 and summary["stopped_early"] is True
    assert [h["epoch"] for h in json.loads((tmp_path / "metrics.json").read_text())] == [1, 2, 3, 4]
    # Resuming the stopped run trains no further.
    again = _ScriptedValidation(config, tmp_path, data_dir=data_dir, val_acc=[0.5] * 6, val_loss=losses)
    again.restore(load_checkpoint(tmp_path / LAST))
    assert again.fit()["epochs"] == 4


def test_no_validation_with_val_split_0(tmp_path, data_dir):
    trainer = Trainer(_config(epochs=1, val_split=0), tmp_path, data_dir=data_dir, progress=False, plots=False)
    summary = trainer.fit()
    assert summary["val_accuracy"] is None and summary["best_epoch"] is None and summary["val_size"] == 0
    assert summary["test_accuracy"]["best"] is None and summary["train_size"] == 200
    assert not (tmp_path / BEST).exists()
    assert json.loads((tmp_path / "metrics.json").read_text())[0]["val_acc"] is None


def test_early_stopping_needs_validation(tmp_path, data_dir):
    with pytest.raises(ValueError, match="--early-stopping needs a validation set"):
        Trainer(_config(val_split=0, early_stopping=2), tmp_path, data_dir=data_dir)


def test_val_split_and_val_dir_exclude_each_other(tmp_path, data_dir):
    with pytest.raises(ValueError, match="--val-split or --val-dir, not both"):
        Trainer(_config(val_split=0.2, val_dir=str(tmp_path)), tmp_path, data_dir=data_dir)


def test_val_dir_of_images_per_class(tmp_path, data_dir):
    from PIL import Image

    rng = np.random.default_rng(0)
    for folder in ("0", "Trouser"):  # a class's index or its name
        (tmp_path / "val" / folder).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(tmp_path / "val" / folder / f"{i}.png")
    config = _config(epochs=1, val_dir=str(tmp_path / "val"))
    trainer = Trainer(config, tmp_path / "run", data_dir=data_dir, progress=False, plots=False, log=lambda _: None)
    assert trainer.data.val_size == 6 and trainer.data.train_size == 200
    summary = trainer.fit()
    assert summary["val_size"] == 6 and summary["best_epoch"] == 1
