"""Resizing and padding layers: ``Upsample``, ``PixelShuffle``, ``ZeroPad2d`` and the other padding layers.

Each holds its options and calls ``F.interpolate``, ``F.pixel_shuffle`` or ``F.pad``.
"""

from __future__ import annotations

from convprop.nn import functional as F
from convprop.nn.modules.module import Module


class Upsample(Module):
    """Resize the spatial axes, like ``torch.nn.Upsample``: see ``F.interpolate``.

    Args:
        size: the output size; or give ``scale_factor``.
        scale_factor: multiplier of each spatial size.
        mode: ``'nearest'``, ``'linear'`` or ``'bilinear'``. Default: ``'nearest'``.
        align_corners: for the linear modes, map the corner pixels onto each other. Default: None (False).
    """

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None):  # fmt: skip
        super().__init__()
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, input):
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)  # fmt: skip

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode='{self.mode}'"


class UpsamplingNearest2d(Upsample):
    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class PixelShuffle(Module):
    """(N, C·r², H, W) -> (N, C, H·r, W·r); see ``F.pixel_shuffle``."""

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input):
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(N, C, H·r, W·r) -> (N, C·r², H, W); see ``F.pixel_unshuffle``."""

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input):
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class _PadNd(Module):
    """Pad the last ``_dims`` axes by ``padding`` (an int, or (left, right[, top, bottom[, front, back]]))."""

    _dims = 2
    _mode = "constant"

    def __init__(self, padding, value: float = 0.0):
        super().__init__()
        n = 2 * self._dims
        if isinstance(padding, int):
            padding = (padding,) * n
        if len(padding) != n:
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple of {n} ints, got {padding}")
        self.padding, self.value = tuple(padding), value

    def forward(self, input):
        if input.ndim not in (self._dims + 1, self._dims + 2):
            raise ValueError(
                f"{type(self).__name__}: expected a {self._dims + 1}-D or {self._dims + 2}-D input, got shape "
                f"{input.shape}"
            )
        return F.pad(input, self.padding, self._mode, self.value)

    def extra_repr(self) -> str:
        return f"{self.padding}" + (f", value={self.value}" if self._mode == "constant" else "")


class ConstantPad1d(_PadNd):
    _dims = 1


class ConstantPad2d(_PadNd):
    """Pad (N, C, H, W) with ``value``: padding = (left, right, top, bottom) or one int."""


class ZeroPad1d(ConstantPad1d):
    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ZeroPad2d(ConstantPad2d):
    """Pad (N, C, H, W) with zeros: padding = (left, right, top, bottom) or one int."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ReflectionPad1d(_PadNd):
    _dims, _mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    """Pad by mirroring about the edge (the edge itself not repeated)."""

    _mode = "reflect"


class ReplicationPad1d(_PadNd):
    _dims, _mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    """Pad by repeating the edge values."""

    _mode = "replicate"


class CircularPad2d(_PadNd):
    """Pad by wrapping around (the opposite edge)."""

    _mode = "circular"
