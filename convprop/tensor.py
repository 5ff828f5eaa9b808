"""The Tensor, the Function base class and reverse-mode autograd.

A :class:`Tensor` wraps a NumPy array. Every differentiable operation is a
:class:`Function` subclass whose ``forward`` works on plain arrays and whose
``backward`` maps the upstream gradient dL/dout to one gradient per tensor
input (the chain rule, one local step). ``Function.apply`` records the call in
the graph when any input requires a gradient; :meth:`Tensor.backward` walks that
graph once, in reverse topological order, without recursion.
"""

from __future__ import annotations

import builtins
import contextlib
import threading
from typing import Any

import numpy as np

from convprop.dtypes import as_dtype, cpu

_state = threading.local()


def is_grad_enabled() -> bool:
    """Whether operations are currently recorded for autograd."""
    return getattr(_state, "grad_enabled", True)


@contextlib.contextmanager
def _grad_mode(enabled: bool):
    previous = is_grad_enabled()
    _state.grad_enabled = enabled
    try:
        yield
    finally:
        _state.grad_enabled = previous


def no_grad():
    """Context manager (and decorator) that disables graph recording, like ``torch.no_grad``."""
    return _grad_mode(False)


def enable_grad():
    """Context manager that re-enables graph recording inside :func:`no_grad`."""
    return _grad_mode(True)


def swap_module(module):
    """Make ``module`` the one that tags the operations recorded from now on; return the previous one.

    ``nn.Module.__call__`` swaps itself in around ``forward`` and the previous module back
    after it, so each recorded operation knows the innermost module that ran it
    (``Function.module``); :func:`convprop.draw_graph` groups the graph's nodes by it. Two
    plain calls, not a context manager: this runs on every module call (measured: a context
    manager made a module call 4 µs slower, these two 1 µs).
    """
    previous = getattr(_state, "module", None)
    _state.module = module
    return previous


class set_grad_enabled:
    """Turn graph recording on or off, like ``torch.set_grad_enabled``: at once, or for a ``with`` block."""

    def __init__(self, mode: bool):
        self.previous = is_grad_enabled()
        _state.grad_enabled = bool(mode)

    def __enter__(self) -> set_grad_enabled:
        return self

    def __exit__(self, *exc) -> None:
        _state.grad_enabled = self.previous


def _as_array(data, dtype=None) -> np.ndarray:
    """A fresh array from ``data``, with ``torch.tensor``'s dtype rules.

    NumPy arrays keep their dtype; Python data becomes bool, int64 or float32
    (a float anywhere makes it float32). Data that is not numbers (None,
    strings, dates, records, complex numbers) is rejected rather than parsed.
    """
    if isinstance(data, Tensor):
        data = data.data
    dt = None if dtype is None else as_dtype(dtype, "tensor")
    if isinstance(data, np.ndarray | np.generic):
        _check_kind(data.dtype, type(data).__name__)
        return np.array(data, dtype=dt, copy=True)
    if data is None or isinstance(data, str | bytes):
        raise TypeError(f"tensor: expected a number, a sequence of numbers or an array, got {data!r}")
    try:
        arr = np.array(data)
    except (ValueError, OverflowError) as exc:
        raise TypeError(f"tensor: cannot build a Tensor from this {type(data).__name__}: {exc}") from None
    _check_kind(arr.dtype, type(data).__name__)
    if dt is None:
        dt = (
            np.dtype(np.float32)
            if arr.dtype.kind == "f"
            else np.dtype(np.int64)
            if arr.dtype.kind in "iu"
            else arr.dtype
        )
    return arr.astype(dt, copy=False)


def _check_kind(dt: np.dtype, what: str) -> None:
    if dt.kind not in "biuf":
        raise TypeError(
            f"tensor: cannot build a Tensor from {what} data of dtype {dt}; "
            "expected bool, integer or floating point numbers"
        )


def _check_grad_dtype(arr: np.ndarray) -> None:
    if not np.issubdtype(arr.dtype, np.floating):
        raise RuntimeError(
            f"only Tensors of floating point dtype can require gradients; this one has dtype {arr.dtype}"
        )


