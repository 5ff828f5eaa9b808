"""Differentiable operations, one module per family, and the Tensor methods that call them.

Each module keeps every operation's forward and backward side by side with the
gradient formula in its docstring. This package also gives ``Tensor`` its
Python operators and methods (``x + y``, ``x.sum()``, ``x.relu()``, ...), so the
table below is the one place that maps a method to its operation.
"""

from __future__ import annotations

import numpy as np

from convprop.ops import shape
from convprop.ops.activation import dropout, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from convprop.ops.elementwise import (
    abs,
    add,
    clamp,
    clip,
    div,
    exp,
    log,
    maximum,
    mul,
    neg,
    pow,
    sqrt,
    sub,
    to_dtype,
    where,
)
from convprop.ops.linalg import linear, matmul
from convprop.ops.reduce import amax, amin, argmax, argmin, max, mean, min, sum
from convprop.ops.shape import (
    broadcast_to,
    cat,
    clone,
    flatten,
    pad,
    permute,
    reshape,
    squeeze,
    stack,
    transpose,
    unsqueeze,
)
from convprop.tensor import Tensor

__all__ = [
    "abs",
    "add",
    "amax",
    "amin",
    "argmax",
    "argmin",
    "broadcast_to",
    "cat",
    "clamp",
    "clip",
    "clone",
    "div",
    "dropout",
    "exp",
    "flatten",
    "leaky_relu",
    "linear",
    "log",
    "log_softmax",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "mul",
    "neg",
    "pad",
    "permute",
    "pow",
    "relu",
    "reshape",
    "sigmoid",
    "softmax",
    "sqrt",
    "squeeze",
    "stack",
    "sub",
    "sum",
    "tanh",
    "to_dtype",
    "transpose",
    "unsqueeze",
    "where",
]  # fmt: skip


def _swap(fn):
    return lambda self, other: fn(other, self)


def _reshape_method(self, *shape):
    return reshape(self, *shape)


_METHODS = {
    "__add__": add,
    "__radd__": _swap(add),
    "__sub__": sub,
    "__rsub__": _swap(sub),
    "__mul__": mul,
    "__rmul__": _swap(mul),
    "__truediv__": div,
    "__rtruediv__": _swap(div),
    "__pow__": pow,
    "__rpow__": _swap(pow),
    "__matmul__": lambda a, b: matmul(a, b if isinstance(b, Tensor) else Tensor(np.asarray(b))),
    "__rmatmul__": lambda a, b: matmul(Tensor(np.asarray(b)), a),
    "__neg__": neg,
    "neg": neg,
    "pow": pow,
    "clone": clone,
    "__getitem__": shape.getitem,
    "exp": exp,
    "log": log,
    "sqrt": sqrt,
    "abs": abs,
    "clip": clip,
    "clamp": clamp,
    "relu": relu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "sum": sum,
    "mean": mean,
    "max": max,
    "min": min,
    "amax": amax,
    "amin": amin,
    "argmax": argmax,
    "argmin": argmin,
    "matmul": matmul,
    "reshape": _reshape_method,
    "view": _reshape_method,
    "permute": permute,
    "transpose": transpose,
    "flatten": flatten,
    "squeeze": squeeze,
    "unsqueeze": unsqueeze,
    "expand": broadcast_to,
    "to": to_dtype,
    "float": lambda self: to_dtype(self, np.float32),
    "double": lambda self: to_dtype(self, np.float64),
    "T": property(lambda self: permute(self, *reversed(range(self.ndim)))),
}

for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)


def _comparison(op):
    """Comparisons give plain boolean tensors (no gradient), as in PyTorch."""

    def method(self, other):
        return Tensor._wrap(op(self.data, other.data if isinstance(other, Tensor) else other))

    return method


for _name in ("__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__"):
    setattr(Tensor, _name, _comparison(getattr(np.ndarray, _name)))
Tensor.__hash__ = object.__hash__  # defining __eq__ would otherwise make tensors unhashable
