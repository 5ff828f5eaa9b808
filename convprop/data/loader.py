"""DataLoader: whole-batch gathering, seeded shuffling, augmentation and normalisation.

Reproducibility and exact resume
--------------------------------
All randomness comes from the loader's ``generator`` (an ``np.random.Generator``).
At the start of every epoch the loader draws, from that generator, the epoch's
permutation (when ``shuffle``) and one 63-bit seed for the transforms (when a
``transform`` is set); batch ``k`` of the epoch is then augmented with its own
generator ``np.random.default_rng([seed, k])``. A batch's content therefore
depends only on the generator state at the start of its epoch and on ``k``.

``state_dict()`` returns ``{"generator": <bit_generator.state at the start of the
current epoch>, "batches_done": <batches already yielded in it>}``, a JSON-
serialisable dict (between epochs ``batches_done`` is 0 and the state is the
current one). After ``load_state_dict(state)``, the next iteration redraws the
same permutation and seed and resumes at batch ``batches_done``: a run
checkpointed after any batch and resumed sees exactly the batches an
uninterrupted run sees. Give the loader a generator of its own (not shared with,
say, dropout), or the other consumer's draws will shift its stream.

Data parallelism
----------------
With ``shard=`` (a :class:`convprop.distributed.ShardedSampler`), ``batch_size`` is the
global batch: every process draws the same permutation and augmentation seed, augments the
whole global batch and keeps its own contiguous rows of it, so the K processes' batches
together are the one process's batch, image for image (augmentation draws one value per image
of the whole batch, which is why the whole batch is augmented before slicing).
"""

from __future__ import annotations

import copy

import numpy as np

from convprop.data.datasets import ImageDataset
from convprop.data.transforms import Normalize


