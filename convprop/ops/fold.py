"""im2col and col2im: the sliding-window kernels under convolution, and ``unfold`` / ``fold``.

Every convolution in convprop is a matrix product on windows of its input. ``windows``
builds those windows as a zero-copy ``as_strided`` view (im2col without the copy; the
caller's ``reshape`` makes the copy in whatever axis order its GEMM wants).
``add_windows`` is the way back (col2im): one slice ``+=`` per kernel offset, so each
window element goes home to the input position it was read from; overlapping windows
add up, which is the chain rule's sum over every output that read an input.

``unfold`` and ``fold`` expose the pair with PyTorch's layout ``(N, C * prod(kernel_size), L)``;
each is the other's backward pass.
"""

from __future__ import annotations

import math

import numpy as np

from convprop.ops._args import nonnegative, positive
from convprop.tensor import Function, Tensor


def windows(xp: np.ndarray, first: int, kernel, stride, dilation, out) -> np.ndarray:
    """Read-only view of every window of the (already padded) array ``xp``.

    The spatial axes of ``xp`` are ``first .. first + nd - 1``. The result has shape
    ``xp.shape[:first] + out + kernel + xp.shape[first + nd:]``: element
    ``[..., o, k, ...]`` is ``xp[..., o * stride + k * dilation, ...]`` on every spatial axis.
    """
    nd = len(kernel)
    st = xp.strides[first : first + nd]
    shape = xp.shape[:first] + tuple(out) + tuple(kernel) + xp.shape[first + nd :]
    strides = (
        xp.strides[:first]
        + tuple(a * s for a, s in zip(st, stride, strict=True))
        + tuple(a * d for a, d in zip(st, dilation, strict=True))
        + xp.strides[first + nd :]
    )
    return np.lib.stride_tricks.as_strided(xp, shape, strides, writeable=False)


def add_windows(target: np.ndarray, cols: np.ndarray, first: int, kernel, stride, dilation, out) -> None:
    """col2im: ``target[..., o * stride + k * dilation, ...] += cols[..., o, k, ...]`` for every o, k.

    ``cols`` is laid out as :func:`windows` returns it. The loop runs over kernel offsets only
    (9 for a 3x3 kernel); each step is one strided slice ``+=`` over all outputs, which is
    several times faster than ``np.add.at`` on computed indices.
    """
    nd = len(kernel)
    lead = (slice(None),) * first
    for offs in np.ndindex(*kernel):
        target[lead + window_slices(offs, stride, dilation, out)] += cols[(slice(None),) * (first + nd) + offs]


def window_slices(offs, stride, dilation, out) -> tuple[slice, ...]:
    """The input positions ``o * stride + k * dilation`` (o = 0 .. out - 1) that kernel offset ``k`` reads."""
    return tuple(
        slice(k * d, k * d + s * (o - 1) + 1, s) for k, d, s, o in zip(offs, dilation, stride, out, strict=True)
    )


def _blocks(size, kernel, dilation, padding, stride) -> tuple[int, ...]:
    """Number of window positions per spatial axis (the output-size formula of a convolution)."""
    return tuple(
        (n + 2 * p - d * (k - 1) - 1) // s + 1
        for n, k, d, p, s in zip(size, kernel, dilation, padding, stride, strict=True)
    )


def _unfold(x: np.ndarray, kernel, dilation, padding, stride) -> np.ndarray:
    """(N, C, *S) -> (N, C * prod(kernel), L), PyTorch's column order (channel-major)."""
    n, c, *size = x.shape
    out = _blocks(size, kernel, dilation, padding, stride)
    xp = np.pad(x, [(0, 0), (0, 0), *((p, p) for p in padding)])
    win = windows(xp, 2, kernel, stride, dilation, out)  # (N, C, *out, *kernel)
    nd = len(kernel)
    order = (0, 1, *range(2 + nd, 2 + 2 * nd), *range(2, 2 + nd))
    return win.transpose(order).reshape(n, c * math.prod(kernel), math.prod(out))


