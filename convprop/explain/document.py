"""A derivation laid out as a document: headings, prose, equations, tables and figures.

The layout is built once, language by language from ``strings.py``, and every
output format (``render.py``) walks the same blocks. Equations are lists of
SymPy objects and :class:`Tok` pieces of notation, so each format prints them
with its own printer (LaTeX, MathML, Unicode text).
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from convprop.explain import strings
from convprop.explain.derive import ConvConfig, ConvDerivation, crop, used_padded_input
from convprop.explain.lesson import conv_lesson, pool_lesson
from convprop.explain.numeric import EPS, NumericCheck
from convprop.explain.pool import PoolConfig, PoolDerivation
from convprop.explain.symbols import entry_of, gradient_of

#: Lists of equations longer than this are cut, with a note saying how many were left out.
MAX_EQUATIONS = 16


@dataclass(frozen=True)
class Tok:
    """A piece of notation SymPy has no object for (an operator, ∂L/∂F, a label), in every format."""

    latex: str
    mathml: str
    text: str


@dataclass(frozen=True)
class Brace:
    """``body`` with ``label`` under a brace, as the article labels its matrices."""

    body: object
    label: object


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Para:
    parts: list  # str or list (an inline formula)


@dataclass
class Display:
    rows: list  # one formula (list of items) per line


@dataclass
class Table:
    header: list
    rows: list


@dataclass
class Figure:
    path: str  # file written by animate.py
    caption: str


@dataclass
class Nav:
    """Links between pages (the gallery's picker); only the HTML page shows it."""

    label: str
    links: list  # (text, href, is_current)
    other_language: tuple | None = None  # (text, href) of this page in the other language


@dataclass
class Widget:
    """An interactive figure of the HTML page (``lesson.py``), placed beside the step it illustrates."""

    name: str  # the lesson widget's id: forward, grad_f, grad_x, pool
    caption: str


@dataclass
class Document:
    lang: str
    title: str
    blocks: list = field(default_factory=list)
    lesson: dict | None = None  # the interactive page's data (lesson.py); other formats ignore it

    @property
    def direction(self) -> str:
        return strings.DIRECTION[self.lang]


# ---- notation ----------------------------------------------------------------


def op(latex: str, text: str, mathml: str | None = None) -> Tok:
    return Tok(latex, f"<mo>{mathml or text}</mo>", f" {text} ")


EQ = op("=", "=")
CORR = op(r"\otimes", "⊗")
PLUS = op("+", "+")
TIMES_OP = op(r"\times", "×")
TIMES = Tok(r"\,", "<mo>\u2062</mo>", "⋅")
COMMA = Tok(r",\quad ", "<mo>,</mo><mspace width='1em'/>", ",   ")
ROTATE = Tok(r"\xrightarrow{180^{\circ}}", "<mover><mo>⟶</mo><mn>180°</mn></mover>", " —180°→ ")


def _piece(p):
    """latex, mathml and text of a name piece: a string (one letter) or an Entry."""
    if isinstance(p, str):
        return p, f"<mi>{p}</mi>", p
    return sp.latex(p), sp.mathml(p, printer="presentation"), sp.pretty(p)


def name(base: str, chan: tuple[int, ...] = ()) -> Tok:
    """A matrix name, with 1-based channel indices when there are several channels: X, X^(2), F^(1,2)."""
    if not chan:
        return Tok(base, f"<mi>{base}</mi>", base)
    c = ",".join(str(i + 1) for i in chan)
    return Tok(f"{base}^{{({c})}}", f"<msup><mi>{base}</mi><mn>({c})</mn></msup>", f"{base}({c})")


def partial(num, den) -> Tok:
    """∂num/∂den, where each is a matrix name (Tok), a letter or an Entry."""
    (nl, nm, nt), (dl, dm, dt) = ((p.latex, p.mathml, p.text) if isinstance(p, Tok) else _piece(p) for p in (num, den))
    return Tok(
        rf"\frac{{\partial {nl}}}{{\partial {dl}}}",
        f"<mfrac><mrow><mo>∂</mo>{nm}</mrow><mrow><mo>∂</mo>{dm}</mrow></mfrac>",
        f"∂{nt}/∂{dt}",
    )


def frobenius(a: Tok, b: Tok) -> Tok:
    """The Frobenius inner product ⟨a, b⟩_F (the sum of element-wise products)."""
    return Tok(
        rf"\left\langle {a.latex}, {b.latex} \right\rangle_F",
        f"<mrow><mo>⟨</mo>{a.mathml}<mo>,</mo>{b.mathml}<msub><mo>⟩</mo><mi>F</mi></msub></mrow>",
        f"⟨{a.text}, {b.text}⟩_F",
    )


def _tex(text: str) -> str:
    """Plain text inside \\text{} or \\operatorname{}: underscores escaped."""
    return text.replace("_", r"\_")


def word(text: str) -> Tok:
    # MathML collapses ordinary spaces at the ends of <mtext>; no-break spaces survive
    return Tok(rf"\text{{{_tex(text)}}}", f"<mtext>{text.replace(' ', chr(0xA0))}</mtext>", text)


def func(fname: str, *args) -> list:
    """fname(arg, arg, ...) as a formula."""
    out = [Tok(rf"\operatorname{{{_tex(fname)}}}\left(", f"<mi>{fname}</mi><mo>(</mo>", f"{fname}(")]
    for i, a in enumerate(args):
        if i:
            out.append(Tok(", ", "<mo>,</mo>", ", "))
        out.extend(a if isinstance(a, list) else [a])
    out.append(Tok(r"\right)", "<mo>)</mo>", ")"))
    return out


def product_sum(pairs) -> sp.Basic:
    """a1 b1 + a2 b2 + ... kept in the given order (the article's X11 F11), without evaluating."""
    terms = [sp.Mul(a, b, evaluate=False) for a, b in pairs if a != 0 and b != 0]
    if not terms:
        return sp.S.Zero
    return terms[0] if len(terms) == 1 else sp.Add(*terms, evaluate=False)


def matrix(a: np.ndarray) -> sp.Matrix:
    return sp.Matrix(np.asarray(a).tolist())


def _number(v: float) -> sp.Basic:
    """An input value as shown: an integer when it is one."""
    return sp.Integer(int(v)) if float(v).is_integer() else sp.Float(v, 4)


def size(shape) -> str:
    return "×".join(str(n) for n in shape)


def _pair(t) -> str:
    """A hyper-parameter as PyTorch prints it: 2 when every axis agrees, (1, 2) otherwise."""
    return str(t[0]) if len(set(t)) == 1 else "(" + ", ".join(str(v) for v in t) + ")"


# ---- prose -------------------------------------------------------------------


def para(lang: str, key: str, **fields) -> Para:
    """The string ``key`` with its fields filled: formulas (lists, Toks, SymPy) inline, anything else as text."""
    parts = []
    for literal, fname, _, _ in string.Formatter().parse(strings.text(lang, key)):
        if literal:
            parts.append(literal)
        if fname is not None:
            value = fields[fname]
            if isinstance(value, list | Tok | sp.Basic):
                parts.append(value if isinstance(value, list) else [value])
            else:
                parts.append(str(value))
    return Para(parts)


def _stride_para(lang: str, key: str, cfg, dO) -> Para:
    """The stride note of a closed form: ∂L/∂O with ``s - 1`` zeros inserted between its entries."""
    return para(lang, key, dO=dO, s=_pair(cfg.stride), z=_pair(tuple(s - 1 for s in cfg.stride)))


def heading(lang: str, key: str, level: int = 2) -> Heading:
    return Heading(strings.text(lang, key), level)


def widget(lang: str, name: str) -> Widget:
    return Widget(name, strings.PAGE[lang]["widget_" + name])


def _capped(rows: list, lang: str, blocks: list) -> None:
    blocks.append(Display(rows[:MAX_EQUATIONS]))
    if len(rows) > MAX_EQUATIONS:
        blocks.append(para(lang, "more", n=len(rows) - MAX_EQUATIONS))


def _channel_matrices(base: str, a: np.ndarray, channel_axes: int, multi: bool, grad: bool = False) -> list:
    """One ``name = Matrix`` formula per channel slice (one formula, no indices, for a single channel)."""
    rows = []
    for chan in np.ndindex(*a.shape[:channel_axes]):
        n = name(base, chan if multi else ())
        rows.append([partial("L", n) if grad else n, EQ, matrix(a[chan])])
    return rows


def _numeric_blocks(check: NumericCheck, lang: str, key: str) -> list:
    t = strings.text
    rows = [
        [grad, f"{t(lang, 'm_' + a)} {t(lang, 'vs')} {t(lang, 'm_' + b)}", f"{err:.1e}"]
        for (grad, a, b), err in check.errors.items()
    ]
    blocks = [
        heading(lang, "h_numeric"),
        para(lang, key, seed=check.seed, eps=f"{EPS:g}"),
        Table([t(lang, "col_grad"), t(lang, "col_compared"), t(lang, "col_error")], rows),
    ]
    if "ties" in check.notes:
        blocks.append(para(lang, "numeric_ties"))
    blocks.append(para(lang, "numeric_ok" if check.ok else "numeric_fail", err=f"{check.max_error:.1e}"))
    return blocks


def _figures(lang: str, figures) -> list:
    if not figures:
        return []
    return [heading(lang, "h_animations")] + [Figure(path, strings.text(lang, key)) for key, path in figures]


# ---- convolution -------------------------------------------------------------


def _config_para(cfg: ConvConfig, lang: str) -> Para:
    formula = Tok(
        r"\left\lfloor \frac{n + 2p - d(k - 1) - 1}{s} \right\rfloor + 1",
        "<mrow><mo>⌊</mo><mfrac><mrow><mi>n</mi><mo>+</mo><mn>2</mn><mi>p</mi><mo>−</mo><mi>d</mi><mo>(</mo>"
        "<mi>k</mi><mo>−</mo><mn>1</mn><mo>)</mo><mo>−</mo><mn>1</mn></mrow><mi>s</mi></mfrac><mo>⌋</mo>"
        "<mo>+</mo><mn>1</mn></mrow>",
        "⌊(n + 2p − d(k − 1) − 1)/s⌋ + 1",
    )
    return para(
        lang,
        "config_conv",
        X=name("X"),
        F=name("F"),
        O=name("O"),
        size=size(cfg.shown(cfg.input_size)),
        ksize=size(cfg.shown(cfg.kernel_size)),
        stride=_pair(cfg.shown(cfg.stride)),
        padding=_pair(cfg.shown(cfg.padding)),
        dilation=_pair(cfg.shown(cfg.dilation)),
        cin=cfg.in_channels,
        cout=cfg.out_channels,
        groups=cfg.groups,
        osize=size(cfg.shown(cfg.output_size)),
        formula=formula,
    )


def _local_rows(d: ConvDerivation, local: dict, entries: np.ndarray, limit: int | None = None) -> list:
    multi = not d.config.single_channel
    rows = []
    for w in list(entries.flat)[:limit]:
        value = local[w]
        if multi:  # one matrix per output channel, labelled, since ∂O/∂w has O's channel axis too
            rhs = []
            for o, v in enumerate(value):
                rhs += ([COMMA] if rhs else []) + [Brace(matrix(v), name("O", (o,)))]
        else:
            rhs = [matrix(value[0])]
        rows.append([partial("O", w), EQ, *rhs])
    return rows


def _chain_rows(d: ConvDerivation, local: dict, entries: np.ndarray, written: bool) -> list:
    """dL/dw = Σ dL/dO_k ∂O_k/∂w, either with the partials written (``written``) or substituted."""
    rows = []
    o_syms = [entry_of(g) for g in d.go.flat]
    for w in entries.flat:
        lv = local[w].ravel()
        if written:
            rhs = []
            for g, o, v in zip(d.go.flat, o_syms, lv, strict=True):
                if v != 0:  # terms whose local gradient is 0 (the window never touched w) add nothing
                    rhs += ([PLUS] if rhs else []) + [g, TIMES, partial(o, w)]
        else:
            rhs = [product_sum((g, v) for g, v in zip(d.go.flat, lv, strict=True))]
        rows.append([gradient_of(w), EQ, *rhs])
    return rows


def conv_document(
    d: ConvDerivation, lang: str = "en", check: NumericCheck | None = None, figures=(), values=None, seed: int = 0
) -> Document:
    """The whole explanation of one conv derivation, in ``lang``; ``figures`` are (caption key, path) pairs.

    ``values`` ({"X": ..., "F": ..., "dO": ...}, any subset) are the interactive page's starting numbers; the
    others are small integers drawn from ``seed``.
    """
    cfg, multi = d.config, not d.config.single_channel
    X, F, O = name("X"), name("F"), name("O")
    dO, dF, dX = partial("L", O), partial("L", F), partial("L", X)
    doc = Document(lang, strings.text(lang, "title_conv"), lesson=conv_lesson(d, values, seed))
    b = doc.blocks
    b.append(_config_para(cfg, lang))

    # forward pass
    b.append(heading(lang, "h_forward"))
    b.append(para(lang, "forward"))
    rows = _channel_matrices("X", d.x, 1, multi) + _channel_matrices("F", d.f, 2, multi)
    b.append(Display(rows))
    if not multi:
        o_names = matrix(d.go[0]).applyfunc(entry_of)
        b.append(Display([[Brace(o_names, O), EQ, Brace(matrix(d.x[0]), X), CORR, Brace(matrix(d.f[0, 0]), F)]]))
    b.append(para(lang, "forward_entries"))
    forward = [[entry_of(g), EQ, product_sum(t)] for g, t in zip(d.go.flat, d.forward_terms.flat, strict=True)]
    _capped(forward, lang, b)
    b.append(widget(lang, "forward"))

    # why, and the local gradients / chain rule for F
    b.append(heading(lang, "h_why"))
    b.append(para(lang, "why", dO=dO, dF=dF, dX=dX))
    b.append(
        Display(
            [
                [dF, EQ, partial(O, F), TIMES_OP, dO],
                [
                    Tok(r"F_{\text{updated}}", "<msub><mi>F</mi><mtext>updated</mtext></msub>", "F_updated"),
                    EQ,
                    F,
                    op("-", "−"),
                    sp.Symbol("alpha"),
                    dF,
                ],
                [dX, EQ, partial(O, X), TIMES_OP, dO],
            ]
        )
    )
    b.append(heading(lang, "h_local_f"))
    b.append(para(lang, "local_f"))
    _capped(_local_rows(d, d.local_f, d.f), lang, b)
    b.append(heading(lang, "h_chain"))
    fij = Tok("F_{ij}", "<msub><mi>F</mi><mi>ij</mi></msub>", "Fij")
    fro = frobenius(dO, partial("O", fij))
    b.append(para(lang, "chain", dO=dO))
    b.append(
        Display([[partial("L", fij), EQ, fro], [dO, EQ, *_channel_matrices("O", d.go, 1, multi, grad=False)[0][2:]]])
    )
    _capped(_chain_rows(d, d.local_f, d.f, written=True), lang, b)
    b.append(para(lang, "chain_sub"))
    _capped(_chain_rows(d, d.local_f, d.f, written=False), lang, b)

    # closed form for F
    b.append(heading(lang, "h_closed_f"))
    b.append(para(lang, "closed_f", dO=dO))
    if cfg.stride != (1, 1):
        b.append(_stride_para(lang, "closed_f_stride", cfg, dO))
    if cfg.padding != (0, 0):
        b.append(para(lang, "closed_f_padding", p=_pair(cfg.padding)))
    if cfg.dilation != (1, 1):
        b.append(para(lang, "closed_f_dilation", d=_pair(cfg.dilation)))
    if cfg.uncovered != (0, 0):
        b.append(para(lang, "uncovered", r=_pair(cfg.uncovered)))
    rows = []
    for o in range(cfg.out_channels):
        for c in range(cfg.group_in):
            ci = cfg.input_channel(o, c)
            xp = used_padded_input(cfg, d.x[ci])
            lhs = partial("L", name("F", (o, c) if multi else ()))
            xb = Brace(matrix(xp), name("X", (ci,) if multi else ()))
            gb = Brace(matrix(d.dilated_grad_output(o)), partial("L", name("O", (o,) if multi else ())))
            rows.append([lhs, EQ, xb, CORR, gb])
    b.append(Display(rows))
    b.append(Display(_channel_matrices("F", d.chain_f, 2, multi, grad=True)))
    b.append(widget(lang, "grad_f"))

    # local gradients and chain rule for X
    b.append(heading(lang, "h_local_x"))
    shown = min(4, d.x.size)
    b.append(para(lang, "local_x", n=shown))
    b.append(Display(_local_rows(d, d.local_x, d.x, limit=shown)))
    b.append(para(lang, "chain_x"))
    _capped(_chain_rows(d, d.local_x, d.x, written=False), lang, b)

    # rotation and the full convolution
    b.append(heading(lang, "h_corr"))
    b.append(para(lang, "corr", dX=dX))
    b.append(Display([[matrix(d.f[0, 0]), ROTATE, matrix(d.rotated_filter(0, 0))]]))
    b.append(heading(lang, "h_closed_x"))
    k1 = tuple(e - 1 for e in cfg.effective_kernel)
    b.append(para(lang, "closed_x", dX=dX, dO=dO, k1=_pair(k1)))
    if cfg.stride != (1, 1):
        b.append(_stride_para(lang, "closed_x_stride", cfg, dO))
    if cfg.uncovered != (0, 0):
        b.append(para(lang, "closed_x_uncovered", r=_pair(cfg.uncovered)))
    if cfg.dilation != (1, 1):
        b.append(para(lang, "closed_x_dilation", d=_pair(cfg.dilation)))
    if multi:
        b.append(para(lang, "closed_x_channels"))
    if cfg.padding != (0, 0):
        b.append(para(lang, "closed_x_crop", p=_pair(cfg.padding), dX=dX))
    rows = []
    for c in range(cfg.in_channels):
        terms = []
        for o in range(cfg.out_channels):
            for cl in range(cfg.group_in):
                if cfg.input_channel(o, cl) != c:
                    continue
                label_o = partial("L", name("O", (o,) if multi else ()))
                padded = Brace(matrix(d.padded_grad_output(o)), [word("padded "), label_o])
                rotated = Brace(
                    matrix(d.rotated_filter(o, cl)), [word("rotated "), name("F", (o, cl) if multi else ())]
                )
                terms += ([PLUS] if terms else []) + [padded, CORR, rotated]
        lhs = partial("L", name("X", (c,) if multi else ()))
        if cfg.padding != (0, 0):
            full = d.full_grad_input(c)
            rows.append([lhs, EQ, *func("crop", terms)])
            rows.append([lhs, EQ, *func("crop", [matrix(full)]), EQ, matrix(crop(full, cfg.padding))])
        else:
            rows.append([lhs, EQ, *terms])
    b.append(Display(rows))
    b.append(Display(_channel_matrices("X", d.chain_x, 1, multi, grad=True)))
    b.append(widget(lang, "grad_x"))

    b.append(heading(lang, "h_transposed"))
    b.append(para(lang, "transposed", dO=dO))
    # (value, PyTorch's default): only the arguments that differ from conv_transpose's defaults are written
    kw = {
        "stride": (cfg.stride, 1),
        "padding": (cfg.padding, 0),
        "output_padding": (cfg.uncovered, 0),
        "groups": ((cfg.groups,) * 2, 1),
        "dilation": (cfg.dilation, 1),
    }
    args = [word(f"{k}={_pair(cfg.shown(v))}") for k, (v, default) in kw.items() if set(cfg.shown(v)) != {default}]
    b.append(Display([[dX, EQ, *func(f"conv_transpose{cfg.ndim}d", dO, F, *args)]]))

    # proof and numeric check
    b.append(heading(lang, "h_proof"))
    if d.verified:
        b.append(para(lang, "proof_ok", nf=d.chain_f.size, nx=d.chain_x.size))
    else:
        which = ", ".join(n for n, ok in (("dL/dF", d.verified_f), ("dL/dX", d.verified_x)) if not ok)
        b.append(para(lang, "proof_fail", which=which))
    if check is not None:
        b += _numeric_blocks(check, lang, "numeric")

    b.append(heading(lang, "h_summary"))
    b.append(para(lang, "summary"))
    b.append(
        Display(
            [
                [dF, EQ, *func("Convolution", [word("input "), X], [word("loss gradient "), dO])],
                [dX, EQ, *func("FullConvolution", [word("180° rotated filter "), F], [word("loss gradient "), dO])],
            ]
        )
    )
    b += _figures(lang, figures)
    return doc


# ---- pooling -----------------------------------------------------------------


def pool_document(
    d: PoolDerivation, lang: str = "en", check: NumericCheck | None = None, figures=(), seed: int = 0
) -> Document:
    """The whole explanation of one pooling derivation; ``seed`` draws the page's starting ∂L/∂B (and A if unset)."""
    cfg: PoolConfig = d.config
    A, B = name("A"), name("B")
    dA, dB = partial("L", A), partial("L", B)
    doc = Document(lang, strings.text(lang, f"title_pool_{cfg.kind}"), lesson=pool_lesson(d, seed))
    b = doc.blocks
    b.append(
        para(
            lang,
            "pool_intro",
            size=size(cfg.input_size),
            osize=size(cfg.output_size),
            ksize=size(cfg.kernel_size),
            stride=_pair(cfg.stride),
            padding=_pair(cfg.padding),
        )
    )
    rows = [[A, EQ, matrix(d.a)]]
    if d.values is not None:
        rows.append([A, EQ, sp.Matrix(d.values.shape[0], d.values.shape[1], [_number(v) for v in d.values.flat])])
    rows.append([B, EQ, matrix(d.gb).applyfunc(entry_of)])
    b.append(Display(rows))
    b.append(para(lang, "pool_forward"))
    fname = "max" if cfg.kind == "max" else "avg"
    eqs = []
    for (i, j), win in np.ndenumerate(d.windows):
        window = np.empty((len({r for r, _ in win}), len({c for _, c in win})), dtype=object)
        rows_, cols_ = sorted({r for r, _ in win}), sorted({c for _, c in win})
        for r, c in win:
            window[rows_.index(r), cols_.index(c)] = d.a[r, c]
        eq = [entry_of(d.gb[i, j]), EQ, *func(fname, matrix(window)), EQ, d.b[i, j]]
        if cfg.kind == "max" and d.values is not None:
            eq += [EQ, _number(d.values[d.winners[i, j]])]
        eqs.append(eq)
    _capped(eqs, lang, b)
    b.append(para(lang, "pool_grad_out", dB=dB, dA=dA))
    b.append(Display([[dB, EQ, matrix(d.gb)]]))
    if cfg.kind == "max":
        b.append(para(lang, "pool_max"))
        if d.values is None:
            b.append(para(lang, "pool_chosen"))
        b.append(para(lang, "pool_ties"))
        if d.ties:
            b.append(para(lang, "pool_ties_here", which=", ".join(entry_of(d.gb[t]).name for t in d.ties)))
    else:
        b.append(para(lang, "pool_avg"))
        if cfg.padding != (0, 0):
            key = "pool_avg_incl" if cfg.count_include_pad else "pool_avg_excl"
            b.append(para(lang, key, div=cfg.kernel_size[0] * cfg.kernel_size[1]))
    if cfg.ceil_mode:
        b.append(para(lang, "pool_ceil"))
    if any(s < k for s, k in zip(cfg.stride, cfg.kernel_size, strict=True)):
        b.append(para(lang, "pool_overlap", s=_pair(cfg.stride), k=_pair(cfg.kernel_size)))
    aij = Tok("A_{ij}", "<msub><mi>A</mi><mi>ij</mi></msub>", "Aij")
    shown = min(4, d.a.size)
    b.append(para(lang, "pool_local", n=shown))
    b.append(Display([[partial("B", w), EQ, matrix(d.local[w])] for w in list(d.a.flat)[:shown]]))
    b.append(para(lang, "pool_chain"))
    b.append(
        Display(
            [
                [
                    partial("L", aij),
                    EQ,
                    frobenius(dB, partial("B", aij)),
                ]
            ]
        )
    )
    b.append(para(lang, "pool_result"))
    divisors = {cfg.divisor(i, j) for i, j in np.ndindex(*cfg.output_size)}
    if cfg.kind == "avg" and len(divisors) == 1:
        # one divisor for every window: factor it out, as the article writes 1/4 (...)
        div = divisors.pop()
        b.append(Display([[dA, EQ, sp.Rational(1, div), matrix(d.chain).applyfunc(lambda e: sp.expand(e * div))]]))
    else:
        b.append(Display([[dA, EQ, matrix(d.chain)]]))
    b.append(widget(lang, "pool"))
    b.append(heading(lang, "h_proof"))
    b.append(para(lang, "proof_pool_ok" if d.verified else "proof_fail", n=d.chain.size, which="dL/dA"))
    if check is not None:
        b += _numeric_blocks(check, lang, "numeric")
    b += _figures(lang, figures)
    return doc


def numeric_document(kind: str, cfg, check: NumericCheck, lang: str = "en") -> Document:
    """The report of ``--numeric``: the configuration and the table of differences."""
    doc = Document(lang, strings.text(lang, "title_numeric_conv" if kind == "conv" else "title_numeric_pool"))
    if kind == "conv":
        doc.blocks.append(_config_para(cfg, lang))
    doc.blocks += _numeric_blocks(check, lang, "numeric_only")
    return doc