class DataLoader:
    """Iterate over a dataset in batches of float images and int64 labels.

    Each batch is gathered with one fancy-indexing operation, converted to float
    ``pixel / 255`` (for uint8 images), passed through ``transform`` and finally
    normalised: ``(x - mean[c]) / std[c]``.

    Args:
        dataset: an :class:`ImageDataset`, or a tuple ``(images, labels)`` of arrays
            (uint8 or float images ``(N, C, H, W)``, integer labels ``(N,)``).
        batch_size: images per batch (default 64).
        shuffle: visit the images in a new random order every epoch.
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        generator: the ``np.random.Generator`` used for shuffling and augmentation; a fresh
            unseeded one (``np.random.default_rng()``) when omitted.
        transform: ``transform(batch, generator)`` applied to each float batch before
            normalisation, e.g. ``Compose([RandomCrop(28, 2), RandomHorizontalFlip()])``.
        normalize: ``(mean, std)`` per channel in pixel / 255 units (e.g. ``dataset.normalization``);
            ``None`` leaves the values in [0, 1].
        dtype: floating type of the image batches (default float32).
        shard: a :class:`convprop.distributed.ShardedSampler`: yield only this process's rows of each
            batch of ``batch_size`` (see "Data parallelism" above); ``None``: whole batches.

    Yields:
        ``(images, labels)``: ``images`` of shape ``(B, C, H, W)`` and type ``dtype``, ``labels``
        int64 of shape ``(B,)``, both NumPy arrays (wrap them with ``convprop.tensor``).

    Example:
        >>> train = load_dataset("fashion-mnist", "train")
        >>> loader = DataLoader(train, batch_size=128, shuffle=True,
        ...                     generator=np.random.default_rng(0), normalize=train.normalization)
        >>> images, labels = next(iter(loader))
        >>> images.shape, images.dtype, labels.dtype
        ((128, 1, 28, 28), dtype('float32'), dtype('int64'))
    """

    def __init__(
        self,
        dataset,
        batch_size: int = 64,
        shuffle: bool = False,
        drop_last: bool = False,
        generator: np.random.Generator | None = None,
        transform=None,
        normalize=None,
        dtype=np.float32,
        shard=None,
    ):
        if isinstance(dataset, tuple):
            if len(dataset) != 2:
                raise ValueError(f"DataLoader: dataset tuple must be (images, labels), got {len(dataset)} items")
            images, labels = np.asarray(dataset[0]), np.asarray(dataset[1])
        elif isinstance(dataset, ImageDataset):
            images, labels = dataset.images, dataset.labels
        else:
            raise TypeError(f"DataLoader: dataset must be an ImageDataset or (images, labels), got {type(dataset)}")
        if images.ndim != 4:
            raise ValueError(f"DataLoader: images must have shape (N, C, H, W), got {images.shape}")
        if labels.ndim != 1 or len(labels) != len(images):
            raise ValueError(
                f"DataLoader: labels must have shape ({len(images)},) to match images {images.shape}, "
                f"got {labels.shape}"
            )
        if not np.issubdtype(labels.dtype, np.integer):
            raise TypeError(f"DataLoader: labels must be integers, got {labels.dtype}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) or batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(f"DataLoader: generator must be a np.random.Generator, got {type(generator).__name__}")
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: transform must be callable, got {type(transform).__name__}")
        self.dtype = np.dtype(dtype)
        if not np.issubdtype(self.dtype, np.floating):
            raise TypeError(f"DataLoader: dtype must be a floating type, got {self.dtype}")
        self.images, self.labels = images, labels.astype(np.int64, copy=False)
        self.dataset = dataset
        self.batch_size, self.shuffle, self.drop_last = int(batch_size), bool(shuffle), bool(drop_last)
        self.generator = generator if generator is not None else np.random.default_rng()
        self.transform = transform
        self.shard = shard
        if normalize is not None and (not isinstance(normalize, tuple | list) or len(normalize) != 2):
            raise ValueError(f"DataLoader: normalize must be a pair (mean, std) or None, got {normalize!r}")
        self.normalize = None if normalize is None else Normalize(*normalize)
        self._epoch_state = self.generator.bit_generator.state
        self._batches_done = 0
        self._resume = False

    def __len__(self) -> int:
        """Batches per epoch."""
        n = len(self.labels)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        # The epoch's draws happen here, not at the first next(), so state_dict() is right at once.
        if not self._resume:
            self._epoch_state = self.generator.bit_generator.state
            self._batches_done = 0
        self.generator.bit_generator.state = self._epoch_state
        self._resume = False
        order = self.generator.permutation(len(self.labels)) if self.shuffle else None
        seed = int(self.generator.integers(2**63)) if self.transform is not None else None
        return self._batches(order, seed)

    def _batches(self, order: np.ndarray | None, seed: int | None):
        n = len(self.labels)
        for k in range(self._batches_done, len(self)):
            rows = slice(k * self.batch_size, min((k + 1) * self.batch_size, n))
            index = order[rows] if order is not None else np.arange(rows.start, rows.stop)
            mine = slice(None) if self.shard is None else self.shard.shard(len(index))
            # Augmentation draws per image of the whole batch; without it, gather only this process's rows.
            x = self.images[index if self.transform is not None else index[mine]]
            # As torchvision's ToTensor: uint8 pixels are divided by 255.
            x = np.divide(x, 255, dtype=self.dtype) if x.dtype == np.uint8 else x.astype(self.dtype)
            if self.transform is not None:
                x = self.transform(x, np.random.default_rng([seed, k]))[mine]
            index = index[mine]
            if self.normalize is not None:
                x = self.normalize(x)
            self._batches_done = k + 1
            yield x, self.labels[index]
        # The epoch is complete: the next one starts from the generator's current state.
        self._epoch_state = self.generator.bit_generator.state
        self._batches_done = 0

    def state_dict(self) -> dict:
        """The position of the loader: generator state at the current epoch's start and batches done (JSON-safe)."""
        return {"generator": copy.deepcopy(self._epoch_state), "batches_done": self._batches_done}

    def load_state_dict(self, state: dict):
        """Restore a ``state_dict()``: the next iteration continues exactly where that state was taken."""
        try:
            generator_state, done = state["generator"], int(state["batches_done"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f"DataLoader.load_state_dict: expected keys 'generator' and 'batches_done' ({exc})"
            ) from None
        if not 0 <= done <= len(self):
            raise ValueError(f"DataLoader.load_state_dict: batches_done must be in 0..{len(self)}, got {done}")
        try:
            self.generator.bit_generator.state = generator_state
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(
                f"DataLoader.load_state_dict: the saved generator state does not fit this loader's "
                f"{type(self.generator.bit_generator).__name__} ({exc})"
            ) from None
        self._epoch_state = copy.deepcopy(generator_state)
        self._batches_done = done
        self._resume = True

    def __repr__(self) -> str:
        return (
            f"DataLoader({len(self.labels)} images, batch_size={self.batch_size}, shuffle={self.shuffle}, "
            f"drop_last={self.drop_last}, transform={self.transform!r}, normalize={self.normalize!r})"
        )
