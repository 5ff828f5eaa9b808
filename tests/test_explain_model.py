"""`convprop explain model`: the page's table equals PyTorch's numbers, the gradient check, lessons, browser."""

from __future__ import annotations

import html
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from convprop.cli import main
from convprop.models import get_model
from tests.browser import chromium_page
from tests.test_summary import torch_summary
from tests.user_models import TinyNet

ROOT = Path(__file__).resolve().parent.parent
USER_MODELS = "tests/user_models.py"

pytestmark = pytest.mark.skipif(
    shutil.which("dot") is None or importlib.util.find_spec("graphviz") is None,
    reason="the page's graph needs Graphviz's dot and the graphviz package (CI installs both)",
)

_ROW = re.compile(
    r'<tr data-layer="([^"]*)" data-output-shape="([^"]*)"><td>[^<]*</td><td>([^<]*)</td><td>[^<]*</td>'
    r"<td class=num>([\d,]+)</td><td class=num>([\d,]+)</td><td>(.*?)</td></tr>"
)
_VERDICT = re.compile(r'<p data-role="gradcheck"[^>]*>(.*?)</p>')


def _page(tmp_path, *args) -> tuple[int, str, Path]:
    out = tmp_path / "page.html"
    status = main(["explain", "model", *args, "-o", str(out)])
    return status, out.read_text(encoding="utf-8"), out


def _table(page: str) -> dict[str, tuple]:
    return {
        m[1]: (m[3], tuple(int(s) for s in m[2].split("x")), int(m[4].replace(",", "")), int(m[5].replace(",", "")))
        for m in _ROW.finditer(page)
    }


CASES = [
    ("lenet5", (1, 28, 28), lambda: get_model("lenet5", generator=np.random.default_rng(0)), 3),
    ("vggsmall", (1, 28, 28), lambda: get_model("vggsmall", generator=np.random.default_rng(0)), 2),
    ("resnet8", (3, 32, 32), lambda: get_model("resnet8", in_channels=3, generator=np.random.default_rng(0)), 3),
    (f"{USER_MODELS}:TinyNet", (2, 8, 8), TinyNet, 3),
]


@pytest.mark.parametrize(("spec", "shape", "build", "lessons"), CASES, ids=[c[0].split(":")[-1] for c in CASES])
def test_page_table_equals_pytorch_and_gradient_check_verified(tmp_path, spec, shape, build, lessons):
    status, page, out = _page(tmp_path, spec, "--input-shape", "x".join(map(str, shape)))
    assert status == 0
    table = _table(page)
    assert table == torch_summary(build(), shape)  # type, output shape, parameters, MACs for every module
    verdicts = _VERDICT.findall(page)
    assert len(verdicts) == 1 and "verified" in verdicts[0]
    model = build()
    for name, _ in model.named_parameters():  # one row per parameter in the check table
        assert f'<tr class="ok"><td>{name}</td>' in page
    links = set(re.findall(r'<a href="(page_lessons/[^"]+)">', page))
    assert len(links) == lessons
    for link in links:
        lesson = (out.parent / link).read_text(encoding="utf-8")
        assert lesson.startswith("<!DOCTYPE html>") and "<math" in lesson
        # the lesson says which layers it stands for, and links back to this page
        rows = re.findall(r'<tr data-layer="([^"]+)"(?:(?!</tr>).)*?<a href="([^"]+)">', page.split("</table>")[0])
        layers = [n for n, target in rows if target == link]
        assert layers and all(f"{n} (" in lesson for n in layers)
        assert f'<a href="../{out.name}">' in lesson
    loss_step = page.split('<section class="step"', 2)[1]  # the first step says which loss it is
    expected = "The loss is the cross-entropy" if "LogSoftmax" in loss_step else "L = Σ y ⊙ G"
    assert expected in loss_step
    assert page.count('<section class="step"') >= len([n for n, m in model.named_modules() if not m._modules])
    assert "<svg" in page and "http://" not in page.replace("http://www.w3.org", "")  # self-contained


def test_a_wrong_custom_backward_is_not_verified_and_named(tmp_path):
    status, page, _ = _page(tmp_path, f"{USER_MODELS}:WrongBackward", "--input-shape", "1x6x6")
    assert status == 1
    (verdict,) = _VERDICT.findall(page)
    assert "verified" not in verdict and "scale" in verdict
    assert '<tr class="bad"><td>scale</td>' in page
    assert '<tr class="ok"><td>conv.weight</td>' in page  # the other parameters still pass


def test_arabic_page(tmp_path):
    status, page, out = _page(tmp_path, "lenet5", "--input-shape", "1x28x28", "--lang", "ar")
    assert status == 0
    assert '<html lang="ar" dir="rtl">' in page and "الانتشار العكسي" in page
    (verdict,) = _VERDICT.findall(page)
    assert "verified" in verdict and "تم التحقق" in verdict
    assert (out.parent / "page_lessons" / "maxpool_k2x2_s2x2_p0x0.ar.html").exists()
    assert _table(page)["features.0"][1] == (6, 28, 28)


def test_page_in_chromium_steps_back_from_the_loss(tmp_path):
    _, page, out = _page(tmp_path, "lenet5", "--input-shape", "1x28x28")
    with chromium_page() as (browser, errors):
        browser.goto(out.as_uri())

        def state():
            return (
                browser.inner_text('[data-role="counter"]'),
                browser.eval_on_selector_all("[data-step]:not([hidden])", "s => s.map(e => e.dataset.layer)"),
                browser.eval_on_selector_all("tr.current", "rows => rows.map(r => r.dataset.layer)"),
                browser.is_disabled('[data-role="prev"]'),
                browser.is_disabled('[data-role="next"]'),
            )

        n = page.count('<section class="step"')
        assert state() == (f"step 1 of {n}", [""], [], True, False)  # the loss, outside every module
        browser.click('[data-role="next"]')
        assert state() == (f"step 2 of {n}", ["classifier.5"], ["classifier.5"], False, False)
        browser.click('[data-role="next"]')
        browser.click('[data-role="prev"]')
        assert state()[1] == ["classifier.5"]
        for _ in range(n):
            browser.click('[data-role="next"]', force=True)
        assert state() == (f"step {n} of {n}", ["features.0"], ["features.0"], False, True)
        text = browser.inner_text("[data-step]:not([hidden])")
        assert "features.0.weight" in text and "backpropagation ends here" in text
        browser.screenshot(path=str(tmp_path / "page.png"))
    assert errors == []


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "convprop", "explain", "model", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("missing.py:Net", "--input-shape", "1x8x8"), "missing.py: no such file"),
        ((f"{USER_MODELS}:Nope", "--input-shape", "1x8x8"), "has no class 'Nope'"),
        ((f"{USER_MODELS}:NotAModule", "--input-shape", "1x8x8"), "is not a convprop nn.Module subclass"),
        ((f"{USER_MODELS}:TinyNet", "--input-shape", "1x8x8"), "rejects input shape 1x8x8"),
        ((f"{USER_MODELS}:TooLargeToDraw", "--input-shape", "1x2x2"), "is too large to draw"),
    ],
)
def test_bad_input_is_one_line(tmp_path, args, message):
    result = _cli(*args, "-o", str(tmp_path / "p.html"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in html.unescape(lines[0]), result.stderr
    assert not (tmp_path / "p.html").exists()


def test_help_says_the_file_is_run():
    result = _cli("--help")
    assert result.returncode == 0 and "RUNS ITS CODE" in " ".join(result.stdout.split())
