"""The interactive lesson page in a real browser (Playwright driving Debian's Chromium), through its testing contract.

Contract: every cell of an interactive matrix carries ``data-tensor`` and ``data-index`` (1-based, comma-separated);
hovering or focusing a result cell sets ``data-active`` on it and on exactly the cells its sum adds up; editable
cells hold an ``<input>``; each figure (``[data-widget]``) has its equation in ``[data-role=equation]`` and
stepper controls ``[data-role=prev|next|play]``. What should light up comes from tests/explain_indices.py, and
what the numbers should be from convprop's conv2d / pooling and autograd, never from the page's own data.
"""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

pytest.importorskip("sympy", reason="convprop explain needs the explain extra: pip install convprop[explain]")
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need Playwright: pip install playwright")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("browser tests need Chromium: apt-get install chromium", allow_module_level=True)

import convprop  # noqa: E402
import convprop.nn.functional as F  # noqa: E402
from convprop.explain import (  # noqa: E402
    check_conv,
    check_pool,
    conv_document,
    conv_transpose_document,
    derive_conv,
    derive_conv1d,
    derive_conv_transpose,
    derive_pool,
    pool_document,
)
from convprop.explain import render as render_doc  # noqa: E402
from tests.explain_indices import Conv, pool_contributors  # noqa: E402

CONV = {
    "article": ((3, 2), {}),
    "stride2-padding1": ((5, 3), {"stride": 2, "padding": 1}),
    "dilation": ((5, 2), {"dilation": 2}),
    "groups": ((3, 2), {"in_channels": 2, "out_channels": 2, "groups": 2}),
    "asymmetric": (((4, 5), (2, 3)), {"stride": (1, 2), "padding": (1, 0)}),
}
NAMES = {"in_channels": "cin", "out_channels": "cout"}


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


class Page:
    """A lesson page open in Chromium, collecting console errors and uncaught exceptions."""

    def __init__(self, browser, path, width=1100, javascript=True):
        self.context = browser.new_context(viewport={"width": width, "height": 900}, java_script_enabled=javascript)
        self.page = self.context.new_page()
        self.errors = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(path.as_uri())

    def active(self) -> set:
        cells = self.page.eval_on_selector_all(
            "[data-active]", "es => es.map(e => [e.dataset.tensor, e.dataset.index])"
        )
        return {tuple(c) for c in cells}

    def values(self, tensor) -> dict:
        js = "es => es.map(e => [e.dataset.index, e.dataset.value])"
        cells = self.page.eval_on_selector_all(f'[data-tensor="{tensor}"][data-value]', js)
        return {idx: float(v) for idx, v in cells}

    def close(self):
        self.context.close()


def _conv_page(tmp_path, name, lang="en", values=None):
    (size, kernel), kw = CONV[name]
    d = derive_conv(size, kernel, **kw)
    path = tmp_path / f"{name}.{lang}.html"
    path.write_text(render_doc(conv_document(d, lang, check_conv(d), values=values, seed=3), "html"), encoding="utf-8")
    return d, Conv(size, kernel, **{NAMES.get(k, k): v for k, v in kw.items()}), path


#: What a hover changed, read in one call: the active cells, the figure's equation and the cell's value.
SEEN = """e => [
    [...document.querySelectorAll("[data-active]")].map(c => [c.dataset.tensor, c.dataset.index]),
    e.closest("[data-widget]").querySelector("[data-role=equation]").textContent,
    e.dataset.value]"""


def _result_cells(page, tensors):
    """The first element of every result entry on the page, by (tensor, data-index)."""
    found = {}
    for t in tensors:
        for cell in page.page.locator(f'[data-tensor="{t}"]:not(:has(input))').all():
            found.setdefault((t, cell.get_attribute("data-index")), cell)
    return found


