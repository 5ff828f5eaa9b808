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

from convprop import reference as ref
from convprop.explain import strings
from convprop.explain.derive import ConvConfig, ConvDerivation, used_padded_input
from convprop.explain.lesson import conv_lesson, pool_lesson
from convprop.explain.numeric import EPS, NumericCheck
from convprop.explain.pool import PoolConfig, PoolDerivation, pool_config
from convprop.explain.symbols import entry_of, gradient_of

#: Lists of equations longer than this are cut, with a note saying how many were left out.
MAX_EQUATIONS = 16


@dataclass(frozen=True)
class Tok:
    """A piece of notation SymPy has no object for (an operator, ∂L/∂F, a label), in every format.

    ``role`` says what an operator means, for programs that read equations (the shape check in the
    tests): ``("eq",)``, ``("corr",)``, ``("plus",)``, ``("call", name, parameter)`` opening an
    operation such as crop_1( and ``("close",)`` closing it; names and labels have none.
    """

    latex: str
    mathml: str
    text: str
    role: tuple = ()


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
class Details:
    """Blocks a reader may skip (full matrices of a large layer): the HTML page collapses them behind
    ``summary``; Markdown, LaTeX and text leave them out with a one-line note."""

    summary: str
    blocks: list
    omitted_note: Para | None = None  # what the static formats print instead


@dataclass
class Document:
    lang: str
    title: str
    blocks: list = field(default_factory=list)
    lesson: dict | None = None  # the interactive page's data (lesson.py); other formats ignore it

    @property
    def direction(self) -> str:
        return strings.DIRECTION[self.lang]

    def _repr_markdown_(self) -> str:
        from convprop.explain.render import render

        return render(self, "md")

    def _repr_html_(self) -> str:
        from convprop.explain.render import notebook_html

        return notebook_html(self)

    def _repr_latex_(self) -> str:
        from convprop.explain.render import notebook_latex

        return notebook_latex(self)


# ---- notation ----------------------------------------------------------------


def op(latex: str, text: str, mathml: str | None = None, role: tuple = ()) -> Tok:
    return Tok(latex, f"<mo>{mathml or text}</mo>", f" {text} ", role)


EQ = op("=", "=", role=("eq",))
CORR = op(r"\otimes", "⊗", role=("corr",))
PLUS = op("+", "+", role=("plus",))
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


def call(fname: str, param, *args) -> list:
    """fname_param(args): an operation of the closed forms with its parameter as a subscript (crop_1, dilate_2).

    ``param`` is a per-axis pair (written once when both agree) or None; the opening and closing
    tokens carry the operation's ``role`` so that programs can follow the shapes through it.
    """
    sub = None if param is None else _pair(param)
    opening = Tok(
        rf"\operatorname{{{fname}}}" + ("" if sub is None else f"_{{{sub}}}") + r"\left(",
        (f"<msub><mi>{fname}</mi><mn>{sub}</mn></msub>" if sub else f"<mi>{fname}</mi>") + "<mo>(</mo>",
        f"{fname}{'' if sub is None else '_' + sub}(",
        ("call", fname, None if param is None else tuple(param)),
    )
    out = [opening]
    for a in args:
        out.extend(a if isinstance(a, list) else [a])
    out.append(Tok(r"\right)", "<mo>)</mo>", ")", ("close",)))
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


def _capped(rows: list, lang: str, blocks: list, limit: int = MAX_EQUATIONS) -> None:
    blocks.append(Display(rows[:limit]))
    if len(rows) > limit:
        blocks.append(para(lang, "more", n=len(rows) - limit))


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
    if check.torch_version is not None:
        blocks.append(para(lang, "numeric_torch", version=check.torch_version))
    if "ties" in check.notes:
        blocks.append(para(lang, "numeric_ties"))
    blocks.append(para(lang, "numeric_ok" if check.ok else "numeric_fail", err=f"{check.max_error:.1e}"))
    return blocks


def _figures(lang: str, figures) -> list:
    if not figures:
        return []
    return [heading(lang, "h_animations")] + [Figure(path, strings.text(lang, key)) for key, path in figures]


# ---- convolution -------------------------------------------------------------

#: Beyond this many input entries (height x width x channels) the write-up turns compact: the general
#: index rule, a few worked entries, the closed forms as numbered steps, the full matrices in Details.
COMPACT_ENTRIES = 36
#: Worked entries (and local gradients) shown of each kind in the compact form.
WORKED = 3


