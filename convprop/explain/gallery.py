"""A small static site of interactive lessons: one page per configuration a learner should see, both languages.

``write_site(folder)`` derives, proves and checks every configuration of :data:`GALLERY`, and writes
``index.html`` / ``index.ar.html`` plus ``<slug>.html`` / ``<slug>.ar.html`` for each, every page with a picker
that moves between them. A configuration that does not verify stops the build: the gallery only shows proofs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from convprop.explain import strings
from convprop.explain.derive import derive_conv, derive_conv1d
from convprop.explain.document import Document, Nav, Para, conv_document, pool_document
from convprop.explain.numeric import check_conv, check_conv_transpose, check_pool
from convprop.explain.pool import derive_pool
from convprop.explain.render import render
from convprop.explain.transpose import derive_conv_transpose
from convprop.explain.transposed_document import conv_transpose_document


@dataclass(frozen=True)
class Lesson:
    """One page of the gallery: a layer and its arguments (those of ``derive_conv`` or ``derive_pool``)."""

    slug: str
    layer: str  # conv, conv1d, conv_transpose, maxpool, avgpool
    params: dict = field(default_factory=dict)

    def title(self, lang: str) -> str:
        return strings.GALLERY[lang][self.slug]

    def derive(self):
        """Derive, prove and check this configuration: (derivation, numeric check); raise unless both verify."""
        if self.layer in ("conv", "conv1d"):
            d = (derive_conv if self.layer == "conv" else derive_conv1d)(**self.params)
            check = check_conv(d)
        elif self.layer == "conv_transpose":
            d = derive_conv_transpose(**self.params)
            check = check_conv_transpose(d)
        else:
            d = derive_pool(self.layer[:3], **self.params)
            check = check_pool(d)
        if not (d.verified and check.ok):
            raise RuntimeError(f"gallery page {self.slug!r} did not verify: the derivation or its numbers disagree")
        return d, check

    def document(self, derived, lang: str) -> Document:
        d, check = derived
        if self.layer in ("conv", "conv1d"):
            return conv_document(d, lang, check)
        if self.layer == "conv_transpose":
            return conv_transpose_document(d, lang, check)
        return pool_document(d, lang, check)


#: Ties: windows (1, 1), (1, 2) and (2, 1) hold their maximum twice; the first one in row-major order wins.
TIES = np.array([[5, 5, 1, 2], [3, 1, 7, 7], [4, 0, 2, 6], [4, 1, 6, 3]], dtype=np.float64)

GALLERY = (
    Lesson("conv-article", "conv", {"input_size": 3, "kernel_size": 2}),
    Lesson("conv-stride2", "conv", {"input_size": 5, "kernel_size": 3, "stride": 2}),
    Lesson("conv-padding", "conv", {"input_size": 4, "kernel_size": 3, "padding": 1}),
    Lesson("conv-stride2-padding1", "conv", {"input_size": 5, "kernel_size": 3, "stride": 2, "padding": 1}),
    Lesson("conv-dilation", "conv", {"input_size": 5, "kernel_size": 2, "dilation": 2}),
    Lesson(
        "conv-groups", "conv", {"input_size": 3, "kernel_size": 2, "in_channels": 2, "out_channels": 2, "groups": 2}
    ),
    Lesson(
        "conv-asymmetric", "conv", {"input_size": (4, 5), "kernel_size": (2, 3), "stride": (1, 2), "padding": (1, 0)}
    ),
    Lesson("conv1d", "conv1d", {"input_size": 6, "kernel_size": 3, "stride": 2, "padding": 1}),
    Lesson(
        "conv-transpose",
        "conv_transpose",
        {"input_size": 2, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1},
    ),
    Lesson("maxpool-ties", "maxpool", {"input": TIES, "kernel_size": 2}),
    Lesson(
        "maxpool-overlap",
        "maxpool",
        {"input": np.random.default_rng(3).integers(0, 10, (5, 5)).astype(np.float64), "kernel_size": 3, "stride": 2},
    ),
    Lesson(
        "avgpool-exclude-pad",
        "avgpool",
        {"input": 4, "kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
    ),
    Lesson("avgpool-ceil", "avgpool", {"input": 5, "kernel_size": 2, "ceil_mode": True}),
)


def page_name(slug: str, lang: str) -> str:
    return f"{slug}.html" if lang == "en" else f"{slug}.{lang}.html"


def _nav(current: str, lang: str, lessons) -> Nav:
    """The picker: every page of the gallery in this language, the current one marked, and the other language."""
    links = [(lesson.title(lang), page_name(lesson.slug, lang), lesson.slug == current) for lesson in lessons]
    other = "ar" if lang == "en" else "en"
    return Nav(
        strings.GALLERY[lang]["picker"],
        [(strings.GALLERY[lang]["index"], page_name("index", lang), current == "index"), *links],
        (strings.GALLERY[lang]["other_language"], page_name(current, other)),
    )


def write_site(folder, lessons=GALLERY, langs=strings.LANGUAGES, progress=None) -> list[Path]:
    """Write the gallery into ``folder`` (created if needed); returns the pages written.

    ``progress(k, n, slug)``, when given, is called before each of the ``n`` lessons is derived and proved (the
    slow part, seconds each)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    derived = {}
    for k, lesson in enumerate(lessons, 1):
        if progress is not None:
            progress(k, len(lessons), lesson.slug)
        derived[lesson.slug] = lesson.derive()
    for lang in langs:
        for lesson in lessons:
            doc = lesson.document(derived[lesson.slug], lang)
            doc.blocks.insert(0, _nav(lesson.slug, lang, lessons))
            path = folder / page_name(lesson.slug, lang)
            path.write_text(render(doc, "html"), encoding="utf-8")
            written.append(path)
        index = Document(lang, strings.GALLERY[lang]["title"])
        index.blocks += [Para([strings.GALLERY[lang]["intro"]]), _nav("index", lang, lessons)]
        path = folder / page_name("index", lang)
        path.write_text(render(index, "html"), encoding="utf-8")
        written.append(path)
    return written
