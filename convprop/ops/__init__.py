"""Differentiable operations, one module per family; ``Tensor``'s methods delegate here.

Each module keeps every operation's forward and backward side by side with the
gradient formula in its docstring. ``Tensor`` (in ``convprop/tensor.py``) defines
its operators and methods in its class body as one-line calls into this package.
"""

from __future__ import annotations

from convprop.ops.activation import dropout, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from convprop.ops.creation import (
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    zeros,
    zeros_like,
)
from convprop.ops.elementwise import (
    abs,
    add,
    clamp,
    clip,
    div,
    eq,
    exp,
    ge,
    gt,
    le,
    log,
    logical_not,
    logical_op,
    lt,
    masked_fill,
    maximum,
    minimum,
    mul,
    ne,
    neg,
    pow,
    sqrt,
    sub,
    to_dtype,
    where,
)
from convprop.ops.inplace import bernoulli_, copy_, fill_, inplace, normal_, setitem, uniform_
from convprop.ops.linalg import linear, matmul
from convprop.ops.reduce import all, amax, amin, any, argmax, argmin, max, mean, min, norm, sort, std, sum, topk, var
from convprop.ops.shape import (
    broadcast_to,
    cat,
    chunk,
    clone,
    flatten,
    getitem,
    pad,
    permute,
    repeat,
    reshape,
    split,
    squeeze,
    stack,
    t,
    to,
    transpose,
    unbind,
    unflatten,
    unsqueeze,
)

__all__ = [
    "abs", "add", "all", "amax", "amin", "any", "arange", "argmax", "argmin", "as_tensor", "bernoulli_",
    "broadcast_to", "cat",
    "chunk", "clamp", "clip", "clone", "copy_", "div", "dropout", "empty", "empty_like", "eq", "exp", "eye",
    "fill_", "flatten", "from_numpy", "full", "full_like", "ge", "getitem", "gt", "inplace", "le", "leaky_relu",
    "linear", "linspace", "log", "log_softmax", "logical_not", "logical_op", "lt", "masked_fill", "matmul", "max",
    "maximum", "mean", "min", "minimum", "mul", "ne", "neg", "norm", "normal_",
    "ones", "ones_like", "pad", "permute", "pow",
    "rand", "rand_like", "randint", "randn", "randn_like", "randperm", "relu", "repeat", "reshape", "setitem",
    "sigmoid", "softmax", "sort", "split", "sqrt", "squeeze", "stack", "std", "sub", "sum", "t", "tanh", "to",
    "to_dtype", "topk", "transpose", "unbind", "unflatten", "uniform_", "unsqueeze", "var", "where", "zeros",
    "zeros_like",
]  # fmt: skip
