"""``torch.utils.data`` for map-style datasets: ``Dataset``, ``TensorDataset``, ``Subset``, ``random_split``,
``DataLoader``.

``DataLoader(dataset, batch_size=64, shuffle=True)`` yields batches of Tensors,
collated as PyTorch does: samples that are tuples give a tuple of stacked
Tensors, numbers give a 1-D Tensor. A ``TensorDataset`` is sliced once per batch
instead of sample by sample. Shuffling draws from ``generator`` or the default
generator (``convprop.manual_seed``). Loading happens in the calling thread:
``num_workers``, ``pin_memory`` and ``persistent_workers`` are accepted and ignored.
(For image datasets read from disk, see ``convprop.data.DataLoader``.)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

from convprop import random
from convprop.ops.shape import getitem, stack
from convprop.tensor import Tensor, no_grad


class Dataset:
    """Base class of map-style datasets: implement ``__getitem__(index)`` and ``__len__()``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")


class TensorDataset(Dataset):
    """Samples are ``(t[i] for t in tensors)``; every tensor has the same first dimension."""

    def __init__(self, *tensors: Tensor):
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor")
        tensors = tuple(t if isinstance(t, Tensor) else Tensor(t) for t in tensors)
        sizes = [t.shape[0] if t.ndim else None for t in tensors]
        if None in sizes or len(set(sizes)) != 1:
            raise ValueError(f"TensorDataset: size mismatch between tensors, first dimensions {sizes}")
        self.tensors = tensors

    def __getitem__(self, index):
        with no_grad():
            return tuple(getitem(t, index) for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``."""

    def __init__(self, dataset, indices: Sequence[int]):
        self.dataset, self.indices = dataset, list(indices)

    def __getitem__(self, index):
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


def random_split(dataset, lengths: Sequence[int | float], generator=None) -> list[Subset]:
    """Split ``dataset`` at random into non-overlapping subsets, like ``torch.utils.data.random_split``.

    ``lengths`` are sample counts that sum to ``len(dataset)``, or fractions that sum to 1: then each subset
    gets ``floor(len(dataset) * fraction)`` samples and the remaining ones go, one each, to the first subsets.
    The order is a permutation drawn from ``generator``, else from the default generator.

    Example::

        >>> g = convprop.Generator().manual_seed(0)
        >>> train, val = convprop.utils.data.random_split(range(10), [0.8, 0.2], generator=g)
        >>> len(train), len(val)
        (8, 2)
    """
    n, lengths = len(dataset), list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        for i, fraction in enumerate(lengths):
            if not 0 <= fraction <= 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1: {fraction}")
        lengths = [math.floor(n * fraction) for fraction in lengths]
        for i in range(n - sum(lengths)):
            lengths[i % len(lengths)] += 1
        for i, length in enumerate(lengths):
            if length == 0:
                warnings.warn(
                    f"Length of split at index {i} is 0. This might result in an empty dataset.", stacklevel=2
                )
    if sum(lengths) != n:
        raise ValueError(
            f"random_split: sum of input lengths ({sum(lengths)}) does not equal the length of the input dataset ({n})"
        )
    order = random.resolve(generator, "random_split").permutation(n).tolist()
    ends = np.cumsum(lengths, dtype=np.int64).tolist()
    return [Subset(dataset, order[end - length : end]) for length, end in zip(lengths, ends, strict=True)]


def default_collate(samples: list):
    """Stack a list of samples into a batch, recursing into tuples, lists and dicts."""
    first = samples[0]
    if isinstance(first, Tensor):
        with no_grad():
            return stack(samples)
    if isinstance(first, np.ndarray | np.generic | bool | int | float):
        return Tensor(np.stack([np.asarray(s) for s in samples]))
    if isinstance(first, dict):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    if isinstance(first, tuple | list):
        return [default_collate(list(parts)) for parts in zip(*samples, strict=True)]
    raise TypeError(f"default_collate: cannot batch samples of type {type(first).__name__}")


class DataLoader:
    """Iterate over ``dataset`` in batches, like ``torch.utils.data.DataLoader``.

    Args:
        dataset: a map-style dataset (``__getitem__`` and ``__len__``).
        batch_size: samples per batch. Default: 1.
        shuffle: a new random order every epoch. Default: False.
        drop_last: drop the last, incomplete batch. Default: False.
        generator: the generator for shuffling. Default: the default generator.
        collate_fn: turns a list of samples into a batch. Default: :func:`default_collate`.
    """

    def __init__(
        self,
        dataset,
        batch_size: int | None = 1,
        shuffle: bool = False,
        num_workers: int = 0,
        collate_fn=None,
        pin_memory: bool = False,
        drop_last: bool = False,
        generator=None,
        persistent_workers: bool = False,
    ):
        if batch_size is not None and (
            isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0
        ):
            raise ValueError(f"DataLoader: batch_size should be a positive integer value, but got {batch_size!r}")
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be a non-negative int, got {num_workers!r}")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, shuffle, drop_last
        self.collate_fn = default_collate if collate_fn is None else collate_fn
        self.generator = generator
        self.num_workers, self.pin_memory, self.persistent_workers = num_workers, pin_memory, persistent_workers

    def __len__(self) -> int:
        n = len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        order = random.resolve(self.generator, "DataLoader").permutation(n) if self.shuffle else np.arange(n)
        if self.batch_size is None:
            for i in order:
                yield self.dataset[int(i)]
            return
        for k in range(len(self)):
            index = order[k * self.batch_size : (k + 1) * self.batch_size]
            if isinstance(self.dataset, TensorDataset) and self.collate_fn is default_collate:
                yield list(self.dataset[index])
            else:
                yield self.collate_fn([self.dataset[int(i)] for i in index])
