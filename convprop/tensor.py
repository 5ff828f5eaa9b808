"""The Tensor, the Function base class and reverse-mode autograd.

A :class:`Tensor` wraps a NumPy array. Every differentiable operation is a
:class:`Function` subclass whose ``forward`` works on plain arrays and whose
``backward`` maps the upstream gradient dL/dout to one gradient per tensor
input (the chain rule, one local step). ``Function.apply`` records the call in
the graph when any input requires a gradient; :meth:`Tensor.backward` walks that
graph once, in reverse topological order, without recursion.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

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


def _as_array(data, dtype=None) -> np.ndarray:
    """NumPy arrays keep their dtype (as ``torch.tensor`` does); Python numbers and lists become float32."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray | np.generic):
        arr = np.array(data, dtype=dtype, copy=True)
    else:
        arr = np.array(data, dtype=dtype if dtype is not None else np.float32)
    if arr.dtype == object:
        raise TypeError(f"cannot build a Tensor from {type(data).__name__} data with mixed or unknown types")
    return arr


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

    ``.data`` and ``.grad`` are NumPy arrays. Create one with :func:`tensor`.
    """

    __array_priority__ = 1000  # so ndarray + Tensor dispatches to Tensor.__radd__

    def __init__(self, data, requires_grad: bool = False, dtype=None):
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
    def grad(self) -> np.ndarray | None:
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is None:
            self._grad = None
            return
        arr = value.data if isinstance(value, Tensor) else np.asarray(value)
        if arr.shape != self.shape:
            raise RuntimeError(f"assigned grad has shape {arr.shape} but the tensor has shape {self.shape}")
        self._grad = arr.astype(self.dtype, copy=False)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self) -> Function | None:
        return self._ctx

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        return self.ndim

    def numel(self) -> int:
        return int(self.data.size)

    def __len__(self) -> int:
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

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __array__(self, dtype=None, copy=None):
        arr = self.data if dtype is None else self.data.astype(dtype)
        return arr.copy() if copy else arr

    # ---- graph control ----------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad:
            _check_grad_dtype(self.data)
        elif not self.is_leaf:
            raise RuntimeError("you can only change requires_grad of leaf tensors; use detach() instead")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut from the graph."""
        return Tensor._wrap(self.data)

    def backward(self, grad=None, retain_graph: bool = False) -> None:
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
            if seed.shape != self.shape:
                raise RuntimeError(f"backward: grad has shape {seed.shape} but the tensor has shape {self.shape}")
            seed = seed.astype(self.dtype, copy=False)

        order = self._topological_order()
        grads: dict[int, np.ndarray] = {id(self): seed}
        for node in order:
            g = grads.pop(id(node), None)
            if g is None:
                continue
            fn = node._ctx
            if fn is None:
                node._grad = g.astype(node.dtype, copy=True) if node._grad is None else node._grad + g
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

    def _topological_order(self) -> list[Tensor]:
        """Nodes from this output back to the leaves, every node after all its consumers."""
        order: list[Tensor] = []
        visited: set[int] = set()
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


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """Create a Tensor, like ``torch.tensor``.

    Python numbers and lists become float32; a NumPy array keeps its dtype
    (float64 stays float64). ``requires_grad=True`` needs a floating dtype.
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)
