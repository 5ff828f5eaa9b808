"""Render a :class:`~convprop.explain.document.Document` as Markdown, LaTeX, HTML (MathML) or plain text.

* ``md``: GitHub Markdown with ``$...$`` / ``$$...$$`` LaTeX; Arabic prose in ``<div dir="rtl">``.
* ``latex``: a standalone document (English: pdflatex; Arabic: xelatex with polyglossia).
* ``html``: one self-contained interactive lesson (no network): the document's math as presentation MathML,
  readable with JavaScript off, plus live figures (``lesson.py`` data, ``assets/lesson.js``) beside the steps
  they illustrate; images embedded as data URIs; Arabic pages are ``dir="rtl"`` with every equation and
  figure ``dir="ltr"``.
* ``text``: the terminal; equations drawn by SymPy's Unicode pretty printer.
"""

from __future__ import annotations

import base64
import html
import json
import mimetypes
import re
import textwrap
from importlib import resources
from pathlib import Path

import sympy as sp
from sympy.printing.mathml import MathMLPresentationPrinter

from convprop.explain import strings
from convprop.explain.document import (
    Brace,
    Details,
    Display,
    Document,
    Figure,
    Heading,
    Nav,
    Para,
    Table,
    Tok,
    Widget,
)

FORMATS = ("md", "latex", "html", "text")


# ---- formulas in each notation -----------------------------------------------


class _MathML(MathMLPresentationPrinter):
    """SymPy's presentation MathML, keeping the factor order of unevaluated products (X11 F11)."""

    def _print_Mul(self, expr):
        if expr.args[0].is_Number:
            return super()._print_Mul(expr)
        row = self.dom.createElement("mrow")
        for k, factor in enumerate(expr.args):
            if k:
                mo = self.dom.createElement("mo")
                mo.appendChild(self.dom.createTextNode("\u2062"))  # invisible times
                row.appendChild(mo)
            row.appendChild(self._print(factor))
        return row


def _items(formula) -> list:
    return formula if isinstance(formula, list) else [formula]


def latex(formula) -> str:
    out = []
    for item in _items(formula):
        if isinstance(item, Tok):
            out.append(item.latex)
        elif isinstance(item, Brace):
            out.append(rf"\underbrace{{{latex(item.body)}}}_{{{latex(item.label)}}}")
        else:
            out.append(sp.latex(item, order="none"))
    return " ".join(out)


def mathml(formula) -> str:
    out = []
    for item in _items(formula):
        if isinstance(item, Tok):
            out.append(item.mathml)
        elif isinstance(item, Brace):
            out.append(
                f"<munder><munder accentunder='true'><mrow>{mathml(item.body)}</mrow><mo>⏟</mo></munder>"
                f"<mrow>{mathml(item.label)}</mrow></munder>"
            )
        else:
            printer = _MathML({"order": "none"})
            out.append(printer._print(sp.sympify(item)).toxml())
    return "<mrow>" + "".join(out) + "</mrow>"


def _block(lines: list[str], width: int | None = None) -> list[str]:
    width = max((len(s) for s in lines), default=0) if width is None else width
    return [s.ljust(width) for s in lines]


def _hjoin(blocks: list[list[str]]) -> list[str]:
    """Place text blocks side by side, centred vertically."""
    height = max(len(b) for b in blocks)
    out = [""] * height
    for b in blocks:
        b = _block(b)
        top = (height - len(b)) // 2
        blank = " " * (len(b[0]) if b else 0)
        for r in range(height):
            out[r] += b[r - top] if 0 <= r - top < len(b) else blank
    return [s.rstrip() for s in out]


def text_lines(formula) -> list[str]:
    blocks = []
    for item in _items(formula):
        if isinstance(item, Tok):
            blocks.append([item.text])
        elif isinstance(item, Brace):
            body = _block(text_lines(item.body))
            label = " ".join(text_lines(item.label))
            width = max(len(body[0]), len(label) + 2)
            blocks.append([*_block(body, width), "└" + "─" * (width - 2) + "┘", label.center(width)])
        else:
            blocks.append(sp.pretty(item, order="none", use_unicode=True, wrap_line=False).split("\n"))
    return _hjoin(blocks)


