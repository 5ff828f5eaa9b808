"""Validation of the arguments that enter the public API (convolution and pooling).

Every check names the parameter and the values involved, so a user sees
``conv2d: stride must be positive, got (0, 1)`` and never a NumPy traceback.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def ntuple(value, n: int, name: str, op: str) -> tuple[int, ...]:
    """``value`` (an int or a length-``n`` sequence of ints) as an ``n``-tuple of ints."""
    if isinstance(value, bool):
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    if isinstance(value, int | np.integer):
        return (int(value),) * n
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) == 1 and n > 1:
            value = tuple(value) * n
        if len(value) != n or not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in value):
            raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {tuple(value)!r}")
        return tuple(int(v) for v in value)
    raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {type(value).__name__} {value!r}")


def positive(value, n: int, name: str, op: str) -> tuple[int, ...]:
    t = ntuple(value, n, name, op)
    if any(v <= 0 for v in t):
        raise ValueError(f"{op}: {name} must be positive, got {t}")
    return t


def nonnegative(value, n: int, name: str, op: str) -> tuple[int, ...]:
    t = ntuple(value, n, name, op)
    if any(v < 0 for v in t):
        raise ValueError(f"{op}: {name} must be non-negative, got {t}")
    return t


_SPATIAL_NAMES = {1: "L", 2: "H, W", 3: "D, H, W"}


def check_input(x: np.ndarray, spatial: int, op: str, what: str = "input") -> bool:
    """Accept (N, C, *spatial) or unbatched (C, *spatial); return True when a batch axis must be added."""
    if x.ndim == spatial + 2:
        return False
    if x.ndim == spatial + 1:
        return True
    raise ValueError(
        f"{op}: expected a {spatial + 1}-D (unbatched) or {spatial + 2}-D (batched) {what} of shape "
        f"(N, C, {_SPATIAL_NAMES.get(spatial, '...')}), got shape {x.shape}"
    )


# Larger requests are refused before NumPy tries them (PyTorch would fail too, on any machine we run on).
MAX_ALLOCATION_BYTES = 2**40


def check_allocation(shape: Sequence[int], dtype, op: str) -> None:
    """Raise a clear error if an array of ``shape`` and ``dtype`` would be absurdly large."""
    nbytes = math.prod(int(n) for n in shape) * np.dtype(dtype).itemsize
    if nbytes > MAX_ALLOCATION_BYTES:
        raise RuntimeError(
            f"{op}: this call would allocate {nbytes / 2**40:.1f} TiB (shape {tuple(shape)}, dtype {np.dtype(dtype)})"
        )
