"""Using a trained checkpoint: rebuild its model, evaluate it on a dataset, classify image files."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

import convprop
from convprop.data.datasets import border_brightness
from convprop.data.errors import DatasetError
from convprop.data.imagefolder import SUFFIXES, decode_image
from convprop.train.checkpoint import Checkpoint, CheckpointError
from convprop.train.config import TrainConfig
from convprop.train.models import load_model
from convprop.train.state import dataset_facts
from convprop.train.trainer import EvalResult, evaluate_model, load_split, load_splits


class ImageError(ValueError):
    """An image file is missing or cannot be decoded, or a folder holds no images."""


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

    facts = dataset_facts(ck.header, ck.path)
    name = dataset or facts.name
    if split == "val":
        data = _validation_set(ck, name, data_dir)
    else:
        shape = facts.input_shape
        data = load_split(name, split, data_dir, like=(shape, facts.classes), image_size=shape[1])
    if data is None:
        raise ValueError(f"{name} in {data_dir} has no {split} split")
    if len(data) == 0:
        raise ValueError(f"the {split} set of {name} ({data.source}) holds no images: nothing to evaluate")
    if limit is not None and limit < len(data):
        data = data.subset(slice(0, limit))
    if list(data.images.shape[1:]) != list(facts.input_shape) or len(data.classes) != len(facts.classes):
        raise ValueError(
            f"{name} has images {data.images.shape[1:]} in {len(data.classes)} classes, but the model was trained "
            f"on {tuple(facts.input_shape)} in {len(facts.classes)} classes ({facts.name})"
        )
    model = load_model(ck)
    loader = DataLoader(data, batch_size=batch_size, normalize=(facts.mean, facts.std))
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
    A file whose header declares more pixels than convprop decodes is refused before decoding.
    """
    channels, height, width = (int(v) for v in input_shape)
    try:
        pixels = decode_image(path, channels, height, width).astype(np.float32) / 255
    except (DatasetError, RuntimeError) as exc:
        raise ImageError(str(exc)) from None
    return 1 - pixels if invert else pixels


def image_files(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """The image files named by ``paths``: a folder stands for its PNG/JPEG files, sorted by name.

    Raises:
        ImageError: a folder without images.
    """
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())
            if not inside:
                raise ImageError(f"{path} is a folder without PNG or JPEG images")
            files += inside
        else:
            files.append(path)
    return files


def looks_inverted(pixels: np.ndarray, training_border: float) -> bool:
    """True when the image's background is far from the training images' and its inverse is close to it.

    E.g. a dark shoe on a white page given to a model trained on Fashion-MNIST (light objects on black).
    """
    border = border_brightness(pixels)
    return abs(border - training_border) > 0.5 and abs((1 - border) - training_border) < 0.25


def predict_images(
    model,
    ck: Checkpoint,
    paths: Sequence[str | os.PathLike],
    top_k: int = 3,
    invert: bool = False,
    warn: Callable[[str], None] | None = None,
) -> list[list[tuple[str, float]]]:
    """The ``top_k`` (class name, probability) pairs for each image file, most likely first.

    ``warn`` is called with one line for each image that looks inverted relative to the training images
    (see :func:`looks_inverted`): the model's answer for it is likely meaningless.
    """
    facts = dataset_facts(ck.header, ck.path)
    # Checkpoints written before the border brightness was recorded: the mean is a rougher guide to the background.
    training_border = facts.border_brightness if facts.border_brightness is not None else float(np.mean(facts.mean))
    x = np.stack([load_image(p, facts.input_shape, invert) for p in paths])
    if warn is not None:
        for path, pixels in zip(paths, x, strict=True):
            if looks_inverted(pixels, training_border):
                light = "light" if training_border < 0.5 else "dark"
                fix = "without --invert" if invert else "with --invert"
                warn(
                    f"{path} looks inverted relative to the training images (which have a {light} object on a "
                    f"{'dark' if light == 'light' else 'light'} background): try {fix}"
                )
    mean = np.asarray(facts.mean, np.float32)[:, None, None]
    std = np.asarray(facts.std, np.float32)[:, None, None]
    with convprop.no_grad():
        probs = model.eval()(convprop.Tensor((x - mean) / std)).softmax(1).data
    classes = facts.classes
    k = min(top_k, len(classes))
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return [[(classes[j], float(row[j])) for j in top] for row, top in zip(probs, order, strict=True)]
