"""Shape operations: reshape, permute, indexing, concatenation and padding.

None of these change values, only where they sit, so every backward pass
moves the upstream gradient back to where each element came from (and adds
where one element was used several times).
"""

from __future__ import annotations

import builtins
import itertools
from collections.abc import Sequence

import numpy as np

from convprop import dtypes
from convprop.dtypes import check_device
from convprop.ops.elementwise import to_dtype, unbroadcast
from convprop.tensor import Function, Tensor


class Reshape(Function):
    """y = x viewed with another shape;  dL/dx = dL/dy reshaped back."""

    formula = "dL/dx = dL/dy reshaped back"

    def forward(self, x, shape=()):
        self.shape = x.shape
        return x.reshape(shape)

    def backward(self, g):
        return g.reshape(self.shape)


class Clone(Function):
    """y = a copy of x;  dL/dx = dL/dy."""

    formula = "dL/dx = dL/dy"

    def forward(self, x):
        return x.copy()

    def backward(self, g):
        return g


class Permute(Function):
    """y = x with its axes permuted;  dL/dx = dL/dy with the inverse permutation."""

    formula = "dL/dx = dL/dy with the inverse permutation"

    def forward(self, x, dims=()):
        self.inverse = tuple(np.argsort(dims))
        return x.transpose(dims)

    def backward(self, g):
        return g.transpose(self.inverse)


class BroadcastTo(Function):
    """y = x repeated to ``shape`` (no copy);  dL/dx = dL/dy summed over the repeats."""

    formula = "dL/dx = dL/dy summed over the repeats"

    def forward(self, x, shape=()):
        self.shape = x.shape
        return np.broadcast_to(x, shape)

    def backward(self, g):
        return unbroadcast(g, self.shape)


class GetItem(Function):
    """y = x[index];  dL/dx = zeros with dL/dy added at the indexed positions (repeats accumulate)."""

    formula = "dL/dx = zeros with dL/dy added at the indexed positions"

    def forward(self, x, index=None):
        self.shape, self.index = x.shape, index
        return np.asarray(x[index])

    def backward(self, g):
        gx = np.zeros(self.shape, dtype=g.dtype)
        if _is_basic(self.index):
            gx[self.index] = g  # basic indexing never selects an element twice
        else:
            np.add.at(gx, self.index, g)
        return gx


class Concatenate(Function):
    """y = [x₁, x₂, ...] joined along ``axis``;  dL/dxᵢ = the slice of dL/dy that xᵢ filled."""

    formula = "dL/dxᵢ = the slice of dL/dy that xᵢ filled"

    def forward(self, *xs, axis=0):
        self.axis = axis
        self.bounds = np.cumsum([x.shape[axis] for x in xs])[:-1]
        return np.concatenate(xs, axis=axis)

    def backward(self, g):
        return tuple(np.split(g, self.bounds, axis=self.axis))


class Pad(Function):
    """y = x padded by gathering along each padded axis (constant mode fills ``value``).

    Every output element is a copy of one input element (or of the constant),
    so dL/dx adds dL/dy at the source of every copy.
    """

    formula = "dL/dx adds dL/dy at the source of every copy"

    def forward(self, x, pads=(), mode="constant", value=0.0):
        self.shape, self.pads, self.mode = x.shape, pads, mode
        if mode == "constant":
            widths = [(max(lo, 0), max(hi, 0)) for lo, hi in pads]
            y = np.pad(x, widths, mode="constant", constant_values=value)
            return y[self._crop()]
        self.sources = [_pad_source(n, lo, hi, mode) for n, (lo, hi) in zip(x.shape, pads, strict=True)]
        y = x
        for axis, src in enumerate(self.sources):
            if src is not None:
                y = np.take(y, src, axis=axis)
        return y

    def _crop(self):
        """Slices that apply negative (cropping) pads after the positive ones were added."""
        return tuple(
            slice(max(-lo, 0), (n + max(lo, 0) + max(hi, 0)) - max(-hi, 0))
            for n, (lo, hi) in zip(self.shape, self.pads, strict=True)
        )

    def backward(self, g):
        if self.mode == "constant":
            full = tuple(n + max(lo, 0) + max(hi, 0) for n, (lo, hi) in zip(self.shape, self.pads, strict=True))
            big = np.zeros(full, dtype=g.dtype)
            big[self._crop()] = g
            inner = tuple(slice(max(lo, 0), max(lo, 0) + n) for n, (lo, _) in zip(self.shape, self.pads, strict=True))
            return big[inner]
        for axis in reversed(range(g.ndim)):
            src = self.sources[axis]
            if src is None:
                continue
            moved = np.moveaxis(g, axis, 0)
            acc = np.zeros((self.shape[axis], *moved.shape[1:]), dtype=g.dtype)
            np.add.at(acc, src, moved)
            g = np.moveaxis(acc, 0, axis)
        return g


