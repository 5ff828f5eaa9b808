"""The write-up's content: equations whose shapes multiply out, valid GFM tables, general formulas in the
Summary, plain wording, a compact form for large layers, notebook display, LaTeX that compiles."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sp = pytest.importorskip("sympy", reason="convprop explain needs the explain extra: pip install convprop[explain]")

from convprop import reference as ref  # noqa: E402
from convprop.explain import (  # noqa: E402
    check_conv,
    check_pool,
    conv_document,
    derive_conv,
    derive_pool,
    numeric_conv,
    numeric_document,
    pool_document,
    render,
)
from convprop.explain.document import CORR, EQ, Brace, Details, Display, Document, Table, Tok  # noqa: E402
from convprop.explain.pool import ARTICLE_VALUES  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

# ---- shapes in the displayed closed forms ------------------------------------


def _items(row) -> list:
    """A formula flattened to matrices and tokens; a labelled brace stands for its body."""
    out = []
    for item in row:
        if isinstance(item, Brace):
            out += _items(item.body if isinstance(item.body, list) else [item.body])
        else:
            out.append(item)
    return out


def _role(item) -> tuple:
    return item.role if isinstance(item, Tok) else ()


_OPS = {
    "crop": lambda n, p: n - 2 * p,
    "pad": lambda n, k: n + 2 * k,
    "dilate": lambda n, s: s * (n - 1) + 1,
    "subsample": lambda n, d: (n - 1) // d + 1,
    "rot180": lambda n, _: n,
}


class _Shapes:
    """Follows the shapes through a formula: valid correlation a ⊗ b -> a - b + 1 per axis, a sum keeps its
    terms' (equal) shape, crop_p/pad_k/dilate_s/subsample_d change it; a name has no shape (None)."""

    def __init__(self, items: list):
        self.items, self.i = items, 0

    def peek(self):
        return self.items[self.i] if self.i < len(self.items) else None

    def expr(self):
        shape = self.term()
        while _role(self.peek()) == ("plus",):
            self.i += 1
            other = self.term()
            assert None in (shape, other) or shape == other, f"a sum of a {shape} and a {other} matrix"
        return shape

    def term(self):
        shape = self.factor()
        while _role(self.peek()) == ("corr",):
            self.i += 1
            k = self.factor()
            assert shape is not None and k is not None, "a correlation of unnamed shapes"
            assert all(a >= b for a, b in zip(shape, k, strict=True)), f"{shape} ⊗ {k}: filter larger than input"
            shape = tuple(a - b + 1 for a, b in zip(shape, k, strict=True))
        return shape

    def factor(self):
        item = self.peek()
        self.i += 1
        if isinstance(item, sp.MatrixBase):
            return item.shape
        role = _role(item)
        if role and role[0] == "call":
            inner = self.expr()
            assert _role(self.peek()) == ("close",), f"{role[1]}( is not closed"
            self.i += 1
            _, fname, param = role
            if inner is None:
                return None
            param = param or (0, 0)
            return tuple(_OPS[fname](n, p) for n, p in zip(inner, param, strict=True))
        assert role == (), f"unexpected {role} in a formula"
        return None  # a name (∂L/∂F, X) or a number


def chain_shapes(rows: list) -> list:
    """The shape of every side of an equation chain ``lhs = a = b ...`` written over ``rows``."""
    items = _items([item for row in rows for item in row])
    sides, current = [], []
    for item in items:
        if _role(item) == ("eq",):
            sides.append(current)
            current = []
        else:
            current.append(item)
    sides.append(current)
    out = []
    for side in sides:
        reader = _Shapes(side)
        out.append(reader.expr())
        assert reader.i == len(side), f"unread items in {side[reader.i :]}"
    return out


def _displays(blocks: list):
    for b in blocks:
        if isinstance(b, Details):
            yield from _displays(b.blocks)
        elif isinstance(b, Display):
            yield b


