"""Tensor factories with PyTorch's names: ``zeros``, ``ones``, ``full``, ``arange``, ``randn``, ``*_like``...

Sizes are given as ``zeros(2, 3)`` or ``zeros((2, 3))``. Floating factories default
to float32, as in PyTorch. Random factories draw from ``generator`` (a
``convprop.Generator`` or ``np.random.Generator``) or else from the default
generator that ``convprop.manual_seed`` seeds. Every factory checks the size it
would allocate first, so a mistyped size is a clear error, never NumPy's MemoryError.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from convprop import random
from convprop.dtypes import as_dtype, check_device
from convprop.ops._args import check_allocation
from convprop.tensor import Tensor


def _size(size: tuple, op: str) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], Sequence | np.ndarray):
        size = tuple(size[0])
    for n in size:
        if isinstance(n, bool) or not isinstance(n, int | np.integer):
            raise TypeError(f"{op}: size must be ints, got {size!r}")
        if n < 0:
            raise RuntimeError(f"{op}: trying to create a tensor with negative dimension {n}: {tuple(size)}")
    return tuple(int(n) for n in size)


def _make(arr_fn, size: tuple, dtype, default, op: str, requires_grad: bool, device) -> Tensor:
    check_device(device, op)
    shape = _size(size, op)
    dt = as_dtype(default if dtype is None else dtype, op)
    check_allocation(shape, dt, op)
    return Tensor._wrap(arr_fn(shape, dt)).requires_grad_(requires_grad)


def zeros(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    return _make(np.zeros, size, dtype, np.float32, "zeros", requires_grad, device)


def ones(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    return _make(np.ones, size, dtype, np.float32, "ones", requires_grad, device)


def empty(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Uninitialised in PyTorch; zero-filled here (NumPy's ``empty`` would expose stale memory)."""
    return _make(np.zeros, size, dtype, np.float32, "empty", requires_grad, device)


def full(size, fill_value, *, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (dtype from the value: bool, int64 or float32)."""
    default = np.bool_ if isinstance(fill_value, bool) else np.int64 if isinstance(fill_value, int) else np.float32
    return _make(lambda s, d: np.full(s, fill_value, dtype=d), (size,), dtype, default, "full", requires_grad, device)


def _like(x: Tensor, dtype):
    return x.dtype if dtype is None else dtype


def zeros_like(input: Tensor, *, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    return zeros(input.shape, dtype=_like(input, dtype), requires_grad=requires_grad, device=device)


def ones_like(input: Tensor, *, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    return ones(input.shape, dtype=_like(input, dtype), requires_grad=requires_grad, device=device)


def empty_like(input: Tensor, *, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    return empty(input.shape, dtype=_like(input, dtype), requires_grad=requires_grad, device=device)


def full_like(input: Tensor, fill_value, *, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    return full(input.shape, fill_value, dtype=_like(input, dtype), requires_grad=requires_grad, device=device)


def arange(start, end=None, step=1, *, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Values from ``start`` up to (not including) ``end`` by ``step``; int64 if all three are ints, else float32."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    for name, v in (("start", start), ("end", end), ("step", step)):
        if isinstance(v, bool) or not isinstance(v, int | float | np.number) or not math.isfinite(v):
            raise TypeError(f"arange: {name} must be a finite number, got {v!r}")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: upper bound and larger bound inconsistent with step sign ({start}, {end}, {step})")
    all_int = all(isinstance(v, int | np.integer) for v in (start, end, step))
    count = max(math.ceil((end - start) / step), 0)
    return _make(
        lambda s, d: (start + step * np.arange(s[0], dtype=np.float64 if d.kind == "f" else d)).astype(d),
        (count,), dtype, np.int64 if all_int else np.float32, "arange", requires_grad, device,
    )  # fmt: skip


def linspace(start, end, steps: int, *, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise RuntimeError(f"linspace: number of steps must be a non-negative int, got {steps!r}")
    return _make(lambda s, d: np.linspace(start, end, s[0]).astype(d), (steps,), dtype, np.float32, "linspace",
                 requires_grad, device)  # fmt: skip


def eye(n: int, m: int | None = None, *, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    m = n if m is None else m
    return _make(lambda s, d: np.eye(s[0], s[1], dtype=d), (n, m), dtype, np.float32, "eye", requires_grad, device)


def rand(*size, generator=None, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Uniform samples from [0, 1)."""
    rng = random.resolve(generator, "rand")
    return _make(lambda s, d: rng.random(s).astype(d), size, dtype, np.float32, "rand", requires_grad, device)


def randn(*size, generator=None, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Samples from the standard normal distribution N(0, 1)."""
    rng = random.resolve(generator, "randn")
    return _make(lambda s, d: rng.standard_normal(s).astype(d), size, dtype, np.float32, "randn", requires_grad,
                 device)  # fmt: skip


def randint(low, high=None, size=None, *, generator=None, dtype=None, requires_grad: bool = False,
            device=None) -> Tensor:  # fmt: skip
    """Integers drawn uniformly from [low, high) (``randint(high, size)`` means low = 0), int64 by default."""
    if size is None:
        low, high, size = 0, low, high
    if size is None:
        raise TypeError("randint: missing the size argument, e.g. randint(0, 10, (3,))")
    if high <= low:
        raise RuntimeError(f"randint: expects low < high, got low={low}, high={high}")
    rng = random.resolve(generator, "randint")
    return _make(lambda s, d: rng.integers(low, high, s).astype(d), (size,), dtype, np.int64, "randint",
                 requires_grad, device)  # fmt: skip


def randperm(n: int, *, generator=None, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    rng = random.resolve(generator, "randperm")
    return _make(lambda s, d: rng.permutation(s[0]).astype(d), (n,), dtype, np.int64, "randperm", requires_grad,
                 device)  # fmt: skip


def rand_like(input: Tensor, *, generator=None, dtype=None) -> Tensor:
    return rand(input.shape, generator=generator, dtype=_like(input, dtype))


def randn_like(input: Tensor, *, generator=None, dtype=None) -> Tensor:
    return randn(input.shape, generator=generator, dtype=_like(input, dtype))


def from_numpy(array: np.ndarray) -> Tensor:
    """A Tensor sharing ``array``'s memory, like ``torch.from_numpy``."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    Tensor(np.empty(0, array.dtype))  # the same dtype checks as tensor(), on no data (a 0-d array too)
    return Tensor._wrap(array)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a Tensor, sharing memory when it already is one (or an array) of the right dtype."""
    check_device(device, "as_tensor")
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or as_dtype(dtype, "as_tensor") == data.dtype):
        return from_numpy(data)
    return Tensor(data, dtype=dtype)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot rows: out[..., k] = 1 where tensor == k; ``num_classes=-1`` means max + 1."""
    labels = tensor.data if isinstance(tensor, Tensor) else np.asarray(tensor)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected an integer (int64) tensor of class indices, got dtype {labels.dtype}")
    if labels.size and labels.min() < 0:
        raise RuntimeError("one_hot: class values must be non-negative")
    if num_classes == -1:
        if not labels.size:
            raise RuntimeError("one_hot: cannot infer the number of classes from an empty tensor")
        num_classes = int(labels.max()) + 1
    if labels.size and labels.max() >= num_classes:
        raise RuntimeError(f"one_hot: class values must be smaller than num_classes ({num_classes})")
    check_allocation((*labels.shape, num_classes), np.int64, "one_hot")
    return Tensor._wrap((labels[..., None] == np.arange(num_classes)).astype(np.int64))