def _is_basic(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, int | np.integer | slice) or i is None or i is Ellipsis for i in items)


def _pad_source(n: int, lo: int, hi: int, mode: str) -> np.ndarray | None:
    """For each output position along one axis, the input position it copies."""
    if lo == 0 and hi == 0:
        return None
    if mode == "circular":  # PyTorch crops first (negative pads), then wraps around what is left
        kept = n + min(lo, 0) + min(hi, 0)
        return max(-lo, 0) + np.arange(-max(lo, 0), kept + max(hi, 0)) % kept
    pos = np.arange(-lo, n + hi)
    if mode == "replicate":
        return np.clip(pos, 0, n - 1)
    period = 2 * (n - 1)  # reflect: mirror about the edge elements, which are not repeated
    pos = np.abs(pos) % period if period else np.zeros_like(pos)
    return np.where(pos >= n, period - pos, pos)


def _resolve_shape(shape: tuple, x: Tensor) -> tuple[int, ...]:
    """``shape`` with its one allowed -1 filled in, checked against ``x``'s size."""
    size = x.data.size
    bad = RuntimeError(f"shape {list(shape)} is invalid for input of size {size} (shape {x.shape})")
    if not all(isinstance(s, int | np.integer) and s >= -1 for s in shape) or list(shape).count(-1) > 1:
        raise bad
    known = int(np.prod([s for s in shape if s != -1]))
    if -1 in shape:
        if known == 0 or size % known:
            raise bad
        shape = tuple(size // known if s == -1 else s for s in shape)
    if int(np.prod(shape)) != size:
        raise bad
    return tuple(int(s) for s in shape)


def reshape(x: Tensor, *shape) -> Tensor:
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], Sequence | np.ndarray) else shape
    target = _resolve_shape(shape, x)
    return x if target == x.shape else Reshape.apply(x, shape=target)


def clone(x: Tensor) -> Tensor:
    """A copy of ``x`` that stays in the graph, like ``torch.clone``."""
    return Clone.apply(x)


def _axis(dim, ndim: int, op: str, extra: int = 0) -> int:
    """``dim`` as an axis in ``range(ndim + extra)`` (negatives count from the end); out of range is an error."""
    rank = max(ndim + extra, 1)  # a 0-d tensor accepts dim 0 and -1, as in PyTorch
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__} {dim!r}")
    if not -rank <= dim < rank:
        raise IndexError(
            f"{op}: dimension out of range (expected to be in range of [{-rank}, {rank - 1}], but got {dim})"
        )
    return int(dim) % rank


def permute(x: Tensor, *dims) -> Tensor:
    dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], Sequence) else dims
    if len(dims) != x.ndim:
        raise ValueError(f"permute: dims {dims} has {len(dims)} entries for a tensor of shape {x.shape}")
    axes = tuple(_axis(d, x.ndim, "permute") for d in dims)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"permute: dims {dims} is not a permutation of the {x.ndim} dimensions of shape {x.shape}")
    return Permute.apply(x, dims=axes)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    a, b = _axis(dim0, x.ndim, "transpose"), _axis(dim1, x.ndim, "transpose")
    if x.ndim < 2:
        return x
    dims = list(range(x.ndim))
    dims[a], dims[b] = dims[b], dims[a]
    return Permute.apply(x, dims=tuple(dims))


