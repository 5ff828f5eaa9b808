"""A transposed convolution's derivation laid out as a document (the blocks and notation of ``document.py``).

The order follows the conv lesson: the forward pass (a scatter of filter copies, and the same thing as the full
convolution that is a conv layer's ∂L/∂X), why two gradients, ∂L/∂X (an ordinary convolution), ∂L/∂F, the
proof, the numeric check and a summary.
"""

from __future__ import annotations

import numpy as np

from convprop import reference as ref
from convprop.explain import strings
from convprop.explain.derive import padded_grad_output, used_padded_input
from convprop.explain.document import (
    CORR,
    EQ,
    PLUS,
    Brace,
    Display,
    Document,
    Tok,
    Widget,
    _capped,
    _channel_matrices,
    _numeric_blocks,
    _pair,
    frobenius,
    func,
    heading,
    matrix,
    name,
    para,
    partial,
    product_sum,
    size,
    word,
)
from convprop.explain.lesson import conv_transpose_lesson
from convprop.explain.numeric import NumericCheck
from convprop.explain.symbols import entry_of, gradient_of
from convprop.explain.transpose import ConvTransposeDerivation

_OUTPUT_SIZE = Tok(
    r"(n - 1)s - 2p + d(k - 1) + \text{output\_padding} + 1",
    "<mrow><mo>(</mo><mi>n</mi><mo>−</mo><mn>1</mn><mo>)</mo><mi>s</mi><mo>−</mo><mn>2</mn><mi>p</mi><mo>+</mo>"
    "<mi>d</mi><mo>(</mo><mi>k</mi><mo>−</mo><mn>1</mn><mo>)</mo><mo>+</mo><mtext>output_padding</mtext><mo>+</mo>"
    "<mn>1</mn></mrow>",
    "(n − 1)s − 2p + d(k − 1) + output_padding + 1",
)


def _label(base: str, chan: tuple, multi: bool):
    return name(base, chan if multi else ())


def _forward_rows(d: ConvTransposeDerivation, multi: bool) -> list:
    """O[c'] = crop_p( Σ_c pad(dilate_s(X[c])) ⋆ rot180(dilate_d(F[c, c'])) ): the conv's ∂L/∂X pipeline."""
    cfg, conv = d.config, d.config.conv
    rows = []
    for co in range(cfg.out_channels):
        terms = []
        for ci in range(cfg.in_channels):
            for c in range(conv.group_in):
                if conv.input_channel(ci, c) != co:
                    continue
                padded = Brace(matrix(padded_grad_output(conv, d.x[ci])), [word("padded "), _label("X", (ci,), multi)])
                kernel = ref.rot180(ref.dilate(d.f[ci, c], cfg.dilation))
                rotated = Brace(matrix(kernel), [word("rotated "), _label("F", (ci, c), multi)])
                terms += ([PLUS] if terms else []) + [padded, CORR, rotated]
        lhs = _label("O", (co,), multi)
        rows.append([lhs, EQ, *(func("crop", terms) if cfg.padding != (0, 0) else terms)])
    return rows


def _grad_x_rows(d: ConvTransposeDerivation, multi: bool) -> list:
    """∂L/∂X[c] = Σ_c' ∂L/∂O[c'] ⋆ F[c, c'] with stride s, padding p and dilation d, as conv2d computes it."""
    cfg, conv = d.config, d.config.conv
    rows = []
    for ci in range(cfg.in_channels):
        terms = []
        for c in range(conv.group_in):
            co = conv.input_channel(ci, c)
            dO = Brace(matrix(d.go[co]), partial("L", _label("O", (co,), multi)))
            terms += ([PLUS] if terms else []) + [dO, CORR, Brace(matrix(d.f[ci, c]), _label("F", (ci, c), multi))]
        rows.append([partial("L", _label("X", (ci,), multi)), EQ, *terms])
    return rows


def _grad_f_rows(d: ConvTransposeDerivation, multi: bool) -> list:
    """∂L/∂F[c, c''] = pad_p(∂L/∂O[c']) ⋆ dilate_s(X[c]), read every d-th entry (rows no window reached left out)."""
    cfg, conv = d.config, d.config.conv
    rows = []
    for ci, c in np.ndindex(cfg.in_channels, conv.group_in):
        co = conv.input_channel(ci, c)
        dO = Brace(matrix(used_padded_input(conv, d.go[co])), partial("L", _label("O", (co,), multi)))
        x = Brace(matrix(ref.dilate(d.x[ci], cfg.stride)), _label("X", (ci,), multi))
        rows.append([partial("L", _label("F", (ci, c), multi)), EQ, dO, CORR, x])
    return rows


def _sum_rows(entries: np.ndarray, exprs: np.ndarray) -> list:
    return [[gradient_of(w), EQ, e] for w, e in zip(entries.flat, exprs.flat, strict=True)]


