"""Activation layers; each calls the function of the same name in ``F``.

``inplace=True`` is accepted for PyTorch compatibility (and shown in the repr)
but the result is always a new tensor: autograd here never overwrites a value a
backward pass may still need.
"""

from __future__ import annotations

from convprop.nn import functional as F
from convprop.nn.modules.module import Module


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