def inline_text(formula) -> str:
    """A formula on one line, for prose."""
    out = []
    for item in _items(formula):
        out.append(item.text if isinstance(item, Tok) else sp.sstr(item, order="none"))
    return "".join(out)


# ---- documents ---------------------------------------------------------------


def _prose(parts, math, plain) -> str:
    return "".join(plain(p) if isinstance(p, str) else math(p) for p in parts)


def _figure_png(fig: Figure) -> Path:
    return Path(fig.path).with_suffix(".png")


def _static_blocks(blocks: list):
    """The blocks a static format prints: a :class:`Details` (collapsible in HTML) becomes its one-line note."""
    for b in blocks:
        if isinstance(b, Details):
            if b.omitted_note is not None:
                yield b.omitted_note
        else:
            yield b


def _md_row(cells) -> str:
    """A GFM table row; a pipe inside a cell (max |difference|) is escaped, or it would split the cell."""
    return "| " + " | ".join(c.replace("|", r"\|") for c in cells) + " |"


def to_markdown(doc: Document) -> str:
    rtl = doc.direction == "rtl"

    def prose(s: str) -> str:
        return f'<div dir="rtl">\n\n{s}\n\n</div>' if rtl else s

    out = [prose(f"# {doc.title}")]
    for b in _static_blocks(doc.blocks):
        if isinstance(b, Heading):
            out.append(prose("#" * b.level + " " + b.text))
        elif isinstance(b, Para):
            out.append(prose(_prose(b.parts, lambda f: f"${latex(f)}$", str)))
        elif isinstance(b, Display):
            out.extend(f"$$\n{latex(row)}\n$$" for row in b.rows)
        elif isinstance(b, Table):
            lines = [_md_row(b.header), "|" + "---|" * len(b.header), *(_md_row(row) for row in b.rows)]
            out.append(prose("\n".join(lines)))
        elif isinstance(b, Figure):
            out.append(prose(f"![{b.caption}]({b.path})\n\n*{b.caption}*"))
    return "\n\n".join(out) + "\n"


_TEX_ESCAPE = str.maketrans({c: "\\" + c for c in "_%&#$"})
#: Symbols in the prose that text fonts may lack: set as math, in both languages and with either engine.
_TEX_SYMBOLS = str.maketrans(
    {
        "×": r"$\times$",
        "∂": r"$\partial$",
        "…": "...",
        "⊗": r"$\otimes$",
        "°": r"$^\circ$",
        "→": r"$\rightarrow$",
        "←": r"$\leftarrow$",
        "·": r"$\cdot$",
        "−": r"$-$",
        "‏": "",  # the right-to-left mark of the Arabic strings: bidi orders the runs itself
    }
)
#: A run of Latin words (with the digits, dots and brackets between them) inside Arabic prose.
_LATIN_RUN = re.compile(r"[A-Za-z][A-Za-z0-9_./'=\-]*(?:[ ,:]*[(]?[A-Za-z0-9][A-Za-z0-9_./'=\-]*[)]?)*")

#: Runs of ASCII characters that may appear in Arabic prose and that Noto Naskh Arabic lacks.
_NO_NASKH = re.compile(r"([\"'()*+\-/;<=>?@\[\]^`|~_]+)")
_MIRRORED = str.maketrans("()[]", ")(][")