def conv_transpose_document(
    d: ConvTransposeDerivation, lang: str = "en", check: NumericCheck | None = None, values=None, seed: int = 0
) -> Document:
    """The whole explanation of one transposed-conv derivation, in ``lang`` (``values``/``seed``: the page's
    starting numbers, as for :func:`~convprop.explain.document.conv_document`)."""
    cfg, multi = d.config, not d.config.single_channel
    X, F, O = name("X"), name("F"), name("O")
    dO, dF, dX = partial("L", O), partial("L", F), partial("L", X)
    doc = Document(lang, strings.text(lang, "title_transposed"), lesson=conv_transpose_lesson(d, values, seed))
    b = doc.blocks
    b.append(
        para(
            lang,
            "config_transposed",
            X=X,
            F=F,
            O=O,
            size=size(cfg.input_size),
            ksize=size(cfg.kernel_size),
            stride=_pair(cfg.stride),
            padding=_pair(cfg.padding),
            op=_pair(cfg.output_padding),
            dilation=_pair(cfg.dilation),
            cin=cfg.in_channels,
            cout=cfg.out_channels,
            groups=cfg.groups,
            osize=size(cfg.output_size),
            formula=_OUTPUT_SIZE,
        )
    )

    b.append(heading(lang, "h_t_forward"))
    b.append(Display(_channel_matrices("X", d.x, 1, multi) + _channel_matrices("F", d.f, 2, multi)))
    b.append(para(lang, "t_scatter", X=X, s=_pair(cfg.stride)))
    _capped([[entry_of(g), EQ, product_sum(t)] for g, t in zip(d.go.flat, d.forward_terms.flat, strict=True)], lang, b)
    b.append(para(lang, "t_full", X=X, dX=dX))
    b.append(Display(_forward_rows(d, multi)))
    b.append(Widget("forward", strings.PAGE[lang]["widget_t_forward"]))

    b.append(heading(lang, "h_why"))
    b.append(para(lang, "why", dO=dO, dF=dF, dX=dX))

    b.append(heading(lang, "h_t_grad_x"))
    xij = Tok("X_{ij}", "<msub><mi>X</mi><mi>ij</mi></msub>", "Xij")
    b.append(para(lang, "t_grad_x", dO=dO))
    b.append(Display([[partial("L", xij), EQ, frobenius(dO, partial("O", xij))]]))
    _capped(_sum_rows(d.x, d.chain_x), lang, b)
    defaults = {"stride": 1, "padding": 0, "dilation": 1}  # conv2d's: only the others are written
    args = [word(f"{k}={_pair(getattr(cfg, k))}") for k, v in defaults.items() if set(getattr(cfg, k)) != {v}]
    if cfg.groups != 1:
        args.append(word(f"groups={cfg.groups}"))
    b.append(Display([[dX, EQ, *func("conv2d", dO, F, *args)], *_grad_x_rows(d, multi)]))
    b.append(Display(_channel_matrices("X", d.chain_x, 1, multi, grad=True)))
    b.append(Widget("grad_x", strings.PAGE[lang]["widget_t_grad_x"]))

    b.append(heading(lang, "h_t_grad_f"))
    dilation = "" if cfg.dilation == (1,) * len(cfg.dilation) else strings.text(lang, "t_grad_f_dilation")
    b.append(para(lang, "t_grad_f", dO=dO, X=X, s=_pair(cfg.stride), dilation=dilation.format(d=_pair(cfg.dilation))))
    _capped(_sum_rows(d.f, d.chain_f), lang, b)
    b.append(Display(_grad_f_rows(d, multi)))
    b.append(Display(_channel_matrices("F", d.chain_f, 2, multi, grad=True)))
    b.append(Widget("grad_f", strings.PAGE[lang]["widget_t_grad_f"]))

    b.append(heading(lang, "h_proof"))
    if d.verified:
        b.append(para(lang, "proof_t_ok", no=d.o.size, nx=d.chain_x.size, nf=d.chain_f.size))
    else:
        failed = (("O", d.verified_o), ("dL/dX", d.verified_x), ("dL/dF", d.verified_f))
        b.append(para(lang, "proof_fail", which=", ".join(n for n, ok in failed if not ok)))
    if check is not None:
        b += _numeric_blocks(check, lang, "numeric")

    b.append(heading(lang, "h_summary"))
    b.append(para(lang, "summary_t"))
    b.append(
        Display(
            [
                [O, EQ, *func("crop", [word("padded "), X, CORR, word("rotated "), F])],
                [dX, EQ, dO, CORR, F],
                [dF, EQ, dO, CORR, *func("dilate", X)],
            ]
        )
    )
    return doc