def t(x: Tensor) -> Tensor:
    """The transpose of a matrix (0-d and 1-D tensors are returned as they are), like ``torch.t``."""
    if x.ndim > 2:
        raise ValueError(f"t: expected a tensor of at most 2 dimensions, got shape {x.shape}")
    return transpose(x, 0, -1) if x.ndim == 2 else x


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    start, end = _axis(start_dim, x.ndim, "flatten"), _axis(end_dim, x.ndim, "flatten")
    if x.ndim == 0:
        return reshape(x, 1)
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {x.shape}")
    merged = int(np.prod(x.shape[start : end + 1]))
    return reshape(x, *x.shape[:start], merged, *x.shape[end + 1 :])


def unflatten(x: Tensor, dim: int, sizes) -> Tensor:
    """Split dimension ``dim`` into ``sizes`` (one may be -1), like ``torch.unflatten``: the reverse of flatten."""
    axis = _axis(dim, x.ndim, "unflatten")
    sizes = tuple(sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    if not all(isinstance(n, int | np.integer) and not isinstance(n, bool) and n >= -1 for n in sizes):
        raise RuntimeError(f"unflatten: sizes must be ints >= -1, got {list(sizes)}")
    if sizes.count(-1) > 1:
        raise RuntimeError(f"unflatten: only one dimension can be inferred, got sizes {list(sizes)}")
    n, known = x.shape[axis], int(np.prod([k for k in sizes if k != -1]))
    fits = (known > 0 and n % known == 0) if -1 in sizes else known == n
    if not fits:
        raise RuntimeError(
            f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {dim} ({n}) in the input"
        )
    return reshape(x, *x.shape[:axis], *(n // known if k == -1 else k for k in sizes), *x.shape[axis + 1 :])


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    dim = _axis(dim, x.ndim, "unsqueeze", extra=1)
    return reshape(x, *x.shape[:dim], 1, *x.shape[dim:])


def squeeze(x: Tensor, dim=None) -> Tensor:
    """Remove dimensions of size 1: all of them, or those among ``dim`` (an int or a tuple of ints)."""
    if dim is None:
        return reshape(x, *(n for n in x.shape if n != 1))
    dims = tuple(dim) if isinstance(dim, tuple | list) else (dim,)
    axes = {_axis(d, x.ndim, "squeeze") for d in dims}
    if x.ndim == 0:
        return x
    return reshape(x, *(n for i, n in enumerate(x.shape) if not (i in axes and n == 1)))


def broadcast_to(x: Tensor, *shape) -> Tensor:
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], Sequence) else shape
    lead = len(shape) - x.ndim
    bad = RuntimeError(f"expand: the expanded size {tuple(shape)} does not fit the tensor's shape {x.shape}")
    if lead < 0 or not all(isinstance(s, int | np.integer) and not isinstance(s, bool) for s in shape):
        raise bad
    # PyTorch's expand: -1 keeps an existing dimension; a new leading dimension cannot be -1
    if any(s == -1 for s in shape[:lead]) or any(s < -1 for s in shape):
        raise bad
    shape = tuple(x.shape[i - lead] if s == -1 else int(s) for i, s in enumerate(shape))
    if any(n != 1 and n != s for n, s in zip(x.shape, shape[lead:], strict=True)):
        raise bad
    return BroadcastTo.apply(x, shape=shape)


def getitem(x: Tensor, index) -> Tensor:
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    elif isinstance(index, list):
        index = np.asarray(index)
    try:
        x.data[index]
    except IndexError as exc:
        raise IndexError(f"index {index!r} is invalid for a tensor of shape {x.shape}: {exc}") from None
    return GetItem.apply(x, index=index)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension, like ``torch.cat``."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise ValueError(f"cat: zero-dimensional tensor (at position {i}) cannot be concatenated")
    # PyTorch still accepts the legacy empty 1-D tensor of shape (0,) beside tensors of any shape
    kept = [t for t in tensors if t.shape != (0,)]
    if not kept:
        return tensors[0]
    tensors = kept
    first = tensors[0]
    if not -first.ndim <= dim < max(first.ndim, 1):
        raise IndexError(f"cat: dim {dim} is out of range for tensors with {first.ndim} dimensions")
    axis = dim % first.ndim
    for i, t in enumerate(tensors):
        if t.ndim != first.ndim or t.shape[:axis] + t.shape[axis + 1 :] != first.shape[:axis] + first.shape[axis + 1 :]:
            raise ValueError(
                f"cat: sizes of tensors must match except in dimension {dim}; tensor 0 has shape {first.shape} "
                f"and tensor {i} has shape {t.shape}"
            )
    return Concatenate.apply(*tensors, axis=axis)


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors of equal shape along a new dimension, like ``torch.stack``."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise ValueError(f"stack: tensor 0 has shape {tensors[0].shape} but tensor {i} has shape {t.shape}")
    return cat([unsqueeze(t, dim) for t in tensors], dim)


_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad(x: Tensor, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad the last ``len(pad) // 2`` dimensions, like ``torch.nn.functional.pad``.

    ``pad`` lists (left, right) pairs starting from the LAST dimension:
    ``(left, right, top, bottom)`` pads W then H. Modes: ``'constant'`` (fill
    with ``value``; negative pads crop), ``'reflect'`` (mirror, edge not
    repeated), ``'replicate'`` (repeat the edge), ``'circular'`` (wrap around).
    """
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {_PAD_MODES}, got {mode!r}")
    pad = tuple(pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim or not all(isinstance(p, int | np.integer) for p in pad):
        raise ValueError(
            f"pad: expected an even number of ints, at most 2 x {x.ndim} for an input of shape {x.shape}, got {pad}"
        )
    k = len(pad) // 2
    pairs = [(0, 0)] * (x.ndim - k) + [(int(pad[2 * i]), int(pad[2 * i + 1])) for i in reversed(range(k))]
    for axis, (lo, hi) in enumerate(pairs):
        n = x.shape[axis]
        if mode == "constant":
            if n + lo + hi < 0:
                raise ValueError(f"pad: padding {(lo, hi)} leaves dimension {axis} of size {n} with a negative size")
            continue
        if n + lo + hi < 0:
            raise ValueError(f"pad: input (size {n} at dimension {axis}) is too small for padding {(lo, hi)}")
        if mode == "reflect" and (lo >= n or hi >= n) and (lo or hi):
            raise ValueError(
                f"pad: padding size should be less than the corresponding input dimension for 'reflect', "
                f"but got padding {(lo, hi)} at dimension {axis} of input {x.shape}"
            )
        if mode == "circular" and (lo > n + min(hi, 0) or hi > n + min(lo, 0)):
            raise ValueError(
                f"pad: padding {(lo, hi)} at dimension {axis} is larger than the dimension size {n} ('circular')"
            )
        if mode == "replicate" and n == 0 and (lo or hi):
            raise ValueError(f"pad: cannot 'replicate'-pad the empty dimension {axis} of input {x.shape}")
    if all(p == (0, 0) for p in pairs):
        return x
    if mode == "constant" and x.dtype.kind in "iub":
        info = np.iinfo(x.dtype) if x.dtype.kind != "b" else None
        if not np.isfinite(value) or (info is not None and not info.min <= value <= info.max):
            raise RuntimeError(f"pad: value {value} cannot be converted to type {x.dtype} without overflow")
    return Pad.apply(x, pads=tuple(pairs), mode=mode, value=value)


def to_target(args, dtype, device, op: str):
    """The dtype that ``.to(*args, dtype=, device=)`` asks for (None: keep it), as Tensor.to and Module.to read
    their arguments: a tensor gives its dtype, a device name its device, anything else is a dtype. The device
    must be the CPU."""
    for arg in args:
        if isinstance(arg, Tensor):
            dtype = arg.dtype
        elif dtypes.is_device(arg):
            device = arg
        else:
            dtype = arg
    check_device(device, op)
    return dtype


def to(x: Tensor, *args, dtype=None, device=None, copy: bool = False, non_blocking: bool = False) -> Tensor:
    """``Tensor.to``: ``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other_tensor)``.

    convprop runs on the CPU, so the device can only be ``"cpu"``.
    """
    dtype = to_target(args, dtype, device, "to")
    y = x if dtype is None else to_dtype(x, dtype)
    return clone(y) if copy and y is x else y


class Repeat(Function):
    """y = x tiled ``reps`` times along each axis;  dL/dx = Σ of dL/dy over the copies."""

    formula = "dL/dx = Σ of dL/dy over the copies"

    def forward(self, x, reps=()):
        self.in_shape = x.shape
        self.shape = (1,) * (len(reps) - x.ndim) + x.shape
        return np.tile(x, reps)

    def backward(self, g):
        interleaved = tuple(v for r, n in zip(g.shape, self.shape, strict=True) for v in (r // max(n, 1), n))
        grid = g.reshape(interleaved) if g.size else np.zeros(interleaved, dtype=g.dtype)
        return grid.sum(axis=tuple(range(0, grid.ndim, 2))).reshape(self.in_shape)


def repeat(x: Tensor, *sizes) -> Tensor:
    """Tile ``x``: ``sizes[i]`` copies along dimension i (new leading dimensions allowed), like ``Tensor.repeat``."""
    sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], Sequence) else sizes
    if len(sizes) < x.ndim:
        raise ValueError(
            f"repeat: the number of repeats ({len(sizes)}) cannot be smaller than the tensor's dimensions ({x.ndim})"
        )
    if not all(isinstance(s, int | np.integer) and not isinstance(s, bool) and s >= 0 for s in sizes):
        raise ValueError(f"repeat: repeats must be non-negative ints, got {sizes}")
    return Repeat.apply(x, reps=tuple(int(s) for s in sizes))


def split(x: Tensor, split_size_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces of ``x`` along ``dim``: of ``split_size`` each (the last may be smaller) or of the listed sizes."""
    axis = _axis(dim, x.ndim, "split")
    if x.ndim == 0:
        raise ValueError("split: cannot split a 0-d tensor")
    n = x.shape[axis]
    if isinstance(split_size_or_sections, int | np.integer) and not isinstance(split_size_or_sections, bool):
        size = int(split_size_or_sections)
        if size < 0 or (size == 0 and n > 0):
            raise ValueError(f"split: split_size must be a positive int, got {size}")
        sizes = [size] * (n // size) + ([n % size] if n % size else []) if size else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if any(s < 0 for s in sizes) or builtins.sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} must be non-negative and add up to {n} (dim {dim} of {x.shape})")
    bounds = np.cumsum([0, *sizes])
    lead = (slice(None),) * axis
    return tuple(getitem(x, (*lead, slice(int(a), int(b)))) for a, b in itertools.pairwise(bounds))


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """At most ``chunks`` pieces of equal size ceil(n / chunks) along ``dim`` (the last may be smaller)."""
    if isinstance(chunks, bool) or not isinstance(chunks, int | np.integer) or chunks <= 0:
        raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
    n = x.shape[_axis(dim, x.ndim, "chunk")] if x.ndim else 0
    return split(x, max(-(-n // int(chunks)), 1), dim)


def unbind(x: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices of ``x`` along ``dim``, with that dimension removed."""
    axis = _axis(dim, x.ndim, "unbind")
    lead = (slice(None),) * axis
    return tuple(getitem(x, (*lead, i)) for i in range(x.shape[axis]))
