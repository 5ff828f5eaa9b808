"""convprop explain's outputs: Markdown/LaTeX/HTML/text, the HTML pages in headless Chromium, GIFs, the CLI."""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sympy", reason="convprop explain needs the explain extra: pip install convprop[explain]")
Image = pytest.importorskip("PIL.Image", reason="convprop explain needs Pillow: pip install convprop[explain]")

from convprop.cli import main  # noqa: E402
from convprop.explain import (  # noqa: E402
    check_conv,
    check_pool,
    conv_document,
    derive_conv,
    derive_pool,
    pool_document,
    render,
)
from convprop.explain.animate import animate_conv, animate_pool  # noqa: E402
from convprop.explain.derive import ConvConfig  # noqa: E402
from convprop.explain.pool import ARTICLE_VALUES, pool_config  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def article():
    d = derive_conv(3, 2)
    return d, check_conv(d)


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    out = tmp_path_factory.mktemp("figures")
    return animate_conv(ConvConfig.make(3, 2), out) + animate_pool(pool_config("max", 4, 2), out, ARTICLE_VALUES)


def _doc(article, lang="en", figures=()):
    d, check = article
    return conv_document(d, lang, check, figures)


# ---- formats -----------------------------------------------------------------


def test_markdown_has_the_article_equations(article):
    md = render(_doc(article, lang="en"), "md")
    assert "$$\nO_{11} = X_{11} F_{11} + X_{12} F_{12} + X_{21} F_{21} + X_{22} F_{22}\n$$" in md
    dx22 = (
        r"\frac{\partial L}{\partial X_{22}} = \frac{\partial L}{\partial O_{11}} F_{22} + "
        r"\frac{\partial L}{\partial O_{12}} F_{21} + \frac{\partial L}{\partial O_{21}} F_{12} + "
        r"\frac{\partial L}{\partial O_{22}} F_{11}"
    )
    assert dx22 in md
    assert "Verified." in md and "All agree" in md
    assert '<div dir="rtl">' not in md


def test_arabic_markdown_keeps_equations_left_to_right(article):
    md = render(_doc(article, lang="ar"), "md")
    assert '<div dir="rtl">' in md and "الـbackpropagation" in md
    # display equations stay outside the right-to-left blocks
    for block in re.findall(r"\$\$\n.*?\n\$\$", md, flags=re.S):
        assert "dir=" not in block


def test_latex_is_a_complete_document(article):
    for lang in ("en", "ar"):
        tex = render(_doc(article, lang=lang), "latex")
        assert tex.startswith("\\documentclass") and tex.rstrip().endswith("\\end{document}")
        assert tex.count("\\[") == tex.count("\\]") > 20
        assert tex.count("\\begin{") == tex.count("\\end{")
    assert "polyglossia" in tex


def test_text_rendering(article):
    txt = render(_doc(article, lang="en"), "text")
    assert "O₁₁ = X₁₁⋅F₁₁ + X₁₂⋅F₁₂ + X₂₁⋅F₂₁ + X₂₂⋅F₂₂" in txt
    assert "∂L/∂X₃₂ = ∂L/∂O₂₁⋅F₂₂ + ∂L/∂O₂₂⋅F₂₁" in txt
    with pytest.raises(ValueError, match="format"):
        render(_doc(article), "pdf")


def test_html_is_self_contained(article, figures):
    page = render(_doc(article, lang="en", figures=figures[:3]), "html")
    assert page.count("<math") == page.count("</math>") > 40
    # its only scripts are inline (the lesson's data and code): nothing is fetched from anywhere
    assert page.count("<script") == 2 and "<script src" not in page and not re.search(r"(src|href)=\"https?:", page)
    images = re.findall(r'src="data:image/gif;base64,([^"]+)"', page)
    assert len(images) == 3
    for data in images:
        Image.open(io.BytesIO(base64.b64decode(data))).verify()


def test_stride_padding_document_shows_zeros_and_crop():
    d = derive_conv(5, 2, stride=2, padding=1)
    assert d.config.uncovered == (1, 1)  # (5 + 2 - 2) mod 2: the last padded row/column is reached by no window
    md = render(conv_document(d), "md")
    assert "with 1 zero between neighbouring entries" in md
    assert "at the bottom and right (1 row and 1 column)" in md
    assert "(s)" not in md
    assert r"\operatorname{crop}" in md
    transposed = next(line for line in md.splitlines() if "conv\\_transpose2d" in line)
    for arg in ("stride=2", "padding=1", "output\\_padding=1"):
        assert rf"\text{{{arg}}}" in transposed
    # dilated 3x3 -> 5x5, ke-1 = 1 zero around, 1 more at the bottom/right: 8x8; full result 7x7; crop 1 -> 5x5
    padded = d.padded_grad_output()
    assert padded.shape == (8, 8)
    assert padded[1, 2] == 0 and padded[1, 1] != 0 and padded[1, 3] != 0 and not any(padded[-1])
    assert d.full_grad_input().shape == d.config.padded_size == (7, 7)
    assert d.verified