def _fold(cols: np.ndarray, size, kernel, dilation, padding, stride) -> np.ndarray:
    """(N, C * prod(kernel), L) -> (N, C, *size), summing overlapping windows (the adjoint of _unfold)."""
    n = cols.shape[0]
    nd = len(kernel)
    c = cols.shape[1] // math.prod(kernel)
    out = _blocks(size, kernel, dilation, padding, stride)
    padded = tuple(s + 2 * p for s, p in zip(size, padding, strict=True))
    target = np.zeros((n, c, *padded), dtype=cols.dtype)
    view = cols.reshape(n, c, *kernel, *out).transpose(0, 1, *range(2 + nd, 2 + 2 * nd), *range(2, 2 + nd))
    add_windows(target, view, 2, kernel, stride, dilation, out)
    crop = tuple(slice(p, p + s) for p, s in zip(padding, size, strict=True))
    return np.ascontiguousarray(target[(slice(None), slice(None), *crop)])


class Unfold(Function):
    """im2col. Forward: ``cols[n, c*K + k, l] = x_padded[n, c, l * stride + k * dilation]``.

    Backward: every column entry was read from one input position, so dL/dx is col2im of
    dL/dcols (``fold``), summing where windows overlap and dropping the padding.
    """

    formula = "dL/dx is col2im of dL/dcols"

    def forward(self, x, *, kernel, dilation, padding, stride, unbatched):
        self.args = (x.shape[2 - unbatched :], kernel, dilation, padding, stride)
        self.unbatched = unbatched
        y = _unfold(x[None] if unbatched else x, kernel, dilation, padding, stride)
        return y[0] if unbatched else y

    def backward(self, gy):
        gx = _fold(gy[None] if self.unbatched else gy, *self.args)
        return gx[0] if self.unbatched else gx


class Fold(Function):
    """col2im. Forward: ``y[n, c, l * stride + k * dilation] += cols[n, c*K + k, l]`` (then crop the padding).

    Backward: each output position received the sum of the columns mapped onto it, so
    dL/dcols reads dL/dy back at those positions: ``unfold`` of dL/dy.
    """

    formula = "dL/dcols reads dL/dy back at those positions"

    def forward(self, cols, *, size, kernel, dilation, padding, stride, unbatched):
        self.args = (kernel, dilation, padding, stride)
        self.unbatched = unbatched
        y = _fold(cols[None] if unbatched else cols, size, kernel, dilation, padding, stride)
        return y[0] if unbatched else y

    def backward(self, gy):
        gx = _unfold(gy[None] if self.unbatched else gy, *self.args)
        return gx[0] if self.unbatched else gx


def _window_args(op, kernel_size, dilation, padding, stride):
    return (
        positive(kernel_size, 2, "kernel_size", op),
        positive(dilation, 2, "dilation", op),
        nonnegative(padding, 2, "padding", op),
        positive(stride, 2, "stride", op),
    )


