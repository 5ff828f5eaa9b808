"""Pooling layers: no parameters; each calls ``F.max_pool{n}d`` / ``F.avg_pool{n}d`` / ``F.adaptive_*``.

Backward (in ``convprop.ops.pool``): max pooling routes each output gradient to the
argmax of its window; average pooling spreads it evenly over the window.
"""

from __future__ import annotations

from convprop.nn import functional as F
from convprop.nn.modules.module import Module


class _MaxPoolNd(Module):
    _n: int

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input):
        pool = getattr(F, f"max_pool{self._n}d")
        return pool(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            ceil_mode=self.ceil_mode,
            return_indices=self.return_indices,
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool1d(_MaxPoolNd):
    """1-D max pooling, PyTorch's signature; see :class:`MaxPool2d`."""

    _n = 1


class MaxPool2d(_MaxPoolNd):
    r"""2-D max pooling: each output is the largest input in its window.

    .. math::
        \text{out}(N_i, C_j, h, w) = \max_{m, n} \text{input}(N_i, C_j, \text{stride}[0] h + \text{dilation}[0] m,
        \text{stride}[1] w + \text{dilation}[1] n)

    The gradient flows only to the argmax of each window.

    Args:
        kernel_size: window size (int or 2-tuple).
        stride: window step. Default: ``kernel_size``.
        padding: implicit -inf padding on both sides. Default: 0.
        dilation: spacing between window elements. Default: 1.
        return_indices: also return the flat argmax indices (for ``MaxUnpool``). Default: False.
        ceil_mode: use ceil instead of floor for the output size. Default: False.

    Shape:
        Input (N, C, H, W) or (C, H, W); output (N, C, H_out, W_out) with
        ``H_out = floor((H + 2 padding[0] - dilation[0] (kernel_size[0] - 1) - 1) / stride[0] + 1)``, W alike.

    Example::

        >>> MaxPool2d(2)
        MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
    """

    _n = 2


class MaxPool3d(_MaxPoolNd):
    """3-D max pooling, PyTorch's signature; see :class:`MaxPool2d`."""

    _n = 3


class _AvgPoolNd(Module):
    _n: int

    def __init__(
        self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
    ):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        pool = getattr(F, f"avg_pool{self._n}d")
        extra = {} if self.divisor_override is None else {"divisor_override": self.divisor_override}
        return pool(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            ceil_mode=self.ceil_mode,
            count_include_pad=self.count_include_pad,
            **extra,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """1-D average pooling, PyTorch's signature (no ``divisor_override``, as in PyTorch); see :class:`AvgPool2d`."""

    _n = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)


class AvgPool2d(_AvgPoolNd):
    r"""2-D average pooling: each output is the mean of its window.

    .. math::
        \text{out}(N_i, C_j, h, w) = \frac{1}{k_H k_W} \sum_{m, n}
        \text{input}(N_i, C_j, \text{stride}[0] h + m, \text{stride}[1] w + n)

    The gradient of each output is spread evenly (divided by the divisor) over its window.

    Args:
        kernel_size: window size (int or 2-tuple).
        stride: window step. Default: ``kernel_size``.
        padding: implicit zero padding on both sides. Default: 0.
        ceil_mode: use ceil instead of floor for the output size. Default: False.
        count_include_pad: count the zero padding in the divisor. Default: True.
        divisor_override: divide by this instead of the window size. Default: None.

    Shape:
        Input (N, C, H, W) or (C, H, W); output (N, C, H_out, W_out) with
        ``H_out = floor((H + 2 padding[0] - kernel_size[0]) / stride[0] + 1)``, W alike.

    Example::

        >>> AvgPool2d(2)
        AvgPool2d(kernel_size=2, stride=2, padding=0)
    """

    _n = 2


class AvgPool3d(_AvgPoolNd):
    """3-D average pooling, PyTorch's signature; see :class:`AvgPool2d`."""

    _n = 3


class _AdaptivePoolNd(Module):
    _n: int
    _kind: str

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return getattr(F, f"adaptive_{self._kind}_pool{self._n}d")(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePoolNd):
    """1-D adaptive average pooling; see :class:`AdaptiveAvgPool2d`."""

    _n, _kind = 1, "avg"


class AdaptiveAvgPool2d(_AdaptivePoolNd):
    r"""2-D adaptive average pooling: the window sizes are chosen so the output has ``output_size``.

    Output cell i along an axis of input length L averages input indices
    ``floor(i L / out)`` to ``ceil((i + 1) L / out) - 1``; ``AdaptiveAvgPool2d(1)`` is global average pooling.

    Args:
        output_size: the target (H_out, W_out), or one int for a square output; ``None`` keeps that input size.

    Shape:
        Input (N, C, H, W) or (C, H, W); output (N, C, H_out, W_out).

    Example::

        >>> AdaptiveAvgPool2d((1, 1))
        AdaptiveAvgPool2d(output_size=(1, 1))
    """

    _n, _kind = 2, "avg"


class AdaptiveAvgPool3d(_AdaptivePoolNd):
    """3-D adaptive average pooling; see :class:`AdaptiveAvgPool2d`."""

    _n, _kind = 3, "avg"


class _AdaptiveMaxPoolNd(_AdaptivePoolNd):
    _kind = "max"

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input):
        return getattr(F, f"adaptive_max_pool{self._n}d")(input, self.output_size, self.return_indices)


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """1-D adaptive max pooling; see :class:`AdaptiveMaxPool2d`."""

    _n = 1


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """2-D adaptive max pooling: windows as in :class:`AdaptiveAvgPool2d`, the maximum of each.

    Args:
        output_size: the target (H_out, W_out), or one int for a square output.
        return_indices: also return the flat argmax indices. Default: False.
    """

    _n = 2


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """3-D adaptive max pooling; see :class:`AdaptiveMaxPool2d`."""

    _n = 3