class Function:
    """One differentiable operation: ``forward`` on arrays, ``backward`` for the chain rule.

    Subclasses implement ``forward(self, *arrays, **params) -> ndarray`` and
    ``backward(self, grad_out) -> grad | tuple[grad, ...]`` with one entry per
    tensor argument, in order (``None`` where no gradient is needed or defined).
    ``self.needs_input_grad[i]`` says whether input ``i`` wants a gradient, so a
    backward can skip work nobody asked for. Whatever ``forward`` stores on
    ``self`` is freed after the backward pass unless ``retain_graph=True``.
    ``formula`` is the backward formula in the article's terms, the same text the
    subclass's docstring states; ``module`` is the innermost module that recorded
    the call (see :func:`swap_module`).
    """

    formula: str = ""
    parents: tuple[Tensor, ...]
    needs_input_grad: tuple[bool, ...]
    module = None

    @classmethod
    def apply(cls, *args, **params) -> Tensor:
        tensors = tuple(a if isinstance(a, Tensor) else Tensor(a) for a in args)
        fn = cls()
        fn.needs_input_grad = tuple(t.requires_grad for t in tensors)
        record = is_grad_enabled() and any(fn.needs_input_grad)
        out = Tensor._wrap(fn.forward(*(t.data for t in tensors), **params))
        if record:
            fn.parents = tensors
            fn.module = getattr(_state, "module", None)
            out.requires_grad = True
            out._ctx = fn
        return out

    def forward(self, *arrays, **params) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad_out: np.ndarray):  # pragma: no cover - abstract
        raise NotImplementedError

    def _release(self) -> None:
        self.__dict__.clear()
        self._released = True