@dataclass
class _Conv:
    """What every section of a conv write-up needs: the derivation, the language and the notation."""

    d: ConvDerivation
    lang: str

    def __post_init__(self):
        self.cfg = self.d.config
        self.multi = not self.cfg.single_channel
        h, w = self.cfg.input_size
        self.compact = h * w * max(self.cfg.in_channels, self.cfg.out_channels) > COMPACT_ENTRIES
        self.X, self.F, self.O = name("X"), name("F"), name("O")
        self.dO, self.dF, self.dX = partial("L", self.O), partial("L", self.F), partial("L", self.X)

    def para(self, key: str, **fields) -> Para:
        return para(self.lang, key, **fields)

    def heading(self, key: str) -> Heading:
        return heading(self.lang, key)

    def chan(self, base: str, *chan: int) -> Tok:
        return name(base, chan if self.multi else ())

    def capped(self, rows: list, blocks: list) -> None:
        """``rows`` as a display, cut at MAX_EQUATIONS (at WORKED in the compact form) with a note."""
        _capped(rows, self.lang, blocks, WORKED if self.compact else MAX_EQUATIONS)

    def details(self, key: str, blocks: list) -> list:
        """Full matrices: inline for a small layer, collapsed (and left out of static formats) for a large one."""
        if not self.compact:
            return blocks
        n = sum(len(b.rows) for b in blocks if isinstance(b, Display))
        summary = strings.text(self.lang, key)
        return [Details(summary, blocks, self.para("omitted", summary=summary, n=n))]


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
        cin_n=strings.count(lang, cfg.in_channels, "input channel"),
        cout_n=strings.count(lang, cfg.out_channels, "output channel"),
        groups=cfg.groups,
        osize=size(cfg.shown(cfg.output_size)),
        formula=formula,
    )


def _index(out: str, k: str, s: int, d: int, p: int) -> tuple[str, str, str]:
    """The 1-based input index s(i-1) + d(u-1) + 1 - p, simplified, as (latex, mathml, text)."""
    const = 1 - s - d - p
    latex, ml, text = [], [], []
    for coef, var in ((s, out), (d, k)):
        c = "" if coef == 1 else str(coef)
        sign = " + " if latex else ""
        latex.append(f"{sign}{c}{var}")
        ml.append(("<mo>+</mo>" if sign else "") + (f"<mn>{c}</mn>" if c else "") + f"<mi>{var}</mi>")
        text.append(f"{sign.strip()}{c}{var}")
    if const:
        latex.append(f" {'+' if const > 0 else '-'} {abs(const)}")
        ml.append(f"<mo>{'+' if const > 0 else '−'}</mo><mn>{abs(const)}</mn>")
        text.append(f"{'+' if const > 0 else '−'}{abs(const)}")
    return "".join(latex), "".join(ml), "".join(text)


def _sum_sign(var: str, top: int) -> Tok:
    return Tok(
        rf"\sum_{{{var}=1}}^{{{top}}}",
        f"<munderover><mo>∑</mo><mrow><mi>{var}</mi><mo>=</mo><mn>1</mn></mrow><mn>{top}</mn></munderover>",
        f"Σ_{var}=1..{top} ",
    )