def _closed_form_chains(doc: Document) -> list:
    """Every display that correlates matrices: (the lhs token, the shapes of every side)."""
    out = []
    for b in _displays(doc.blocks):
        items = _items([item for row in b.rows for item in row])
        if any(_role(t) == ("corr",) for t in items) and any(isinstance(t, sp.MatrixBase) for t in items):
            out.append((b.rows[0][0], chain_shapes(b.rows)))
    return out


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(input_size=3, kernel_size=2),
        dict(input_size=5, kernel_size=2, dilation=2),
        dict(input_size=5, kernel_size=3, stride=2, padding=1),
        dict(input_size=5, kernel_size=2, stride=2, padding=1),  # a row and a column no window reaches
        dict(input_size=(5, 6), kernel_size=(2, 3), stride=(2, 1), dilation=(1, 2), padding=(0, 1)),
        dict(input_size=4, kernel_size=2, in_channels=2, out_channels=4, groups=2, dilation=2),
        dict(input_size=6, kernel_size=3, in_channels=2, out_channels=2, stride=2, dilation=2),  # compact
    ],
    ids=lambda k: ",".join(f"{a}={v}" for a, v in k.items()),
)
def test_closed_form_shapes_multiply_out(kwargs):
    """Each displayed closed form, read as a chain lhs = ... = result, has one shape on every side: the valid
    correlation of the shown matrices gives the gradient's size (with dilation: the dilated, rotated filter
    for dL/dX, the subsampled correlation for dL/dF)."""
    d = derive_conv(**kwargs)
    cfg = d.config
    expected = {"∂L/∂F": tuple(cfg.kernel_size), "∂L/∂X": tuple(cfg.input_size)}
    chains = _closed_form_chains(conv_document(d))
    seen = set()
    for lhs, shapes in chains:
        known = [s for s in shapes if s is not None]
        assert len(known) >= 2 and len(set(known)) == 1, f"{lhs}: sides of shapes {shapes}"
        if isinstance(lhs, Tok) and lhs.text[:5] in expected:
            assert known[0] == expected[lhs.text[:5]], f"{lhs.text}: {known[0]}, expected {expected[lhs.text[:5]]}"
            seen.add(lhs.text[:5])
    assert seen == set(expected)  # both closed forms are among the checked chains
    n_f = cfg.out_channels * cfg.group_in
    assert sum(1 for lhs, _ in chains if isinstance(lhs, Tok) and lhs.text.startswith("∂L/∂F")) == n_f


def test_shape_reader_catches_an_undilated_filter():
    """The layout the write-up had before (padded 7x7 dL/dO ⊗ an undilated 2x2 filter = 5x5) is caught."""
    d = derive_conv(5, 2, dilation=2)
    padded = Brace(sp.Matrix(d.padded_grad_output()), "padded")
    rotated = Brace(sp.Matrix(d.rotated_filter()), "rotated F")
    (shape, result) = chain_shapes([[padded, CORR, rotated], [EQ, sp.Matrix(d.chain_x[0])]])
    assert shape == (6, 6) and result == (5, 5)


def test_dilation_is_written_in_the_equations():
    d = derive_conv(5, 2, dilation=2)
    md = render(conv_document(d), "md")
    assert r"\operatorname{subsample}_{2}" in md and r"\operatorname{dilate}_{2}" in md
    assert r"\operatorname{rot180}\left( \operatorname{dilate}_{2}\left( F \right) \right)" in md


# ---- Markdown tables ----------------------------------------------------------


def _gfm_tables(md: str) -> list[int]:
    """The number of header cells of every table a GFM parser (markdown-it-py with its table rule) finds."""
    from markdown_it import MarkdownIt

    tables = []
    for t in MarkdownIt("commonmark").enable("table").parse(md):
        if t.type == "table_open":
            tables.append(0)
        elif t.type == "th_open":
            tables[-1] += 1
    return tables


def _all_markdown():
    d = derive_conv(3, 2)
    check = check_conv(d)
    for lang in ("en", "ar"):
        yield f"conv {lang}", render(conv_document(d, lang, check), "md")
        pd = derive_pool("max", ARTICLE_VALUES, 2)
        yield f"maxpool {lang}", render(pool_document(pd, lang, check_pool(pd)), "md")
        cfg, ncheck = numeric_conv(9, 3)
        yield f"numeric {lang}", render(numeric_document("conv", cfg, ncheck, lang), "md")