class Tensor:
    """An n-dimensional array with an optional gradient, PyTorch style.

    ``.data`` is a NumPy array; ``.grad`` is a Tensor sharing memory with the gradient
    array the library works on (:attr:`_grad_array`). Create one with :func:`tensor`.
    """

    __array_priority__ = 1000  # so ndarray + Tensor dispatches to Tensor.__radd__
    _hooks: tuple = ()  # gradient hooks (register_hook), run before the gradient is used
    _retains_grad = False  # a non-leaf that keeps its .grad (retain_grad)

    def __init__(self, data, requires_grad: builtins.bool = False, dtype=None):
        self.data = _as_array(data, dtype)
        self._grad = None
        self._ctx: Function | None = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, arr: np.ndarray) -> Tensor:
        """A Tensor around ``arr`` without copying (for op outputs)."""
        t = cls.__new__(cls)
        t.data = arr if isinstance(arr, np.ndarray) else np.asarray(arr)
        t._grad = None
        t._ctx = None
        t.requires_grad = False
        return t

    # ---- basic attributes -------------------------------------------------
    @property
    def grad(self) -> Tensor | None:
        """dL/dself after :meth:`backward`: a Tensor (no gradient of its own), or None, as in PyTorch.

        It shares memory with the array the optimizers read, so ``p.grad.mul_(0.5)`` or
        ``p.grad[...] = 0`` changes what the next ``step()`` uses; a second ``backward``
        adds into it in place. Library code reads and writes the array itself through
        :attr:`_grad_array`.
        """
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"assigned grad expected to be a Tensor or None but got grad of type {type(value).__name__}"
                )
            if value is self:
                raise RuntimeError("can't assign a Tensor as its own grad")
            if value.shape != self.shape:
                raise RuntimeError(
                    f"attempting to assign a gradient of shape {value.shape} to a tensor of shape {self.shape}; "
                    "the gradient and the tensor must have the same shape"
                )
            if value.dtype != self.dtype:
                raise RuntimeError(
                    f"attempting to assign a gradient of dtype {value.dtype} to a tensor of dtype {self.dtype}; "
                    "the gradient must have the tensor's dtype"
                )
        self._grad = value

    @property
    def _grad_array(self) -> np.ndarray | None:
        """The gradient as a NumPy array (the memory :attr:`grad` wraps), or None: the library's fast path.

        Optimizers, gradient clipping, the trainer and the checks read and update the
        gradient here, in place, without building a Tensor each step. Assigning an array
        (or None) replaces the gradient without :attr:`grad`'s checks: internal use only.
        """
        grad = self._grad
        return None if grad is None else grad.data

    @_grad_array.setter
    def _grad_array(self, arr: np.ndarray | None) -> None:
        self._grad = None if arr is None else Tensor._wrap(arr)

    @property
    def shape(self) -> tuple[builtins.int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> builtins.int:
        return self.data.ndim

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self) -> Function | None:
        return self._ctx

    def size(self, dim: builtins.int | None = None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> builtins.int:
        return self.ndim

    def numel(self) -> builtins.int:
        return int(self.data.size)

    def __len__(self) -> builtins.int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError("can't call numpy() on a Tensor that requires grad; use tensor.detach().numpy()")
        return self.data

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"a Tensor with {self.data.size} elements cannot be converted to a Python scalar")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ""
        if self.dtype != np.float32:
            extra += f", dtype={self.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn=<{type(self._ctx).__name__}Backward>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> builtins.float:
        return float(self.item())

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats a 0-d tensor's value, as in PyTorch; other tensors take no format spec."""
        return format(self.item(), spec) if self.ndim == 0 else object.__format__(self, spec)

    def __int__(self) -> builtins.int:
        return int(self.item())

    def __index__(self) -> builtins.int:
        """An integer tensor of one element used as an index (``classes[label]``), as in PyTorch."""
        if self.data.dtype.kind not in "iub" or self.data.size != 1:
            raise TypeError(f"only integer tensors of a single element can be converted to an index, got {self!r}")
        return int(self.item())

    def __array__(self, dtype=None, copy=None):
        arr = self.data if dtype is None else self.data.astype(dtype)
        return arr.copy() if copy else arr

    # ---- operators and methods: one-line delegations to convprop.ops ------
    # Python operators
    def __add__(self, other) -> Tensor:
        return _ops.add(self, other)

    def __radd__(self, other) -> Tensor:
        return _ops.add(other, self)

    def __sub__(self, other) -> Tensor:
        return _ops.sub(self, other)

    def __rsub__(self, other) -> Tensor:
        return _ops.sub(other, self)

    def __mul__(self, other) -> Tensor:
        return _ops.mul(self, other)

    def __rmul__(self, other) -> Tensor:
        return _ops.mul(other, self)

    def __truediv__(self, other) -> Tensor:
        return _ops.div(self, other)

    def __rtruediv__(self, other) -> Tensor:
        return _ops.div(other, self)

    def __pow__(self, other) -> Tensor:
        return _ops.pow(self, other)

    def __rpow__(self, other) -> Tensor:
        return _ops.pow(other, self)

    def __matmul__(self, other) -> Tensor:
        return _ops.matmul(self, other)

    def __rmatmul__(self, other) -> Tensor:
        return _ops.matmul(other, self)

    def __neg__(self) -> Tensor:
        return _ops.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _ops.abs(self)

    def __getitem__(self, index) -> Tensor:
        return _ops.getitem(self, index)

    def __setitem__(self, index, value) -> None:
        _ops.setitem(self, index, value)

    def __eq__(self, other) -> Tensor:  # type: ignore[override]
        # anything that is not numeric data (None, a string, a module) is simply not equal, as in PyTorch
        return _ops.eq(self, other) if _is_operand(other) else NotImplemented

    def __ne__(self, other) -> Tensor:  # type: ignore[override]
        return _ops.ne(self, other) if _is_operand(other) else NotImplemented

    def __lt__(self, other) -> Tensor:
        return _ops.lt(self, other)

    def __le__(self, other) -> Tensor:
        return _ops.le(self, other)

    def __gt__(self, other) -> Tensor:
        return _ops.gt(self, other)

    def __ge__(self, other) -> Tensor:
        return _ops.ge(self, other)

    __hash__ = object.__hash__  # defining __eq__ would otherwise make tensors unhashable

    def __and__(self, other) -> Tensor:
        return _ops.logical_op(np.bitwise_and, self, other)

    def __or__(self, other) -> Tensor:
        return _ops.logical_op(np.bitwise_or, self, other)

    def __xor__(self, other) -> Tensor:
        return _ops.logical_op(np.bitwise_xor, self, other)

    def __invert__(self) -> Tensor:
        return _ops.logical_not(self)

    # arithmetic and maths
    def add(self, other, alpha=1) -> Tensor:
        return _ops.add(self, other if alpha == 1 else _ops.mul(other, alpha))

    def sub(self, other, alpha=1) -> Tensor:
        return _ops.sub(self, other if alpha == 1 else _ops.mul(other, alpha))

    def mul(self, other) -> Tensor:
        return _ops.mul(self, other)

    def div(self, other, *, rounding_mode=None) -> Tensor:
        return _ops.div(self, other, rounding_mode)

    def neg(self) -> Tensor:
        return _ops.neg(self)

    def pow(self, exponent) -> Tensor:
        return _ops.pow(self, exponent)

    def exp(self) -> Tensor:
        return _ops.exp(self)

    def log(self) -> Tensor:
        return _ops.log(self)

    def sqrt(self) -> Tensor:
        return _ops.sqrt(self)

    def rsqrt(self) -> Tensor:
        return _ops.div(1.0, _ops.sqrt(self))

    def square(self) -> Tensor:
        return _ops.mul(self, self)

    def abs(self) -> Tensor:
        return _ops.abs(self)

    def clamp(self, min=None, max=None) -> Tensor:
        return _ops.clamp(self, min, max)

    def clip(self, min=None, max=None) -> Tensor:
        return _ops.clamp(self, min, max)

    def maximum(self, other) -> Tensor:
        return _ops.maximum(self, other)

    def minimum(self, other) -> Tensor:
        return _ops.minimum(self, other)

    def matmul(self, other) -> Tensor:
        return _ops.matmul(self, other)

    def relu(self) -> Tensor:
        return _ops.relu(self)

    def sigmoid(self) -> Tensor:
        return _ops.sigmoid(self)

    def tanh(self) -> Tensor:
        return _ops.tanh(self)

    def softmax(self, dim: builtins.int, dtype=None) -> Tensor:
        return _ops.softmax(self, dim, dtype=dtype)

    def log_softmax(self, dim: builtins.int, dtype=None) -> Tensor:
        return _ops.log_softmax(self, dim, dtype=dtype)

    def masked_fill(self, mask, value) -> Tensor:
        return _ops.masked_fill(self, mask, value)

    # comparisons (boolean results, no gradient)
    def eq(self, other) -> Tensor:
        return _ops.eq(self, other)

    def ne(self, other) -> Tensor:
        return _ops.ne(self, other)

    def lt(self, other) -> Tensor:
        return _ops.lt(self, other)

    def le(self, other) -> Tensor:
        return _ops.le(self, other)

    def gt(self, other) -> Tensor:
        return _ops.gt(self, other)

    def ge(self, other) -> Tensor:
        return _ops.ge(self, other)

    def equal(self, other) -> builtins.bool:
        return isinstance(other, Tensor) and self.shape == other.shape and bool((self.data == other.data).all())

    def all(self, dim=None, keepdim: builtins.bool = False) -> Tensor:
        return _ops.all(self, dim, keepdim)

    def any(self, dim=None, keepdim: builtins.bool = False) -> Tensor:
        return _ops.any(self, dim, keepdim)

    # reductions
    def sum(self, dim=None, keepdim: builtins.bool = False) -> Tensor:
        return _ops.sum(self, dim, keepdim)

    def mean(self, dim=None, keepdim: builtins.bool = False) -> Tensor:
        return _ops.mean(self, dim, keepdim)

    def var(self, dim=None, unbiased=None, keepdim: builtins.bool = False, *, correction=None) -> Tensor:
        return _ops.var(self, dim, unbiased, keepdim, correction=correction)

    def std(self, dim=None, unbiased=None, keepdim: builtins.bool = False, *, correction=None) -> Tensor:
        return _ops.std(self, dim, unbiased, keepdim, correction=correction)

    def norm(self, p="fro", dim=None, keepdim: builtins.bool = False) -> Tensor:
        return _ops.norm(self, p, dim, keepdim)

    def max(self, dim=None, keepdim: builtins.bool = False):
        return _ops.max(self, dim, keepdim)

    def min(self, dim=None, keepdim: builtins.bool = False):
        return _ops.min(self, dim, keepdim)

    def amax(self, dim=None, keepdim: builtins.bool = False) -> Tensor:
        return _ops.amax(self, dim, keepdim)

    def amin(self, dim=None, keepdim: builtins.bool = False) -> Tensor:
        return _ops.amin(self, dim, keepdim)

    def argmax(self, dim=None, keepdim: builtins.bool = False) -> Tensor:
        return _ops.argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim: builtins.bool = False) -> Tensor:
        return _ops.argmin(self, dim, keepdim)

    def sort(self, dim: builtins.int = -1, descending: builtins.bool = False, stable: builtins.bool = False):
        return _ops.sort(self, dim, descending, stable=stable)

    def topk(
        self, k: builtins.int, dim: builtins.int = -1, largest: builtins.bool = True, sorted: builtins.bool = True
    ):
        return _ops.topk(self, k, dim, largest, sorted)

    # shape
    def reshape(self, *shape) -> Tensor:
        return _ops.reshape(self, *shape)

    def view(self, *shape) -> Tensor:
        return _ops.reshape(self, *shape)

    def view_as(self, other: Tensor) -> Tensor:
        return _ops.reshape(self, other.shape)

    def reshape_as(self, other: Tensor) -> Tensor:
        return _ops.reshape(self, other.shape)

    def expand(self, *sizes) -> Tensor:
        return _ops.broadcast_to(self, *sizes)

    def expand_as(self, other: Tensor) -> Tensor:
        return _ops.broadcast_to(self, other.shape)

    def permute(self, *dims) -> Tensor:
        return _ops.permute(self, *dims)

    def transpose(self, dim0: builtins.int, dim1: builtins.int) -> Tensor:
        return _ops.transpose(self, dim0, dim1)

    def t(self) -> Tensor:
        return _ops.t(self)

    @property
    def T(self) -> Tensor:
        return _ops.permute(self, *reversed(range(self.ndim)))

    def flatten(self, start_dim: builtins.int = 0, end_dim: builtins.int = -1) -> Tensor:
        return _ops.flatten(self, start_dim, end_dim)

    def unflatten(self, dim: builtins.int, sizes) -> Tensor:
        return _ops.unflatten(self, dim, sizes)

    def squeeze(self, dim=None) -> Tensor:
        return _ops.squeeze(self, dim)

    def unsqueeze(self, dim: builtins.int) -> Tensor:
        return _ops.unsqueeze(self, dim)

    def repeat(self, *sizes) -> Tensor:
        return _ops.repeat(self, *sizes)

    def chunk(self, chunks: builtins.int, dim: builtins.int = 0) -> tuple[Tensor, ...]:
        return _ops.chunk(self, chunks, dim)

    def split(self, split_size, dim: builtins.int = 0) -> tuple[Tensor, ...]:
        return _ops.split(self, split_size, dim)

    def unbind(self, dim: builtins.int = 0) -> tuple[Tensor, ...]:
        return _ops.unbind(self, dim)

    def clone(self) -> Tensor:
        return _ops.clone(self)

    def contiguous(self) -> Tensor:
        return self

    # dtype and device
    def to(self, *args, **kwargs) -> Tensor:
        return _ops.to(self, *args, **kwargs)

    def type_as(self, other: Tensor) -> Tensor:
        return _ops.to_dtype(self, other.dtype)

    def float(self) -> Tensor:
        return _ops.to_dtype(self, np.float32)

    def double(self) -> Tensor:
        return _ops.to_dtype(self, np.float64)

    def half(self) -> Tensor:
        return _ops.to_dtype(self, np.float16)

    def long(self) -> Tensor:
        return _ops.to_dtype(self, np.int64)

    def int(self) -> Tensor:
        return _ops.to_dtype(self, np.int32)

    def bool(self) -> Tensor:
        return _ops.to_dtype(self, np.bool_)

    def is_floating_point(self) -> builtins.bool:
        return self.data.dtype.kind == "f"

    def cpu(self) -> Tensor:
        return self

    @property
    def device(self):
        return cpu

    @property
    def is_cuda(self) -> builtins.bool:
        return False

    # new tensors like this one
    def new_zeros(self, *size, dtype=None) -> Tensor:
        return _ops.zeros(*size, dtype=self.dtype if dtype is None else dtype)

    def new_ones(self, *size, dtype=None) -> Tensor:
        return _ops.ones(*size, dtype=self.dtype if dtype is None else dtype)

    def new_full(self, size, fill_value, dtype=None) -> Tensor:
        return _ops.full(size, fill_value, dtype=self.dtype if dtype is None else dtype)

    def new_tensor(self, data, dtype=None) -> Tensor:
        return Tensor(data, dtype=self.dtype if dtype is None else dtype)

    # in place (only where autograd allows it, as in PyTorch)
    def zero_(self) -> Tensor:
        return _ops.fill_(self, 0)

    def fill_(self, value) -> Tensor:
        return _ops.fill_(self, value)

    def copy_(self, src) -> Tensor:
        return _ops.copy_(self, src)

    def normal_(self, mean=0.0, std=1.0, *, generator=None) -> Tensor:
        return _ops.normal_(self, mean, std, generator)

    def uniform_(self, from_=0.0, to=1.0, *, generator=None) -> Tensor:
        return _ops.uniform_(self, from_, to, generator)

    def bernoulli_(self, p=0.5, *, generator=None) -> Tensor:
        return _ops.bernoulli_(self, p, generator)

    def add_(self, other, alpha=1) -> Tensor:
        return _ops.inplace(self, self.add(other, alpha))

    def sub_(self, other, alpha=1) -> Tensor:
        return _ops.inplace(self, self.sub(other, alpha))

    def mul_(self, other) -> Tensor:
        return _ops.inplace(self, self.mul(other))

    def div_(self, other) -> Tensor:
        return _ops.inplace(self, self.div(other))

    def clamp_(self, min=None, max=None) -> Tensor:
        return _ops.inplace(self, self.clamp(min, max))

    def masked_fill_(self, mask, value) -> Tensor:
        return _ops.inplace(self, self.masked_fill(mask, value))

    def __iadd__(self, other) -> Tensor:
        return self.add_(other)

    def __isub__(self, other) -> Tensor:
        return self.sub_(other)

    def __imul__(self, other) -> Tensor:
        return self.mul_(other)

    def __itruediv__(self, other) -> Tensor:
        return self.div_(other)

    # ---- graph control ----------------------------------------------------
    def requires_grad_(self, requires_grad: builtins.bool = True) -> Tensor:
        if requires_grad:
            _check_grad_dtype(self.data)
        elif not self.is_leaf:
            raise RuntimeError("you can only change requires_grad of leaf tensors; use detach() instead")
        self.requires_grad = bool(requires_grad)
        return self

    def register_hook(self, hook):
        """Call ``hook(grad)`` with this tensor's gradient during backward; a returned Tensor replaces it.

        Returns a handle whose ``remove()`` unregisters the hook, as in PyTorch.
        """
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        self._hooks = (*self._hooks, hook)
        return _HookHandle(self, hook)

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep theirs)."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if not self.is_leaf:
            self._retains_grad = True

    @property
    def retains_grad(self) -> builtins.bool:
        return self._retains_grad

    def detach_(self) -> Tensor:
        self._ctx = None
        self.requires_grad = False
        return self

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut from the graph."""
        return Tensor._wrap(self.data)

    def backward(self, grad=None, retain_graph: builtins.bool = False) -> None:
        """Accumulate dL/dleaf into ``.grad`` of every leaf that requires it.

        The graph is walked once in reverse topological order; each node's
        ``Function.backward`` turns dL/dout into dL/dinput (the chain rule).
        Saved buffers are freed afterwards unless ``retain_graph=True``.
        """
        if not self.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs; this tensor has shape {self.shape}, "
                    "so pass backward(grad) with that shape"
                )
            seed = np.ones(self.shape, dtype=self.dtype)
        else:
            seed = np.asarray(grad.data if isinstance(grad, Tensor) else grad)
            if seed.dtype.kind not in "biuf":
                raise TypeError(f"backward: grad must be a real-valued Tensor or array, got dtype {seed.dtype}")
            if seed.shape != self.shape:
                raise RuntimeError(f"backward: grad has shape {seed.shape} but the tensor has shape {self.shape}")
            seed = seed.astype(self.dtype, copy=False)

        order = self._topological_order()
        grads: dict[builtins.int, np.ndarray] = {id(self): seed}
        for node in order:
            g = grads.pop(id(node), None)
            if g is None:
                continue
            for hook in node._hooks:
                replaced = hook(Tensor._wrap(g))
                if replaced is not None:
                    g = _as_array(replaced).astype(node.dtype, copy=False)
            fn = node._ctx
            if node._retains_grad:  # a new Tensor each time, as PyTorch's retain_grad does
                held = node._grad_array
                node._grad_array = g.copy() if held is None else held + g
            if fn is None:
                node._accumulate_grad(g)
                continue
            in_grads = fn.backward(g)
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            for parent, pg in zip(fn.parents, in_grads, strict=True):
                if pg is None or not parent.requires_grad:
                    continue
                assert pg.shape == parent.shape, (type(fn).__name__, pg.shape, parent.shape)
                key = id(parent)
                grads[key] = pg if key not in grads else grads[key] + pg
            if not retain_graph:
                fn._release()

    def _zero_grad(self, set_to_none: builtins.bool) -> None:
        """``zero_grad`` for one tensor: drop the gradient, or zero it in place as PyTorch does (none: nothing)."""
        if set_to_none:
            self._grad = None
        elif self._grad is not None:
            self._grad.data[...] = 0

    def _accumulate_grad(self, g: np.ndarray) -> None:
        """Leaf: ``.grad = g`` (a copy) the first time, then ``.grad += g`` in place, as PyTorch accumulates."""
        held = self._grad_array
        if held is None:
            self._grad_array = g.astype(self.dtype, copy=True)
        elif not held.flags.writeable:
            raise RuntimeError(
                "cannot accumulate into this tensor's .grad: it is a read-only view (an expand() or broadcast); "
                "assign .grad a clone() of it instead"
            )
        else:
            np.add(held, g, out=held)

    def _topological_order(self) -> list[Tensor]:
        """Nodes from this output back to the leaves, every node after all its consumers."""
        order: list[Tensor] = []
        visited: set[builtins.int] = set()
        stack: list[tuple[Tensor, bool]] = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))
            fn = node._ctx
            if fn is not None:
                if getattr(fn, "_released", False):
                    raise RuntimeError(
                        "trying to backward through the graph a second time (or to read saved tensors after they "
                        "were freed); specify retain_graph=True on the first backward call if you need to"
                    )
                for parent in fn.parents:
                    if parent.requires_grad and id(parent) not in visited:
                        stack.append((parent, False))
        order.reverse()
        return order


def _is_operand(obj) -> bool:
    """Whether ``obj`` can take part in arithmetic or a comparison with a Tensor."""
    return isinstance(obj, Tensor | np.ndarray | np.generic | int | float | list | tuple)


def is_tensor(obj) -> bool:
    """Whether ``obj`` is a convprop Tensor (or Parameter)."""
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    """The number of elements of ``input``."""
    return input.numel()


class _HookHandle:
    def __init__(self, tensor: Tensor, hook):
        self.tensor, self.hook = tensor, hook

    def remove(self) -> None:
        self.tensor._hooks = tuple(h for h in self.tensor._hooks if h is not self.hook)


class _LazyOps:
    """``convprop.ops``, imported at the first method call (ops import this module, so not at the top)."""

    def __getattr__(self, name: str):
        global _ops
        from convprop import ops

        _ops = ops  # later calls look names up in the module directly
        return getattr(ops, name)


_ops: Any = _LazyOps()


def tensor(data, requires_grad: builtins.bool = False, dtype=None) -> Tensor:
    """Create a Tensor, like ``torch.tensor``.

    Python numbers and lists become float32; a NumPy array keeps its dtype
    (float64 stays float64). ``requires_grad=True`` needs a floating dtype.
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)