def _index_rule(c: _Conv) -> list:
    """O_ij = Σ_u Σ_v X_{s(i-1)+d(u-1)+1-p, ...} F_uv with this layer's numbers, as one formula."""
    cfg = c.cfg
    rows = [_index("i", "u", cfg.stride[0], cfg.dilation[0], cfg.padding[0])]
    cols = [_index("j", "v", cfg.stride[1], cfg.dilation[1], cfg.padding[1])]
    (rl, rm, rt), (cl, cm, ct) = rows[0], cols[0]
    if c.multi:
        src = "c" if cfg.groups == 1 else rf"{cfg.group_in}\lfloor (o-1)/{cfg.group_out} \rfloor + c"
        src_ml = (
            "<mi>c</mi>"
            if cfg.groups == 1
            else f"<mn>{cfg.group_in}</mn><mo>⌊</mo><mo>(</mo><mi>o</mi><mo>−</mo><mn>1</mn><mo>)</mo><mo>/</mo>"
            f"<mn>{cfg.group_out}</mn><mo>⌋</mo><mo>+</mo><mi>c</mi>"
        )
        src_t = "c" if cfg.groups == 1 else f"{cfg.group_in}⌊(o−1)/{cfg.group_out}⌋+c"
        lhs = Tok("O^{(o)}_{ij}", "<msubsup><mi>O</mi><mi>ij</mi><mrow><mo>(</mo><mi>o</mi><mo>)</mo></mrow></msubsup>",
                  "O(o)[i,j]")  # fmt: skip
        x = Tok(
            rf"X^{{({src})}}_{{{rl},\,{cl}}}",
            f"<msubsup><mi>X</mi><mrow>{rm}<mo>,</mo>{cm}</mrow><mrow><mo>(</mo>{src_ml}<mo>)</mo></mrow></msubsup>",
            f"X({src_t})[{rt}, {ct}]",
        )
        f = Tok("F^{(o,c)}_{uv}", "<msubsup><mi>F</mi><mi>uv</mi><mrow><mo>(</mo><mi>o</mi><mo>,</mo><mi>c</mi>"
                "<mo>)</mo></mrow></msubsup>", "F(o,c)[u,v]")  # fmt: skip
        sums = [_sum_sign("c", cfg.group_in)]
    else:
        lhs = Tok("O_{ij}", "<msub><mi>O</mi><mi>ij</mi></msub>", "O[i,j]")
        x = Tok(rf"X_{{{rl},\,{cl}}}", f"<msub><mi>X</mi><mrow>{rm}<mo>,</mo>{cm}</mrow></msub>", f"X[{rt}, {ct}]")
        f = Tok("F_{uv}", "<msub><mi>F</mi><mi>uv</mi></msub>", "F[u,v]")
        sums = []
    sums += [_sum_sign("u", cfg.kernel_size[0]), _sum_sign("v", cfg.kernel_size[1])]
    return [lhs, EQ, *sums, x, TIMES, f]


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


def _frobenius_example() -> list:
    """<A, B>_F = Σ A_ij B_ij, worked out on two small integer matrices."""
    a, b = np.array([[1, 2], [3, 4]]), np.array([[5, -1], [0, 2]])
    terms = " + ".join(f"{p}·{q}" if q >= 0 else f"{p}·({q})" for p, q in zip(a.flat, b.flat, strict=True))
    latex = terms.replace("·", r" \cdot ")
    ml = "".join(
        (("<mo>+</mo>" if k else "") + f"<mn>{p}</mn><mo>·</mo>" + (f"<mn>{q}</mn>" if q >= 0 else
         f"<mo>(</mo><mo>−</mo><mn>{-q}</mn><mo>)</mo>"))
        for k, (p, q) in enumerate(zip(a.flat, b.flat, strict=True))
    )  # fmt: skip
    products = Tok(latex, f"<mrow>{ml}</mrow>", terms)
    fro = frobenius(Tok("A", "<mi>A</mi>", "A"), Tok("B", "<mi>B</mi>", "B"))
    sum_ab = Tok(r"\sum_{i,j} A_{ij} B_{ij}",
                 "<munder><mo>∑</mo><mrow><mi>i</mi><mo>,</mo><mi>j</mi></mrow></munder><msub><mi>A</mi><mi>ij</mi>"
                 "</msub><msub><mi>B</mi><mi>ij</mi></msub>", "Σ_ij A_ij·B_ij")  # fmt: skip
    left, comma = Tok(r"\left\langle", "<mo>⟨</mo>", "⟨"), Tok(",", "<mo>,</mo>", ", ")
    right = Tok(r"\right\rangle_F", "<msub><mo>⟩</mo><mi>F</mi></msub>", "⟩_F")
    worked = [left, matrix(a), comma, matrix(b), right]
    return [[fro, EQ, sum_ab], [*worked, EQ, products, EQ, sp.Integer(int((a * b).sum()))]]


def _forward_closed_form(c: _Conv) -> list:
    """O = subsample_s(pad_p(X) ⊗ dilate_d(F)), the operations that change nothing left out, with the matrices."""
    cfg, d = c.cfg, c.d
    one, zero = (1, 1), (0, 0)
    xp = ref.pad(d.x[0], [(p, p) for p in cfg.padding])
    x = Brace(matrix(xp), _op("pad", cfg.shown(cfg.padding), [c.X], zero))
    f = Brace(matrix(ref.dilate(d.f[0, 0], cfg.dilation)), _op("dilate", cfg.shown(cfg.dilation), [c.F], one))
    o_names = matrix(d.go[0]).applyfunc(entry_of)
    return [Brace(o_names, c.O), EQ, *_op("subsample", cfg.shown(cfg.stride), [x, CORR, f], one)]


