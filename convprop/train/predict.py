"""Using a trained checkpoint: rebuild its model, evaluate it on a dataset, classify image files."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import convprop
from convprop.train.checkpoint import Checkpoint, CheckpointError
from convprop.train.config import TrainConfig
from convprop.train.models import load_model
from convprop.train.trainer import EvalResult, evaluate_model, load_split, load_splits


class ImageError(ValueError):
    """An image file is missing or cannot be decoded."""


def _dataset_facts(ck: Checkpoint) -> dict:
    facts = ck.header.get("dataset")
    if not isinstance(facts, dict) or not {"name", "classes", "mean", "std", "input_shape"} <= set(facts):
        raise CheckpointError(f"{ck.path}: the header lacks the dataset facts (name, classes, normalisation)")
    return facts


def evaluate_checkpoint(
    ck: Checkpoint,
    dataset: str | None = None,
    split: str = "test",
    data_dir: str | os.PathLike | None = None,
    limit: int | None = None,
    batch_size: int = 500,
) -> tuple[EvalResult, list[str], str]:
    """Loss, accuracy and confusion matrix of the checkpoint's model on a dataset split.

    The images are normalised with the statistics saved in the checkpoint (those
    used in training). Returns ``(result, class names, dataset name)``.

    Raises:
        ValueError: the dataset's images or classes do not match the model's.
    """
    from convprop.data.loader import DataLoader

    facts = _dataset_facts(ck)
    name = dataset or facts["name"]
    if split == "val":
        data = _validation_set(ck, name, data_dir)
    else:
        data = load_split(name, split, data_dir, like=(facts["input_shape"], facts["classes"]))
    if data is None:
        raise ValueError(f"{name} in {data_dir} has no {split} split")
    if limit is not None and limit < len(data):
        data = data.subset(slice(0, limit))
    if list(data.images.shape[1:]) != list(facts["input_shape"]) or len(data.classes) != len(facts["classes"]):
        raise ValueError(
            f"{name} has images {data.images.shape[1:]} in {len(data.classes)} classes, but the model was trained "
            f"on {tuple(facts['input_shape'])} in {len(facts['classes'])} classes ({facts['name']})"
        )
    model = load_model(ck)
    loader = DataLoader(data, batch_size=batch_size, normalize=(facts["mean"], facts["std"]))
    return evaluate_model(model, loader, len(data.classes)), list(data.classes), name


def _validation_set(ck: Checkpoint, name: str, data_dir):
    """The run's validation set, drawn again from its settings (the same seed gives the same split)."""
    try:
        cfg = TrainConfig.from_dict(ck.header["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{ck.path}: cannot read the run's settings: {exc}") from None
    if name != cfg.dataset:
        raise ValueError(f"--split val is the validation set of the run's own dataset ({cfg.dataset})")
    val = load_splits(cfg, data_dir)[1]
    if val is None:
        raise ValueError(f"{ck.path}: the run had no validation set (--val-split 0)")
    return val


def load_image(path: str | os.PathLike, input_shape: Sequence[int], invert: bool = False) -> np.ndarray:
    """An image file as a float32 array ``(C, H, W)`` in [0, 1], converted to the model's channels and size.

    One channel: Pillow's ``L`` (luma) conversion; three: ``RGB``; 16-bit grayscale is scaled to 8 bits
    first. The image is resized with bilinear filtering (Pillow's default antialiasing when shrinking).
    """
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError as exc:
        raise ImageError("reading images needs Pillow: pip install 'convprop[train]'") from exc
    channels, height, width = (int(v) for v in input_shape)
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"image not found: {path}")
    try:
        with Image.open(path) as img:
            if img.mode == "I" or img.mode.startswith("I;16"):
                # 16-bit grayscale (PNG opens as I;16 or I): Pillow's convert() clips values to 255 instead of
                # scaling them, so map 0..65535 onto 0..255 first (65535 / 255 = 257; exact for 8-bit * 257).
                wide = np.asarray(img, dtype=np.float64)
                img = Image.fromarray(np.clip(np.round(wide / 257), 0, 255).astype(np.uint8))
            img = img.convert("L" if channels == 1 else "RGB")
            if img.size != (width, height):
                img = img.resize((width, height), Image.Resampling.BILINEAR)
            pixels = np.asarray(img, dtype=np.float32) / 255
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageError(f"cannot read image {path}: {exc}") from None
    pixels = pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)
    return 1 - pixels if invert else pixels


def predict_images(
    model, ck: Checkpoint, paths: Sequence[str | os.PathLike], top_k: int = 3, invert: bool = False
) -> list[list[tuple[str, float]]]:
    """The ``top_k`` (class name, probability) pairs for each image file, most likely first."""
    facts = _dataset_facts(ck)
    x = np.stack([load_image(p, facts["input_shape"], invert) for p in paths])
    mean = np.asarray(facts["mean"], np.float32)[:, None, None]
    std = np.asarray(facts["std"], np.float32)[:, None, None]
    with convprop.no_grad():
        probs = model.eval()(convprop.Tensor((x - mean) / std)).softmax(1).data
    classes = facts["classes"]
    k = min(top_k, len(classes))
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return [[(classes[j], float(row[j])) for j in top] for row, top in zip(probs, order, strict=True)]
