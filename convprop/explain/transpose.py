"""Symbolic derivation of a transposed convolution's forward and backward passes, proved entry by entry.

A transposed convolution is the backward pass of a convolution read forward. Take the *associated*
convolution: its input has this layer's output size, its in/out channels are swapped, and stride, padding
and dilation are the same. Then the article's three formulas give everything, with the tensors in new roles:

    O     = crop_p( pad(dilate_s(X)) ⋆ rot180(dilate_d(F)) )   the conv's ∂L/∂X, with X as its ∂L/∂O
    ∂L/∂X = ∂L/∂O ⋆ F   (stride s, padding p, dilation d)     the conv's forward pass, run on ∂L/∂O
    ∂L/∂F = ∂L/∂O ⋆ dilate_s(X)                              the conv's filter gradient, roles swapped

:func:`derive_conv_transpose` writes O entry by entry (every X entry scatters a copy of the filter, scaled by
itself, s cells apart), takes ∂L/∂X and ∂L/∂F by the chain rule, and proves each of the three equations by
expanding both sides of every entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp

import convprop
import convprop.nn.functional as F
from convprop.explain.derive import ConvConfig, _chain_rule, _forward, channels, closed_form_dF, closed_form_dX, prove
from convprop.explain.notebook import NotebookDisplay
from convprop.explain.symbols import symbol_array
from convprop.ops._args import ntuple, positive


@dataclass(frozen=True)
class ConvTransposeConfig:
    """A conv_transpose2d layer's hyper-parameters for one unbatched input, validated as the layer does."""

    input_size: tuple[int, int]
    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    output_padding: tuple[int, int]
    dilation: tuple[int, int]
    in_channels: int
    out_channels: int
    groups: int
    output_size: tuple[int, int]

    @classmethod
    def make(
        cls, input_size, kernel_size, stride=1, padding=0, output_padding=0, dilation=1, in_channels=1, out_channels=1,
        groups=1,
    ):  # fmt: skip
        """Validate with ``conv_transpose2d`` itself, on zeros; it also gives the output size."""
        op = "conv_transpose2d"
        size, kernel = positive(input_size, 2, "input_size", op), positive(kernel_size, 2, "kernel_size", op)
        cin, cout, groups = channels(in_channels, out_channels, groups, op)
        x = convprop.tensor(np.zeros((1, cin, *size)))
        w = convprop.tensor(np.zeros((cin, cout // groups, *kernel)))
        with convprop.no_grad():
            out = F.conv_transpose2d(x, w, None, stride, padding, output_padding, groups, dilation)
        stride, padding, output_padding, dilation = (
            ntuple(v, 2, n, op)
            for v, n in ((stride, "stride"), (padding, "padding"), (output_padding, "output_padding"),
                         (dilation, "dilation"))
        )  # fmt: skip
        if any(op_ >= s for op_, s in zip(output_padding, stride, strict=True)):
            # PyTorch also allows output_padding < dilation; those extra rows reach no window of the associated
            # convolution, which this derivation (built on it) does not model.
            raise ValueError(
                f"{op}: the explainer needs output_padding smaller than stride, got output_padding {output_padding} "
                f"and stride {stride}"
            )
        return cls(size, kernel, stride, padding, output_padding, dilation, cin, cout, groups, tuple(out.shape[-2:]))

    @property
    def conv(self) -> ConvConfig:
        """The associated convolution: this layer's output is its input; its ∂L/∂X is this layer's forward pass."""
        return ConvConfig(self.output_size, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.out_channels, self.in_channels, self.groups)  # fmt: skip

    @property
    def single_channel(self) -> bool:
        return self.in_channels == 1 and self.out_channels == 1

    def check_symbolic_size(self) -> None:
        self.conv.check_symbolic_size()


@dataclass
class ConvTransposeDerivation(NotebookDisplay):
    """Every step for one configuration; see :func:`derive_conv_transpose`.

    ``x`` (in_channels, H, W), ``f`` (in_channels, out_channels/groups, kh, kw), ``go`` = ∂L/∂O and ``o``
    (out_channels, H_out, W_out) are NumPy object arrays; ``chain_*`` come from the chain rule and
    ``closed_*`` from the three closed forms of the module docstring.
    """

    config: ConvTransposeConfig
    x: np.ndarray
    f: np.ndarray
    go: np.ndarray
    o: np.ndarray
    forward_terms: np.ndarray  # per O entry: the (X entry, F entry) pairs it sums
    chain_x: np.ndarray
    chain_f: np.ndarray
    closed_o: np.ndarray
    closed_x: np.ndarray
    closed_f: np.ndarray
    verified_o: bool
    verified_x: bool
    verified_f: bool
    symbols: tuple = field(repr=False, default=())

    @property
    def verified(self) -> bool:
        return self.verified_o and self.verified_x and self.verified_f

    def _document(self):
        from convprop.explain.transposed_document import conv_transpose_document

        return conv_transpose_document(self)

    def __repr__(self) -> str:
        c = self.config
        return (
            f"ConvTransposeDerivation(input {c.input_size[0]}x{c.input_size[1]}, kernel "
            f"{c.kernel_size[0]}x{c.kernel_size[1]}, stride {c.stride}, padding {c.padding}, output_padding "
            f"{c.output_padding}, dilation {c.dilation}, channels {c.in_channels}->{c.out_channels}, groups "
            f"{c.groups}, output {c.output_size[0]}x{c.output_size[1]}, verified={self.verified})"
        )


def _scatter(cfg: ConvTransposeConfig, x: np.ndarray, f: np.ndarray):
    """O entries: every X entry adds X·F[u, v] at (i·s + u·d − p, j·s + v·d − p); padding positions fall away."""
    conv = cfg.conv
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = cfg.kernel_size, cfg.stride, cfg.padding, cfg.dilation
    oh, ow = cfg.output_size
    terms = np.empty((cfg.out_channels, oh, ow), dtype=object)
    for pos in np.ndindex(*terms.shape):
        terms[pos] = []
    for ci, i, j in np.ndindex(*x.shape):
        for c in range(conv.group_in):
            co = conv.input_channel(ci, c)
            for u, v in np.ndindex(kh, kw):
                r, s = i * sh + u * dh - ph, j * sw + v * dw - pw
                if 0 <= r < oh and 0 <= s < ow:
                    terms[co, r, s].append((x[ci, i, j], f[ci, c, u, v]))
    o = np.empty(terms.shape, dtype=object)
    for pos in np.ndindex(*o.shape):
        o[pos] = sp.Add(*(a * b for a, b in terms[pos]))
    return o, terms


def derive_conv_transpose(
    input_size, kernel_size, stride=1, padding=0, output_padding=0, dilation=1, in_channels=1, out_channels=1, groups=1
) -> ConvTransposeDerivation:
    """Derive, and prove, the forward and backward passes of ``conv_transpose2d`` for one configuration.

    Forward: O[c', r, q] = Σ X[c, i, j] · F[c, c'', u, v] over r = i·s + u·d − p, q = j·s + v·d − p.
    The chain rule gives ∂L/∂X and ∂L/∂F entry by entry; they, and O itself, are compared with the
    closed forms of the module docstring.

    Args:
        input_size, kernel_size (int or tuple): height and width of X and of F.
        stride, padding, output_padding, dilation (int or tuple): as in ``conv_transpose2d``
            (output_padding must be smaller than stride here).
        in_channels, out_channels, groups (int): as in ``nn.ConvTranspose2d``.

    Shape:
        X: (in_channels, H, W); F: (in_channels, out_channels/groups, kh, kw);
        O and dL/dO: (out_channels, H_out, W_out) with
        H_out = (H − 1)·s − 2p + d(kh − 1) + output_padding + 1.

    Example::

        >>> d = derive_conv_transpose(2, 2, stride=2)
        >>> d.o[0, 1, 1]
        F22*X11
        >>> d.verified
        True
    """
    cfg = ConvTransposeConfig.make(
        input_size, kernel_size, stride, padding, output_padding, dilation, in_channels, out_channels, groups
    )
    cfg.check_symbolic_size()
    conv, multi = cfg.conv, not cfg.single_channel
    x = symbol_array("X", (cfg.in_channels, *cfg.input_size), 1, multi)
    f = symbol_array("F", (cfg.in_channels, cfg.out_channels // cfg.groups, *cfg.kernel_size), 2, multi)
    go = symbol_array("O", (cfg.out_channels, *cfg.output_size), 1, multi, grad=True)
    o, terms = _scatter(cfg, x, f)
    _, chain_x = _chain_rule(o, go, x)
    _, chain_f = _chain_rule(o, go, f)
    closed_o = closed_form_dX(conv, f, x)  # the conv's full correlation with the rotated filter, X as its dL/dO
    closed_x = _forward(conv, go, f)[0]  # the conv's forward pass, on dL/dO
    closed_f = closed_form_dF(conv, go, x)  # the conv's filter gradient: dL/dO as its input, X as its dL/dO
    return ConvTransposeDerivation(
        config=cfg,
        x=x,
        f=f,
        go=go,
        o=o,
        forward_terms=terms,
        chain_x=chain_x,
        chain_f=chain_f,
        closed_o=closed_o,
        closed_x=closed_x,
        closed_f=closed_f,
        verified_o=prove(o, closed_o),
        verified_x=prove(chain_x, closed_x),
        verified_f=prove(chain_f, closed_f),
        symbols=(*x.flat, *f.flat, *go.flat),
    )
