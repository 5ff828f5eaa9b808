"""PyTorch's dtype and device names: ``convprop.float32``, ``convprop.long``, ``convprop.device("cpu")``.

A convprop dtype *is* a NumPy dtype, so ``x.dtype == convprop.float32`` and
``np.zeros(3, dtype=convprop.long)`` both work. :func:`as_dtype` is the one
place a ``dtype=`` argument is checked.
"""

from __future__ import annotations

import builtins

import numpy as np

float16 = half = np.dtype(np.float16)
float32 = float = np.dtype(np.float32)
float64 = double = np.dtype(np.float64)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
int16 = short = np.dtype(np.int16)
int32 = int = np.dtype(np.int32)
int64 = long = np.dtype(np.int64)
bool = np.dtype(np.bool_)

# Python's own types mean what they mean to torch: float -> float64, int -> int64.
_PYTHON_TYPES = {builtins.float: float64, builtins.int: int64, builtins.bool: bool}


def as_dtype(value, op: str = "dtype") -> np.dtype:
    """``value`` (a convprop/NumPy dtype, a NumPy scalar type or Python's float/int/bool) as a NumPy dtype."""
    if isinstance(value, type) and value in _PYTHON_TYPES:
        return _PYTHON_TYPES[value]
    try:
        dt = np.dtype(value)
    except TypeError:
        raise TypeError(f"{op}: expected a dtype such as convprop.float32, got {value!r}") from None
    if dt.kind not in "biuf":
        raise TypeError(f"{op}: convprop tensors hold bool, integer or floating values, not dtype {dt}")
    return dt


def is_floating_point(dtype: np.dtype) -> builtins.bool:
    return np.issubdtype(dtype, np.floating)


class device:
    """Where a tensor lives, like ``torch.device``: convprop runs on the CPU, so only ``"cpu"`` exists.

    ``device("cuda")`` can be named (code that picks a device builds one) but moving a tensor there
    raises a clear error.
    """

    def __init__(self, type: str | device = "cpu", index: builtins.int | None = None):
        if isinstance(type, device):
            type, index = type.type, type.index
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string such as 'cpu', got {type!r}")
        name, _, number = type.partition(":")
        self.type = name
        self.index = builtins.int(number) if number else index

    def __repr__(self) -> str:
        return f"device(type={self.type!r}" + (f", index={self.index})" if self.index is not None else ")")

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> builtins.bool:
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> builtins.int:
        return hash((self.type, self.index))


cpu = device("cpu")

_DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu", "hip", "meta", "xla", "ipu", "hpu", "mtia", "privateuseone")


def is_device(value) -> builtins.bool:
    """Whether ``value`` names a device (a :class:`device` or a string such as ``"cpu"`` or ``"cuda:0"``)."""
    return isinstance(value, device) or (isinstance(value, str) and value.partition(":")[0] in _DEVICE_TYPES)


def check_device(value, op: str) -> None:
    """Accept the CPU (as a string or a :class:`device`); anything else is a clear error."""
    if value is None:
        return
    dev = device(value) if isinstance(value, str | device) else None
    if dev is None:
        raise TypeError(f"{op}: expected a device such as 'cpu', got {value!r}")
    if dev.type != "cpu":
        raise RuntimeError(f"{op}: convprop runs on the CPU only; device {str(dev)!r} is not available")