def _symbol(base: str, chan: str) -> Tok:
    """A matrix with letters as its channel superscript, X^(c), F^(o,c), as the prose names a channel in general."""
    mathml = "".join(f"<mi>{ch}</mi>" if ch.isalpha() else f"<mo>{ch}</mo>" for ch in chan)
    return Tok(f"{base}^{{({chan})}}", f"<msup><mi>{base}</mi><mrow><mo>(</mo>{mathml}<mo>)</mo></mrow></msup>",
               f"{base}({chan})")  # fmt: skip


def _channels_paras(c: _Conv) -> list:
    """What the channel superscripts mean, and with groups, which input channels an output channel reads."""
    cfg = c.cfg
    foc = _symbol("F", "o,c")
    b = [c.para("channels_note", Xc=_symbol("X", "c"), Oo=_symbol("O", "o"), Foc=foc)]
    if cfg.groups > 1:
        gi, go = cfg.group_in, cfg.group_out
        which = Tok(
            rf"\left(\left\lceil o/{go} \right\rceil - 1\right) \cdot {gi} + c",
            f"<mrow><mo>(</mo><mo>⌈</mo><mi>o</mi><mo>/</mo><mn>{go}</mn><mo>⌉</mo><mo>−</mo><mn>1</mn><mo>)</mo>"
            f"<mo>·</mo><mn>{gi}</mn><mo>+</mo><mi>c</mi></mrow>",
            f"(⌈o/{go}⌉ − 1)·{gi} + c",
        )
        fields = dict(g=cfg.groups, cin=cfg.in_channels, cout=cfg.out_channels, gi=gi, go=go, Foc=foc, which=which)
        b.append(c.para("groups_note", **fields))
    return b


def _conv_forward(c: _Conv) -> list:
    d, b = c.d, [c.heading("h_forward")]
    if c.multi:
        b += _channels_paras(c)
    star = Tok(r"X \star F", "<mi>X</mi><mo>⋆</mo><mi>F</mi>", "X ⋆ F")
    b.append(c.para("forward", corr=[c.X, CORR, c.F], star=star))
    inputs = _channel_matrices("X", d.x, 1, c.multi) + _channel_matrices("F", d.f, 2, c.multi)
    if c.compact:
        b.append(c.para("index_rule", size=size(c.cfg.input_size)))
        b.append(Display([_index_rule(c)]))
        if c.multi and c.cfg.groups > 1:
            b.append(c.para("index_rule_groups", n=c.cfg.group_in))
        b += c.details("details_inputs", [Display(inputs), Display(_channel_matrices("O", d.go, 1, c.multi, True))])
        b.append(c.para("worked"))
    else:
        b.append(Display(inputs))
        if not c.multi:
            b.append(Display([_forward_closed_form(c)]))
        b.append(c.para("forward_entries"))
    c.capped([[entry_of(g), EQ, product_sum(t)] for g, t in zip(d.go.flat, d.forward_terms.flat, strict=True)], b)
    return b


def _conv_why(c: _Conv) -> list:
    updated = Tok(r"F_{\text{updated}}", "<msub><mi>F</mi><mtext>updated</mtext></msub>", "F_updated")
    return [
        c.heading("h_why"),
        c.para("why", dO=c.dO, dF=c.dF, dX=c.dX),
        Display(
            [
                [c.dF, EQ, partial(c.O, c.F), TIMES_OP, c.dO],
                [updated, EQ, c.F, op("-", "−"), sp.Symbol("alpha"), c.dF],
                [c.dX, EQ, partial(c.O, c.X), TIMES_OP, c.dO],
            ]
        ),
    ]


def _conv_chain_f(c: _Conv) -> list:
    d, b = c.d, [c.heading("h_local_f"), c.para("local_f")]
    c.capped(_local_rows(d, d.local_f, d.f), b)
    b += [c.heading("h_chain"), c.para("chain", dO=c.dO)]
    fij = Tok("F_{ij}", "<msub><mi>F</mi><mi>ij</mi></msub>", "Fij")
    b.append(Display([[partial("L", fij), EQ, frobenius(c.dO, partial("O", fij))]]))
    b += [c.para("frobenius_example"), Display(_frobenius_example())]
    if not c.compact:
        b.append(Display([[c.dO, EQ, *_channel_matrices("O", d.go, 1, c.multi)[0][2:]]]))
    c.capped(_chain_rows(d, d.local_f, d.f, written=True), b)
    b.append(c.para("chain_sub"))
    c.capped(_chain_rows(d, d.local_f, d.f, written=False), b)
    return b


def _zeros_between(c: _Conv, obj: bool = False) -> str:
    return strings.per_axis(c.lang, tuple(s - 1 for s in c.cfg.shown(c.cfg.stride)), "zero", "between", obj=obj)