def test_pool_document_with_chosen_winners():
    d = derive_pool("max", 4, 2, winners=[[(1, 1), (0, 3)], [(2, 0), (3, 2)]])
    en = render(pool_document(d, "en", check_pool(d)), "md")
    assert r"\end{matrix}\right] \right) = A_{22}" + "\n" in en  # B11 = max(window) = A22, no number after it
    assert "chosen rather than found from values" in en
    assert "All agree" in en
    ar = render(pool_document(d, "ar"), "md")
    assert "اخترنا هنا موضع القيمة العظمى" in ar


# ---- headless Chromium -------------------------------------------------------


def _chromium(tmp_path: Path, url: str, *extra: str) -> subprocess.CompletedProcess:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (CI installs Debian's chromium package)")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
    ]
    return subprocess.run([CHROMIUM, *flags, *extra, url], capture_output=True, text=True, timeout=120)


def _console_messages(stderr: str) -> list[str]:
    """Console output of the page (errors, warnings, logs); our pages have no script, so any is a failure."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def test_console_scan_catches_errors(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><script>console.error("broken page")</script></body></html>')
    result = _chromium(tmp_path, bad.as_uri(), "--dump-dom")
    assert any("broken page" in m for m in _console_messages(result.stderr))


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_html_page_in_chromium(tmp_path, article, figures, lang):
    page = tmp_path / f"conv.{lang}.html"
    page.write_text(render(_doc(article, lang=lang, figures=figures[:3]), "html"), encoding="utf-8")
    dom = _chromium(tmp_path, page.as_uri(), "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert _console_messages(dom.stderr) == []
    assert dom.stdout.count("<math") > 40 and "<mfrac>" in dom.stdout and "<mtable>" in dom.stdout
    expected = '<html lang="ar" dir="rtl">' if lang == "ar" else '<html lang="en" dir="ltr">'
    assert expected in dom.stdout
    if lang == "ar":
        assert 'math display="block" dir="ltr"' in dom.stdout
    shot = tmp_path / f"conv.{lang}.png"
    result = _chromium(tmp_path, page.as_uri(), f"--screenshot={shot}", "--window-size=1000,1400")
    assert result.returncode == 0 and _console_messages(result.stderr) == []
    img = Image.open(shot).convert("L")
    assert img.size == (1000, 1400)
    assert np.asarray(img).min() < 100  # text was drawn, not a blank page


# ---- animations --------------------------------------------------------------


def _frames(path: Path) -> int:
    with Image.open(path) as img:
        assert img.format == "GIF"
        return img.n_frames


def test_conv_gifs_have_one_frame_per_written_cell(tmp_path):
    cfg = ConvConfig.make((3, 2), (2, 1), stride=2, padding=1)
    written = dict(animate_conv(cfg, tmp_path))
    assert _frames(written["anim_forward"]) == cfg.output_size[0] * cfg.output_size[1]
    assert _frames(written["anim_grad_f"]) == cfg.kernel_size[0] * cfg.kernel_size[1]
    assert _frames(written["anim_grad_x"]) == cfg.padded_size[0] * cfg.padded_size[1]
    for path in written.values():
        with Image.open(path.with_suffix(".png")) as png:
            assert png.format == "PNG" and png.width > 100


def test_grad_x_captions_name_cells_after_the_crop(tmp_path, monkeypatch):
    from convprop.explain import animate

    captions = []

    def recording_draw(panels, ops, caption):
        captions.append(caption)
        return real_draw(panels, ops, caption)

    real_draw = animate._draw
    monkeypatch.setattr(animate, "_draw", recording_draw)
    cfg = ConvConfig.make(5, 3, stride=2, padding=1)
    animate_conv(cfg, tmp_path)
    full = captions[-cfg.padded_size[0] * cfg.padded_size[1] :]  # grad_x's frames come last, row-major over 7x7
    names = np.array([c.split(" = ")[0] for c in full]).reshape(cfg.padded_size)
    assert names[3, 3] == "dX33" and names[2, 2] == "dX22"  # frame 16 is dL/dX22 of the real input
    assert names[1, 1] == "dX11" and names[5, 5] == "dX55"
    border = [names[0, :], names[-1, :], names[:, 0], names[:, -1]]
    assert all(n == "cropped (padding)" for row in border for n in row)
    assert "cropped (padding)" not in names[1:-1, 1:-1]


def test_pool_gif_has_one_frame_per_window(tmp_path):
    for kind, values in (("max", ARTICLE_VALUES), ("avg", None)):
        cfg = pool_config(kind, 4, 3, stride=1)
        ((key, path),) = animate_pool(cfg, tmp_path, values)
        assert key == "anim_pool" and _frames(path) == 4


# ---- CLI ---------------------------------------------------------------------


def test_cli_defaults_reproduce_the_article(capsys):
    assert main(["explain", "conv", "--format", "text"]) == 0
    out = capsys.readouterr().out
    assert "O₂₂ = X₂₂⋅F₁₁ + X₂₃⋅F₁₂ + X₃₂⋅F₂₁ + X₃₃⋅F₂₂" in out and "Verified." in out
    assert main(["explain", "maxpool"]) == 0
    out = capsys.readouterr().out
    routed = r"\frac{\partial L}{\partial B_{11}} & 0 & \frac{\partial L}{\partial B_{12}} & 0"
    assert routed in out
    assert main(["explain", "avgpool"]) == 0
    out = capsys.readouterr().out
    assert r"\frac{\partial L}{\partial A} = \frac{1}{4} \left[\begin{matrix}\frac{\partial L}{\partial B_{11}}" in out


def test_cli_writes_files_and_animations(tmp_path, capsys):
    out = tmp_path / "out" / "conv.ar.md"
    rc = main(["explain", "conv", "--lang", "ar", "-o", str(out), "--animate", str(tmp_path / "out" / "anim")])
    assert rc == 0
    md = out.read_text(encoding="utf-8")
    assert '<div dir="rtl">' in md and "](anim/forward.gif)" in md
    assert (tmp_path / "out" / "anim" / "grad_x.png").exists()
    html_out = tmp_path / "pool.html"
    argv = ["avgpool", "--input", "5x5", "--kernel", "3", "--stride", "2", "--padding", "1", "--count-exclude-pad"]
    rc = main(["explain", *argv, "--format", "html", "-o", str(html_out), "--animate", str(tmp_path / "p")])
    assert rc == 0 and "data:image/gif;base64," in html_out.read_text(encoding="utf-8")


def test_cli_figure_paths_are_relative_to_the_output_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["explain", "conv", "-o", "other/x.md", "--animate", "d"]) == 0
    md = (tmp_path / "other" / "x.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)]+\.gif)\)", md)
    assert links == ["../d/forward.gif", "../d/grad_f.gif", "../d/grad_x.gif"]
    assert all((tmp_path / "other" / link).exists() for link in links)
    assert str(tmp_path) not in md


@pytest.mark.parametrize(
    "argv, message",
    [
        (["conv", "--input", "9x9"], "--numeric"),
        (["conv", "--kernel", "5x5"], "smaller than the dilated kernel size"),
        (["conv", "--stride", "0"], "stride must be positive"),
        (["conv", "--in-channels", "3", "--groups", "2"], "divisible by groups"),
        (["maxpool", "--values", "1 2 3"], "needs 16 values"),
        (["maxpool", "--padding", "2"], "at most half"),
        (["maxpool", "--values", "1 2 3 4; 1 2 3 4; 1 2 3 nan; 1 2 3 4"], "--values: expected finite numbers"),
        (["avgpool", "--values", "1 2 3 4; 1 2 3 4; 1 2 3 inf; 1 2 3 4"], "--values: expected finite numbers"),
    ],
)
def test_cli_bad_values_give_one_line_errors(capsys, argv, message):
    assert main(["explain", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("layer", ["conv", "maxpool", "avgpool"])
@pytest.mark.parametrize("numeric", [[], ["--numeric"]])
def test_cli_negative_seed_names_the_flag(capsys, layer, numeric):
    with pytest.raises(SystemExit) as exc:
        main(["explain", layer, "--seed", "-3", *numeric])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "--seed" in err and "non-negative integer, got '-3'" in err


def test_cli_numeric_refuses_animate(tmp_path, capsys):
    for layer in ("conv", "maxpool", "avgpool"):
        assert main(["explain", layer, "--numeric", "--animate", str(tmp_path / "anim")]) == 2
        err = capsys.readouterr().err
        assert "--animate needs the symbolic mode" in err and "--numeric" in err and err.count("\n") == 1
    assert not (tmp_path / "anim").exists()


def test_cli_bad_size_syntax_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["explain", "conv", "--input", "three"])
    assert exc.value.code == 2 and "expected HxW" in capsys.readouterr().err


def test_cli_numeric_for_large_sizes(capsys):
    assert (
        main(["explain", "conv", "--input", "20x20", "--kernel", "3", "--stride", "2", "--numeric", "--format", "text"])
        == 0
    )
    assert "All agree" in capsys.readouterr().out
    assert main(["explain", "maxpool", "--input", "16x16", "--kernel", "3", "--numeric"]) == 0


def test_cli_max_pool_values_and_ties(capsys):
    assert main(["explain", "maxpool", "--values", "1 1 0 0; 1 1 0 0; 2 0 3 3; 0 0 3 3", "--format", "text"]) == 0
    out = capsys.readouterr().out
    assert "first one in row-major order" in out and "B11, B12, B22" in out


def test_python_dash_m_subprocess():
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run(
        [sys.executable, "-m", "convprop", "explain", "conv", "--format", "latex", "--stride", "2", "--input", "4x4"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("\\documentclass") and "Verified." in result.stdout
