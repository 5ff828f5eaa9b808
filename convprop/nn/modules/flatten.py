"""``Flatten``: merge a range of dimensions into one; ``Unflatten``: split one into several."""

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


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size``: the reverse of :class:`Flatten`.

    Args:
        dim: the dimension to split.
        unflattened_size: the sizes it becomes (a tuple or list of ints; one may be -1).

    Shape:
        Input (*, S_dim, *); output (*, U_1, ..., U_n, *) with U_1 * ... * U_n = S_dim.

    Example::

        >>> Unflatten(1, (8, 7, 7))(convprop.tensor(np.zeros((32, 392)))).shape
        (32, 8, 7, 7)
    """

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        if not isinstance(unflattened_size, tuple | list):
            raise TypeError(
                f"unflattened_size must be a tuple of ints, but found type {type(unflattened_size).__name__}"
            )
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def forward(self, input):
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
