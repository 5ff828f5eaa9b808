"""Activation layers; each calls the function of the same name in ``F``.

``inplace=True`` is accepted for PyTorch compatibility (and shown in the repr)
but the result is always a new tensor: autograd here never overwrites a value a
backward pass may still need.
"""

from __future__ import annotations

import numpy as np

from convprop.nn import functional as F
from convprop.nn.modules.module import Module, Parameter


class ReLU(Module):
    r""":math:`\text{ReLU}(x) = \max(0, x)`; its gradient passes where x > 0.

    Shape: any; output has the input's shape.

    Example::

        >>> ReLU()
        ReLU()
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.relu(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    r""":math:`\text{LeakyReLU}(x) = x` for x >= 0, ``negative_slope * x`` otherwise.

    Args:
        negative_slope: slope for negative inputs. Default: 0.01.
        inplace: accepted for compatibility; the output is always a new tensor.

    Example::

        >>> LeakyReLU(0.2)
        LeakyReLU(negative_slope=0.2)
    """

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Sigmoid(Module):
    r""":math:`\sigma(x) = 1 / (1 + e^{-x})`, with gradient :math:`\sigma(x)(1 - \sigma(x))`."""

    def forward(self, input):
        return F.sigmoid(input)


class Tanh(Module):
    r""":math:`\tanh(x)`, with gradient :math:`1 - \tanh^2(x)`."""

    def forward(self, input):
        return F.tanh(input)


class Softmax(Module):
    r""":math:`\text{softmax}(x)_i = e^{x_i} / \sum_j e^{x_j}` along ``dim``."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    r""":math:`\log \text{softmax}(x)` along ``dim``, computed stably."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.log_softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class _Pointwise(Module):
    """An activation without parameters: ``forward`` calls ``F.<fn>`` with the options in ``_options``."""

    _fn = ""
    _options: tuple[str, ...] = ()

    def forward(self, input):
        return getattr(F, self._fn)(input, **{name: getattr(self, name) for name in self._options})

    def extra_repr(self) -> str:
        return ", ".join(f"{name}={getattr(self, name)}" for name in self._options)


class GELU(_Pointwise):
    r""":math:`\text{GELU}(x) = x \Phi(x)` (Φ the standard normal CDF), or its tanh approximation.

    Args:
        approximate: ``'none'`` or ``'tanh'``. Default: ``'none'``.
    """

    _fn, _options = "gelu", ("approximate",)

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate


class SiLU(_Pointwise):
    r""":math:`\text{SiLU}(x) = x \sigma(x)` (also called swish)."""

    _fn = "silu"

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace


class ELU(_Pointwise):
    r""":math:`\text{ELU}(x) = x` for x > 0, :math:`\alpha (e^x - 1)` otherwise.

    Args:
        alpha: α. Default: 1.0.
    """

    _fn, _options = "elu", ("alpha",)

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace


class Hardtanh(_Pointwise):
    r""":math:`\text{Hardtanh}(x) = \min(\max(x, \text{min\_val}), \text{max\_val})`."""

    _fn, _options = "hardtanh", ("min_val", "max_val")

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace


class ReLU6(_Pointwise):
    r""":math:`\text{ReLU6}(x) = \min(\max(0, x), 6)`."""

    _fn = "relu6"

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace


class Hardswish(_Pointwise):
    r""":math:`\text{Hardswish}(x) = x \cdot \text{ReLU6}(x + 3) / 6`."""

    _fn = "hardswish"

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace


class Hardsigmoid(_Pointwise):
    r""":math:`\text{Hardsigmoid}(x) = \text{ReLU6}(x + 3) / 6`."""

    _fn = "hardsigmoid"

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace


class Softplus(_Pointwise):
    r""":math:`\text{Softplus}(x) = \frac{1}{\beta} \ln(1 + e^{\beta x})`, linear above ``threshold``."""

    _fn, _options = "softplus", ("beta", "threshold")

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold


class PReLU(Module):
    r""":math:`\text{PReLU}(x) = x` for x > 0, :math:`a x` otherwise, with a learned slope a.

    Args:
        num_parameters: 1 (one shared slope) or the number of channels. Default: 1.
        init: the initial slope. Default: 0.25.
        dtype: dtype of the slopes. Default: float32.
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype=np.float32):
        super().__init__()
        self.num_parameters = num_parameters
        self.weight = Parameter(np.full(num_parameters, init, dtype=dtype))

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class Softmax2d(Module):
    """Softmax over the channels at every position of a (N, C, H, W) or (C, H, W) input."""

    def forward(self, input):
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected a 3-D or 4-D input, got shape {input.shape}")
        return F.softmax(input, -3)