@pytest.mark.parametrize("name, lang", [*((n, "en") for n in CONV), ("stride2-padding1", "ar"), ("article", "ar")])
def test_hovering_a_result_lights_exactly_its_terms(browser, tmp_path, name, lang):
    _d, oracle, path = _conv_page(tmp_path, name, lang)
    page = Page(browser, path)
    expected = oracle.contributors()
    cells = _result_cells(page, ("O", "dF", "dX"))
    assert set(cells) == set(expected)  # every entry of O, dL/dF and dL/dX is on the page
    for key, cell in cells.items():
        cell.hover()
        active, equation, value = cell.evaluate(SEEN)
        assert {tuple(a) for a in active} == expected[key] | {key}, key
        assert equation.endswith(f"= {float(value):g}") or (not expected[key] and equation.endswith("= 0")), equation
    page.page.mouse.move(0, 0)
    assert page.active() == set()  # leaving the cell clears the highlight
    assert page.errors == []
    page.close()


def test_hovering_a_term_lights_its_two_factors(browser, tmp_path):
    _, _, path = _conv_page(tmp_path, "article")
    page = Page(browser, path)
    page.page.locator('[data-widget="grad_x"] [data-tensor="dX"][data-index="2,2"]').last.hover()
    terms = page.page.locator('[data-widget="grad_x"] [data-role="equation"] .term')
    assert terms.count() == 4  # dL/dX22 adds four products (the article's equation)
    terms.nth(0).hover()
    factors = page.page.eval_on_selector_all("[data-factor]", "es => es.map(e => e.dataset.tensor + e.dataset.index)")
    assert set(factors) == {"dO1,1", "F2,2"}
    page.close()


#: One step as shown, read in one call: the position, the value of the cell it writes, and its equation.
STEP = """w => [w.querySelector(".position").textContent, w.querySelector(".cell.target").dataset.value,
               w.querySelector("[data-role=equation]").textContent]"""


def _final_number(equation: str) -> float:
    return float(re.split(r"= ", equation)[-1].split()[0])


@pytest.mark.parametrize("name", ["stride2-padding1", "groups"])
def test_stepping_visits_every_position_with_its_numbers(browser, tmp_path, name):
    _, _, path = _conv_page(tmp_path, name)
    page = Page(browser, path)
    for widget in page.page.locator("[data-widget]").all():
        n = int(widget.locator('[data-role="position"]').get_attribute("max")) + 1
        prev, next_ = widget.locator('[data-role="prev"]'), widget.locator('[data-role="next"]')
        if widget.get_attribute("data-widget") == "grad_x":
            # the full correlation's figure opens on the first entry that ∂L/∂X keeps, past the cropped border
            assert "∂L/∂X" in widget.evaluate(STEP)[2].split(" = ")[0]
            assert widget.locator(".cell.target[data-tensor=dX]").count() == 2  # in the full result and after crop
        prev.press("Home")
        assert prev.get_attribute("aria-disabled") == "true"
        for k in range(n):
            position, shown, equation = widget.evaluate(STEP)
            assert position == f"position {k + 1} of {n}"
            assert _final_number(equation) == pytest.approx(float(shown))
            if k < n - 1:
                next_.click()
        assert next_.get_attribute("aria-disabled") == "true"
        next_.click(force=True)  # marked unavailable, and pressing it anyway does nothing
        assert widget.locator(".position").text_content() == f"position {n} of {n}"  # next stops at the end
        prev.click()
        assert widget.locator(".position").text_content() == f"position {n - 1} of {n}"
        assert next_.get_attribute("aria-disabled") == "false"
    assert page.errors == []
    page.close()


def test_play_steps_on_its_own_and_pauses(browser, tmp_path):
    _, _, path = _conv_page(tmp_path, "article")
    page = Page(browser, path)
    widget = page.page.locator('[data-widget="forward"]')
    widget.locator('[data-role="play"]').click()
    page.page.wait_for_function(
        "() => document.querySelector('[data-widget=forward] .position').textContent.startsWith('position 3')",
        timeout=10_000,
    )
    widget.locator('[data-role="play"]').click()
    assert widget.locator('[data-role="play"]').get_attribute("aria-pressed") == "false"
    page.close()