def _filter_chain(c: _Conv, o: int, ci: int) -> list:
    """∂L/∂F[o, ci] = [subsample_d(] X_padded ⊗ dilate_s(∂L/∂O) [)] = ... = the result, one row per step."""
    cfg, d = c.cfg, c.d
    x = c.chan("X", cfg.input_channel(o, ci))
    x_label = [word("padded "), x] if cfg.padding != (0, 0) else x
    if cfg.uncovered != (0, 0):
        x_label = call("trim", cfg.shown(cfg.uncovered), x_label)
    g_label = partial("L", c.chan("O", o))
    if cfg.stride != (1, 1):
        g_label = call("dilate", cfg.shown(cfg.stride), g_label)
    xp = used_padded_input(cfg, d.x[cfg.input_channel(o, ci)])
    g = d.dilated_grad_output(o)
    corr = [Brace(matrix(xp), x_label), CORR, Brace(matrix(g), g_label)]
    lhs = partial("L", c.chan("F", o, ci))
    result = [EQ, matrix(d.chain_f[o, ci])]
    if cfg.dilation == (1, 1):
        return [[lhs, EQ, *corr], result]
    full = ref.correlate(xp, g)
    return [
        [lhs, EQ, *call("subsample", cfg.shown(cfg.dilation), corr)],
        [EQ, *call("subsample", cfg.shown(cfg.dilation), matrix(full))],
        result,
    ]


def _steps(c: _Conv, items: list) -> list:
    """Numbered steps (key, fields) as paragraphs "1. ...", "2. ..."."""
    out = []
    for k, (key, fields) in enumerate(items, 1):
        p = c.para(key, **fields)
        out.append(Para([f"{k}. ", *p.parts]))
    return out


def _filter_steps(c: _Conv) -> list:
    cfg = c.cfg
    steps = []
    g = tuple(s * (n - 1) + 1 for s, n in zip(cfg.stride, cfg.output_size, strict=True))
    if cfg.stride != (1, 1):
        steps.append(("step_insert", dict(zeros=_zeros_between(c), a=size(cfg.shown(cfg.output_size)), b=size(g))))
    if cfg.padding != (0, 0):
        zeros = strings.per_axis(c.lang, cfg.shown(cfg.padding), "zero", "around")
        steps.append(
            ("step_pad_x", dict(zeros=zeros, a=size(cfg.shown(cfg.input_size)), b=size(cfg.shown(cfg.padded_size))))
        )
    used = tuple(n - r for n, r in zip(cfg.padded_size, cfg.uncovered, strict=True))
    if cfg.uncovered != (0, 0):
        what = strings.last_lines(c.lang, *cfg.shown(cfg.uncovered))
        steps.append(("step_drop", dict(what=what, a=size(cfg.shown(cfg.padded_size)), b=size(used))))
    steps.append(("step_corr_f", dict(a=size(used), b=size(g), c=size(cfg.shown(cfg.effective_kernel)))))
    if cfg.dilation != (1, 1):
        steps.append(
            (
                "step_subsample",
                dict(
                    d=_pair(cfg.shown(cfg.dilation)),
                    a=size(cfg.shown(cfg.effective_kernel)),
                    b=size(cfg.shown(cfg.kernel_size)),
                ),
            )
        )
    return _steps(c, steps)


def _conv_closed_f(c: _Conv) -> list:
    cfg, lang = c.cfg, c.lang
    b = [c.heading("h_closed_f"), c.para("closed_f", dO=c.dO)]
    if cfg.stride != (1, 1):
        b.append(c.para("closed_f_stride", dO=c.dO, s=_pair(cfg.shown(cfg.stride)), zeros=_zeros_between(c)))
    if cfg.padding != (0, 0):
        b.append(c.para("closed_f_padding", zeros=strings.per_axis(lang, cfg.shown(cfg.padding), "zero", "around")))
    if cfg.dilation != (1, 1):
        sub = call("subsample", cfg.shown(cfg.dilation), Tok("M", "<mi>M</mi>", "M"))
        b.append(c.para("closed_f_dilation", d=_pair(cfg.shown(cfg.dilation)), sub=sub))
    if cfg.uncovered != (0, 0):
        what = strings.last_lines(lang, *cfg.shown(cfg.uncovered))
        b.append(c.para("uncovered" if cfg.padding != (0, 0) else "uncovered_unpadded", what=what))
    chains = [Display(_filter_chain(c, o, ci)) for o in range(cfg.out_channels) for ci in range(cfg.group_in)]
    if c.compact:
        b += [c.para("steps_f"), *_filter_steps(c)]
    return b + c.details("details_closed_f", chains)


