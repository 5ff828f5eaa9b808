r"""Resizing images: ``interpolate`` (nearest, nearest-exact, area, (bi/tri)linear) and ``pixel_shuffle``.

Interpolation is linear in the input, so along each resized axis it is a matrix
product: :math:`Y = A_H X A_W^T` with :math:`A` of shape (out, in) holding each
output position's weights over the input positions (one 1 per row for
``nearest``, two weights λ, 1-λ for ``bilinear``). The backward pass is the
transpose, :math:`\partial L/\partial X = A_H^T (\partial L/\partial Y) A_W`, which
``matmul`` already computes.
"""

from __future__ import annotations

import math

import numpy as np

from convprop.ops.linalg import matmul
from convprop.ops.shape import permute, reshape
from convprop.tensor import Tensor

# mode -> the number of spatial axes it takes (None: any of 1, 2, 3)
_MODES = {"nearest": None, "nearest-exact": None, "area": None, "linear": 1, "bilinear": 2, "trilinear": 3}


def _weights(n_in: int, n_out: int, mode: str, align_corners: bool, scale: float | None, dtype) -> np.ndarray:
    """The (n_out, n_in) matrix A of one axis, with PyTorch's source coordinates."""
    a = np.zeros((n_out, n_in), dtype=dtype)
    dst = np.arange(n_out, dtype=np.float64)
    rows = np.arange(n_out)
    # PyTorch uses 1 / scale_factor when a scale factor was given, else in / out
    ratio = 1.0 / scale if scale is not None else n_in / n_out
    if mode in ("nearest", "nearest-exact"):
        shift = 0.5 if mode == "nearest-exact" else 0.0  # nearest-exact samples at pixel centres
        src = np.minimum(np.floor((dst + shift) * ratio).astype(np.int64), n_in - 1)
        a[rows, src] = 1
        return a
    if mode == "area":  # adaptive average pooling: output i averages inputs [floor(i·in/out), ceil((i+1)·in/out))
        start = (np.arange(n_out) * n_in) // n_out
        end = -((-(np.arange(n_out) + 1) * n_in) // n_out)
        inside = (np.arange(n_in) >= start[:, None]) & (np.arange(n_in) < end[:, None])
        return (inside / (end - start)[:, None]).astype(dtype)
    if align_corners:
        src = dst * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(n_out)
    else:
        src = np.maximum(ratio * (dst + 0.5) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lam = src - i0
    np.add.at(a, (rows, i0), 1 - lam)
    np.add.at(a, (rows, i1), lam)
    return a


def interpolate(
    input: Tensor,
    size=None,
    scale_factor=None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
) -> Tensor:
    """Resize the spatial axes of (N, C, L), (N, C, H, W) or (N, C, D, H, W), like ``F.interpolate``.

    Give ``size`` (the output size) or ``scale_factor``; ``mode`` is ``'nearest'``, ``'nearest-exact'``,
    ``'area'`` (any input), ``'linear'`` (3-D), ``'bilinear'`` (4-D) or ``'trilinear'`` (5-D); ``'bicubic'``
    is not provided.
    """
    if mode not in _MODES:
        raise ValueError(f"interpolate: mode must be one of {tuple(_MODES)}, got {mode!r}")
    spatial = input.ndim - 2
    if spatial not in (1, 2, 3) or (_MODES[mode] is not None and _MODES[mode] != spatial):
        raise ValueError(f"interpolate: mode {mode!r} does not take an input of shape {input.shape}")
    if _MODES[mode] is None and align_corners is not None:
        raise ValueError("interpolate: align_corners can only be set with the linear modes")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    in_sizes = input.shape[2:]
    scales: tuple[float | None, ...]
    if size is not None:
        out_sizes = (size,) * spatial if isinstance(size, int) else tuple(size)
        scales = (None,) * spatial
    else:
        factors = (scale_factor,) * spatial if isinstance(scale_factor, int | float) else tuple(scale_factor)
        if len(factors) != spatial or not all(f > 0 for f in factors):
            raise ValueError(f"interpolate: scale_factor must be positive, one per spatial axis, got {scale_factor}")
        out_sizes = tuple(math.floor(n * f) for n, f in zip(in_sizes, factors, strict=True))
        scales = (None,) * spatial if recompute_scale_factor else tuple(float(f) for f in factors)
    if len(out_sizes) != spatial or not all(isinstance(n, int) and n > 0 for n in out_sizes):
        raise ValueError(f"interpolate: output size must be positive ints, one per spatial axis, got {out_sizes}")
    if input.data.size == 0 and any(n == 0 for n in in_sizes):
        raise ValueError(f"interpolate: cannot resize an input with an empty spatial axis, shape {input.shape}")
    y = input
    for axis, (n_in, n_out, scale) in enumerate(zip(in_sizes, out_sizes, scales, strict=True)):
        a = Tensor._wrap(_weights(n_in, n_out, mode, bool(align_corners), scale, input.dtype))
        # move this axis last, multiply by Aᵀ, and move it back
        order = [d for d in range(input.ndim) if d != axis + 2] + [axis + 2]
        inverse = list(np.argsort(order))
        y = permute(matmul(permute(y, order), permute(a, 1, 0)), inverse)
    return y


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(N, C·r², H, W) -> (N, C, H·r, W·r): each group of r² channels becomes an r × r block."""
    r = upscale_factor
    if input.ndim < 3 or input.shape[-3] % (r * r):
        raise ValueError(f"pixel_shuffle: channels of input {input.shape} must be divisible by {r}² = {r * r}")
    *lead, c, h, w = input.shape
    x = reshape(input, *lead, c // (r * r), r, r, h, w)
    k = len(lead)
    x = permute(x, *range(k), k, k + 3, k + 1, k + 4, k + 2)
    return reshape(x, *lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(N, C, H·r, W·r) -> (N, C·r², H, W), the inverse of :func:`pixel_shuffle`."""
    r = downscale_factor
    if input.ndim < 3 or input.shape[-1] % r or input.shape[-2] % r:
        raise ValueError(f"pixel_unshuffle: height and width of input {input.shape} must be divisible by {r}")
    *lead, c, h, w = input.shape
    x = reshape(input, *lead, c, h // r, r, w // r, r)
    k = len(lead)
    x = permute(x, *range(k), k, k + 2, k + 4, k + 1, k + 3)
    return reshape(x, *lead, c * r * r, h // r, w // r)
