"""Small synthetic datasets in the official file layouts, for tests, demos and the CLI's own tests.

Each class is a fixed random blocky pattern; every image is its class's pattern
with a random brightness and Gaussian pixel noise. The classes are therefore
easy to learn (a small CNN reaches high accuracy in a few epochs) while the
images are not copies of each other.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from convprop.data.cifar import ARCHIVE_DIR, RECORD_BYTES, write_cifar_archive, write_cifar_batch
from convprop.data.datasets import CIFAR10, FASHION_MNIST
from convprop.data.idx import write_idx


def synthetic_images(
    n: int,
    image_shape: tuple[int, int, int],
    num_classes: int,
    templates_rng: np.random.Generator,
    rng: np.random.Generator,
    block: int = 4,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uint8 images ``(n, *image_shape)`` and balanced int64 labels.

    ``templates_rng`` fixes the class patterns (give train and test generators in the same state
    so that they share them); ``rng`` draws the labels, brightness and noise.
    """
    c, h, w = image_shape
    coarse = templates_rng.random((num_classes, c, -(-h // block), -(-w // block))) < 0.5
    templates = np.kron(coarse, np.ones((block, block)))[:, :, :h, :w]
    labels = rng.permutation(np.arange(n) % num_classes).astype(np.int64)
    brightness = rng.uniform(120, 220, size=(n, 1, 1, 1))
    pixels = 20 + templates[labels] * brightness + rng.normal(0, 30, size=(n, c, h, w))
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8), labels


def _splits(info, n_train: int, n_test: int, seed: int):
    if n_train < 1 or n_test < 1:
        raise ValueError(f"n_train and n_test must be positive, got {n_train} and {n_test}")
    templates_seed = np.random.SeedSequence(seed).spawn(3)
    out = {}
    for split, n, child in (("train", n_train, templates_seed[1]), ("test", n_test, templates_seed[2])):
        out[split] = synthetic_images(
            n,
            info.image_shape,
            len(info.classes),
            np.random.default_rng(templates_seed[0]),
            np.random.default_rng(child),
        )
    return out


def write_idx_dataset(
    root: str | os.PathLike, n_train: int = 300, n_test: int = 100, seed: int = 0, gzip: bool = True
) -> Path:
    """Write a small dataset in Fashion-MNIST's (and MNIST's) layout into ``root``.

    The four files get the official names (``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
    ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``; without ``.gz`` when ``gzip`` is false),
    so ``load_dataset("fashion-mnist", data_dir=root)`` reads them. Images are 28x28, 10 classes.

    Returns:
        ``root`` as a Path.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for split, (images, labels) in _splits(FASHION_MNIST, n_train, n_test, seed).items():
        image_file, label_file = FASHION_MNIST.split_files[split]
        if not gzip:
            image_file, label_file = image_file.removesuffix(".gz"), label_file.removesuffix(".gz")
        write_idx(root / image_file, images[:, 0], compress=gzip)
        write_idx(root / label_file, labels.astype(np.uint8), compress=gzip)
    return root


def write_cifar10_dataset(
    root: str | os.PathLike, n_train: int = 300, n_test: int = 100, seed: int = 0, archive: bool = False
) -> Path:
    """Write a small dataset in CIFAR-10's binary layout into ``root``.

    Writes ``root/cifar-10-batches-bin/`` with ``data_batch_1.bin`` .. ``data_batch_5.bin`` (the
    training images split over the five files), ``test_batch.bin`` and ``batches.meta.txt``; or,
    when ``archive`` is true, the same members packed as ``root/cifar-10-binary.tar.gz``.
    Images are 3x32x32, 10 classes.

    Returns:
        The path written: the batches directory or the archive.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    splits = _splits(CIFAR10, n_train, n_test, seed)
    staging = root / ARCHIVE_DIR
    staging.mkdir(exist_ok=True)
    parts = np.array_split(np.arange(n_train), len(CIFAR10.split_files["train"]))
    images, labels = splits["train"]
    for name, rows in zip(CIFAR10.split_files["train"], parts, strict=True):
        write_cifar_batch(staging / name, images[rows], labels[rows])
    write_cifar_batch(staging / "test_batch.bin", *splits["test"])
    (staging / "batches.meta.txt").write_text("\n".join(CIFAR10.classes) + "\n\n")
    if not archive:
        return staging
    files = {p.name: p.read_bytes() for p in sorted(staging.iterdir())}
    for p in staging.iterdir():
        p.unlink()
    staging.rmdir()
    assert all(len(v) % RECORD_BYTES == 0 for k, v in files.items() if k.endswith(".bin"))
    return write_cifar_archive(root / CIFAR10.archive, files)
