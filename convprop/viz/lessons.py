"""One derivation page per conv and pooling layer of a model, for that layer's real geometry.

Each ``Conv2d``, ``MaxPool2d`` and ``AvgPool2d`` gets the explainer's lesson
(:func:`convprop.explain.derive_conv` / :func:`~convprop.explain.derive_pool`, proved,
checked numerically and rendered as HTML) with the layer's own kernel size, stride,
padding, dilation and groups, on the smallest input whose output is 2x2 (large enough to
show every rule, small enough to write out), one channel per group. Layers with the same
geometry share one page. Layers the explainer does not derive (1-D and 3-D layers,
transposed convolutions, adaptive pooling, non-zero padding modes, dilated or ceil-mode
pooling) get no page.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convprop.nn.modules.conv import Conv2d
from convprop.nn.modules.module import Module
from convprop.nn.modules.pooling import AvgPool2d, MaxPool2d

MAX_GROUPS = 4  # one channel per group; more groups make a page too long to read


@dataclass
class Lesson:
    """One derivation page: its file name, its HTML, and whether the derivation and its checks passed."""

    filename: str
    html: str
    verified: bool


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def _small_input(kernel, stride, padding, dilation) -> tuple[int, int]:
    """Per axis, the smallest size (at least 2) whose output has 2 entries."""
    return tuple(
        max(2, s + d * (k - 1) + 1 - 2 * p) for k, s, p, d in zip(kernel, stride, padding, dilation, strict=True)
    )


def _conv_geometry(m: Conv2d):
    if m.padding_mode != "zeros" or m.groups > MAX_GROUPS:
        return None
    padding = m.padding
    if isinstance(padding, str):  # 'valid' or 'same' (stride 1): the explainer takes the per-side numbers
        half = [d * (k - 1) for k, d in zip(m.kernel_size, m.dilation, strict=True)]
        if padding == "same" and any(h % 2 for h in half):
            return None  # asymmetric padding
        padding = tuple(h // 2 for h in half) if padding == "same" else (0, 0)
    return m.kernel_size, m.stride, tuple(padding), m.dilation, m.groups


def _pool_geometry(m: Module):
    if _pair(getattr(m, "dilation", 1)) != (1, 1) or m.ceil_mode or getattr(m, "divisor_override", None):
        return None
    kind = "max" if isinstance(m, MaxPool2d) else "avg"
    return kind, _pair(m.kernel_size), _pair(m.stride), _pair(m.padding), getattr(m, "count_include_pad", True)


def _tag(values) -> str:
    return "x".join(map(str, values))


def _context(doc, key: str, layers: list, size, lang: str, model: str | None, back: str | None):
    """The page opens with the model layers it stands for (and a link back to the model's page)."""
    from convprop.explain.document import Nav, Para
    from convprop.viz.strings import text

    def describe(name, m) -> str:
        if isinstance(m, Conv2d):
            return f"{name} (Conv2d, {text(lang, 'channels', cin=m.in_channels, cout=m.out_channels)})"
        return f"{name} ({type(m).__name__})"

    shown = ", ".join(describe(n, m) for n, m in layers)
    what = model or "the model"
    blocks = [Para([text(lang, key, layers=shown, model=what, size="×".join(map(str, size)))])]
    if back is not None:
        blocks.insert(0, Nav(text(lang, "lesson_nav"), [(text(lang, "lesson_back", model=what), back, False)]))
    doc.blocks[:0] = blocks
    return doc


def _conv_lesson(geometry, lang: str, context) -> Lesson:
    from convprop import explain

    kernel, stride, padding, dilation, groups = geometry
    size = _small_input(kernel, stride, padding, dilation)
    d = explain.derive_conv(size, kernel, stride, padding, dilation, groups, groups, groups)
    check = explain.check_conv(d)
    name = f"conv_k{_tag(kernel)}_s{_tag(stride)}_p{_tag(padding)}_d{_tag(dilation)}_g{groups}.{lang}.html"
    doc = context(explain.conv_document(d, lang, check), "lesson_conv", size)
    return Lesson(name, explain.render(doc, "html"), d.verified and check.ok)


def _pool_lesson(geometry, lang: str, context) -> Lesson:
    from convprop import explain

    kind, kernel, stride, padding, include_pad = geometry
    size = _small_input(kernel, stride, padding, (1, 1))
    # max pooling routes by value: random integers, as `convprop explain maxpool --seed 0` uses
    values = np.random.default_rng(0).integers(0, 10, size=size).astype(np.float64) if kind == "max" else size
    d = explain.derive_pool(kind, values, kernel, stride, padding, include_pad)
    check = explain.check_pool(d)
    extra = "" if include_pad or kind == "max" else "_exclude-pad"
    name = f"{kind}pool_k{_tag(kernel)}_s{_tag(stride)}_p{_tag(padding)}{extra}.{lang}.html"
    doc = context(explain.pool_document(d, lang, check), "lesson_pool", size)
    return Lesson(name, explain.render(doc, "html"), d.verified and check.ok)


def layer_lessons(
    model: Module, lang: str = "en", model_name: str | None = None, back: str | None = None
) -> dict[str, Lesson]:
    """Qualified layer name -> its lesson, for every layer the explainer derives (see the module docstring).

    Each page opens with the layers of ``model_name`` it stands for and, given ``back`` (a link to the model's
    page, relative to the lesson), a link back."""
    layers: dict[tuple, list] = {}  # (builder, geometry) -> [(name, module)], in the model's order
    for name, m in model.named_modules():
        if type(m) is Conv2d:
            geometry, build = _conv_geometry(m), _conv_lesson
        elif type(m) in (MaxPool2d, AvgPool2d):
            geometry, build = _pool_geometry(m), _pool_lesson
        else:
            continue
        if geometry is not None:
            layers.setdefault((build, geometry), []).append((name, m))
    out: dict[str, Lesson] = {}
    for (build, geometry), named in layers.items():

        def context(doc, key, size, named=named):
            return _context(doc, key, named, size, lang, model_name, back)

        lesson = build(geometry, lang, context)
        out.update((name, lesson) for name, _ in named)
    return out