# Both languages: a display wider than the text block is scaled down to fit it (graphicx only).
_FIT = (
    "\\setlength{\\emergencystretch}{3em}\n"
    "\\newsavebox{\\eqbox}\n"
    "\\newcommand{\\fiteq}[1]{\\sbox{\\eqbox}{$\\displaystyle #1$}%\n"
    "  \\ifdim\\wd\\eqbox>\\linewidth\\resizebox{\\linewidth}{!}{\\usebox{\\eqbox}}\\else\\usebox{\\eqbox}\\fi}\n"
)
_PREAMBLE = {
    "ltr": (
        "% English: compiles with pdflatex, xelatex or lualatex.\n"
        "\\usepackage{iftex}\n"
        "\\ifPDFTeX\\usepackage[T1]{fontenc}\\usepackage[utf8]{inputenc}\\else\\usepackage{fontspec}\\fi\n"
        "\\newcommand{\\latin}[1]{#1}\n"
    ),
    "rtl": (
        "% Arabic: compile with xelatex. Needs polyglossia and bidi.sty (Debian: texlive-xetex,\n"
        "% texlive-lang-arabic) and the fonts DejaVu Serif for the Latin words and Noto Naskh Arabic for\n"
        "% the Arabic (Debian: fonts-dejavu-core, fonts-noto-core).\n"
        "\\usepackage{fontspec}\n\\usepackage{polyglossia}\n"
        "\\setmainlanguage[numerals=maghrib]{arabic}\n\\setotherlanguage{english}\n"
        "\\setmainfont{DejaVu Serif}\n"
        "\\newfontfamily\\arabicfont[Script=Arabic]{Noto Naskh Arabic}\n"
        "% Noto Naskh Arabic has no brackets, operators or most ASCII punctuation: those take the Latin font.\n"
        "\\newfontfamily\\punctfont{DejaVu Serif}\n"
        "% Latin words (and text inside formulas) switch to English: its font and left-to-right order.\n"
        "\\newcommand{\\latin}[1]{\\textenglish{#1}}\n"
    ),
}


def _tex_plain(s: str, rtl: bool) -> str:
    """Prose for LaTeX: special characters escaped, symbols as math; in Arabic, Latin runs in \\latin{}."""

    def escape(t: str) -> str:
        return t.translate(_TEX_ESCAPE).translate(_TEX_SYMBOLS)

    if not rtl:
        return escape(s)

    def arabic(t: str) -> str:
        # brackets between Arabic words are set in the Latin font, which XeTeX does not mirror right to left:
        # the opening bracket (the rightmost) needs the closing glyph
        parts = _NO_NASKH.split(t.translate(_MIRRORED))  # odd parts: the runs Noto Naskh Arabic lacks
        return "".join(f"{{\\punctfont {escape(p)}}}" if k % 2 else escape(p) for k, p in enumerate(parts))

    out, last = [], 0
    for m in _LATIN_RUN.finditer(s):
        out += [arabic(s[last : m.start()]), f"\\latin{{{escape(m.group())}}}"]
        last = m.end()
    return "".join([*out, arabic(s[last:])])


_TEXT_IN_MATH = re.compile(r"\\text\{([^{}]*)\}")
_NAME_WITH_UNDERSCORE = re.compile(r"\\operatorname\{([^{}]*\\_[^{}]*)\}")


def _tex_math(formula) -> str:
    """A formula for the LaTeX document: its words in the Latin font (\\text alone would take the Arabic one)."""
    tex = _TEXT_IN_MATH.sub(lambda m: "\\text{\\latin{" + m.group(1) + "}}", latex(formula))
    # an operator name with an underscore (conv_transpose2d): \_ would take the text font, so set it as a word
    return _NAME_WITH_UNDERSCORE.sub(lambda m: "\\text{\\latin{" + m.group(1) + "}}", tex)


def to_latex(doc: Document) -> str:
    rtl = doc.direction == "rtl"

    def plain(s: str) -> str:
        return _tex_plain(s, rtl)

    heading_font = "\\arabicfont " if rtl else ""

    out = [
        "\\documentclass{article}",
        "\\usepackage{amsmath,amssymb,graphicx,caption}",
        "\\usepackage[margin=2cm]{geometry}",
        _PREAMBLE[doc.direction] + _FIT,
        f"\\title{{{plain(doc.title)}}}\n\\date{{}}",
        "\\begin{document}\n\\maketitle",
    ]
    for b in _static_blocks(doc.blocks):
        if isinstance(b, Heading):
            # in Arabic, name the font: on a first run (no .aux yet) \bfseries would take the Latin font's bold
            out.append(f"\\section*{{{heading_font}{plain(b.text)}}}")
        elif isinstance(b, Para):
            out.append(_prose(b.parts, lambda f: f"${_tex_math(f)}$", plain))
        elif isinstance(b, Display):
            out.extend(f"\\[\n\\fiteq{{{_tex_math(row)}}}\n\\]" for row in b.rows)
        elif isinstance(b, Table):
            rows = [" & ".join(plain(c) for c in r) + r" \\" for r in [b.header, *b.rows]]
            body = "\n".join([rows[0], "\\hline", *rows[1:]])
            out.append(f"\\begin{{tabular}}{{{'l' * len(b.header)}}}\n{body}\n\\end{{tabular}}")
        elif isinstance(b, Figure):
            out.append(
                "\\begin{figure}[h]\\centering\n"
                f"\\includegraphics[width=0.8\\linewidth]{{{_figure_png(b).as_posix()}}}\n"
                f"\\caption*{{{plain(b.caption)}}}\n\\end{{figure}}"
            )
    out.append("\\end{document}")
    return "\n\n".join(out) + "\n"