def _conv_chain_x(c: _Conv) -> list:
    d = c.d
    shown = min(WORKED if c.compact else 4, d.x.size)
    b = [c.heading("h_local_x"), c.para("local_x", n=shown), Display(_local_rows(d, d.local_x, d.x, limit=shown))]
    xij = Tok("X_{ij}", "<msub><mi>X</mi><mi>ij</mi></msub>", "Xij")
    b += [c.para("chain_x_rule"), Display([[partial("L", xij), EQ, frobenius(c.dO, partial("O", xij))]])]
    b.append(c.para("chain_x"))
    c.capped(_chain_rows(d, d.local_x, d.x, written=False), b)
    return b


def _rotated_label(c: _Conv, o: int, cl: int) -> list:
    f = c.chan("F", o, cl)
    return call("rot180", None, f if c.cfg.dilation == (1, 1) else call("dilate", c.cfg.dilation, f))


def _input_chain(c: _Conv, ch: int) -> list:
    """∂L/∂X[ch] = [crop_p(] Σ padded ∂L/∂O ⊗ rot180(dilate_d(F)) [)] = ... = the result, one row per step.

    The full result is written with its kept entries named ∂L/∂X_ij: the matrix of sums appears once, last.
    """
    cfg, d = c.cfg, c.d
    terms = []
    for o in range(cfg.out_channels):
        for cl in range(cfg.group_in):
            if cfg.input_channel(o, cl) != ch:
                continue
            padded = Brace(matrix(d.padded_grad_output(o)), [word("padded "), partial("L", c.chan("O", o))])
            rotated = Brace(matrix(ref.rot180(ref.dilate(d.f[o, cl], cfg.dilation))), _rotated_label(c, o, cl))
            terms += ([PLUS] if terms else []) + [padded, CORR, rotated]
    lhs = partial("L", c.chan("X", ch))
    result = [EQ, matrix(d.chain_x[ch])]
    if cfg.padding == (0, 0):
        return [[lhs, EQ, *terms], result]
    full = np.array(d.full_grad_input(ch), dtype=object)
    (ph, pw), (h, w) = cfg.padding, cfg.input_size
    full[ph : ph + h, pw : pw + w] = np.vectorize(gradient_of, otypes=[object])(d.x[ch])
    return [
        [lhs, EQ, *call("crop", cfg.shown(cfg.padding), terms)],
        [EQ, *call("crop", cfg.shown(cfg.padding), matrix(full))],
        result,
    ]


def _input_steps(c: _Conv) -> list:
    cfg, lang = c.cfg, c.lang
    steps = []
    g = tuple(s * (n - 1) + 1 for s, n in zip(cfg.stride, cfg.output_size, strict=True))
    if cfg.stride != (1, 1):
        steps.append(("step_insert", dict(zeros=_zeros_between(c), a=size(cfg.shown(cfg.output_size)), b=size(g))))
    k1 = tuple(e - 1 for e in cfg.effective_kernel)
    padded = c.d.padded_grad_output(0).shape
    zeros = strings.per_axis(lang, cfg.shown(k1), "zero", "around")
    if cfg.uncovered != (0, 0):
        what = strings.lines(lang, *cfg.shown(cfg.uncovered), obj=True)
        steps.append(("step_pad_go_uncovered", dict(zeros=zeros, what=what, a=size(g), b=size(padded))))
    else:
        steps.append(("step_pad_go", dict(zeros=zeros, a=size(g), b=size(padded))))
    if cfg.dilation != (1, 1):
        steps.append(
            (
                "step_filter",
                dict(
                    d=_pair(cfg.shown(cfg.dilation)),
                    a=size(cfg.shown(cfg.kernel_size)),
                    b=size(cfg.shown(cfg.effective_kernel)),
                ),
            )
        )
    else:
        steps.append(("step_rotate", dict(a=size(cfg.shown(cfg.kernel_size)))))
    key = "step_corr_x_channels" if c.multi else "step_corr_x"
    steps.append(
        (key, dict(a=size(padded), b=size(cfg.shown(cfg.effective_kernel)), c=size(cfg.shown(cfg.padded_size))))
    )
    if cfg.padding != (0, 0):
        what = strings.lines(lang, *cfg.shown(cfg.padding), obj=True)
        steps.append(
            ("step_crop", dict(what=what, a=size(cfg.shown(cfg.padded_size)), b=size(cfg.shown(cfg.input_size))))
        )
    return _steps(c, steps)


