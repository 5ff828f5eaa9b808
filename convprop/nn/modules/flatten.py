"""``Flatten``: merge a range of dimensions into one."""

from __future__ import annotations

from convprop.nn import functional as F
from convprop.nn.modules.module import Module


class Flatten(Module):
    """Flatten dimensions ``start_dim`` to ``end_dim`` into one (by default all but the batch dimension).

    Args:
        start_dim: first dimension to flatten. Default: 1.
        end_dim: last dimension to flatten. Default: -1.

    Shape:
        Input (*, S_start, ..., S_end, *); output (*, prod(S_start..S_end), *).

    Example::

        >>> Flatten()(convprop.tensor(np.zeros((32, 1, 5, 5)))).shape
        (32, 25)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        return F.flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