@pytest.mark.parametrize("what, md", list(_all_markdown()), ids=lambda v: v if len(v) < 20 else "")
def test_markdown_tables_are_gfm_tables(what, md):
    n_tables = sum(1 for line in md.splitlines() if re.fullmatch(r"\|(---\|)+", line))
    assert n_tables >= 1
    assert _gfm_tables(md) == [3] * n_tables, f"{what}: a table did not parse as a 3-column GFM table"
    assert r"max \|difference\|" in md or "أكبر فرق مطلق" in md


def test_table_cells_with_pipes_are_escaped():
    doc = Document("en", "t", [Table(["a|b", "c"], [["|x|", "y"]])])
    md = render(doc, "md")
    assert r"| a\|b | c |" in md and r"| \|x\| | y |" in md
    assert _gfm_tables(md) == [2]


# ---- wording --------------------------------------------------------------------


def _prose(md: str) -> str:
    return re.sub(r"\$\$.*?\$\$|\$[^$]*\$", "", md, flags=re.S)


@pytest.mark.parametrize("lang", ["en", "ar"])
@pytest.mark.parametrize(
    "kwargs",
    [dict(input_size=5, kernel_size=2, stride=2, padding=1), dict(input_size=(5, 4), kernel_size=2, stride=(2, 1))],
    ids=["uncovered", "per-axis"],
)
def test_counted_nouns_read_as_english_and_arabic(kwargs, lang):
    md = _prose(render(conv_document(derive_conv(**kwargs), lang), "md"))
    assert "(s)" not in md and "(1, 0)" not in md and "zero(s)" not in md
    if lang == "en" and kwargs["stride"] == 2:
        assert "1 zero between neighbouring entries" in md and "1 row and 1 column" in md
        assert "No window reaches the last row and the last column of the padded input" in md
        assert "1 input channel, 1 output channel" in md
    elif lang == "en":
        assert "1 zero between its rows and 0 zeros between its columns" in md
    elif kwargs["stride"] == 2:
        assert "صف واحد وعمود واحد" in md and "آخر صف وآخر عمود" in md
    else:
        assert "صفر واحد بين صفوفه ولا أصفار بين أعمدته" in md


def test_chain_rule_step_and_frobenius_example_are_printed():
    md = render(conv_document(derive_conv(3, 2)), "md")
    step = (
        r"\frac{\partial L}{\partial X_{ij}} = \left\langle \frac{\partial L}{\partial O}, "
        r"\frac{\partial O}{\partial X_{ij}} \right\rangle_F"
    )
    assert md.index(step) < md.index("Applying the chain rule gives")
    assert r"1 \cdot 5 + 2 \cdot (-1) + 3 \cdot 0 + 4 \cdot 2 = 11" in md


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_max_pool_numeric_prose_says_a_is_fixed(lang):
    d = derive_pool("max", ARTICLE_VALUES, 2)
    md = render(pool_document(d, lang, check_pool(d)), "md")
    if lang == "en":
        assert "The input's values A stay as given" in md and "Random values (seed" not in md
    else:
        assert "تبقى قيم المدخل A كما هي" in md and "عوّضنا بقيم عشوائية" not in md
    avg = derive_pool("avg", 4, 2)
    assert "Random values (seed 0) are substituted" in render(pool_document(avg, "en", check_pool(avg)), "md")


def test_summary_states_the_layers_formulas():
    md = render(conv_document(derive_conv(5, 3, stride=2, padding=1)), "md")
    summary = md[md.index("# Summary") :]
    assert (
        r"\frac{\partial L}{\partial F} = \operatorname{pad}_{1}\left( X \right) \otimes "
        r"\operatorname{dilate}_{2}\left( \frac{\partial L}{\partial O} \right)" in summary
    )
    assert (
        r"\frac{\partial L}{\partial X} = \operatorname{crop}_{1}\left( \operatorname{pad}_{2}\left( "
        r"\operatorname{dilate}_{2}\left( \frac{\partial L}{\partial O} \right) \right) \otimes "
        r"\operatorname{rot180}\left( F \right) \right)" in summary
    )
    md = render(conv_document(derive_conv(5, 2, dilation=2)), "md")
    summary = md[md.index("# Summary") :]
    assert r"\operatorname{subsample}_{2}\left( X \otimes \frac{\partial L}{\partial O} \right)" in summary
    assert r"\operatorname{rot180}\left( \operatorname{dilate}_{2}\left( F \right) \right)" in summary