@pytest.mark.parametrize("name", ["stride2-padding1", "groups", "asymmetric"])
def test_editing_inputs_updates_every_result(browser, tmp_path, name):
    d, _, path = _conv_page(tmp_path, name)
    page = Page(browser, path)
    rng = np.random.default_rng(7)
    new = {}
    for t, shape in (("X", d.x.shape), ("F", d.f.shape), ("dO", d.go.shape)):
        new[t] = rng.integers(-9, 10, size=shape).astype(np.float64)
        new[t].flat[0] = 2.5  # a non-integer too
        for pos in np.ndindex(*shape):
            index = ",".join(str(i + 1) for i in (pos if not d.config.single_channel else pos[len(shape) - 2 :]))
            page.page.locator(f'[data-tensor="{t}"][data-index="{index}"] input').first.fill(str(new[t][pos]))
    x = convprop.tensor(new["X"][None], requires_grad=True)
    w = convprop.tensor(new["F"], requires_grad=True)
    cfg = d.config
    out = F.conv2d(x, w, stride=cfg.stride, padding=cfg.padding, dilation=cfg.dilation, groups=cfg.groups)
    out.backward(new["dO"][None])
    for t, expected in (("O", out.data[0]), ("dF", w.grad), ("dX", x.grad[0])):
        got = page.values(t)
        for pos in np.ndindex(*expected.shape):
            index = ",".join(str(i + 1) for i in (pos if not cfg.single_channel else pos[expected.ndim - 2 :]))
            assert got[index] == pytest.approx(expected[pos], abs=1e-9), (t, index)
    # every copy of an edited entry elsewhere on the page follows it
    copies = page.page.eval_on_selector_all(
        '[data-tensor="X"] input', "es => es.map(e => [e.parentElement.dataset.index, Number(e.value)])"
    )
    for index, v in copies:
        pos = tuple(int(i) - 1 for i in index.split(","))
        assert v == new["X"][pos if len(pos) == 3 else (0, *pos)]
    first = page.page.locator('[data-tensor="X"] input').first
    # a half-typed number is flagged and changes nothing
    before = page.values("O")
    first.fill("-")
    assert first.get_attribute("aria-invalid") == "true" and page.values("O") == before
    # ... and the figure says so, instead of showing results that silently ignore what is in the cell
    equation = page.page.locator('[data-widget="forward"] [data-role=equation]').text_content()  # first's figure
    assert "is not a number" in equation and "still use" in equation
    # a decimal comma and Arabic-Indic digits are numbers too
    for typed, value in (("1,5", "1.5"), ("\u0663", "3"), ("\u2212\u0662\u066b\u0665", "-2.5")):
        first.fill(value)
        expected = page.values("O")
        first.fill("-")
        first.fill(typed)
        assert first.get_attribute("aria-invalid") == "false" and page.values("O") == expected, typed
    assert page.errors == []
    page.close()


def test_starting_values_come_from_the_command_line(browser, tmp_path):
    _, _, path = _conv_page(tmp_path, "article", values={"X": range(1, 10), "F": [1, 0, 0, -1], "dO": [1, 2, 3, 4]})
    page = Page(browser, path)
    # O11 = X11 - X22 = 1 - 5; dL/dX33 = dL/dO22 · F22 = 4 · (-1)
    assert page.values("O")["1,1"] == -4 and page.values("dX")["3,3"] == -4
    page.close()


