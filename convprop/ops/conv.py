r"""N-d convolution and transposed convolution: the article's three formulas, for 1-D, 2-D and 3-D.

The article's formulas, generalised to strides, padding, dilation, groups, channels and batches,
are the three functions at the top of this file, each a few lines on NumPy arrays (NC* layout):

- :func:`conv_forward`: O = X ⋆ F, the cross-correlation (strided, dilated).
- :func:`conv_grad_weight`: ∂L/∂F = X ⋆ ∂L/∂O, with ∂L/∂O dilated by the stride, summed over the
  batch.
- :func:`conv_grad_input`: ∂L/∂X = the full correlation of ∂L/∂O (stride − 1 zeros inserted between
  its elements, the floor remainder restored) with rot180(F) (dilated; in/out channels swapped),
  cropped by the forward padding. With stride 1 (and ∂L/∂O having at most twice X's channels) it
  is computed literally, as :func:`conv_forward` of the padded ∂L/∂O with rot180(F); otherwise as
  col2im(∂L/∂O @ Fᵀ).

Why ``col2im(∂L/∂O @ Fᵀ)`` is the article's full correlation: entry ``(o, k)`` of ``∂L/∂O @ Fᵀ`` is
``∂L/∂O[o] · F[k]``, and col2im adds it into ``∂L/∂X[o·stride + k·dilation − padding]``. Collecting
the terms of one input position gives exactly the full correlation of the zero-dilated, padded
``∂L/∂O`` with the rotated filter, but the inserted zeros are never multiplied (a stride-2
gradient is 3/4 zeros) and there is no padding to build. ``reference.py`` computes the same
gradient literally; the tests hold the two together.

A transposed convolution is the same pair read the other way: its forward is ``conv_grad_input``,
its input gradient is ``conv_forward``, and its weight gradient is ``conv_grad_weight`` with the roles
of input and output gradient swapped. No kernel is duplicated.

How the formulas are computed fast (im2col GEMMs, per-kernel-offset GEMMs on shifted views, the
depthwise ``einsum`` path, and the measured choice between them) is
:mod:`convprop.ops._conv_kernels`; the resources they run with (worker threads, the workspace
cap, batch chunks) are :mod:`convprop.ops._conv_exec`. Thread count:
:func:`convprop.threads.set_num_threads`; workspace cap: :func:`set_workspace_limit`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convprop.ops import _conv_kernels as kernels
from convprop.ops._args import check_allocation, check_input, nonnegative, positive
from convprop.ops._conv_exec import get_workspace_limit, set_workspace_limit
from convprop.tensor import Function, Tensor

__all__ = [
    "ConvNd",
    "ConvTransposeNd",
    "Geometry",
    "Reach",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_forward",
    "conv_grad_input",
    "conv_grad_weight",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "get_workspace_limit",
    "reach",
    "set_workspace_limit",
]


@dataclass(frozen=True)
class Geometry:
    """Stride, per-side padding, dilation and groups of one convolution (as seen from its input X)."""

    stride: tuple[int, ...]
    pad_lo: tuple[int, ...]
    pad_hi: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int

    def padded(self, size) -> tuple[int, ...]:
        return tuple(s + lo + hi for s, lo, hi in zip(size, self.pad_lo, self.pad_hi, strict=True))

    def out_size(self, size, kernel) -> tuple[int, ...]:
        """⌊(size + pad_lo + pad_hi − dilation·(kernel − 1) − 1) / stride⌋ + 1 per axis."""
        return tuple(
            (p - d * (k - 1) - 1) // s + 1
            for p, k, d, s in zip(self.padded(size), kernel, self.dilation, self.stride, strict=True)
        )


@dataclass(frozen=True)
class Reach:
    """The windows of a convolution that overlap its input, when others lie wholly in the padding.

    Output position p reads the padded positions p·stride … p·stride + span (span = dilation·(kernel − 1));
    the input occupies pad_lo … pad_lo + size − 1 of them. Per axis, the windows that overlap it are
    ``p0 = ⌈(pad_lo − span) / stride⌉ ≤ p < p1 = ⌊(pad_lo + size − 1) / stride⌋ + 1``; every other output
    is the bias alone, and its gradient reaches neither X nor F. ``out`` and ``inp`` slice those
    windows and the input they read; ``geom`` is the same convolution on ``X[inp]`` giving ``O[out]``,
    so a padding of 10⁶ with a stride of 10⁶ costs what its few overlapping windows cost.
    """

    out: tuple[slice, ...]
    inp: tuple[slice, ...]
    geom: Geometry

    @property
    def empty(self) -> bool:
        return any(s.stop == s.start for s in self.out)

    def input_size(self) -> tuple[int, ...]:
        return tuple(s.stop - s.start for s in self.inp)

    def output_size(self) -> tuple[int, ...]:
        return tuple(s.stop - s.start for s in self.out)


def reach(size, out_size, kernel, geom: Geometry) -> Reach | None:
    """The :class:`Reach` of a convolution, or None when every window overlaps the input (the usual case)."""
    spans = tuple(d * (k - 1) for d, k in zip(geom.dilation, kernel, strict=True))
    # pad_lo, pad_hi ≤ span: the first window already reaches the input, the last still does
    if 0 in size or all(lo <= t and hi <= t for lo, hi, t in zip(geom.pad_lo, geom.pad_hi, spans, strict=True)):
        return None
    out, inp, lo2, hi2 = [], [], [], []
    for n, q, t, s, lo in zip(size, out_size, spans, geom.stride, geom.pad_lo, strict=True):
        p0 = min(q, max(0, -((t - lo) // s)))
        p1 = max(p0, min(q, (lo + n - 1) // s + 1))
        start, end = p0 * s, (p1 - 1) * s + t + 1  # the padded positions those windows read
        a, b = (max(0, start - lo), min(n, end - lo)) if p1 > p0 else (0, 0)
        out.append(slice(p0, p1))
        inp.append(slice(a, b))
        lo2.append(max(0, lo - start) if p1 > p0 else 0)
        hi2.append(max(0, end - lo - n) if p1 > p0 else 0)
    return Reach(tuple(out), tuple(inp), Geometry(geom.stride, tuple(lo2), tuple(hi2), geom.dilation, geom.groups))


# ---- the three formulas --------------------------------------------------------------------------


def conv_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, geom: Geometry, out_size=None) -> np.ndarray:
    """O = X ⋆ F (+ bias): ``O[n, o, p] = Σ_{c ∈ group(o), k} X_pad[n, c, p·stride + k·dilation] F[o, c, k]``.

    ``out_size`` limits the output's spatial size (a transposed convolution's input gradient may
    need fewer windows than fit); by default every window that fits. Computed as im2col(X) @ F,
    as Σ_k (X shifted by offset k) @ F_k, or as depthwise sums (:func:`convprop.ops._conv_kernels.algorithm`);
    windows wholly in the padding give the bias alone (:func:`reach`).
    """
    out_size = geom.out_size(x.shape[2:], w.shape[2:]) if out_size is None else tuple(out_size)
    r = reach(x.shape[2:], out_size, w.shape[2:], geom)
    if r is None:
        return kernels.forward(x, w, b, geom, out_size)
    y = np.zeros((x.shape[0], w.shape[0], *out_size), dtype=x.dtype)
    if b is not None:
        y += b.reshape(-1, *(1,) * len(out_size))
    if not r.empty:
        inner = np.ascontiguousarray(x[(..., *r.inp)])
        y[(..., *r.out)] = kernels.forward(inner, w, b, r.geom, r.output_size())
    return y


def conv_grad_weight(x: np.ndarray, gy: np.ndarray, weight_shape, geom: Geometry) -> np.ndarray:
    """∂L/∂F = X ⋆ ∂L/∂O, summed over the batch, with ∂L/∂O dilated by the stride:
    ``∂L/∂F[o, c, k] = Σ_{n, p} X_pad[n, c, p·stride + k·dilation] ∂L/∂O[n, o, p]``.

    Computed as im2col(X)ᵀ @ ∂L/∂O, as (X shifted by offset k)ᵀ @ ∂L/∂O per offset, or as depthwise
    sums (:func:`convprop.ops._conv_kernels.algorithm`); windows wholly in the padding add nothing (:func:`reach`).
    """
    r = reach(x.shape[2:], gy.shape[2:], weight_shape[2:], geom)
    if r is None:
        return kernels.grad_weight(x, gy, weight_shape, geom)
    if r.empty:
        return np.zeros(weight_shape, dtype=x.dtype)
    inner = np.ascontiguousarray(x[(..., *r.inp)])
    return kernels.grad_weight(inner, np.ascontiguousarray(gy[(..., *r.out)]), weight_shape, r.geom)


def conv_grad_input(gy: np.ndarray, w: np.ndarray, input_shape, geom: Geometry) -> np.ndarray:
    """∂L/∂X = full correlation of ∂L/∂O (stride − 1 zeros inserted, floor remainder restored) with
    rot180(F) (dilated by the forward dilation, in/out channels swapped), cropped by the forward padding:
    ``∂L/∂X_pad[n, c, p·stride + k·dilation] += Σ_{o ∈ group(c)} ∂L/∂O[n, o, p] F[o, c, k]``.

    With stride 1 there are no zeros to insert, and the full correlation is computed literally:
    :func:`conv_forward` of ∂L/∂O padded by (dilated kernel − 1 − padding) with rot180(F). That is
    used while ∂L/∂O has at most twice X's channels (:func:`convprop.ops._conv_kernels.literal_pays`);
    otherwise ∂L/∂X is col2im(∂L/∂O @ Fᵀ), which never multiplies the inserted zeros. Windows wholly
    in the padding send nothing back (:func:`reach`).
    """
    size, kernel = input_shape[2:], w.shape[2:]
    r = reach(size, gy.shape[2:], kernel, geom)
    if r is not None:
        gx = np.zeros(input_shape, dtype=gy.dtype)
        if not r.empty:
            inner = np.ascontiguousarray(gy[(..., *r.out)])
            gx[(..., *r.inp)] = conv_grad_input(inner, w, (*input_shape[:2], *r.input_size()), r.geom)
        return gx
    span = tuple(d * (k - 1) for d, k in zip(geom.dilation, kernel, strict=True))
    # the floor remainder: padded input positions after the last window, which no output read
    rest = tuple(
        p - (q - 1) * s - t - 1 for p, q, s, t in zip(geom.padded(size), gy.shape[2:], geom.stride, span, strict=True)
    )
    full = Geometry(
        stride=geom.stride,
        pad_lo=tuple(t - p for t, p in zip(span, geom.pad_lo, strict=True)),
        pad_hi=tuple(t - p + r for t, p, r in zip(span, geom.pad_hi, rest, strict=True)),
        dilation=geom.dilation,
        groups=geom.groups,
    )
    stride_one = all(s == 1 for s in geom.stride)
    if stride_one and min(full.pad_lo + full.pad_hi) >= 0 and kernels.literal_pays(w.shape, input_shape[1], geom):
        return conv_forward(gy, _rot180_swapped(w, geom.groups), None, full)
    return kernels.grad_input_col2im(gy, w, input_shape, geom)


def _rot180_swapped(w: np.ndarray, groups: int) -> np.ndarray:
    """rot180(F) with in/out channels swapped within each group: (G·Og, Cg, *k) -> (G·Cg, Og, *k)."""
    o, cg, *kernel = w.shape
    v = np.swapaxes(w.reshape(groups, o // groups, cg, *kernel), 1, 2)
    return np.ascontiguousarray(v[(..., *(slice(None, None, -1),) * len(kernel))]).reshape(
        groups * cg, o // groups, *kernel
    )


# ---- autograd Functions --------------------------------------------------------------------------


class ConvNd(Function):
    """Convolution (cross-correlation) of any rank; forward and the two backward formulas side by side.

    - forward:  O = X ⋆ F + b                                   (:func:`conv_forward`)
    - backward: ∂L/∂X = full correlation of ∂L/∂O with rot180(F) (:func:`conv_grad_input`)
                ∂L/∂F = X ⋆ ∂L/∂O, summed over the batch         (:func:`conv_grad_weight`)
                ∂L/∂b = ∂L/∂O summed over batch and space
    """

    formula = "∂L/∂X = full correlation of ∂L/∂O with rot180(F); ∂L/∂F = X ⋆ ∂L/∂O, summed over the batch"

    def forward(self, x, w, *bias, geom: Geometry, unbatched: bool):
        x = x[None] if unbatched else x
        self.x, self.w, self.geom, self.unbatched, self.has_bias = x, w, geom, unbatched, bool(bias)
        y = conv_forward(x, w, bias[0] if bias else None, geom)
        return y[0] if unbatched else y

    def backward(self, gy):
        gy = gy[None] if self.unbatched else gy
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            gx = conv_grad_input(gy, self.w, self.x.shape, self.geom)
            gx = gx[0] if self.unbatched else gx
        if self.needs_input_grad[1]:
            gw = conv_grad_weight(self.x, gy, self.w.shape, self.geom)
        if not self.has_bias:
            return gx, gw
        if self.needs_input_grad[2]:
            gb = gy.sum(axis=(0, *range(2, gy.ndim)))
        return gx, gw, gb


class ConvTransposeNd(Function):
    """Transposed convolution: the convolution pair read the other way, sharing its kernels.

    - forward:  Y = full correlation of X with rot180(F), cropped  (:func:`conv_grad_input` with X as ∂L/∂O)
    - backward: ∂L/∂X = ∂L/∂Y ⋆ F                                 (:func:`conv_forward`)
                ∂L/∂F = ∂L/∂Y ⋆ X, summed over the batch           (:func:`conv_grad_weight`, roles swapped)
                ∂L/∂b = ∂L/∂Y summed over batch and space
    """

    formula = "∂L/∂X = ∂L/∂Y ⋆ F; ∂L/∂F = ∂L/∂Y ⋆ X, summed over the batch"

    def forward(self, x, w, *bias, geom: Geometry, out_size: tuple[int, ...], unbatched: bool):
        x = x[None] if unbatched else x
        self.x, self.w, self.geom, self.unbatched, self.has_bias = x, w, geom, unbatched, bool(bias)
        y = conv_grad_input(x, w, (x.shape[0], w.shape[1] * geom.groups, *out_size), geom)
        if bias:
            y += bias[0].reshape(-1, *(1,) * len(out_size))
        return y[0] if unbatched else y

    def backward(self, gy):
        gy = gy[None] if self.unbatched else gy
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            gx = conv_forward(gy, self.w, None, self.geom, out_size=self.x.shape[2:])
            gx = gx[0] if self.unbatched else gx
        if self.needs_input_grad[1]:
            gw = conv_grad_weight(gy, self.x, self.w.shape, self.geom)
        if not self.has_bias:
            return gx, gw
        if self.needs_input_grad[2]:
            gb = gy.sum(axis=(0, *range(2, gy.ndim)))
        return gx, gw, gb


# ---- validation and the public functions ---------------------------------------------------------


def _check_tensors(op: str, input, weight, bias, nd: int, weight_layout: str) -> bool:
    """Types, ranks and dtypes of input/weight/bias; returns whether the input is unbatched."""
    for name, t in (("input", input), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    if bias is not None and not isinstance(bias, Tensor):
        raise TypeError(f"{op}: bias must be a Tensor or None, got {type(bias).__name__}")
    unbatched = check_input(input.data, nd, op)
    if weight.ndim != nd + 2:
        raise ValueError(f"{op}: expected a {nd + 2}-D weight of shape {weight_layout}, got shape {weight.shape}")
    if weight.data.size == 0:
        raise ValueError(f"{op}: weight of shape {weight.shape} is empty; kernel size and channels must be positive")
    if not np.issubdtype(input.dtype, np.floating):
        raise TypeError(f"{op}: expected a floating point input, got dtype {input.dtype}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != input.dtype:
            raise RuntimeError(f"{op}: input has dtype {input.dtype} but {name} has dtype {t.dtype}; they must match")
    return unbatched


def _check_groups(op: str, groups) -> int:
    if isinstance(groups, bool) or not isinstance(groups, int | np.integer) or groups <= 0:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    return int(groups)


def _check_bias(op: str, bias, channels: int, weight_shape) -> None:
    if bias is not None and bias.shape != (channels,):
        raise ValueError(
            f"{op}: given weight of shape {weight_shape}, expected bias of shape ({channels},), got {bias.shape}"
        )


def _conv(nd: int, op: str, input, weight, bias, stride, padding, dilation, groups) -> Tensor:
    unbatched = _check_tensors(op, input, weight, bias, nd, "(C_out, C_in / groups, *kernel_size)")
    groups = _check_groups(op, groups)
    stride = positive(stride, nd, "stride", op)
    dilation = positive(dilation, nd, "dilation", op)
    c = input.shape[1 - unbatched]
    o, cg, *kernel = weight.shape
    if c % groups or o % groups:
        raise ValueError(f"{op}: in_channels ({c}) and out_channels ({o}) must both be divisible by groups ({groups})")
    if cg * groups != c:
        raise ValueError(
            f"{op}: given groups={groups} and weight of shape {weight.shape}, expected input of shape "
            f"{input.shape} to have {cg * groups} channels, but got {c}"
        )
    _check_bias(op, bias, o, weight.shape)
    span = tuple(d * (k - 1) for d, k in zip(dilation, kernel, strict=True))
    if isinstance(padding, str):
        if padding == "valid":
            lo = hi = (0,) * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions, got stride={stride}")
            # an odd total splits evenly; an even kernel puts the extra zero on the right, as PyTorch does
            lo = tuple(t // 2 for t in span)
            hi = tuple(t - t // 2 for t in span)
        else:
            raise ValueError(f"{op}: padding must be 'valid', 'same', an int or a tuple of ints, got {padding!r}")
    else:
        lo = hi = nonnegative(padding, nd, "padding", op)
    geom = Geometry(stride, lo, hi, dilation, groups)
    size = input.shape[2 - unbatched :]
    padded = geom.padded(size)
    if any(p < t + 1 for p, t in zip(padded, span, strict=True)):
        raise ValueError(
            f"{op}: padded input size {padded} is smaller than the dilated kernel size "
            f"{tuple(t + 1 for t in span)} (input {input.shape}, weight {weight.shape}, padding {padding!r}, "
            f"dilation {dilation})"
        )
    if 0 in size and all(n > 0 for n in input.shape[: 2 - unbatched]):
        raise RuntimeError(
            f"{op}: only zero batch or zero channel inputs are supported, but got input shape {input.shape}"
        )
    batch = input.shape[: 2 - unbatched] if not unbatched else (1, c)
    out_size = geom.out_size(size, kernel)
    r = reach(size, out_size, kernel, geom)
    check_allocation((*batch, *(padded if r is None else r.geom.padded(r.input_size()))), input.dtype, op)
    check_allocation((batch[0], o, *out_size), input.dtype, op)
    args = (input, weight) if bias is None else (input, weight, bias)
    return ConvNd.apply(*args, geom=geom, unbatched=unbatched)


def _conv_transpose(nd: int, op: str, input, weight, bias, stride, padding, output_padding, groups, dilation):
    unbatched = _check_tensors(op, input, weight, bias, nd, "(C_in, C_out / groups, *kernel_size)")
    groups = _check_groups(op, groups)
    stride = positive(stride, nd, "stride", op)
    dilation = positive(dilation, nd, "dilation", op)
    padding = nonnegative(padding, nd, "padding", op)
    output_padding = nonnegative(output_padding, nd, "output_padding", op)
    if any(p >= max(s, d) for p, s, d in zip(output_padding, stride, dilation, strict=True)):
        raise ValueError(
            f"{op}: output_padding must be smaller than either stride or dilation, got output_padding="
            f"{output_padding}, stride={stride}, dilation={dilation}"
        )
    c = input.shape[1 - unbatched]
    cin, og, *kernel = weight.shape
    if c % groups:
        raise ValueError(f"{op}: in_channels ({c}) must be divisible by groups ({groups})")
    if cin != c:
        raise ValueError(
            f"{op}: given weight of shape {weight.shape}, expected input of shape {input.shape} to have "
            f"{cin} channels, but got {c}"
        )
    _check_bias(op, bias, og * groups, weight.shape)
    size = input.shape[2 - unbatched :]
    out_size = tuple(
        (n - 1) * s - 2 * p + d * (k - 1) + q + 1
        for n, s, p, d, k, q in zip(size, stride, padding, dilation, kernel, output_padding, strict=True)
    )
    if any(s < 1 for s in out_size):
        raise ValueError(
            f"{op}: input of spatial size {tuple(size)} gives output size {out_size} with stride={stride}, "
            f"padding={padding}, dilation={dilation}, weight {weight.shape}: output size is too small"
        )
    if 0 in size and all(n > 0 for n in input.shape[: 2 - unbatched]):
        raise RuntimeError(
            f"{op}: only zero batch or zero channel inputs are supported, but got input shape {input.shape}"
        )
    check_allocation((input.shape[0] if not unbatched else 1, og * groups, *out_size), input.dtype, op)
    geom = Geometry(stride, padding, padding, dilation, groups)
    args = (input, weight) if bias is None else (input, weight, bias)
    return ConvTransposeNd.apply(*args, geom=geom, out_size=out_size, unbatched=unbatched)


_CONV_DOC = r"""Apply a {nd}-D convolution (cross-correlation, as in every deep-learning library) over an input.

    .. math::
        \text{{out}}[n, o] = \text{{bias}}[o]
            + \sum_{{c \in \text{{group}}(o)}} \text{{weight}}[o, c] \star \text{{input}}[n, c]

    where :math:`\star` slides the filter over the zero-padded input with the given stride and
    dilation. Backward: ∂L/∂weight = input ⋆ ∂L/∂out (∂L/∂out dilated by the stride, summed over the
    batch); ∂L/∂input = the full correlation of ∂L/∂out with the 180°-rotated weight, cropped by the
    padding; ∂L/∂bias = ∂L/∂out summed over batch and space.

    Args:
        input (Tensor): (N, C_in, {space}) or unbatched (C_in, {space}).
        weight (Tensor): (C_out, C_in / groups, {kernel_names}).
        bias (Tensor, optional): (C_out,). Default: None
        stride (int or tuple, optional): step of the sliding window. Default: 1
        padding (int, tuple or str, optional): zeros added to both sides, or 'valid' (none) or 'same'
            (output size = input size; stride 1 only; an even total puts the extra zero at the end). Default: 0
        dilation (int or tuple, optional): spacing between kernel elements. Default: 1
        groups (int, optional): split the channels into this many independent convolutions. Default: 1

    Shape:
        - Input: :math:`(N, C_{{in}}, {space})` or :math:`(C_{{in}}, {space})`
        - Output: :math:`(N, C_{{out}}, {space})` with, per spatial axis,
          :math:`\text{{out}} = \lfloor (\text{{in}} + 2\,\text{{padding}} - \text{{dilation}} \times
          (\text{{kernel}} - 1) - 1) / \text{{stride}} + 1 \rfloor`

    Example::

        >>> x = convprop.tensor(np.random.default_rng(0).standard_normal((4, 3, {example})), requires_grad=True)
        >>> w = convprop.tensor(np.random.default_rng(1).standard_normal((8, 3, {kernel_example})), requires_grad=True)
        >>> F.conv{nd}d(x, w, stride=1, padding=1).shape
        (4, 8, {example})
