"""Symbolic derivation of a 2-D convolution layer's backward pass, proved entry by entry.

:func:`derive_conv` writes the forward pass O = X ⋆ F out entry by entry, takes
the local gradients ∂O/∂F_ij and ∂O/∂X_ij with SymPy, applies the chain rule as
a Frobenius inner product with ∂L/∂O, and checks that the result equals the
closed forms

    ∂L/∂F = subsample_d( pad_p(X) ⋆ dilate_s(∂L/∂O) )                 (correlation, stride -> dilation)
    ∂L/∂X = crop_p( pad(dilate_s(∂L/∂O)) ⋆ rot180(dilate_d(F)) )      (full correlation, cropped)

(pad_p(X) without the rows/columns no window reaches; subsample_d keeps every d-th row and column)

by expanding both and comparing every entry. ``verified`` is True only when
every entry of both gradients matches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp

import convprop
import convprop.nn.functional as F
from convprop import reference as ref
from convprop.explain.notebook import NotebookDisplay
from convprop.explain.symbols import symbol_array
from convprop.ops._args import ntuple, positive
from convprop.ops.conv import Geometry

#: Beyond this input height/width the equations are too long to read; use the numeric check.
MAX_SYMBOLIC_SIZE = 8
MAX_SYMBOLIC_CHANNELS = 4


def channels(in_channels, out_channels, groups, op: str) -> tuple[int, int, int]:
    """Positive channel counts that ``groups`` divides, checked before any array of their shapes is built."""
    cin, cout, groups = (
        positive(v, 1, n, op)[0]
        for v, n in ((in_channels, "in_channels"), (out_channels, "out_channels"), (groups, "groups"))
    )
    if cin % groups or cout % groups:
        raise ValueError(
            f"{op}: in_channels ({cin}) and out_channels ({cout}) must both be divisible by groups ({groups})"
        )
    return cin, cout, groups


@dataclass(frozen=True)
class ConvConfig:
    """A conv2d (or conv1d) layer's hyper-parameters for one unbatched input, validated as the layer does.

    A conv1d layer (``ndim=1``) is held as a conv2d of one row: height 1, kernel height 1, stride 1 and no
    padding along it, so every formula below serves both; only names and labels drop the row index.
    """

    input_size: tuple[int, int]
    kernel_size: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    in_channels: int = 1
    out_channels: int = 1
    groups: int = 1
    ndim: int = 2

    @classmethod
    def make(
        cls, input_size, kernel_size, stride=1, padding=0, dilation=1, in_channels=1, out_channels=1, groups=1, ndim=2
    ):
        """Validate with ``conv2d``/``conv1d`` itself, on zeros of the configuration's shapes: one copy of the
        rules, and the engine's own error messages (kernel larger than the padded input, groups, ...)."""
        if ndim not in (1, 2):
            raise ValueError(f"ndim must be 1 (conv1d) or 2 (conv2d), got {ndim!r}")
        op = f"conv{ndim}d"
        size, kernel = positive(input_size, ndim, "input_size", op), positive(kernel_size, ndim, "kernel_size", op)
        cin, cout, groups = channels(in_channels, out_channels, groups, op)
        x = convprop.tensor(np.zeros((cin, *size)))
        w = convprop.tensor(np.zeros((cout, cin // groups, *kernel)))
        conv = F.conv2d if ndim == 2 else F.conv1d
        with convprop.no_grad():
            conv(x, w, stride=stride, padding=padding, dilation=dilation, groups=groups)
        stride, padding, dilation = (
            ntuple(v, ndim, n, op) for v, n in ((stride, "stride"), (padding, "padding"), (dilation, "dilation"))
        )
        if ndim == 1:  # one row: nothing happens along the height
            size, kernel, stride, padding, dilation = (
                (1, *size),
                (1, *kernel),
                (1, *stride),
                (0, *padding),
                (1, *dilation),
            )
        return cls(size, kernel, stride, padding, dilation, cin, cout, groups, ndim)

    def shown(self, pair: tuple[int, int]) -> tuple[int, ...]:
        """A size or hyper-parameter as the layer takes it: both axes for conv2d, the row's length for conv1d."""
        return pair if self.ndim == 2 else pair[1:]

    @property
    def geometry(self) -> Geometry:
        """The engine's description of this convolution: its size formulas are the ones used here."""
        return Geometry(self.stride, self.padding, self.padding, self.dilation, self.groups)

    @property
    def effective_kernel(self) -> tuple[int, int]:
        """Dilated kernel extent d(k-1)+1."""
        return tuple(d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation, strict=True))

    @property
    def padded_size(self) -> tuple[int, int]:
        return self.geometry.padded(self.input_size)

    @property
    def output_size(self) -> tuple[int, int]:
        """floor((n + 2p - d(k-1) - 1) / s) + 1 per axis."""
        return self.geometry.out_size(self.input_size, self.kernel_size)

    @property
    def uncovered(self) -> tuple[int, int]:
        """Rows/columns at the bottom/right of the padded input that no window reaches: (n + 2p - ke) mod s."""
        return tuple((n - e) % s for n, e, s in zip(self.padded_size, self.effective_kernel, self.stride, strict=True))

    @property
    def single_channel(self) -> bool:
        return self.in_channels == 1 and self.out_channels == 1

    @property
    def group_in(self) -> int:
        return self.in_channels // self.groups

    @property
    def group_out(self) -> int:
        return self.out_channels // self.groups

    def input_channel(self, o: int, c: int) -> int:
        """The input channel that filter slice F[o, c] reads (grouped convolution)."""
        return (o // self.group_out) * self.group_in + c

    def check_symbolic_size(self) -> None:
        h, w = self.input_size
        if max(h, w) > MAX_SYMBOLIC_SIZE or max(self.in_channels, self.out_channels) > MAX_SYMBOLIC_CHANNELS:
            raise ValueError(
                f"a {h}x{w} input with {self.in_channels} -> {self.out_channels} channels is too large to read "
                f"symbolically (at most {MAX_SYMBOLIC_SIZE}x{MAX_SYMBOLIC_SIZE} and {MAX_SYMBOLIC_CHANNELS} "
                "channels); use the numeric check instead (--numeric, convprop.explain.numeric_conv)"
            )


# ---- closed forms ------------------------------------------------------------


def padded_grad_output(cfg: ConvConfig, go: np.ndarray, insert_zeros: bool = True) -> np.ndarray:
    """dL/dO of one output channel prepared for the full correlation of ∂L/∂X.

    Stride s becomes s-1 zeros between entries; then ke-1 zeros on every side
    (ke = d(k-1)+1), plus the rows/columns no forward window reached at the
    bottom/right, so the full correlation has the padded input's size.
    """
    g = ref.dilate(go, cfg.stride) if insert_zeros else go
    (eh, ew), (rh, rw) = cfg.effective_kernel, cfg.uncovered
    return ref.pad(g, [(eh - 1, eh - 1 + rh), (ew - 1, ew - 1 + rw)])


def crop(a: np.ndarray, padding: tuple[int, int]) -> np.ndarray:
    """Remove the forward padding p from each side of a full-size gradient."""
    return ref.crop(a, [(p, p) for p in padding])


def used_padded_input(cfg: ConvConfig, xc: np.ndarray) -> np.ndarray:
    """One channel of X, zero-padded as in the forward pass, without the rows/columns no window reaches."""
    (ph, pw), (rh, rw) = cfg.padding, cfg.uncovered
    xp = ref.pad(xc, [(ph, ph), (pw, pw)])
    return xp[: xp.shape[0] - rh, : xp.shape[1] - rw]


def _correlate(a: np.ndarray, k: np.ndarray) -> np.ndarray | None:
    """Valid correlation, or None when a (wrong) closed form made the filter larger than its input."""
    return None if any(n < m for n, m in zip(a.shape, k.shape, strict=True)) else ref.correlate(a, k)


def closed_form_dF(cfg: ConvConfig, x: np.ndarray, go: np.ndarray, insert_zeros: bool = True) -> np.ndarray | None:
    """∂L/∂F[o, c] = X_padded[c'] ⋆ dilate_s(∂L/∂O[o]), read every d-th entry (d: the filter dilation).

    ``insert_zeros=False`` leaves the stride's zeros out, to show (and test) that this is wrong;
    a closed form whose shape comes out wrong returns None.
    """
    out = np.empty((cfg.out_channels, cfg.group_in, *cfg.kernel_size), dtype=object if x.dtype == object else x.dtype)
    for o in range(cfg.out_channels):
        g = ref.dilate(go[o], cfg.stride) if insert_zeros else go[o]
        for c in range(cfg.group_in):
            r = _correlate(used_padded_input(cfg, x[cfg.input_channel(o, c)]), g)
            if r is None or r[:: cfg.dilation[0], :: cfg.dilation[1]].shape != tuple(cfg.kernel_size):
                return None
            out[o, c] = r[:: cfg.dilation[0], :: cfg.dilation[1]]
    return out


def full_grad_input(
    cfg: ConvConfig, f: np.ndarray, go: np.ndarray, rotate: bool = True, insert_zeros: bool = True
) -> list | None:
    """Per input channel c: Σ_o padded(∂L/∂O[o]) ⋆ rot180(dilate_d(F[o, c])), before the crop."""
    out = [None] * cfg.in_channels
    for o in range(cfg.out_channels):
        gp = padded_grad_output(cfg, go[o], insert_zeros)
        for c in range(cfg.group_in):
            k = ref.dilate(f[o, c], cfg.dilation)
            part = _correlate(gp, ref.rot180(k) if rotate else k)
            if part is None:
                return None
            ci = cfg.input_channel(o, c)
            out[ci] = part if out[ci] is None else out[ci] + part
    return out


def closed_form_dX(
    cfg: ConvConfig, f: np.ndarray, go: np.ndarray, rotate: bool = True, insert_zeros: bool = True
) -> np.ndarray | None:
    """∂L/∂X[c] = crop_p( Σ_o padded(∂L/∂O[o]) ⋆ rot180(F[o, c]) ), the filter dilated by d.

    ``rotate`` and ``insert_zeros`` exist to show (and test) that leaving out
    either step gives a wrong result; a closed form whose shape comes out wrong
    returns None.
    """
    full = full_grad_input(cfg, f, go, rotate, insert_zeros)
    if full is None:
        return None
    out = [crop(a, cfg.padding) for a in full]
    if any(p.shape != tuple(cfg.input_size) for p in out):
        return None
    return np.stack(out)


def prove(chain_rule: np.ndarray, closed_form: np.ndarray | None) -> bool:
    """True when both arrays have the same shape and every entry's difference expands to 0."""
    if closed_form is None or chain_rule.shape != closed_form.shape:
        return False
    return all(sp.expand(a - b) == 0 for a, b in zip(chain_rule.flat, closed_form.flat, strict=True))


# ---- the derivation ----------------------------------------------------------


def _size(shape) -> str:
    return "x".join(str(n) for n in shape)


def _one(pair) -> str:
    """A per-axis pair, written once when both axes agree."""
    return str(pair[0]) if pair[0] == pair[1] else f"({pair[0]}, {pair[1]})"


def _public(a: np.ndarray, single: bool):
    """A SymPy Matrix for one channel (the article's view), a SymPy Array otherwise."""
    return sp.Matrix(a.reshape(a.shape[-2:]).tolist()) if single else sp.Array(a.tolist())


@dataclass
class ConvDerivation(NotebookDisplay):
    """Every step of the derivation for one configuration; see :func:`derive_conv`.

    The ``x``, ``f``, ``go`` (dL/dO), ``o`` ... attributes are NumPy object arrays
    with the channel axes always present; ``X``, ``F``, ``dO``, ``O``, ``dF`` and
    ``dX`` are the same as SymPy matrices (one channel) or arrays.
    """

    config: ConvConfig
    x: np.ndarray
    f: np.ndarray
    go: np.ndarray
    o: np.ndarray
    forward_terms: np.ndarray  # per O entry: the (X entry, F entry) pairs it sums, in window order
    local_f: dict  # F entry -> ∂O/∂F_entry, shaped like O
    local_x: dict  # X entry -> ∂O/∂X_entry, shaped like O
    chain_f: np.ndarray  # ∂L/∂F from the chain rule <∂L/∂O, ∂O/∂F_ij>_F
    chain_x: np.ndarray
    closed_f: np.ndarray
    closed_x: np.ndarray
    verified_f: bool
    verified_x: bool
    symbols: tuple = field(repr=False, default=())

    @property
    def verified(self) -> bool:
        return self.verified_f and self.verified_x

    @property
    def X(self):
        return _public(self.x, self.config.single_channel)

    @property
    def F(self):
        return _public(self.f, self.config.single_channel)

    @property
    def dO(self):
        return _public(self.go, self.config.single_channel)

    @property
    def O(self):  # noqa: E743 - the article's name for the output
        return _public(self.o, self.config.single_channel)

    @property
    def dF(self):
        return _public(self.chain_f, self.config.single_channel)

    @property
    def dX(self):
        return _public(self.chain_x, self.config.single_channel)

    def padded_grad_output(self, o: int = 0) -> np.ndarray:
        """The zero-inserted, zero-padded ∂L/∂O of output channel ``o`` (the article's "padded dL/dO")."""
        return padded_grad_output(self.config, self.go[o])

    def dilated_grad_output(self, o: int = 0) -> np.ndarray:
        return ref.dilate(self.go[o], self.config.stride)

    def rotated_filter(self, o: int = 0, c: int = 0) -> np.ndarray:
        return ref.rot180(self.f[o, c])

    def full_grad_input(self, c: int = 0) -> np.ndarray:
        """∂L/∂X of input channel ``c`` before the crop: the full correlation on the padded input."""
        return full_grad_input(self.config, self.f, self.go)[c]

    # ---- notebook display: the write-up, not the object arrays ----

    def __repr__(self) -> str:
        c = self.config
        return (
            f"ConvDerivation(input {_size(c.input_size)}, kernel {_size(c.kernel_size)}, stride {_one(c.stride)}, "
            f"padding {_one(c.padding)}, dilation {_one(c.dilation)}, channels {c.in_channels}->{c.out_channels}, "
            f"groups {c.groups}, verified={self.verified})"
        )

    def _document(self):
        from convprop.explain.document import conv_document

        return conv_document(self)


def _forward(cfg: ConvConfig, x: np.ndarray, f: np.ndarray):
    """O entries and, for display, the (X, F) pairs each one sums (padding zeros left out)."""
    (h, w), (kh, kw) = cfg.input_size, cfg.kernel_size
    (sh, sw), (ph, pw), (dh, dw) = cfg.stride, cfg.padding, cfg.dilation
    oh, ow = cfg.output_size
    o = np.empty((cfg.out_channels, oh, ow), dtype=object)
    terms = np.empty_like(o)
    for oc, i, j in np.ndindex(*o.shape):
        pairs = []
        for c in range(cfg.group_in):
            xc = x[cfg.input_channel(oc, c)]
            for u in range(kh):
                for v in range(kw):
                    r, s = i * sh - ph + u * dh, j * sw - pw + v * dw
                    if 0 <= r < h and 0 <= s < w:
                        pairs.append((xc[r, s], f[oc, c, u, v]))
        terms[oc, i, j] = pairs
        o[oc, i, j] = sp.Add(*(a * b for a, b in pairs))
    return o, terms


def _chain_rule(o: np.ndarray, go: np.ndarray, wrt: np.ndarray):
    """∂L/∂w = <∂L/∂O, ∂O/∂w>_F for every entry w; also returns each local gradient ∂O/∂w.

    Each O entry is a sum of products, so ∂O_k/∂w is differentiated term by term
    (linearity) over the terms that contain w, found through an index built once;
    differentiating whole sums would build a zero derivative for every other term.
    """
    occurrences = {}  # symbol -> [(index of the O entry, a term of it containing the symbol)]
    for k, e in enumerate(o.flat):
        for t in sp.Add.make_args(e):
            for s in t.free_symbols:
                occurrences.setdefault(s, []).append((k, t))
    local, grad = {}, np.empty(wrt.shape, dtype=object)
    for pos in np.ndindex(*wrt.shape):
        w = wrt[pos]
        parts = {}
        for k, t in occurrences.get(w, ()):
            parts.setdefault(k, []).append(sp.diff(t, w))
        d = np.full(o.size, sp.S.Zero, dtype=object)
        for k, ds in parts.items():
            d[k] = sp.Add(*ds)
        local[w] = d.reshape(o.shape)
        grad[pos] = sp.Add(*(g * v for g, v in zip(go.flat, d, strict=True) if v != 0))
    return local, grad


def derive_conv1d(
    input_size, kernel_size, stride=1, padding=0, dilation=1, in_channels=1, out_channels=1, groups=1
) -> ConvDerivation:
    """Derive, and prove, the backward pass of ``conv1d``: :func:`derive_conv` on one row.

    The entries are named by their position alone (X3, F2, dL/dO1) and the matrices are rows.

    Example::

        >>> d = derive_conv1d(4, 2, stride=2)
        >>> d.dX
        Matrix([[F1*dL/dO1, F2*dL/dO1, F1*dL/dO2, F2*dL/dO2]])
    """
    cfg = ConvConfig.make(input_size, kernel_size, stride, padding, dilation, in_channels, out_channels, groups, 1)
    return _derive(cfg)


def derive_conv(
    input_size, kernel_size, stride=1, padding=0, dilation=1, in_channels=1, out_channels=1, groups=1
) -> ConvDerivation:
    """Derive, and prove, the backward pass of ``conv2d`` for one configuration.

    Forward: O[o, i, j] = Σ_{c, u, v} X[c', i·s + u·d - p, j·s + v·d - p] · F[o, c, u, v].
    The chain rule gives ∂L/∂F and ∂L/∂X entry by entry; they are compared with
    the closed forms (correlation with the dilated ∂L/∂O; full correlation with
    the rotated filter, cropped by the padding).

    Args:
        input_size (int or tuple): height and width of the input X.
        kernel_size (int or tuple): height and width of the filter F.
        stride, padding, dilation (int or tuple): as in ``conv2d``.
        in_channels, out_channels, groups (int): as in ``nn.Conv2d``.

    Shape:
        X: (in_channels, H, W); F: (out_channels, in_channels/groups, kh, kw);
        O and dL/dO: (out_channels, H_out, W_out) with
        H_out = floor((H + 2p - d(kh - 1) - 1) / s) + 1. One channel in and out
        gives plain matrices, with the article's names X11, F11, O11, dL/dO11.

    Example::

        >>> d = derive_conv(3, 2)
        >>> d.O[0, 0]
        F11*X11 + F12*X12 + F21*X21 + F22*X22
        >>> d.verified
        True
    """
    cfg = ConvConfig.make(input_size, kernel_size, stride, padding, dilation, in_channels, out_channels, groups)
    return _derive(cfg)


def _derive(cfg: ConvConfig) -> ConvDerivation:
    cfg.check_symbolic_size()
    multi, row = not cfg.single_channel, cfg.ndim == 2
    x = symbol_array("X", (cfg.in_channels, *cfg.input_size), 1, multi, row=row)
    f = symbol_array("F", (cfg.out_channels, cfg.group_in, *cfg.kernel_size), 2, multi, row=row)
    go = symbol_array("O", (cfg.out_channels, *cfg.output_size), 1, multi, grad=True, row=row)
    o, terms = _forward(cfg, x, f)
    local_f, chain_f = _chain_rule(o, go, f)
    local_x, chain_x = _chain_rule(o, go, x)
    closed_f = closed_form_dF(cfg, x, go)
    closed_x = closed_form_dX(cfg, f, go)
    return ConvDerivation(
        config=cfg,
        x=x,
        f=f,
        go=go,
        o=o,
        forward_terms=terms,
        local_f=local_f,
        local_x=local_x,
        chain_f=chain_f,
        chain_x=chain_x,
        closed_f=closed_f,
        closed_x=closed_x,
        verified_f=prove(chain_f, closed_f),
        verified_x=prove(chain_x, closed_x),
        symbols=(*x.flat, *f.flat, *go.flat),
    )
