"""Bring your own: a folder of images per class (--dataset imagefolder) and a model file (--model file.py:Class)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from convprop.cli import main
from convprop.data import write_idx_dataset
from convprop.data.imagefolder import read_image_folder
from convprop.train.checkpoint import CheckpointError, load_checkpoint
from convprop.train.config import TrainConfig
from convprop.train.models import file_sha256, load_model
from convprop.train.trainer import LAST, Trainer, TrainingInterrupted

PIL = pytest.importorskip("PIL.Image", reason="imagefolder needs Pillow (the train extra)")
MODEL_FILE = Path(__file__).parent / "data" / "custom_model.py"
CLASSES = ("bottom", "left", "top")


def _image(label: int, size: int, rgb: bool, rng) -> np.ndarray:
    """A noisy image whose bright half (top, bottom or left) tells its class."""
    x = rng.integers(0, 60, (size, size)).astype(np.uint8)
    half = size // 2
    region = {"top": (slice(0, half), slice(None)), "bottom": (slice(half, None), slice(None))}
    region["left"] = (slice(None), slice(0, half))
    x[region[CLASSES[label]]] += 180
    return np.stack([x, x // 2, 255 - x], axis=-1) if rgb else x


def _write_folder(root: Path, per_class: int, rgb: bool, seed: int, sizes=(16,)) -> Path:
    rng = np.random.default_rng(seed)
    for label, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            size = sizes[i % len(sizes)]
            suffix = ".jpg" if rgb and i % 3 == 0 else ".png"
            PIL.fromarray(_image(label, size, rgb, rng)).save(root / name / f"{i:03d}{suffix}", quality=95)
    return root


@pytest.fixture(scope="module")
def split_folder(tmp_path_factory):
    """train/ val/ test/ folders of RGB PNG and JPEG images of two sizes."""
    root = tmp_path_factory.mktemp("images")
    _write_folder(root / "train", 30, rgb=True, seed=0, sizes=(16, 20))
    _write_folder(root / "val", 6, rgb=True, seed=1)
    _write_folder(root / "test", 10, rgb=True, seed=2)
    return root


def test_read_image_folder_classes_channels_and_size(split_folder):
    ds = read_image_folder(split_folder / "train", image_size=12)
    assert ds.classes == CLASSES and ds.images.shape == (90, 3, 12, 12) and ds.images.dtype == np.uint8
    assert np.bincount(ds.labels).tolist() == [30, 30, 30]
    with pytest.raises(ValueError, match="different sizes or are not square; choose one with --image-size"):
        read_image_folder(split_folder / "train")


def test_imagefolder_trains_evaluates_and_predicts(split_folder, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--dataset", "imagefolder", "--data-dir", str(split_folder), "--image-size", "16"]
    args += ["--out", str(out), "--epochs", "4", "--batch-size", "15", "--lr", "0.05", "--no-progress"]
    args += ["--model", "resnet8", "--width", "4"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "90 train / 18 validation / 30 test images" in printed  # the val/ folder, not a split of train/
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test_accuracy"]["final"] >= 0.6, summary
    header = load_checkpoint(out / LAST).header
    assert header["dataset"]["classes"] == list(CLASSES) and header["dataset"]["input_shape"] == [3, 16, 16]

    assert main(["evaluate", str(out / LAST), "--data-dir", str(split_folder)]) == 0
    evaluated = capsys.readouterr().out
    assert "imagefolder test (30 images)" in evaluated
    assert f"accuracy {100 * summary['test_accuracy']['final']:.2f}%" in evaluated

    assert main(["predict", str(out / LAST), str(split_folder / "test" / "top"), "--top-k", "1"]) == 0
    predictions = capsys.readouterr().out
    assert predictions.count(":\n") == 10 and predictions.count("top") >= 7


def test_flat_grayscale_folder_without_test_split(tmp_path, capsys):
    root = _write_folder(tmp_path / "flat", 10, rgb=False, seed=3)
    out = tmp_path / "run"
    args = ["train", "--dataset", "imagefolder", "--data-dir", str(root), "--out", str(out), "--epochs", "1"]
    assert main([*args, "--val-split", "0.2", "--no-progress", "--model", "lenet5"]) == 0
    assert "24 train / 6 validation / 0 test images" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test_accuracy"] is None and summary["val_accuracy"] is not None
    assert load_checkpoint(out / LAST).header["dataset"]["input_shape"] == [1, 16, 16]


@pytest.fixture(scope="module")
def idx_dir(tmp_path_factory):
    return write_idx_dataset(tmp_path_factory.mktemp("idx"), n_train=120, n_test=40, seed=4)


def _config(**overrides):
    settings = {"model": f"{MODEL_FILE}:TinyNet", "model_args": {"hidden": 6}, "epochs": 2, "batch_size": 20}
    settings.update(lr=0.05, threads=1, checkpoint_every=3, seed=7)
    return TrainConfig(**{**settings, **overrides})


class _StopAt(Trainer):
    def __init__(self, *args, stop_at, **kwargs):
        super().__init__(*args, **kwargs)
        self.stop_at = stop_at

    def train_step(self, x, y):
        result = super().train_step(x, y)
        if self.step + 1 == self.stop_at:
            self.request_stop()
        return result


def _quiet(cls, out, idx_dir, **kwargs):
    return cls(_config(), out, data_dir=idx_dir, progress=False, plots=False, log=lambda _: None, **kwargs)


def test_model_file_trains_and_resumes_exactly(tmp_path, idx_dir):
    _quiet(Trainer, tmp_path / "a", idx_dir).fit()
    with pytest.raises(TrainingInterrupted):
        _quiet(_StopAt, tmp_path / "b", idx_dir, stop_at=7).fit()
    resumed = _quiet(Trainer, tmp_path / "b", idx_dir)
    resumed.restore(load_checkpoint(tmp_path / "b" / LAST))
    resumed.fit()
    a, b = load_checkpoint(tmp_path / "a" / LAST), load_checkpoint(tmp_path / "b" / LAST)
    assert all(np.array_equal(a.model_state[k], b.model_state[k]) for k in a.model_state)
    record = a.header["model"]
    assert record["file"] == str(MODEL_FILE.resolve()) and record["sha256"] == file_sha256(MODEL_FILE)
    assert record["kwargs"] == {"hidden": 6, "num_classes": 10, "in_channels": 1}
    assert "features.1.running_mean" in a.model_state


def test_checkpoint_of_a_model_file_loads_back_and_refuses_a_changed_file(tmp_path, idx_dir, capsys):
    model_file = tmp_path / "net.py"
    shutil.copy(MODEL_FILE, model_file)
    config = _config(model=f"{model_file}:TinyNet", epochs=1)
    Trainer(config, tmp_path / "run", data_dir=idx_dir, progress=False, plots=False, log=lambda _: None).fit()
    ck = load_checkpoint(tmp_path / "run" / LAST)
    assert type(load_model(ck)).__name__ == "TinyNet"
    assert main(["evaluate", str(tmp_path / "run"), "--data-dir", str(idx_dir)]) == 0
    model_file.write_text(model_file.read_text() + "\n# edited\n")
    with pytest.raises(CheckpointError, match="has changed since the checkpoint was written"):
        load_model(ck)


@pytest.mark.parametrize(
    "model, model_args, message",
    [
        ("tests/data/missing.py:Net", None, "no such file"),
        (f"{MODEL_FILE}:Nope", None, "has no class 'Nope'; nn.Module classes there:"),
        (f"{MODEL_FILE}:NotAModule", None, "NotAModule is not a convprop nn.Module subclass"),
        (f"{MODEL_FILE}:TinyNet", {"num_classes": 3}, r"returns shape \(1, 3\), but training needs \(1, 10\)"),
        (f"{MODEL_FILE}:TinyNet", {"depth": 3}, "unexpected keyword argument 'depth'"),
        ("lenet5", {"hidden": 3}, "--model-args is for a model file"),
    ],
)
def test_model_file_errors(tmp_path, idx_dir, model, model_args, message):
    with pytest.raises(ValueError, match=message):
        Trainer(_config(model=model, model_args=model_args), tmp_path, data_dir=idx_dir, progress=False)


def test_help_says_the_model_file_is_run(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "the file's code is run" in " ".join(capsys.readouterr().out.split())


def test_imagefolder_needs_a_data_dir(tmp_path, capsys):
    assert main(["train", "--dataset", "imagefolder", "--out", str(tmp_path / "r")]) == 2
    assert "--dataset imagefolder needs --data-dir DIR" in capsys.readouterr().err
