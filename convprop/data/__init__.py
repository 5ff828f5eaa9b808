"""Datasets, loading and augmentation: IDX and CIFAR-10 readers, safe downloads, DataLoader, transforms.

Quick start::

    import numpy as np
    from convprop.data import DataLoader, load_dataset, transforms

    train = load_dataset("fashion-mnist", "train")          # uint8 (60000, 1, 28, 28), int64 labels
    loader = DataLoader(train, batch_size=128, shuffle=True, generator=np.random.default_rng(0),
                        transform=transforms.RandomHorizontalFlip(), normalize=train.normalization)
    for images, labels in loader:                            # float32 (128, 1, 28, 28), int64 (128,)
        ...
"""

from convprop.data import transforms
from convprop.data.cifar import read_cifar_archive, read_cifar_batches, write_cifar_batch
from convprop.data.datasets import (
    DATASETS,
    DEFAULT_DATASET,
    DatasetInfo,
    ImageDataset,
    load_dataset,
    search_dirs,
)
from convprop.data.download import DownloadError, download_file, sha256_of
from convprop.data.errors import DatasetError
from convprop.data.idx import read_idx, write_idx
from convprop.data.loader import DataLoader
from convprop.data.synthetic import write_cifar10_dataset, write_idx_dataset

__all__ = [
    "DATASETS",
    "DEFAULT_DATASET",
    "DataLoader",
    "DatasetError",
    "DatasetInfo",
    "DownloadError",
    "ImageDataset",
    "download_file",
    "load_dataset",
    "read_cifar_archive",
    "read_cifar_batches",
    "read_idx",
    "search_dirs",
    "sha256_of",
    "transforms",
    "write_cifar10_dataset",
    "write_cifar_batch",
    "write_idx",
    "write_idx_dataset",
]