# ---- wide and large content -----------------------------------------------------------


def test_input_gradient_matrix_is_printed_once_and_the_crop_split():
    d = derive_conv(5, 3, stride=2, padding=1)
    md = render(conv_document(d), "md")
    result = sp.latex(sp.Matrix(d.chain_x[0]), order="none")
    assert md.count(result) == 1
    crop_rows = [line for line in md.splitlines() if r"\operatorname{crop}_{1}" in line]
    # crop(padded ⊗ rotated), then crop(full 7x7) alone, then = the 5x5 result on its own line
    assert len(crop_rows) == 3  # the two chain rows and the Summary
    full_row = next(r for r in crop_rows if r.startswith("= "))
    assert result not in full_row and r"\frac{\partial L}{\partial X_{11}}" in full_row


def test_large_layer_is_compact():
    """8x8 input, 4 -> 4 channels: 830,303 bytes of Markdown with a 75,235-character line before the compact form
    (measured on this machine, 2026-11-30); now the index rule, worked entries and numbered steps."""
    d = derive_conv(8, 3, in_channels=4, out_channels=4)
    doc = conv_document(d)
    assert any(isinstance(b, Details) for b in doc.blocks)
    for lang in ("en", "ar"):
        md = render(conv_document(d, lang), "md")
        assert len(md.encode()) < 100_000 and max(len(line) for line in md.splitlines()) < 5_000
    assert "Step by step, for dL/dX:" in md or "خطوة خطوة، لحساب dL/dX:" in md
    en = render(doc, "md")
    for step in ("1. Surround dL/dO with zeros", "2. Rotate the filter", "3. Correlate the padded dL/dO"):
        assert step in en, step
    assert "O^{(o)}_{ij} = \\sum_{c=1}^{4} \\sum_{u=1}^{3} \\sum_{v=1}^{3} X^{(c)}_{i + u - 1,\\,j + v - 1}" in en
    assert "left out of this format" in en
    small = conv_document(derive_conv(3, 2))
    assert not any(isinstance(b, Details) for b in small.blocks)


# ---- LaTeX ------------------------------------------------------------------------