_CSS = """
body { font-family: "DejaVu Sans", "Noto Naskh Arabic", "Noto Sans", sans-serif; max-width: 60em;
       margin: 2em auto; padding: 0 1em; line-height: 1.6; color: #222; }
math { font-family: "DejaVu Math TeX Gyre", "Latin Modern Math", "STIX Two Math", math; }
.eq { overflow-x: auto; margin: 0.6em 0; }
math[display="block"] { margin: 0.5em 0; }
table { border-collapse: collapse; margin: 0.8em 0; }
td, th { border: 1px solid #bbb; padding: 0.2em 0.6em; }
td.num { font-family: "DejaVu Sans Mono", monospace; direction: ltr; }
figure { margin: 1em 0; } figure img { max-width: 100%; image-rendering: pixelated; }
"""


def _data_uri(path: str) -> str:
    kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return f"data:{kind};base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


_NUM = ' class="num"'  # the table's numbers column: monospace, left to right

#: A displayed block whose MathML is longer than this is folded behind a toggle (the figures show the same
#: numbers live, and the page stays short): about a dozen 3x3 matrices, or two 6x6 ones.
COLLAPSE_MATHML_CHARS = 12_000


def _asset(name: str) -> str:
    return resources.files("convprop.explain").joinpath("assets", name).read_text(encoding="utf-8")


def _lesson_script(doc: Document) -> str:
    """The lesson data as JSON (every ``<`` escaped, so no text in it can end or re-open a script) and the script."""
    ui = strings.PAGE[doc.lang]
    if doc.direction == "rtl":
        ui = {k: strings.isolate_ltr(v) for k, v in ui.items()}
    data = dict(doc.lesson, ui=ui)
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    return (
        f'<script type="application/json" id="convprop-lesson">{text}</script>\n<script>{_asset("lesson.js")}</script>'
    )


def _nav(nav: Nav) -> str:
    current_page = ' aria-current="page"'
    items = "".join(
        f'<li><a href="{html.escape(href)}"{current_page if current else ""}>{html.escape(text)}</a></li>'
        for text, href, current in nav.links
    )
    other = ""
    if nav.other_language is not None:
        text, href = nav.other_language
        other = f'<p class="other-language"><a href="{html.escape(href)}">{html.escape(text)}</a></p>'
    return f'<nav class="picker" aria-label="{html.escape(nav.label)}"><ul>{items}</ul>{other}</nav>'


