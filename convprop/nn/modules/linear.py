"""``Linear`` and ``Identity``."""

from __future__ import annotations

import numpy as np

from convprop.nn import functional as F
from convprop.nn import init
from convprop.nn.modules.module import Module, Parameter


class Identity(Module):
    """A placeholder that returns its input unchanged; constructor arguments are accepted and ignored.

    Example::

        >>> Identity(54, unused="x")(x) is x
        True
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    r"""Affine map of the last dimension: :math:`y = x W^T + b`.

    Backward: ∂L/∂x = ∂L/∂y W, ∂L/∂W = (∂L/∂y)^T x, ∂L/∂b = sum of ∂L/∂y over the batch.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        bias: add a learnable bias. Default: True.
        dtype: dtype of the parameters. Default: float32.
        generator: ``np.random.Generator`` for the initial weights. Default: ``convprop.default_generator``.

    Attributes:
        weight: (out_features, in_features), initialised U(-1/sqrt(in_features), 1/sqrt(in_features))
            (PyTorch's kaiming_uniform_ with a=sqrt(5)).
        bias: (out_features,), initialised from the same distribution.

    Shape:
        Input (*, in_features); output (*, out_features).

    Example::

        >>> Linear(20, 30)
        Linear(in_features=20, out_features=30, bias=True)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        dtype=None,
        generator: np.random.Generator | None = None,
    ):
        super().__init__()
        for arg, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 0:
                raise ValueError(f"Linear: {arg} must be a non-negative integer, got {value!r}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        dt = np.dtype(np.float32 if dtype is None else dtype)
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dt))
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        """PyTorch's default: W ~ kaiming_uniform_(a=sqrt(5)) = U(±1/sqrt(in_features)), b from the same."""
        init._reset_weight_and_bias_(self.weight, self.bias, generator)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
