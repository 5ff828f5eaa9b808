"""conv1d and transposed convolution lessons, the gallery, and the CLI that writes them."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

pytest.importorskip("sympy", reason="convprop explain needs the explain extra: pip install convprop[explain]")

from convprop.cli import main
from convprop.explain import (
    check_conv,
    check_conv_transpose,
    conv_document,
    conv_transpose_document,
    derive_conv1d,
    derive_conv_transpose,
    prove,
    render,
)
from convprop.explain.derive import _forward, closed_form_dX
from convprop.explain.gallery import GALLERY, page_name, write_site

TRANSPOSED = [
    {"input_size": 2, "kernel_size": 2, "stride": 2},
    {"input_size": 2, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1},
    {"input_size": 3, "kernel_size": 2, "dilation": 2, "padding": 1},
    {"input_size": (2, 3), "kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 0)},
    {"input_size": 2, "kernel_size": 2, "in_channels": 2, "out_channels": 4, "groups": 2, "stride": 2},
    {"input_size": 2, "kernel_size": 2, "in_channels": 3, "out_channels": 2},
]


@pytest.mark.parametrize("kw", TRANSPOSED)
def test_transposed_convolution_is_proved_and_matches_the_engine(kw):
    d = derive_conv_transpose(**kw)
    assert d.verified_o and d.verified_x and d.verified_f
    check = check_conv_transpose(d, seed=1)
    assert check.ok, check.errors
    assert {k[0] for k in check.errors} == {"O", "dL/dX", "dL/dF"}


def test_transposed_wrong_closed_forms_fail_the_proof():
    d = derive_conv_transpose(2, 3, stride=2, padding=1, output_padding=1)
    conv = d.config.conv
    assert not prove(d.o, closed_form_dX(conv, d.f, d.x, rotate=False))  # forgetting the rotation
    assert not prove(d.o, closed_form_dX(conv, d.f, d.x, insert_zeros=False))  # forgetting the stride's zeros
    flipped = d.f[:, :, ::-1, ::-1]
    assert not prove(d.chain_x, _forward(conv, d.go, flipped)[0])  # the input gradient uses F unrotated


def test_transposed_scatter_of_the_article_kind():
    d = derive_conv_transpose(2, 2, stride=2)  # no overlap: every X entry stamps its own 2x2 block
    assert str(d.o[0, 1, 1]) == "F22*X11" and str(d.o[0, 2, 3]) == "F12*X22"
    assert str(d.chain_x[0, 0, 0]) == "F11*dL/dO11 + F12*dL/dO12 + F21*dL/dO21 + F22*dL/dO22"


def test_transposed_configuration_errors_are_one_line():
    with pytest.raises(ValueError, match="output_padding smaller than stride"):
        derive_conv_transpose(3, 3, dilation=2, output_padding=1)
    with pytest.raises(ValueError, match="too large to read symbolically"):
        derive_conv_transpose(5, 3, stride=2)  # its output is 11x11


@pytest.mark.parametrize(
    "kw",
    [
        {"input_size": 5, "kernel_size": 2},
        {"input_size": 6, "kernel_size": 3, "stride": 2, "padding": 1},
        {"input_size": 7, "kernel_size": 2, "dilation": 3},
        {"input_size": 4, "kernel_size": 2, "in_channels": 2, "out_channels": 2, "groups": 2},
    ],
)
def test_conv1d_is_proved_and_named_by_position(kw):
    d = derive_conv1d(**kw)
    assert d.verified and check_conv(d).ok
    assert d.x.shape[-2] == 1 and all(re.fullmatch(r"X(\(\d\))?\d", s.name) for s in d.x.flat)
    text = render(conv_document(d), "text")
    assert "conv_transpose1d" in text and "1×" not in text.split("\n")[3]  # sizes read as lengths


def test_transposed_documents_render_in_every_format_and_language():
    d = derive_conv_transpose(2, 3, stride=2, padding=1, output_padding=1)
    for lang in ("en", "ar"):
        doc = conv_transpose_document(d, lang, check_conv_transpose(d))
        for fmt in ("md", "latex", "text", "html"):
            assert render(doc, fmt)
    md = render(conv_transpose_document(d), "md")
    assert "Verified" in md and md.count("$$") > 20


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.current = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a":
            self.links.append(attrs["href"])
            if attrs.get("aria-current") == "page":
                self.current.append(attrs["href"])


def test_gallery_pages_are_verified_and_linked(tmp_path):
    pages = write_site(tmp_path)
    assert len(pages) == 2 * (len(GALLERY) + 1)
    names = {p.name for p in pages}
    for page in pages:
        html = page.read_text(encoding="utf-8")
        links = _Links()
        links.feed(html)
        assert set(links.links) <= names, page.name  # the picker links only to pages that exist
        assert links.current == [page.name]  # and marks this one
        if not page.name.startswith("index"):
            assert "data-widget" in html and "convprop-lesson" in html
            assert re.search(r"Verified\.|تم التحقق", html), page.name
    # the picker lists every lesson, and each page links to itself in the other language
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert all(f'href="{page_name(lesson.slug, "en")}"' in index for lesson in GALLERY)
    assert 'href="conv-article.ar.html"' in (tmp_path / "conv-article.html").read_text(encoding="utf-8")


def test_cli_writes_the_new_layers(tmp_path, capsys):
    out = tmp_path / "t.html"
    assert main(["explain", "conv_transpose", "--stride", "2", "--padding", "1", "--output-padding", "1",
                 "--format", "html", "-o", str(out)]) == 0  # fmt: skip
    assert 'data-widget="forward"' in out.read_text(encoding="utf-8")
    assert main(["explain", "conv1d", "--input", "6", "--kernel", "3", "--stride", "2", "--format", "text"]) == 0
    assert "conv_transpose1d" in capsys.readouterr().out
    assert main(["explain", "conv1d", "--input", "300", "--kernel", "5", "--numeric"]) == 0
    assert main(["explain", "avgpool", "--input", "5", "--ceil-mode", "--format", "text"]) == 0
    assert "ceil_mode=True" in capsys.readouterr().out


def test_cli_conv_values_set_the_page_numbers(tmp_path):
    out = tmp_path / "v.html"
    argv = ["explain", "conv", "--values", "X: 1 2 3; 4 5 6; 7 8 9  F: 1 0; 0 -1", "--format", "html", "-o", str(out)]
    assert main(argv) == 0
    data = out.read_text(encoding="utf-8").split('id="convprop-lesson">', 1)[1]
    assert '"values":[1.0,2.0,3.0,4.0,5.0,6.0,7.0,8.0,9.0]' in data and '"values":[1.0,0.0,0.0,-1.0]' in data


def test_cli_site(tmp_path, capsys):
    assert main(["explain", "--site", str(tmp_path / "site")]) == 0
    assert (tmp_path / "site" / "index.ar.html").exists()
    err = capsys.readouterr().err
    assert "index.html" in err
    assert "[1/13] deriving and proving conv-article" in err and "[13/13]" in err  # a line per lesson, as it goes


@pytest.mark.parametrize(
    "argv, message",
    [
        (["explain"], "choose a LAYER"),
        (["explain", "--site", "x", "conv"], "give it without a LAYER"),
        (["explain", "conv", "--values", "Y: 1"], "expected 'X: ...'"),
        (["explain", "conv", "--values", "X: 1 2"], r"X has shape \(1, 3, 3\)"),
        (["explain", "conv", "--values", "X: 1 2 3 4 5 6 7 8 9 X: 1"], "X is given twice"),
        (["explain", "conv", "--values", "F: 1 nan 2 3"], "finite"),
        (["explain", "conv1d", "--input", "3x3"], "expected one integer N"),
        (["explain", "conv_transpose", "--numeric"], "symbolic lesson only"),
        (["explain", "conv_transpose", "--output-padding", "1"], "output_padding must be smaller"),
    ],
)
def test_cli_errors_are_one_line(capsys, argv, message):
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and re.search(message, err), err


def test_cli_pool_values_still_parse(capsys):
    assert main(["explain", "maxpool", "--values", "1 2; 3 4", "--input", "2x2", "--format", "text"]) == 0
    assert "B₁₁ = max" in capsys.readouterr().out and main(["explain", "maxpool", "--values", "1 x"]) == 2


@pytest.mark.parametrize("layer", ["conv", "conv_transpose"])
def test_groups_that_do_not_divide_the_channels_are_named(capsys, layer):
    assert main(["explain", layer, "--groups", "3", "--in-channels", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("in_channels (2) and out_channels (1) must both be divisible by groups (3)"), err


def test_transposed_derivation_displays_in_notebooks():
    d = derive_conv_transpose(2, 2, stride=2)
    assert repr(d).startswith("ConvTransposeDerivation(input 2x2") and "verified=True" in repr(d)
    assert "<iframe" in d._repr_html_() and "$$" in d._repr_latex_() and "Verified" in d._repr_markdown_()