"""

_CONV_T_DOC = r"""Apply a {nd}-D transposed convolution (sometimes called deconvolution) over an input.

    The adjoint of :func:`conv{nd}d`: its forward pass is the convolution's input gradient (each
    input element scatters ``input · weight`` into the output, stride apart, overlaps summed; the
    padding is cropped), and its backward pass is the convolution's forward pass:
    ∂L/∂input = ∂L/∂out ⋆ weight; ∂L/∂weight = ∂L/∂out ⋆ input summed over the batch;
    ∂L/∂bias = ∂L/∂out summed over batch and space.

    .. math::
        \text{{out}}_{{\text{{pad}}}}[n, o, i \cdot \text{{stride}} + k \cdot \text{{dilation}}] \mathrel{{+}}=
        \sum_{{c \in \text{{group}}(o)}} \text{{input}}[n, c, i] \, \text{{weight}}[c, o, k]

    Args:
        input (Tensor): (N, C_in, {space}) or unbatched (C_in, {space}).
        weight (Tensor): (C_in, C_out / groups, {kernel_names}).
        bias (Tensor, optional): (C_out,). Default: None
        stride (int or tuple, optional): step of the sliding window. Default: 1
        padding (int or tuple, optional): ``dilation * (kernel_size - 1) - padding`` zeros of implicit
            padding, i.e. ``padding`` is cropped from both sides of the output. Default: 0
        output_padding (int or tuple, optional): extra size added to one side of the output; must be
            smaller than stride or dilation. Default: 0
        groups (int, optional): split the channels into this many independent convolutions. Default: 1
        dilation (int or tuple, optional): spacing between kernel elements. Default: 1

    Shape:
        - Input: :math:`(N, C_{{in}}, {space})` or :math:`(C_{{in}}, {space})`
        - Output: :math:`(N, C_{{out}}, {space})` with, per spatial axis,
          :math:`\text{{out}} = (\text{{in}} - 1) \times \text{{stride}} - 2\,\text{{padding}}
          + \text{{dilation}} \times (\text{{kernel}} - 1) + \text{{output\_padding}} + 1`

    Example::

        >>> x = convprop.tensor(np.random.default_rng(0).standard_normal((4, 8, {example})), requires_grad=True)
        >>> w = convprop.tensor(np.random.default_rng(1).standard_normal((8, 3, {kernel_example})), requires_grad=True)
        >>> F.conv_transpose{nd}d(x, w, stride=2).shape
        (4, 3, {example_t})
"""


def _doc(template: str, nd: int) -> str:
    return template.format(
        nd=nd,
        space=("L", "H, W", "D, H, W")[nd - 1],
        kernel_names=("kW", "kH, kW", "kD, kH, kW")[nd - 1],
        example=", ".join(["5"] * nd),
        kernel_example=", ".join(["3"] * nd),
        example_t=", ".join(["11"] * nd),
    )


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    return _conv(1, "conv1d", input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    return _conv(2, "conv2d", input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    return _conv(3, "conv3d", input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1) -> Tensor:
    return _conv_transpose(
        1, "conv_transpose1d", input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1) -> Tensor:
    return _conv_transpose(
        2, "conv_transpose2d", input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1) -> Tensor:
    return _conv_transpose(
        3, "conv_transpose3d", input, weight, bias, stride, padding, output_padding, groups, dilation
    )


for _nd, _fn in enumerate((conv1d, conv2d, conv3d), start=1):
    _fn.__doc__ = _doc(_CONV_DOC, _nd)
for _nd, _fn in enumerate((conv_transpose1d, conv_transpose2d, conv_transpose3d), start=1):
    _fn.__doc__ = _doc(_CONV_T_DOC, _nd)
del _nd, _fn