def test_keyboard_only(browser, tmp_path):
    _, _, path = _conv_page(tmp_path, "article")
    page = Page(browser, path)
    seen = set()
    for _ in range(200):  # Tab through the page until the first O cell and the forward figure's "next" button
        page.page.keyboard.press("Tab")
        focus = page.page.evaluate(
            "() => [document.activeElement.dataset.tensor || document.activeElement.dataset.role || '', "
            "document.activeElement.dataset.index || '', "
            "document.activeElement.closest('[data-widget]')?.dataset.widget || '']"
        )
        if focus[0] == "O" and "O" not in seen:
            seen.add("O")
            assert ("O", focus[1]) in page.active()  # focus works like hover
        if focus[0] == "next" and focus[2] == "forward":
            break
    else:
        pytest.fail("Tab never reached the forward figure's next button")
    widget = page.page.locator('[data-widget="forward"]')
    page.page.keyboard.press("Enter")
    assert widget.locator(".position").text_content() == "position 2 of 4"
    page.page.keyboard.press("ArrowRight")
    assert widget.locator(".position").text_content() == "position 3 of 4"
    page.page.keyboard.press("Home")
    assert widget.locator(".position").text_content() == "position 1 of 4"
    page.page.keyboard.press("End")
    assert widget.locator(".position").text_content() == "position 4 of 4"
    assert "O" in seen
    page.close()


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_phone_width_has_no_horizontal_scroll(browser, tmp_path, lang):
    _, _, path = _conv_page(tmp_path, "stride2-padding1", lang)
    page = Page(browser, path, width=375)
    assert page.page.evaluate("document.documentElement.scrollWidth") <= 375
    assert page.page.evaluate("document.documentElement.dir") == ("rtl" if lang == "ar" else "ltr")
    assert page.page.locator("[data-widget]").first.get_attribute("dir") == "ltr"  # matrices stay left to right
    assert page.errors == []
    page.close()


def test_arabic_page_keeps_formulas_left_to_right(browser, tmp_path):
    """Inside Arabic prose a gradient's name stays ∂L/∂O (bidi would show "L/∂O∂"), and an equation line that
    carries Arabic words still reads left to right: its left-hand side first, then its terms."""
    _, _, path = _conv_page(tmp_path, "stride2-padding1", "ar")
    page = Page(browser, path)
    caption = page.page.locator(".widget-caption").nth(1).text_content()
    assert "\u2066∂L/∂O\u2069" in caption
    widget = page.page.locator('[data-widget="grad_x"]')
    widget.locator('[data-role="prev"]').press("Home")  # a cropped cell: its name is in Arabic
    equation = widget.locator("[data-role=equation]")
    lhs, term = equation.locator("bdi").first, equation.locator(".term").first
    assert lhs.text_content() == "خلية مقصوصة"
    assert lhs.bounding_box()["x"] < term.bounding_box()["x"]
    assert equation.locator("bdi.note").get_attribute("dir") == "rtl"
    assert page.errors == []
    page.close()


def test_controls_are_labelled_and_motion_can_be_reduced(browser, tmp_path):
    _, _, path = _conv_page(tmp_path, "article")
    page = Page(browser, path)
    for role in ("prev", "next", "play", "position"):
        for control in page.page.locator(f'[data-role="{role}"]').all():
            assert control.get_attribute("aria-label")
    page.page.emulate_media(reduced_motion="reduce")
    duration = page.page.eval_on_selector(".cell", "e => getComputedStyle(e).transitionDuration")
    assert duration == "0s"
    page.close()


def test_page_reads_without_javascript(browser, tmp_path):
    _, _, path = _conv_page(tmp_path, "stride2-padding1")
    page = Page(browser, path, javascript=False)
    assert page.page.locator("math").count() > 40  # the derivation itself is static MathML
    assert page.page.locator("[data-widget] .nojs").count() == 3
    page.close()