def _as_tensor(input, op: str) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    return input


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    r"""Extract sliding local blocks from a batched image: im2col.

    .. math::
        \text{out}[n, c \cdot K + k, l] = x_{\text{pad}}[n, c,\ l \cdot \text{stride} + k \cdot \text{dilation}]

    where ``k`` runs over the ``K = prod(kernel_size)`` kernel offsets (row-major) and ``l`` over the
    ``L`` window positions (row-major). A convolution is ``weight.view(C_out, -1) @ unfold(x)``.

    Args:
        input (Tensor): (N, C, H, W) or unbatched (C, H, W).
        kernel_size (int or tuple): size of the sliding blocks.
        dilation (int or tuple, optional): spacing between kernel elements. Default: 1
        padding (int or tuple, optional): implicit zero padding on both sides. Default: 0
        stride (int or tuple, optional): step of the sliding blocks. Default: 1

    Shape:
        - Input: :math:`(N, C, H, W)` or :math:`(C, H, W)`
        - Output: :math:`(N, C \times \prod(\text{kernel\_size}), L)` with
          :math:`L = \prod_d \lfloor (\text{size}_d + 2 \text{padding}_d - \text{dilation}_d (\text{kernel\_size}_d - 1)
          - 1) / \text{stride}_d + 1 \rfloor`

    Example::

        >>> x = convprop.tensor(np.arange(16.0).reshape(1, 1, 4, 4))
        >>> F.unfold(x, kernel_size=2, stride=2).shape
        (1, 4, 4)
    """
    op = "unfold"
    x = _as_tensor(input, op)
    if x.ndim not in (3, 4):
        raise ValueError(
            f"{op}: expected a 3-D (unbatched) or 4-D (batched) input of shape (N, C, H, W), got {x.shape}"
        )
    kernel, dilation, padding, stride = _window_args(op, kernel_size, dilation, padding, stride)
    size = x.shape[-2:]
    blocks = _blocks(size, kernel, dilation, padding, stride)
    if any(b < 1 for b in blocks):
        raise ValueError(
            f"{op}: input of spatial size {tuple(size)} with padding={padding}, kernel_size={kernel}, "
            f"dilation={dilation} gives {blocks} sliding blocks; every dimension needs at least one"
        )
    return Unfold.apply(x, kernel=kernel, dilation=dilation, padding=padding, stride=stride, unbatched=x.ndim == 3)


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    r"""Combine sliding local blocks into an image, summing overlaps: col2im, the adjoint of :func:`unfold`.

    .. math::
        y_{\text{pad}}[n, c, p] = \sum_{l, k \,:\, l \cdot \text{stride} + k \cdot \text{dilation} = p}
        \text{input}[n, c \cdot K + k, l], \qquad y = \text{crop}(y_{\text{pad}}, \text{padding})

    Args:
        input (Tensor): (N, C * prod(kernel_size), L) or unbatched (C * prod(kernel_size), L).
        output_size (int or tuple): spatial size (H, W) of the result.
        kernel_size (int or tuple): size of the sliding blocks.
        dilation (int or tuple, optional): spacing between kernel elements. Default: 1
        padding (int or tuple, optional): implicit zero padding on both sides. Default: 0
        stride (int or tuple, optional): step of the sliding blocks. Default: 1

    Shape:
        - Input: :math:`(N, C \times \prod(\text{kernel\_size}), L)` or :math:`(C \times \prod(\text{kernel\_size}), L)`
        - Output: :math:`(N, C, H, W)` or :math:`(C, H, W)`; ``L`` must equal the number of blocks
          :func:`unfold` produces for that output size.

    Example::

        >>> cols = convprop.tensor(np.ones((1, 4, 4)))
        >>> F.fold(cols, output_size=3, kernel_size=2)[0, 0]   # counts of windows covering each pixel
        tensor([[1., 2., 1.],
                [2., 4., 2.],
                [1., 2., 1.]], dtype=float64)
    """
    op = "fold"
    cols = _as_tensor(input, op)
    if cols.ndim not in (2, 3):
        raise ValueError(
            f"{op}: expected a 2-D (unbatched) or 3-D (batched) input of shape (N, C * prod(kernel_size), L), "
            f"got {cols.shape}"
        )
    size = positive(output_size, 2, "output_size", op)
    kernel, dilation, padding, stride = _window_args(op, kernel_size, dilation, padding, stride)
    rows, length = cols.shape[-2:]
    if rows % math.prod(kernel):
        raise ValueError(
            f"{op}: input.size({cols.ndim - 2}) = {rows} must be divisible by the product of kernel_size {kernel}"
        )
    blocks = _blocks(size, kernel, dilation, padding, stride)
    if any(b < 1 for b in blocks) or math.prod(blocks) != length:
        raise ValueError(
            f"{op}: output_size={size}, kernel_size={kernel}, dilation={dilation}, padding={padding}, "
            f"stride={stride} give {' x '.join(map(str, blocks))} sliding blocks, but input.size({cols.ndim - 1}) "
            f"= {length}"
        )
    return Fold.apply(
        cols, size=size, kernel=kernel, dilation=dilation, padding=padding, stride=stride, unbatched=cols.ndim == 2
    )
