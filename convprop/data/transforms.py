"""Batch transforms for data augmentation, vectorised over the whole batch.

Every transform is called as ``transform(batch, generator)`` on an ``(N, C, H, W)``
array and returns a new array (the input is never modified). Random transforms
draw from the explicit ``np.random.Generator`` they are given, one draw per
image, so a seeded generator reproduces the augmentation exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from convprop.ops._args import nonnegative, positive


def _check_batch(batch: np.ndarray, op: str) -> np.ndarray:
    batch = np.asarray(batch)
    if batch.ndim != 4:
        raise ValueError(f"{op}: expected a batch of shape (N, C, H, W), got shape {batch.shape}")
    return batch


def _check_generator(generator, op: str) -> np.random.Generator:
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"{op}: a random transform needs a np.random.Generator, got {type(generator).__name__}")
    return generator


class Compose:
    """Apply transforms one after the other, each with the same generator.

    Example:
        >>> augment = Compose([RandomCrop(28, padding=2), RandomHorizontalFlip()])
        >>> out = augment(np.zeros((8, 1, 28, 28), np.float32), np.random.default_rng(0))
    """

    def __init__(self, transforms: Sequence):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose: every transform must be callable, got {type(t).__name__}")

    def __call__(self, batch: np.ndarray, generator: np.random.Generator | None = None) -> np.ndarray:
        for t in self.transforms:
            batch = t(batch, generator)
        return batch

    def __repr__(self) -> str:
        return "Compose(" + ", ".join(map(repr, self.transforms)) + ")"


class RandomHorizontalFlip:
    """Mirror each image left-right with probability ``p``, independently per image.

    Args:
        p: probability of flipping an image (default 0.5).

    Shape:
        Input and output: ``(N, C, H, W)``.
    """

    def __init__(self, p: float = 0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}")
        self.p = float(p)

    def __call__(self, batch: np.ndarray, generator: np.random.Generator | None = None) -> np.ndarray:
        batch = _check_batch(batch, "RandomHorizontalFlip")
        flip = _check_generator(generator, "RandomHorizontalFlip").random(len(batch)) < self.p
        out = batch.copy()
        out[flip] = batch[flip, ..., ::-1]
        return out

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class RandomCrop:
    """Pad each image, then cut a ``size`` window at a random position, independently per image.

    As torchvision's ``RandomCrop``: the output pixel ``(y, x)`` of image ``n`` is the padded
    input's pixel ``(y + i_n, x + j_n)`` with ``i_n`` uniform in ``0 .. H + pad_top + pad_bottom - h``
    and ``j_n`` uniform in ``0 .. W + pad_left + pad_right - w``.

    Args:
        size: output ``(h, w)``, or an int for a square.
        padding: int (all sides), ``(left/right, top/bottom)`` or ``(left, top, right, bottom)``; default 0.
        fill: value of the padded pixels when ``padding_mode="constant"``.
        padding_mode: ``"constant"``, ``"edge"``, ``"reflect"`` or ``"symmetric"`` (as NumPy's ``np.pad``).

    Shape:
        Input ``(N, C, H, W)``; output ``(N, C, h, w)``.

    Example:
        >>> crop = RandomCrop(32, padding=4)
        >>> crop(np.zeros((16, 3, 32, 32), np.float32), np.random.default_rng(0)).shape
        (16, 3, 32, 32)
    """

    _MODES = ("constant", "edge", "reflect", "symmetric")

    def __init__(self, size, padding=0, fill: float = 0, padding_mode: str = "constant"):
        self.size = positive(size, 2, "size", "RandomCrop")
        if isinstance(padding, Sequence) and len(padding) not in (1, 2, 4):
            raise ValueError(f"RandomCrop: padding must be an int or a tuple of 2 or 4 ints, got {tuple(padding)}")
        if isinstance(padding, Sequence) and len(padding) == 4:
            left, top, right, bottom = nonnegative(padding, 4, "padding", "RandomCrop")
        else:
            left, top = nonnegative(padding, 2, "padding", "RandomCrop")
            right, bottom = left, top
        self.padding = (left, top, right, bottom)
        if padding_mode not in self._MODES:
            raise ValueError(f"RandomCrop: padding_mode must be one of {self._MODES}, got {padding_mode!r}")
        self.fill, self.padding_mode = fill, padding_mode

    def __call__(self, batch: np.ndarray, generator: np.random.Generator | None = None) -> np.ndarray:
        batch = _check_batch(batch, "RandomCrop")
        generator = _check_generator(generator, "RandomCrop")
        left, top, right, bottom = self.padding
        h, w = self.size
        ph, pw = batch.shape[2] + top + bottom, batch.shape[3] + left + right
        if h > ph or w > pw:
            raise ValueError(
                f"RandomCrop: crop size {(h, w)} is larger than the padded image {(ph, pw)} "
                f"(input {batch.shape[2:]}, padding {self.padding})"
            )
        widths = ((0, 0), (0, 0), (top, bottom), (left, right))
        kwargs = {"constant_values": self.fill} if self.padding_mode == "constant" else {}
        padded = np.pad(batch, widths, mode=self.padding_mode, **kwargs) if any(self.padding) else batch
        n = len(batch)
        i = generator.integers(0, ph - h + 1, size=n)
        j = generator.integers(0, pw - w + 1, size=n)
        # windows[n, c, i, j] is the h x w crop whose top-left corner is (i, j); the advanced indices
        # (n, i, j) pick one window per image in a single gather.
        windows = np.lib.stride_tricks.sliding_window_view(padded, (h, w), axis=(2, 3))
        return windows[np.arange(n), :, i, j]

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding}, padding_mode={self.padding_mode!r})"


class Normalize:
    """Subtract a per-channel mean and divide by a per-channel standard deviation.

    ``out[:, c] = (batch[:, c] - mean[c]) / std[c]``, computed in the batch's floating dtype
    (integer batches become float32).

    Args:
        mean, std: one value per channel, or one value for all channels.
    """

    def __init__(self, mean, std):
        self.mean = np.atleast_1d(np.asarray(mean, np.float64))
        self.std = np.atleast_1d(np.asarray(std, np.float64))
        if self.mean.ndim != 1 or self.std.ndim != 1:
            raise ValueError(f"Normalize: mean and std must be 1-D, got shapes {self.mean.shape}, {self.std.shape}")
        if np.any(self.std <= 0):
            raise ValueError(f"Normalize: std must be positive, got {self.std.tolist()}")

    def __call__(self, batch: np.ndarray, generator: np.random.Generator | None = None) -> np.ndarray:
        batch = _check_batch(batch, "Normalize")
        channels = batch.shape[1]
        for name, v in (("mean", self.mean), ("std", self.std)):
            if len(v) not in (1, channels):
                raise ValueError(f"Normalize: {name} has {len(v)} values but the batch has {channels} channels")
        dtype = batch.dtype if np.issubdtype(batch.dtype, np.floating) else np.dtype(np.float32)
        scale = (1.0 / self.std).astype(dtype)[:, None, None]
        shift = (self.mean / self.std).astype(dtype)[:, None, None]
        return batch * scale - shift

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"