def _html_blocks(doc: Document, blocks) -> list[str]:
    def inline(f) -> str:
        return f'<math dir="ltr">{mathml(f)}</math>'

    def esc(s: str) -> str:
        """Text as HTML; in right-to-left prose, gradient names written as text keep their left-to-right order."""
        return html.escape(strings.isolate_ltr(s) if doc.direction == "rtl" else s)

    out = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"<h{b.level}>{esc(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            out.append(f"<p>{_prose(b.parts, inline, esc)}</p>")
        elif isinstance(b, Display):
            rows = "".join(f'<math display="block" dir="ltr">{mathml(row)}</math>' for row in b.rows)
            block = f'<div class="eq" dir="ltr">{rows}</div>'
            if len(rows) > COLLAPSE_MATHML_CHARS:
                label = html.escape(strings.PAGE[doc.lang]["show_matrices"])
                block = f'<details class="matrices"><summary>{label}</summary>{block}</details>'
            out.append(block)
        elif isinstance(b, Details):
            inner = "\n".join(_html_blocks(doc, b.blocks))
            out.append(f'<details class="matrices"><summary>{esc(b.summary)}</summary>{inner}</details>')
        elif isinstance(b, Nav):
            out.append(_nav(b))
        elif isinstance(b, Widget):
            if doc.lesson is not None:
                out.append(
                    f'<section class="widget" data-widget="{b.name}" dir="ltr" aria-label="{html.escape(b.caption)}">'
                    f'<p class="nojs" dir="{doc.direction}">{esc(strings.PAGE[doc.lang]["nojs"])}</p></section>'
                    f'<p class="widget-caption">{esc(b.caption)}</p>'
                )
        elif isinstance(b, Table):
            head = "".join(f"<th>{html.escape(c)}</th>" for c in b.header)
            body = "".join(
                "<tr>"
                + "".join(f"<td{_NUM if i == 2 else ''}>{html.escape(c)}</td>" for i, c in enumerate(r))
                + "</tr>"
                for r in b.rows
            )
            out.append(f"<table><tr>{head}</tr>{body}</table>")
        elif isinstance(b, Figure):
            out.append(
                f'<figure><img src="{_data_uri(b.path)}" alt="{html.escape(b.caption)}">'
                f"<figcaption>{esc(b.caption)}</figcaption></figure>"
            )
    return out


def to_html(doc: Document) -> str:
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{doc.lang}" dir="{doc.direction}">',
        '<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(doc.title)}</title><style>{_CSS}{_asset('lesson.css')}</style></head>",
        "<body>",
        f"<h1>{html.escape(doc.title)}</h1>",
        *_html_blocks(doc, doc.blocks),
    ]
    if doc.lesson is not None:
        out.append(_lesson_script(doc))
    out.append("</body>\n</html>")
    return "\n".join(out) + "\n"


def to_text(doc: Document, width: int = 100) -> str:
    out = [doc.title, "=" * len(doc.title)]
    for b in _static_blocks(doc.blocks):
        if isinstance(b, Heading):
            out += ["", b.text, "-" * len(b.text)]
        elif isinstance(b, Para):
            out += ["", textwrap.fill(_prose(b.parts, inline_text, str), width)]
        elif isinstance(b, Display):
            for row in b.rows:
                out += ["", *("    " + s for s in text_lines(row))]
        elif isinstance(b, Table):
            rows = [b.header, *b.rows]
            widths = [max(len(r[i]) for r in rows) for i in range(len(b.header))]
            lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
            out += ["", lines[0], "  ".join("-" * w for w in widths), *lines[1:]]
        elif isinstance(b, Figure):
            out += ["", f"[{b.caption}] {b.path}"]
    return "\n".join(out) + "\n"


def notebook_html(doc: Document, height: int = 640) -> str:
    """The HTML page in an ``<iframe srcdoc>`` for Jupyter: its styles and scripts stay apart from the notebook's."""
    return (
        f'<iframe srcdoc="{html.escape(render(doc, "html"), quote=True)}" title="{html.escape(doc.title)}" '
        f'style="width: 100%; height: {height}px; border: 1px solid #ddd" sandbox="allow-scripts"></iframe>'
    )


def notebook_latex(doc: Document) -> str:
    """The document's display equations as LaTeX math, for Jupyter's MathJax (a whole document it cannot show)."""
    rows = [latex(row) for b in _static_blocks(doc.blocks) if isinstance(b, Display) for row in b.rows]
    return "\n".join(f"$${row}$$" for row in rows)


def render(doc: Document, fmt: str = "md") -> str:
    """The document as a string in ``fmt`` (one of ``md``, ``latex``, ``html``, ``text``)."""
    renderers = {"md": to_markdown, "latex": to_latex, "html": to_html, "text": to_text}
    if fmt not in renderers:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    return renderers[fmt](doc)
