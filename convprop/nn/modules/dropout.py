"""``Dropout``: zero elements with probability p during training, scaling the rest by 1/(1-p)."""

from __future__ import annotations

import numpy as np

from convprop.nn import functional as F
from convprop.nn.modules.module import Module


class Dropout(Module):
    r"""During training, zero each element with probability ``p`` and scale the others by :math:`1/(1-p)`.

    In eval mode it is the identity. The mask is drawn from ``self.generator`` (the
    ``np.random.Generator`` passed in), or, when that is None, from the default
    generator that ``convprop.manual_seed`` seeds. A trainer sets its own generator
    and saves ``generator.bit_generator.state`` for an exact resume.

    Args:
        p: probability of an element being zeroed. Default: 0.5.
        inplace: accepted for compatibility; the output is always a new tensor.
        generator: the ``np.random.Generator`` for the masks. Default: the default generator.

    Shape: any; output has the input's shape.

    Example::

        >>> Dropout(p=0.2, generator=np.random.default_rng(0))
        Dropout(p=0.2, inplace=False)
    """

    def __init__(self, p: float = 0.5, inplace: bool = False, generator: np.random.Generator | None = None):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(f"Dropout: generator must be a numpy.random.Generator, got {type(generator).__name__}")
        self.p = p
        self.inplace = inplace
        self.generator = generator

    def forward(self, input):
        return F.dropout(input, self.p, self.training, generator=self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Module):
    r"""During training, zero whole channels of a (N, C, H, W) input ((N, C, L) for 3-D, as PyTorch) with
    probability ``p`` and scale the others by :math:`1/(1-p)`; the identity in eval mode.

    Args:
        p: probability of a channel being zeroed. Default: 0.5.
        inplace: accepted for compatibility; the output is always a new tensor.
        generator: the ``np.random.Generator`` for the masks. Default: the default generator.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False, generator: np.random.Generator | None = None):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace, self.generator = p, inplace, generator

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training, generator=self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