def _xelatex(tmp_path, name: str, tex: str) -> str:
    xelatex = shutil.which("xelatex")
    if xelatex is None:
        pytest.skip("xelatex is not installed (CI installs Debian's texlive-xetex and texlive-lang-arabic)")
    (tmp_path / f"{name}.tex").write_text(tex, encoding="utf-8")
    run = subprocess.run(
        [xelatex, "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    log = (tmp_path / f"{name}.log").read_text(encoding="utf-8", errors="replace")
    assert run.returncode == 0, log[-3000:]
    return log


@pytest.mark.parametrize("lang", ["en", "ar"])
@pytest.mark.parametrize(
    "kwargs", [dict(input_size=3, kernel_size=2), dict(input_size=5, kernel_size=3, stride=2, padding=1)],
    ids=["article", "5x5-stride2-padding1"],
)  # fmt: skip
def test_latex_compiles_with_every_glyph_and_nothing_overflows(tmp_path, kwargs, lang):
    """Before: 1183 "Missing character" warnings in Arabic (every Latin word), matrices 1085 pt past the margin."""
    d = derive_conv(**kwargs)
    log = _xelatex(tmp_path, f"doc-{lang}", render(conv_document(d, lang, check_conv(d)), "latex"))
    assert "Missing character" not in log
    overfull = [float(w) for w in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]
    assert max(overfull, default=0.0) <= 1.0, overfull
    assert "Output written on" in log


def test_arabic_latex_sets_latin_words_apart():
    tex = render(conv_document(derive_conv(3, 2), "ar"), "latex")
    assert "bidi.sty" in tex and "xelatex" in tex and "texlive-lang-arabic" in tex
    assert (
        "\\setmainfont{DejaVu Serif}" in tex and "\\newfontfamily\\arabicfont[Script=Arabic]{Noto Naskh Arabic}" in tex
    )
    assert "الـ\\latin{backpropagation}" in tex and "\\text{\\latin{updated}}" in tex


# ---- animations -------------------------------------------------------------------------


@pytest.fixture
def recorded(monkeypatch):
    """Every frame drawn: (panel titles, caption, image)."""
    from convprop.explain import animate

    frames = []
    real_draw = animate._draw

    def recording_draw(panels, ops, caption):
        img = real_draw(panels, ops, caption)
        frames.append(([p.title for p in panels], caption, img))
        return img

    monkeypatch.setattr(animate, "_draw", recording_draw)
    return frames


def test_captions_list_every_highlighted_product(tmp_path, recorded):
    from convprop.explain.animate import animate_conv
    from convprop.explain.derive import ConvConfig

    cfg = ConvConfig.make(5, 3, stride=2, padding=1)
    animate_conv(cfg, tmp_path)
    n_forward, n_f = cfg.output_size[0] * cfg.output_size[1], cfg.kernel_size[0] * cfg.kernel_size[1]
    dilated_go = tuple(s * (n - 1) + 1 for s, n in zip(cfg.stride, cfg.output_size, strict=True))
    for k, (_, caption, _) in enumerate(recorded):
        window = dilated_go[0] * dilated_go[1] if n_forward <= k < n_forward + n_f else 9
        assert caption.count("·") == window, caption  # products with inserted or padding zeros included
    # the top-left output of the forward pass: its window holds 5 padding zeros, shown as 0 products
    assert recorded[0][1].startswith("O11 = 0·") and recorded[0][1].count("0·") >= 5


def _first_kept_frame(cfg) -> int:
    """Row-major index of grad_x's first cell that survives the crop and whose window covers a real dL/dO entry."""
    (ph, pw), (h, w), (oh, ow) = cfg.padding, cfg.input_size, cfg.output_size
    (eh, ew), (sh, sw) = cfg.effective_kernel, cfg.stride
    real = {(eh - 1 + sh * a, ew - 1 + sw * b) for a in range(oh) for b in range(ow)}
    for k, (i, j) in enumerate(np.ndindex(*cfg.padded_size)):
        window = {(i + u * cfg.dilation[0], j + v * cfg.dilation[1]) for u in range(cfg.kernel_size[0])
                  for v in range(cfg.kernel_size[1])}  # fmt: skip
        if ph <= i < ph + h and pw <= j < pw + w and window & real:
            return k
    raise AssertionError("no representative frame")


def test_still_png_is_a_representative_frame(tmp_path, recorded):
    from PIL import Image

    from convprop.explain.animate import animate_conv
    from convprop.explain.derive import ConvConfig

    cfg = ConvConfig.make(5, 3, stride=2, padding=1)
    written = dict(animate_conv(cfg, tmp_path))
    grad_x = recorded[-cfg.padded_size[0] * cfg.padded_size[1] :]
    k = _first_kept_frame(cfg)
    assert k > 0 and grad_x[k][1].startswith("dX11 = ")
    with Image.open(written["anim_grad_x"].with_suffix(".png")) as png:
        frame = grad_x[k][2]
        assert np.array_equal(np.asarray(png.convert("RGB"))[: frame.height, : frame.width], np.asarray(frame))
        last = grad_x[-1][2]
        assert not np.array_equal(np.asarray(png.convert("RGB"))[: last.height, : last.width], np.asarray(last))


def test_frames_are_drawn_in_arabic(tmp_path, recorded):
    from PIL import features

    from convprop.explain.animate import animate_conv, animate_pool
    from convprop.explain.derive import ConvConfig
    from convprop.explain.pool import pool_config

    cfg = ConvConfig.make(4, 2, padding=1)
    en = dict(animate_conv(cfg, tmp_path / "en"))
    ar = dict(animate_conv(cfg, tmp_path / "ar", lang="ar"))
    assert en["anim_grad_x"].read_bytes() != ar["anim_grad_x"].read_bytes()
    animate_pool(pool_config("max", 4, 2), tmp_path / "ar", ARTICLE_VALUES, lang="ar")
    words = [t for titles, caption, _ in recorded for t in [*titles, caption]]
    english = {"padded dL/dO", "cropped (padding)", "the others get 0"}
    assert not any(e in w for w in words[len(words) // 2 :] for e in english)
    if features.check("raqm"):  # Arabic is shaped and drawn right to left
        assert any("بعد الـpadding" in w for w in words) and any("محذوفة" in w for w in words)
        assert any("القيمة العظمى" in w for w in words)


def test_cli_passes_the_language_to_the_animations(tmp_path, capsys):
    from convprop.cli import main

    for lang in ("en", "ar"):
        assert (
            main(
                ["explain", "maxpool", "--lang", lang, "--animate", str(tmp_path / lang), "-o", str(tmp_path / "x.md")]
            )
            == 0
        )
    assert (tmp_path / "en" / "maxpool.gif").read_bytes() != (tmp_path / "ar" / "maxpool.gif").read_bytes()


# ---- notebook display ---------------------------------------------------------------------


def test_derivations_display_in_notebooks():
    import html

    d = derive_conv(3, 2)
    assert repr(d) == (
        "ConvDerivation(input 3x3, kernel 2x2, stride 1, padding 0, dilation 1, channels 1->1, groups 1, verified=True)"
    )
    grouped = derive_conv((3, 4), (2, 1), stride=(2, 1), in_channels=2, out_channels=2, groups=2)
    assert repr(grouped).startswith("ConvDerivation(input 3x4, kernel 2x1, stride (2, 1),") and "array" not in repr(
        grouped
    )
    assert d._repr_markdown_() == render(conv_document(d), "md")
    page = d._repr_html_()
    assert page.startswith("<iframe srcdoc=") and page.endswith("</iframe>") and "sandbox=" in page
    inner = html.unescape(re.search(r'srcdoc="([^"]*)"', page).group(1))
    assert inner == render(conv_document(d), "html")  # the whole page, its own styles and scripts, isolated
    tex = d._repr_latex_()
    assert tex.startswith("$$") and tex.rstrip().endswith("$$") and r"\frac{\partial L}{\partial X_{22}}" in tex
    assert "\\documentclass" not in tex

    p = derive_pool("max", ARTICLE_VALUES, 2)
    assert repr(p) == "PoolDerivation(max, input 4x4, kernel 2x2, stride 2, padding 0, verified=True)"
    assert "max pooling" in p._repr_markdown_() and p._repr_html_().startswith("<iframe srcdoc=")
    assert r"\frac{\partial L}{\partial A}" in p._repr_latex_()
    doc = pool_document(p, "ar")
    assert doc._repr_markdown_() == render(doc, "md") and doc._repr_html_().startswith("<iframe")


# ---- PyTorch as one more witness ------------------------------------------------------------


def test_numeric_check_adds_pytorch_when_importable(monkeypatch):
    torch = pytest.importorskip("torch", reason="PyTorch is the test oracle: pip install torch==2.13.0")
    from convprop.explain import numeric

    d = derive_conv(4, 2, stride=2, padding=1, dilation=1, in_channels=2, out_channels=2, groups=2)
    check = check_conv(d)
    assert check.torch_version == torch.__version__.split("+")[0]
    for grad in ("O", "dL/dF", "dL/dX"):
        assert check.errors[(grad, "autograd", "PyTorch")] < 1e-12
    assert check.ok
    md = render(conv_document(d, "en", check), "md")
    assert "| dL/dX | autograd vs PyTorch |" in md and f"PyTorch {check.torch_version} computes" in md
    _, big = numeric_conv(12, 3, stride=2, in_channels=3, out_channels=2)
    assert big.errors[("dL/dX", "autograd", "PyTorch")] < 1e-12
    p = derive_pool("avg", 5, 3, stride=2, padding=1, count_include_pad=False)
    assert check_pool(p).errors[("dL/dA", "autograd", "PyTorch")] < 1e-12

    # without PyTorch the check is the same, less those rows
    monkeypatch.setattr(numeric, "_torch", lambda: None)
    check = check_conv(d)
    assert check.torch_version is None and not any("PyTorch" in k for k in check.errors)
    assert "PyTorch" not in render(conv_document(d, "en", check), "md")


def test_explain_never_imports_torch():
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    code = (
        "import sys; import convprop.explain as e; import convprop.cli.explain; "
        "e.render(e.conv_document(e.derive_conv(3, 2)), 'md'); assert 'torch' not in sys.modules"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr


#: The summary's operations on NumPy arrays, each as its sentence defines it (``reference`` holds the primitives).
_SUMMARY_OPS = {
    "pad": lambda a, k: ref.pad(a, [(n, n) for n in k]),
    "dilate": lambda a, s: ref.dilate(a, s),
    "subsample": lambda a, d: a[tuple(slice(None, None, n) for n in d)],
    "crop": lambda a, p: ref.crop(a, [(n, n) for n in p]),
    "trim": lambda a, r: a[tuple(slice(0, a.shape[i] - n) for i, n in enumerate(r))],
    "extend": lambda a, r: ref.pad(a, [(0, n) for n in r]),
    "rot180": lambda a, _: ref.rot180(a),
}


class _Evaluate(_Shapes):
    """Reads a summary formula (names, calls, ⊗) and computes it on arrays: the formula as a program."""

    def __init__(self, items: list, env: dict):
        super().__init__(items)
        self.env = env

    def term(self):
        a = self.factor()
        while _role(self.peek()) == ("corr",):
            self.i += 1
            a = ref.correlate(a, self.factor())
        return a

    def factor(self):
        item = self.peek()
        self.i += 1
        role = _role(item)
        if role and role[0] == "call":
            inner = self.expr()
            self.i += 1  # the closing bracket
            return _SUMMARY_OPS[role[1]](inner, role[2])
        return self.env[item.text]


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(input_size=5, kernel_size=2, stride=2),  # the last row and column reach no window
        dict(input_size=4, kernel_size=3, stride=2, padding=1),  # ditto, after padding
        dict(input_size=(5, 6), kernel_size=(2, 3), stride=(2, 3), dilation=(1, 2), padding=(1, 0)),
        dict(input_size=5, kernel_size=2, dilation=2, padding=1),
    ],
    ids=lambda k: ",".join(f"{a}={v}" for a, v in k.items()),
)
def test_summary_formulas_compute_the_gradients(kwargs):
    """The summary's two formulas, run as written on random numbers with the operations its next sentences
    define, give autograd's ∂L/∂F and ∂L/∂X: right shapes (the rows no window reaches are trimmed from X and
    appended to ∂L/∂O) and right values."""
    import convprop
    import convprop.nn.functional as F
    from convprop.explain.document import _Conv, _summary_formulas

    d = derive_conv(**kwargs)
    cfg = d.config
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(cfg.input_size), rng.standard_normal(cfg.kernel_size)
    go = rng.standard_normal(cfg.output_size)
    xt, wt = convprop.tensor(x[None, None], requires_grad=True), convprop.tensor(w[None, None], requires_grad=True)
    F.conv2d(xt, wt, stride=cfg.stride, padding=cfg.padding, dilation=cfg.dilation).backward(go[None, None])
    env = {"X": x, "F": w, "∂L/∂O": go}
    (_, _, *df_rhs), (_, _, *dx_rhs) = _summary_formulas(_Conv(d, "en"))
    for rhs, expected in ((df_rhs, wt.grad[0, 0]), (dx_rhs, xt.grad[0, 0])):
        reader = _Evaluate(_items(rhs), env)
        got = reader.expr()
        assert reader.i == len(reader.items)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-12)