@pytest.mark.parametrize(
    "kind, values, kernel, stride, padding, ceil, include",
    [
        ("max", [[5, 5, 1, 2], [3, 1, 7, 7], [4, 0, 2, 6], [4, 1, 6, 3]], 2, 2, 0, False, True),
        ("max", [[1, 8, 2, 9, 3], [4, 0, 6, 1, 7], [9, 2, 5, 3, 1], [0, 6, 1, 8, 2], [3, 4, 7, 0, 5]], 3, 2, 1, 0, 1),
        ("avg", [[1, 8, 2, 9, 3], [4, 0, 6, 1, 7], [9, 2, 5, 3, 1], [0, 6, 1, 8, 2], [3, 4, 7, 0, 5]], 3, 2, 1, 0, 0),
        ("avg", [[1, 8, 2, 9, 3], [4, 0, 6, 1, 7], [9, 2, 5, 3, 1], [0, 6, 1, 8, 2], [3, 4, 7, 0, 5]], 2, 2, 0, 1, 1),
    ],
)
def test_pool_page_hover_edit_and_routing(browser, tmp_path, kind, values, kernel, stride, padding, ceil, include):
    values = np.asarray(values, dtype=np.float64)
    d = derive_pool(kind, values, kernel, stride, padding, bool(include), ceil_mode=bool(ceil))
    path = tmp_path / "pool.html"
    path.write_text(render_doc(pool_document(d, "en", check_pool(d), seed=5), "html"), encoding="utf-8")
    page = Page(browser, path)
    k3 = ((kernel,) * 2, (stride,) * 2, (padding,) * 2)
    for a in (values, np.rot90(values).copy()):  # the second input moves every window's maximum
        for pos in np.ndindex(*a.shape):
            page.page.locator(f'[data-tensor="A"][data-index="{pos[0] + 1},{pos[1] + 1}"] input').fill(f"{a[pos]:g}")
        expected = pool_contributors(kind, a, *k3, bool(ceil))
        cells = _result_cells(page, ("B", "dA"))
        assert set(cells) == set(expected)
        for key, cell in cells.items():
            cell.hover()
            assert {tuple(a) for a in cell.evaluate(SEEN)[0]} == expected[key] | {key}, key
        js = "es => es.map(e => Number(e.value))"
        gb = np.array(page.page.eval_on_selector_all('[data-tensor="dB"] input', js)).reshape(d.config.output_size)
        t = convprop.tensor(a[None, None], requires_grad=True)
        if kind == "max":
            out = F.max_pool2d(t, kernel, stride, padding, ceil_mode=bool(ceil))
        else:
            out = F.avg_pool2d(t, kernel, stride, padding, ceil_mode=bool(ceil), count_include_pad=bool(include))
        out.backward(gb[None, None])
        got_b, got_da = page.values("B"), page.values("dA")
        for (i, j), v in np.ndenumerate(out.data[0, 0]):
            assert got_b[f"{i + 1},{j + 1}"] == pytest.approx(v)
        for (i, j), v in np.ndenumerate(t.grad[0, 0]):
            assert got_da[f"{i + 1},{j + 1}"] == pytest.approx(v)
    assert page.errors == []
    page.close()


@pytest.mark.parametrize("layer", ["conv1d", "conv_transpose"])
def test_conv1d_and_transposed_pages_follow_the_contract(browser, tmp_path, layer):
    if layer == "conv1d":
        d = derive_conv1d(6, 3, stride=2, padding=1)
        doc, expected = conv_document(d), Conv((1, 6), (1, 3), (1, 2), (0, 1), row=False).contributors()
    else:
        d = derive_conv_transpose(2, 3, stride=2, padding=1, output_padding=1)
        c = d.config.conv
        doc, expected = conv_transpose_document(d), Conv(c.input_size, c.kernel_size, c.stride, c.padding).transposed()
    path = tmp_path / f"{layer}.html"
    path.write_text(render_doc(doc, "html"), encoding="utf-8")
    page = Page(browser, path)
    cells = _result_cells(page, ("O", "dF", "dX"))
    assert set(cells) == set(expected)
    for key, cell in cells.items():
        cell.hover()
        assert {tuple(a) for a in cell.evaluate(SEEN)[0]} == expected[key] | {key}, key
    assert page.errors == []
    page.close()
