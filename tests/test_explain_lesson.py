"""The interactive page's data (explain/lesson.py): the index structure it exports is the layer's, and it sums right.

Every set here is compared with tests/explain_indices.py, which computes it from the layer's definition; the
values are compared with convprop's own conv2d / pooling and their autograd.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("sympy", reason="convprop explain needs the explain extra: pip install convprop[explain]")

import convprop
import convprop.nn.functional as F
from convprop.explain import (
    conv_document,
    derive_conv,
    derive_conv1d,
    derive_conv_transpose,
    derive_pool,
    pool_document,
    render,
)
from convprop.explain.lesson import conv_lesson, conv_transpose_lesson, conv_values, pool_lesson
from tests.explain_indices import Conv, pool_contributors

CONFIGS = {
    "article": ((3, 2), {}),
    "stride2-padding1": ((5, 3), {"stride": 2, "padding": 1}),
    "dilation": ((5, 2), {"dilation": 2}),
    "uncovered": ((6, 3), {"stride": 2}),  # the last row and column reach no window
    "channels": ((3, 2), {"in_channels": 2, "out_channels": 3}),
    "groups": ((4, 2), {"in_channels": 2, "out_channels": 2, "groups": 2, "padding": 1}),
    "asymmetric": (((4, 5), (2, 3)), {"stride": (1, 2), "padding": (1, 0), "dilation": (2, 1)}),
}
NAMES = {"in_channels": "cin", "out_channels": "cout"}


@pytest.fixture(scope="module", params=list(CONFIGS))
def case(request):
    (size, kernel), kw = CONFIGS[request.param]
    d = derive_conv(size, kernel, **kw)
    oracle = Conv(size, kernel, **{NAMES.get(k, k): v for k, v in kw.items()})
    return d, conv_lesson(d, seed=1), oracle


def _label(lesson, ref):
    return ref["t"], lesson["tensors"][ref["t"]]["labels"][ref["i"]]


def test_sums_list_exactly_the_products_of_the_layer(case):
    _d, lesson, oracle = case
    expected = oracle.contributors()
    got = {}
    for t, sums in lesson["sums"].items():
        for i, terms in enumerate(sums):
            got[t, lesson["tensors"][t]["labels"][i]] = {_label(lesson, r) for pair in terms for r in pair}
    assert got == expected


def _value(lesson, values, ref):
    return 0.0 if "z" in ref else values[ref["t"]][ref["i"]]


def _evaluate(lesson):
    """What the page computes: Σ a·b over each entry's listed products."""
    values = {t: np.asarray(v["values"]) for t, v in lesson["tensors"].items() if "values" in v}
    return {
        t: np.array([sum(_value(lesson, values, a) * _value(lesson, values, b) for a, b in terms) for terms in sums])
        for t, sums in lesson["sums"].items()
    }, values


def test_the_listed_products_give_conv2d_and_its_gradients(case):
    d, lesson, _ = case
    results, values = _evaluate(lesson)
    cfg = d.config
    x = convprop.tensor(values["X"].reshape(1, *d.x.shape), requires_grad=True)
    w = convprop.tensor(values["F"].reshape(d.f.shape), requires_grad=True)
    out = F.conv2d(x, w, stride=cfg.stride, padding=cfg.padding, dilation=cfg.dilation, groups=cfg.groups)
    out.backward(values["dO"].reshape(out.shape))
    np.testing.assert_allclose(results["O"], out.data.ravel(), atol=1e-12)
    np.testing.assert_allclose(results["dF"], w.grad.numpy().ravel(), atol=1e-12)
    np.testing.assert_allclose(results["dX"], x.grad.numpy().ravel(), atol=1e-12)


def _terms(lesson, terms):
    """A frame's products without those that have a zero (padding, inserted) factor."""
    return sorted(tuple(_label(lesson, r) for r in pair) for pair in terms if not any("z" in r for r in pair))