def _conv_closed_x(c: _Conv) -> list:
    cfg, lang, d = c.cfg, c.lang, c.d
    b = [c.heading("h_corr"), c.para("corr", dX=c.dX)]
    b.append(Display([[matrix(d.f[0, 0]), ROTATE, matrix(d.rotated_filter(0, 0))]]))
    b.append(c.heading("h_closed_x"))
    k1 = tuple(e - 1 for e in cfg.effective_kernel)
    b.append(c.para("closed_x", dX=c.dX, dO=c.dO, zeros=strings.per_axis(lang, cfg.shown(k1), "zero", "around")))
    if cfg.stride != (1, 1):
        b.append(c.para("closed_x_stride", dO=c.dO, s=_pair(cfg.shown(cfg.stride)), zeros=_zeros_between(c, obj=True)))
    if cfg.uncovered != (0, 0):
        b.append(c.para("closed_x_uncovered", what=strings.lines(lang, *cfg.shown(cfg.uncovered))))
    if cfg.dilation != (1, 1):
        b.append(
            c.para(
                "closed_x_dilation",
                d=_pair(cfg.shown(cfg.dilation)),
                dO=c.dO,
                dil=call("dilate", cfg.shown(cfg.dilation), c.F),
            )
        )
        dilated = call("dilate", cfg.shown(cfg.dilation), matrix(d.f[0, 0]))
        b.append(Display([[*dilated, EQ, matrix(ref.dilate(d.f[0, 0], cfg.dilation))]]))
    if c.multi:
        b.append(c.para("closed_x_channels"))
    if cfg.padding != (0, 0):
        b.append(c.para("closed_x_crop", what=strings.lines(lang, *cfg.shown(cfg.padding), obj=True), dX=c.dX))
    chains = [Display(_input_chain(c, ch)) for ch in range(cfg.in_channels)]
    if c.compact:
        b += [c.para("steps_x"), *_input_steps(c)]
    return b + c.details("details_closed_x", chains)


def _conv_transposed(c: _Conv) -> list:
    cfg = c.cfg
    # (value, PyTorch's default): only the arguments that differ from conv_transpose2d's defaults are written
    kw = {
        "stride": (cfg.stride, 1),
        "padding": (cfg.padding, 0),
        "output_padding": (cfg.uncovered, 0),
        "groups": ((cfg.groups,) * 2, 1),
        "dilation": (cfg.dilation, 1),
    }
    args = [word(f"{k}={_pair(cfg.shown(v))}") for k, (v, default) in kw.items() if set(cfg.shown(v)) != {default}]
    return [
        c.heading("h_transposed"),
        c.para("transposed", dO=c.dO),
        Display([[c.dX, EQ, *func(f"conv_transpose{cfg.ndim}d", c.dO, c.F, *args)]]),
    ]


def _conv_proof(c: _Conv) -> list:
    d = c.d
    if d.verified:
        return [c.heading("h_proof"), c.para("proof_ok", nf=d.chain_f.size, nx=d.chain_x.size)]
    which = ", ".join(n for n, ok in (("dL/dF", d.verified_f), ("dL/dX", d.verified_x)) if not ok)
    return [c.heading("h_proof"), c.para("proof_fail", which=which)]


def _op(fname: str, param, arg: list, identity) -> list:
    """fname_param(arg), or just ``arg`` when the parameter makes the operation do nothing (dilate_1, crop_0)."""
    return arg if set(param) == set(identity) else call(fname, param, arg)


def _summary_formulas(c: _Conv) -> list:
    """∂L/∂F and ∂L/∂X with this layer's stride, padding and dilation; operations that change nothing left out."""
    cfg = c.cfg
    one, zero = (1, 1), (0, 0)
    k1 = tuple(e - 1 for e in cfg.effective_kernel)
    r = cfg.shown(cfg.uncovered)
    corr_f = [
        *_op("trim", r, _op("pad", cfg.shown(cfg.padding), [c.X], zero), zero),
        CORR,
        *_op("dilate", cfg.shown(cfg.stride), [c.dO], one),
    ]
    padded_go = _op("extend", r, _op("pad", k1, _op("dilate", cfg.shown(cfg.stride), [c.dO], one), zero), zero)
    rotated = call("rot180", None, _op("dilate", cfg.shown(cfg.dilation), [c.F], one))
    return [
        [c.dF, EQ, *_op("subsample", cfg.shown(cfg.dilation), corr_f, one)],
        [c.dX, EQ, *_op("crop", cfg.shown(cfg.padding), [*padded_go, CORR, *rotated], zero)],
    ]


