"""Folders of your own images: one subfolder of PNG/JPEG files per class (the ImageFolder convention).

::

    DIR/                      or     DIR/train/<class>/*.png   (also DIR/val/ and DIR/test/, both optional)
      cat/0001.png
      dog/0001.jpg

Class names are the subfolder names in sorted order. Every image is converted to
grayscale (when all training images are grayscale) or RGB, and resized to
``image_size`` x ``image_size`` with bilinear filtering. Image sizes are read from
the file headers before anything is decoded, so a file whose header declares an
enormous image is refused with a clear error instead of exhausting memory.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from convprop.data.errors import DatasetError

SUFFIXES = (".png", ".jpg", ".jpeg")
# The most pixels convprop decodes from one file (8192 x 8192, 192 MB as RGB): far beyond any training
# image, and below Pillow's decompression-bomb warning (89 M pixels) and error (179 M pixels).
MAX_PIXELS = 1 << 26
_GRAY_MODES = {"1", "L", "LA", "I", "F"}


def _pillow():
    try:
        from PIL import Image
    except ImportError as exc:
        raise RuntimeError("reading image files needs Pillow: pip install 'convprop[train]'") from exc
    return Image


def image_size_of(path: Path) -> tuple[tuple[int, int], str]:
    """``((width, height), mode)`` from the file's header, without decoding its pixels.

    Raises:
        DatasetError: not a readable image, or one larger than :data:`MAX_PIXELS`.
    """
    Image = _pillow()
    try:
        with warnings.catch_warnings():
            # Pillow warns above 89 M pixels and raises above twice that; convprop's own limit speaks first.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                size, mode = img.size, img.mode
    except Image.DecompressionBombError as exc:  # Pillow's own message holds the declared number of pixels
        raise DatasetError(f"{path}: too large to decode ({exc})") from None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read image {path}: {exc}") from None
    if size[0] * size[1] > MAX_PIXELS:
        raise DatasetError(
            f"{path}: its header declares {size[0]}x{size[1]} pixels, more than convprop decodes "
            f"({MAX_PIXELS} pixels); resize it first"
        )
    return size, mode


def decode_image(path: str | os.PathLike, channels: int, height: int, width: int) -> np.ndarray:
    """An image file as uint8 ``(channels, height, width)``: ``L`` (luma) or ``RGB``, resized bilinearly.

    16-bit grayscale is scaled to 8 bits first (Pillow's convert() would clip it to 255).

    Raises:
        DatasetError: missing, unreadable or too large a file.
    """
    Image = _pillow()
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"image not found: {path}" + (" (a folder)" if path.is_dir() else ""))
    image_size_of(path)
    try:
        with Image.open(path) as img:
            if img.mode == "I" or img.mode.startswith("I;16"):
                # 65535 / 255 = 257: exact for 8-bit values stored as 16-bit (v * 257).
                wide = np.asarray(img, dtype=np.float64)
                img = Image.fromarray(np.clip(np.round(wide / 257), 0, 255).astype(np.uint8))
            img = img.convert("L" if channels == 1 else "RGB")
            if img.size != (width, height):
                img = img.resize((width, height), Image.Resampling.BILINEAR)
            pixels = np.asarray(img, dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DatasetError(f"cannot read image {path}: {exc}") from None
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


def has_split_folders(root: Path) -> bool:
    return (root / "train").is_dir()


def _class_folders(root: Path) -> list[Path]:
    if not root.is_dir():
        raise DatasetError(f"image folder not found: {root}" + (" (it is a file)" if root.exists() else ""))
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())


def read_image_folder(
    root: str | os.PathLike,
    image_size: int | None = None,
    channels: int | None = None,
    classes: Sequence[str] | None = None,
    name: str = "imagefolder",
    split: str = "train",
):
    """All images under ``root`` (one subfolder per class) as an :class:`ImageDataset` of uint8 images.

    Args:
        root: the folder of class subfolders.
        image_size: the side of the square images produced; default: the images' own size when they
            all share one square size.
        channels: 1 or 3; default 1 when every image is grayscale, else 3.
        classes: the class names of the training set, for a validation or test folder: each subfolder
            must be one of them (or its index). Default: the subfolder names, sorted.
        name, split: for messages and the dataset's repr.

    The dataset's ``mean`` and ``std`` are its own per-channel statistics (pixel / 255).

    Raises:
        DatasetError: a missing folder, no class subfolders, no images, an unknown class, a bad or
            too large image, or images of different sizes without ``image_size``.
    """
    from convprop.data.datasets import ImageDataset

    root = Path(root)
    folders = _class_folders(root)
    if classes is None:
        classes = [f.name for f in folders]
        index = {c: i for i, c in enumerate(classes)}
    else:
        classes = list(classes)
        index = {c: i for i, c in enumerate(classes)} | {str(i): i for i in range(len(classes))}
        unknown = [f.name for f in folders if f.name not in index]
        if unknown:
            raise DatasetError(
                f"{root}: subfolder {unknown[0]!r} is not a class of the training set "
                f"(name a folder after a class or its index 0..{len(classes) - 1})"
            )
    files = [(path, index[f.name]) for f in folders for path in _images_in(f)]
    if not files:
        raise DatasetError(
            f"{root}: no images found ({name} {split} wants one subfolder of {'/'.join(SUFFIXES)} files per class)"
        )
    headers = [image_size_of(path) for path, _ in files]
    if channels is None:
        channels = 1 if all(mode in _GRAY_MODES or mode.startswith("I;16") for _, mode in headers) else 3
    if image_size is None:
        sizes = {size for size, _ in headers}
        if len(sizes) != 1 or len({*next(iter(sizes))}) != 1:
            raise DatasetError(
                f"{root}: the images have {len(sizes)} different sizes or are not square; choose one with --image-size"
            )
        image_size = next(iter(sizes))[0]
    images = np.empty((len(files), channels, image_size, image_size), dtype=np.uint8)
    for i, (path, _) in enumerate(files):
        images[i] = decode_image(path, channels, image_size, image_size)
    labels = np.array([label for _, label in files], dtype=np.int64)
    scaled = images.reshape(len(images), channels, -1) / 255.0
    mean = scaled.mean(axis=(0, 2))
    std = np.maximum(scaled.std(axis=(0, 2)), 1e-3)  # a constant channel must not divide by zero
    return ImageDataset(images, labels, classes, mean, std, name, split, root)