def test_every_step_writes_the_products_of_its_entry(case):
    d, lesson, _ = case
    widgets = {w["id"]: w for w in lesson["widgets"]}
    sums = {t: [sorted(tuple(_label(lesson, r) for r in p) for p in s) for s in ss] for t, ss in lesson["sums"].items()}
    for name, t, count in (("forward", "O", d.o.size), ("grad_f", "dF", d.f.size)):
        frames = widgets[name]["frames"]
        assert [f["lhs"]["i"] for f in frames] == list(range(count))  # every entry, in order
        assert all(_terms(lesson, f["terms"]) == sums[t][f["lhs"]["i"]] for f in frames)
    frames = widgets["grad_x"]["frames"]
    kept = [f for f in frames if "lhs" in f]
    assert sorted(f["lhs"]["i"] for f in kept) == list(range(d.x.size))
    assert len(frames) == d.config.in_channels * np.prod(d.config.padded_size)  # the full result, crop included
    assert all(_terms(lesson, f["terms"]) == sums["dX"][f["lhs"]["i"]] for f in kept)


def test_grad_x_steps_show_the_zeros_of_stride_and_padding():
    d = derive_conv(5, 3, stride=2, padding=1)
    frames = {w["id"]: w for w in conv_lesson(d)["widgets"]}["grad_x"]["frames"]
    dx11 = next(f for f in frames if f.get("lhs") == {"t": "dX", "i": 0})
    kinds = [tuple(sorted(r.get("z", r.get("t")) for r in pair)) for pair in dx11["terms"]]
    # 9 taps of the rotated 3x3 filter: one real product (dL/dO11 F22), the rest zeros of the padding or stride
    assert len(kinds) == 9 and kinds.count(("F", "dO")) == 1
    assert {("F", "inserted"), ("F", "pad")} <= set(kinds)


def test_starting_values_and_their_errors():
    d = derive_conv(3, 2)
    given = conv_values(d, {"X": range(9)}, seed=0)
    assert given["X"].ravel().tolist() == list(range(9)) and given["F"].shape == (1, 1, 2, 2)
    assert np.array_equal(conv_values(d, seed=4)["dO"], conv_values(d, seed=4)["dO"])
    with pytest.raises(ValueError, match=r"X has shape \(1, 3, 3\) \(9 numbers\), got 4"):
        conv_values(d, {"X": [1, 2, 3, 4]})
    with pytest.raises(ValueError, match="finite"):
        conv_values(d, {"F": [1, 2, np.nan, 4]})


@pytest.mark.parametrize(
    "kind, values, kernel, stride, padding, ceil, include",
    [
        ("max", [[5, 5, 1, 2], [3, 1, 7, 7], [4, 0, 2, 6], [4, 1, 6, 3]], 2, 2, 0, False, True),
        ("max", np.arange(25.0).reshape(5, 5) % 7, 3, 2, 1, False, True),
        ("avg", np.arange(25.0).reshape(5, 5), 3, 2, 1, False, False),
        ("avg", np.arange(25.0).reshape(5, 5), 2, 2, 0, True, True),
    ],
)
def test_pool_lesson_windows_and_routing(kind, values, kernel, stride, padding, ceil, include):
    values = np.asarray(values, dtype=np.float64)
    d = derive_pool(kind, values, kernel, stride, padding, include, ceil_mode=ceil)
    lesson = pool_lesson(d, seed=2)
    pool = lesson["pool"]
    a = np.asarray(lesson["tensors"]["A"]["values"])
    gb = np.asarray(lesson["tensors"]["dB"]["values"])
    labels = lesson["tensors"]["A"]["labels"]
    expected = pool_contributors(kind, values, (kernel,) * 2, (stride,) * 2, (padding,) * 2, ceil)
    got = {("B", lesson["tensors"]["B"]["labels"][k]): {("A", labels[i]) for i in win}
           for k, win in enumerate(pool["windows"])}  # fmt: skip
    assert got == {k: v for k, v in expected.items() if k[0] == "B"}
    # the page's rule (first maximum, or the divisor) gives the layer's output and gradient
    t = convprop.tensor(a.reshape(1, 1, *values.shape), requires_grad=True)
    if kind == "max":
        out = F.max_pool2d(t, kernel, stride, padding, ceil_mode=ceil)
    else:
        out = F.avg_pool2d(t, kernel, stride, padding, ceil_mode=ceil, count_include_pad=include)
    out.backward(gb.reshape(out.shape))
    b, da = np.zeros(len(pool["windows"])), np.zeros(a.size)
    for k, win in enumerate(pool["windows"]):
        if kind == "max":
            winner = max(win, key=lambda i: a[i])
            b[k], da[winner] = a[winner], da[winner] + gb[k]
        else:
            b[k] = a[win].sum() / pool["divisors"][k]
            da[win] += gb[k] / pool["divisors"][k]
    np.testing.assert_allclose(b, out.data.ravel(), atol=1e-12)
    np.testing.assert_allclose(da, t.grad.numpy().ravel(), atol=1e-12)


