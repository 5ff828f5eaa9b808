"""Convolution layers: hold the filter and bias, and call ``F.conv{1,2,3}d`` / ``F.conv_transpose{1,2,3}d``.

One N-d implementation; ``Conv1d``/``Conv2d``/``Conv3d`` only fix the number of
spatial dimensions. The gradient formulas live with the stateless functions
(``convprop.ops.conv``): ∂L/∂W = X ⋆ ∂L/∂O and ∂L/∂X = full correlation of ∂L/∂O
with the 180°-rotated filter.
"""

from __future__ import annotations

import numpy as np

from convprop.nn import functional as F
from convprop.nn import init
from convprop.nn.modules.module import Module, Parameter
from convprop.ops._args import nonnegative, positive

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    _n: int
    _transposed = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        output_padding=0,
        dtype=None,
        generator: np.random.Generator | None = None,
    ):
        super().__init__()
        name = type(self).__name__
        n = self._n
        for arg, value in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if not isinstance(value, int | np.integer) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name}: {arg} must be a positive integer, got {value!r}")
        if in_channels % groups != 0:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if out_channels % groups != 0:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = positive(kernel_size, n, "kernel_size", name)
        self.stride = positive(stride, n, "stride", name)
        self.dilation = positive(dilation, n, "dilation", name)
        self.groups = int(groups)
        self.output_padding = nonnegative(output_padding, n, "output_padding", name)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got padding_mode={padding_mode!r}")
        if self._transposed and padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {name}')
        self.padding_mode = padding_mode

        if isinstance(padding, str):
            if padding not in ("same", "valid") or self._transposed:
                raise ValueError(f"{name}: invalid padding string {padding!r}, should be one of ('same', 'valid')")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions")
            # PyTorch pads d*(k-1) in total, the extra element (when odd) on the right.
            spans = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size, strict=True)]
            totals = [0 if padding == "valid" else span for span in spans]
            pads = [(t // 2, t - t // 2) for t in totals]
            self.padding = padding
        else:
            self.padding = nonnegative(padding, n, "padding", name)
            pads = [(p, p) for p in self.padding]
        # F.pad takes (left, right) pairs starting from the last dimension.
        self._pad_pairs = tuple(v for pair in reversed(pads) for v in pair)
        self._conv_padding = tuple(left for left, _ in pads)
        self._symmetric = all(left == right for left, right in pads)

        shape = (in_channels, out_channels // groups) if self._transposed else (out_channels, in_channels // groups)
        dt = np.dtype(np.float32 if dtype is None else dtype)
        self.weight = Parameter(np.empty((*shape, *self.kernel_size), dtype=dt))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        """PyTorch's default: W ~ kaiming_uniform_(a=sqrt(5)) = U(±1/sqrt(fan_in)), b ~ U(±1/sqrt(fan_in))."""
        init._reset_weight_and_bias_(self.weight, self.bias, generator)

    def extra_repr(self) -> str:
        n = self._n
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _ConvForward(_ConvNd):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        dtype=None,
        generator: np.random.Generator | None = None,
    ):
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
            dtype=dtype, generator=generator,
        )  # fmt: skip

    def forward(self, input):
        conv = getattr(F, f"conv{self._n}d")
        if self.padding_mode == "zeros" and self._symmetric:
            return conv(input, self.weight, self.bias, self.stride, self._conv_padding, self.dilation, self.groups)
        # Padding modes other than zeros (and an odd 'same' total) pad first, then convolve unpadded, as PyTorch.
        mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
        padded = F.pad(input, self._pad_pairs, mode=mode)
        return conv(padded, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


# Formula, backward and arguments of Conv1d/2d/3d, which differ only in the number of spatial dimensions.
_FORWARD_DOC_BODY = r"""    .. math::
        \text{{out}}(N_i, C_{{out_j}}) = \text{{bias}}(C_{{out_j}}) + \sum_{{k=0}}^{{C_{{in}}-1}}
        \text{{weight}}(C_{{out_j}}, k) \star \text{{input}}(N_i, k)

    Backward (in ``F.conv{n}d``): ∂L/∂W = X ⋆ ∂L/∂O; ∂L/∂X = full correlation of ∂L/∂O with rot180(W).

    Args:
        in_channels, out_channels: channels of the input and of the output.
        kernel_size, stride, padding, dilation: ints or {n}-tuples; ``padding`` may also be ``'valid'`` or ``'same'``.
        groups: blocked connections from input to output channels. Default: 1.
        bias: add a learnable bias. Default: True.
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``. Default: ``'zeros'``.
        dtype: dtype of the parameters. Default: float32.
        generator: ``np.random.Generator`` for the initial weights. Default: ``convprop.default_generator``.
"""


class Conv1d(_ConvForward):
    __doc__ = f"""1-D convolution (cross-correlation) over an input of shape (N, C_in, L).

{_FORWARD_DOC_BODY.format(n=1)}
    Shape:
        Input (N, C_in, L) or (C_in, L); output (N, C_out, L_out) with
        ``L_out = floor((L + 2 padding - dilation (kernel_size - 1) - 1) / stride + 1)``.

    Example::

        >>> m = Conv1d(16, 33, 3, stride=2)
        >>> m(convprop.tensor(np.zeros((20, 16, 50), np.float32))).shape
        (20, 33, 24)
    """

    _n = 1


class Conv2d(_ConvForward):
    __doc__ = f"""2-D convolution (cross-correlation) over an input of shape (N, C_in, H, W).

{_FORWARD_DOC_BODY.format(n=2)}
    Shape:
        Input (N, C_in, H, W) or (C_in, H, W); output (N, C_out, H_out, W_out) with
        ``H_out = floor((H + 2 padding[0] - dilation[0] (kernel_size[0] - 1) - 1) / stride[0] + 1)``, W alike.

    Example::

        >>> m = Conv2d(1, 6, 5)
        >>> m
        Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))
        >>> m(convprop.tensor(np.zeros((2, 1, 28, 28), np.float32))).shape
        (2, 6, 24, 24)
    """

    _n = 2


class Conv3d(_ConvForward):
    __doc__ = f"""3-D convolution (cross-correlation) over an input of shape (N, C_in, D, H, W).

{_FORWARD_DOC_BODY.format(n=3)}
    Shape:
        Input (N, C_in, D, H, W) or (C_in, D, H, W); output (N, C_out, D_out, H_out, W_out), each size
        ``floor((size + 2 padding - dilation (kernel_size - 1) - 1) / stride + 1)``.

    Example::

        >>> m = Conv3d(2, 4, 3, padding=1)
        >>> m(convprop.tensor(np.zeros((1, 2, 5, 6, 7), np.float32))).shape
        (1, 4, 5, 6, 7)
    """

    _n = 3


class _ConvTransposeNd(_ConvNd):
    _transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups: int = 1,
        bias: bool = True,
        dilation=1,
        padding_mode: str = "zeros",
        dtype=None,
        generator: np.random.Generator | None = None,
    ):
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
            output_padding, dtype=dtype, generator=generator,
        )  # fmt: skip
        name = type(self).__name__
        for op, s, d in zip(self.output_padding, self.stride, self.dilation, strict=True):
            if op >= s and op >= d:
                raise ValueError(
                    f"{name}: output_padding must be smaller than either stride or dilation, got "
                    f"output_padding={self.output_padding}, stride={self.stride}, dilation={self.dilation}"
                )

    def _output_padding_for(self, input, output_size) -> tuple[int, ...]:
        """The output_padding that makes the output spatial size equal ``output_size`` (PyTorch's rule)."""
        if output_size is None:
            return self.output_padding
        n = self._n
        sizes = list(output_size)
        leading = 2 if input.ndim == n + 2 else 1
        if len(sizes) == leading + n:
            sizes = sizes[leading:]
        if len(sizes) != n:
            raise ValueError(
                f"{type(self).__name__}: for {input.ndim}D input, output_size must have {n} or {leading + n} "
                f"elements (got {len(sizes)})"
            )
        spatial = input.shape[-n:]
        smallest = [
            (i - 1) * s - 2 * p + d * (k - 1) + 1
            for i, s, p, d, k in zip(spatial, self.stride, self.padding, self.dilation, self.kernel_size, strict=True)
        ]
        largest = [m + s - 1 for m, s in zip(smallest, self.stride, strict=True)]
        if any(not lo <= size <= hi for size, lo, hi in zip(sizes, smallest, largest, strict=True)):
            raise ValueError(
                f"requested an output size of {tuple(sizes)}, but valid sizes range from {tuple(smallest)} to "
                f"{tuple(largest)} (for an input of {tuple(spatial)})"
            )
        return tuple(size - lo for size, lo in zip(sizes, smallest, strict=True))

    def forward(self, input, output_size=None):
        conv_t = getattr(F, f"conv_transpose{self._n}d")
        output_padding = self._output_padding_for(input, output_size)
        return conv_t(
            input, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups, self.dilation
        )


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution (the gradient of Conv1d with respect to its input), PyTorch's signature.

    Shape:
        Input (N, C_in, L) or (C_in, L); output (N, C_out, L_out) with
        ``L_out = (L - 1) stride - 2 padding + dilation (kernel_size - 1) + output_padding + 1``.

    Weight shape is (C_in, C_out / groups, kernel_size). See :class:`ConvTranspose2d` for the arguments.
    """

    _n = 1


class ConvTranspose2d(_ConvTransposeNd):
    r"""2-D transposed convolution: scatters each input pixel times the filter into the output.

    It is the adjoint of :class:`Conv2d`: its forward is Conv2d's ∂L/∂X (full correlation
    with the rotated filter, with ``stride - 1`` zeros inserted between input pixels).

    Args:
        in_channels, out_channels: channels of the input and of the output.
        kernel_size, stride, padding, dilation: ints or 2-tuples; ``padding`` crops that many rows/columns from
            each side of the full output, as in PyTorch.
        output_padding: extra rows/columns on one side of the output (to pick among the sizes a strided Conv2d
            maps to the same input size). Default: 0.
        groups: blocked connections. Default: 1.
        bias: add a learnable bias. Default: True.
        padding_mode: only ``'zeros'``.
        dtype: dtype of the parameters. Default: float32.
        generator: ``np.random.Generator`` for the initial weights. Default: ``convprop.default_generator``.

    Shape:
        Input (N, C_in, H, W) or (C_in, H, W); output (N, C_out, H_out, W_out) with
        ``H_out = (H - 1) stride[0] - 2 padding[0] + dilation[0] (kernel_size[0] - 1) + output_padding[0] + 1``.
        ``forward(input, output_size)`` may request the output size instead of ``output_padding``.

    Example::

        >>> up = ConvTranspose2d(16, 8, 3, stride=2, padding=1)
        >>> up(x, output_size=(2, 8, 12, 12)).shape  # x of shape (2, 16, 6, 6)
        (2, 8, 12, 12)
    """

    _n = 2


class ConvTranspose3d(_ConvTransposeNd):
    """3-D transposed convolution, PyTorch's signature; see :class:`ConvTranspose2d`."""

    _n = 3