def _conv_summary(c: _Conv) -> list:
    cfg = c.cfg
    b = [c.heading("h_summary"), c.para("summary")]
    b.append(
        Display(
            [
                [c.dF, EQ, *func("Convolution", [word("input "), c.X], [word("loss gradient "), c.dO])],
                [
                    c.dX,
                    EQ,
                    *func("FullConvolution", [word("180° rotated filter "), c.F], [word("loss gradient "), c.dO]),
                ],
            ]
        )
    )
    b.append(
        c.para(
            "summary_config",
            s=_pair(cfg.shown(cfg.stride)),
            p=_pair(cfg.shown(cfg.padding)),
            d=_pair(cfg.shown(cfg.dilation)),
        )
    )
    b.append(Display(_summary_formulas(c)))
    m = Tok("M", "<mi>M</mi>", "M")
    ops = {k: call(k, (p, p), m) for k, p in (("dilate", "s"), ("pad", "k"), ("subsample", "d"), ("crop", "p"))}
    b.append(c.para("summary_ops", **ops))
    if cfg.uncovered != (0, 0):
        b.append(c.para("summary_uncovered", trim=call("trim", ("r", "r"), m), extend=call("extend", ("r", "r"), m)))
    return b


#: The interactive page's figures, each after the section whose step it illustrates.
_CONV_WIDGETS = {_conv_forward: "forward", _conv_closed_f: "grad_f", _conv_closed_x: "grad_x"}


def conv_document(
    d: ConvDerivation, lang: str = "en", check: NumericCheck | None = None, figures=(), values=None, seed: int = 0
) -> Document:
    """The whole explanation of one conv derivation, in ``lang``; ``figures`` are (caption key, path) pairs.

    A large layer (more than COMPACT_ENTRIES input entries with the channels) gets the compact form:
    the index rule, a few worked entries, numbered steps, and its full matrices in :class:`Details`.
    ``values`` ({"X": ..., "F": ..., "dO": ...}, any subset) are the interactive page's starting numbers; the
    others are small integers drawn from ``seed``.
    """
    c = _Conv(d, lang)
    doc = Document(lang, strings.text(lang, "title_conv"), lesson=conv_lesson(d, values, seed))
    doc.blocks.append(_config_para(d.config, lang))
    if c.compact:
        doc.blocks.append(c.para("compact", n=d.x.size))
    for section in (_conv_forward, _conv_why, _conv_chain_f, _conv_closed_f, _conv_chain_x, _conv_closed_x):
        doc.blocks += section(c)
        if section in _CONV_WIDGETS:
            doc.blocks.append(widget(lang, _CONV_WIDGETS[section]))
    doc.blocks += _conv_transposed(c) + _conv_proof(c)
    if check is not None:
        doc.blocks += _numeric_blocks(check, lang, "numeric")
    doc.blocks += _conv_summary(c)
    doc.blocks += _figures(lang, figures)
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
            key = "pool_ties_here" if len(d.ties) == 1 else "pool_ties_here_many"
            b.append(para(lang, key, which=", ".join(entry_of(d.gb[t]).name for t in d.ties)))
    else:
        b.append(para(lang, "pool_avg"))
        if cfg.padding != (0, 0):
            key = "pool_avg_incl" if cfg.count_include_pad else "pool_avg_excl"
            b.append(para(lang, key, div=cfg.kernel_size[0] * cfg.kernel_size[1]))
    if cfg.ceil_mode:
        floor = pool_config(cfg.kind, cfg.input_size, cfg.kernel_size, cfg.stride, cfg.padding, symbolic=False)
        b.append(para(lang, "pool_ceil" if floor.output_size != cfg.output_size else "pool_ceil_same"))
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
        # check_pool keeps A's values when the derivation has them (max pooling always): only dL/dB is random
        b += _numeric_blocks(check, lang, "numeric" if d.concrete is None else "numeric_fixed")
    b += _figures(lang, figures)
    return doc


def numeric_document(kind: str, cfg, check: NumericCheck, lang: str = "en") -> Document:
    """The report of ``--numeric``: the configuration and the table of differences."""
    doc = Document(lang, strings.text(lang, "title_numeric_conv" if kind == "conv" else "title_numeric_pool"))
    if kind == "conv":
        doc.blocks.append(_config_para(cfg, lang))
    doc.blocks += _numeric_blocks(check, lang, "numeric_only")
    return doc