def test_page_embeds_the_lesson_safely():
    d = derive_conv(3, 2)
    doc = conv_document(d)
    doc.lesson["tensors"]["X"]["names"][0] = "</script><script>alert(1)</script>"
    page = render(doc, "html")
    data = page.split('id="convprop-lesson">', 1)[1].split("</script>", 1)[0]
    assert json.loads(data)["tensors"]["X"]["names"][0].startswith("</script>")
    assert page.count("<script") == 2  # the data and the page's script, nothing injected


def test_other_formats_ignore_the_widgets():
    d = derive_pool("max", 4, 2, winners=[[(0, 0), (0, 2)], [(2, 0), (2, 2)]])
    doc = pool_document(d)
    for fmt in ("md", "latex", "text"):
        assert "convprop-lesson" not in render(doc, fmt) and "data-widget" not in render(doc, fmt)


def test_conv1d_lesson_names_entries_by_position_alone():
    d = derive_conv1d(6, 3, stride=2, padding=1)
    lesson = conv_lesson(d)
    assert lesson["tensors"]["X"]["labels"] == ["1", "2", "3", "4", "5", "6"]
    assert lesson["tensors"]["X"]["names"][:2] == ["X₁", "X₂"]
    oracle = Conv((1, 6), (1, 3), stride=(1, 2), padding=(0, 1), row=False)
    got = {
        (t, lesson["tensors"][t]["labels"][i]): {_label(lesson, r) for pair in terms for r in pair}
        for t, sums in lesson["sums"].items()
        for i, terms in enumerate(sums)
    }
    assert got == oracle.contributors()


TRANSPOSED = [
    {"input_size": 2, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1},
    {"input_size": 3, "kernel_size": 2, "dilation": 2},
    {"input_size": (2, 3), "kernel_size": (2, 2), "stride": (2, 1), "in_channels": 2, "out_channels": 4, "groups": 2},
]


@pytest.mark.parametrize("kw", TRANSPOSED)
def test_transposed_lesson_is_the_associated_conv_with_roles_swapped(kw):
    d = derive_conv_transpose(**kw)
    lesson = conv_transpose_lesson(d, seed=2)
    c = d.config.conv
    oracle = Conv(c.input_size, c.kernel_size, c.stride, c.padding, c.dilation, c.in_channels, c.out_channels, c.groups)
    got = {
        (t, lesson["tensors"][t]["labels"][i]): {_label(lesson, r) for pair in terms for r in pair}
        for t, sums in lesson["sums"].items()
        for i, terms in enumerate(sums)
    }
    assert got == oracle.transposed()
    sums = {t: [sorted(tuple(_label(lesson, r) for r in p) for p in s) for s in ss] for t, ss in lesson["sums"].items()}
    widgets = {w["id"]: w for w in lesson["widgets"]}
    for name, t in (("forward", "O"), ("grad_x", "dX"), ("grad_f", "dF")):
        for f in widgets[name]["frames"]:
            if "lhs" in f:
                assert f["lhs"]["t"] == t and _terms(lesson, f["terms"]) == sums[t][f["lhs"]["i"]]
    results, values = _evaluate(lesson)
    cfg = d.config
    x = convprop.tensor(values["X"].reshape(1, *d.x.shape), requires_grad=True)
    w = convprop.tensor(values["F"].reshape(d.f.shape), requires_grad=True)
    out = F.conv_transpose2d(x, w, None, cfg.stride, cfg.padding, cfg.output_padding, cfg.groups, cfg.dilation)
    out.backward(values["dO"].reshape(out.shape))
    np.testing.assert_allclose(results["O"], out.data.ravel(), atol=1e-12)
    np.testing.assert_allclose(results["dX"], x.grad.numpy().ravel(), atol=1e-12)
    np.testing.assert_allclose(results["dF"], w.grad.numpy().ravel(), atol=1e-12)
