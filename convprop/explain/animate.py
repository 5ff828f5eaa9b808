"""Animated GIFs (and a static PNG of each) of the sliding windows behind the backward pass.

* ``forward``: the filter slides over the (padded) input X, writing O (the article's Fig 1);
* ``grad_f``: dL/dO, with the stride's zeros inserted, slides over X, writing dL/dF;
* ``grad_x``: the rotated filter slides over the padded, zero-inserted dL/dO, writing the full
  dL/dX; the cells cropped by the forward padding are greyed and captioned "cropped (padding)",
  the kept part outlined, its cells captioned by their index in X after the crop (Fig 5);
* ``pool``: each window of A sends its dL/dB to the maximum, or evenly, and dL/dA accumulates.

Every frame shows the window, the cell being written and its sum, with small integer values in
the cells so the sums can be checked by eye; the sum lists every product of the window, the zero
products of inserted or padding zeros included. Frames are drawn with Pillow (fast enough for the
tests) in matplotlib's bundled DejaVu font, which has Arabic letters; Pillow's Raqm layout (HarfBuzz
and FriBiDi) joins them and sets them right to left. Without Raqm, an Arabic frame keeps its words
out and shows only symbols and numbers (the caption under the figure is translated either way).
The static PNG is a representative frame: the first whose written cell is kept (not cropped) and
whose window covers a real entry (not only inserted or padding zeros).
One channel pair is drawn (the first), whatever the number of channels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from matplotlib import font_manager
from PIL import Image, ImageDraw, ImageFont, features

from convprop import reference as ref
from convprop.explain import strings
from convprop.explain.derive import ConvConfig, padded_grad_output, used_padded_input
from convprop.explain.pool import PoolConfig, routed, winners_of

CELL = 34
MARGIN = 14
FRAME_MS = 900

WHITE, PADDING, INSERTED = "#ffffff", "#e4e4e4", "#d6e6ff"
WINDOW, CURRENT, DONE, CROPPED = "#fff1a0", "#ff9f9f", "#d4f0d4", "#f0f0f0"


@dataclass
class Panel:
    title: str
    labels: np.ndarray  # str per cell
    fill: np.ndarray  # colour per cell
    window: set = field(default_factory=set)
    current: tuple | None = None
    box: tuple | None = None  # (top, left, bottom, right): outlined region, e.g. what the crop keeps
    cell_width: int = CELL  # wider for fractions


#: In-frame words when Arabic cannot be shaped (no Raqm): symbols and numbers only.
_SYMBOLIC = {
    "f_padded": "pad(dL/dO)",
    "f_cropped": "crop",
    "f_max": "{g} → {a} = max",
    "f_avg": "{g} → {n} × {share}",
}


def _words(lang: str, key: str) -> str:
    """Text drawn inside a frame: translated, or symbolic when Arabic could not be drawn joined right to left."""
    if lang == "ar" and not features.check("raqm"):
        return _SYMBOLIC[key]
    return strings.text(lang, key)


def _rtl(text: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in text)


def _font(size: int):
    return ImageFont.truetype(font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans")), size)


def _num(v: float) -> str:
    """Integers as they are, simple fractions (average pooling's shares) exactly, anything else rounded."""
    if float(v).is_integer():
        return str(int(v))
    q = Fraction(float(v)).limit_denominator(144)
    return f"{q.numerator}/{q.denominator}" if abs(float(q) - v) < 1e-9 else f"{v:.2g}"


def _panel(title: str, values: np.ndarray, base: np.ndarray | None = None) -> Panel:
    labels = np.vectorize(_num, otypes=[object])(values)
    fill = np.full(values.shape, WHITE, dtype=object) if base is None else base.copy()
    return Panel(title, labels, fill)


def _draw(panels: list[Panel], ops: list[str], caption: str) -> Image.Image:
    cell_font, title_font, op_font = _font(13), _font(14), _font(20)
    title_h, caption_h, gap = 24, 30, 40
    widths = [p.labels.shape[1] * p.cell_width for p in panels]
    grid_h = max(p.labels.shape[0] * CELL for p in panels)
    width = sum(widths) + gap * (len(panels) - 1) + 2 * MARGIN
    width = max(width, int(title_font.getlength(caption)) + 2 * MARGIN)
    img = Image.new("RGB", (width, grid_h + title_h + caption_h + 2 * MARGIN), "white")
    draw = ImageDraw.Draw(img)
    x0 = MARGIN
    for k, p in enumerate(panels):
        rows, cw = p.labels.shape[0], p.cell_width
        y0 = MARGIN + title_h + (grid_h - rows * CELL) // 2
        direction = "rtl" if _rtl(p.title) else None
        draw.text(
            (x0 + widths[k] / 2, y0 - 6), p.title, fill="black", font=title_font, anchor="md", direction=direction
        )
        for (r, c), label in np.ndenumerate(p.labels):
            fill = CURRENT if (r, c) == p.current else (WINDOW if (r, c) in p.window else p.fill[r, c])
            box = (x0 + c * cw, y0 + r * CELL, x0 + (c + 1) * cw, y0 + (r + 1) * CELL)
            draw.rectangle(box, fill=fill, outline="#777777")
            colour = "#999999" if p.fill[r, c] in (PADDING, CROPPED) else "black"
            draw.text((box[0] + cw / 2, box[1] + CELL / 2), label, fill=colour, font=cell_font, anchor="mm")
        if p.window:
            rs, cs = [w[0] for w in p.window], [w[1] for w in p.window]
            draw.rectangle(
                (x0 + min(cs) * cw, y0 + min(rs) * CELL, x0 + (max(cs) + 1) * cw, y0 + (max(rs) + 1) * CELL),
                outline="#d08000",
                width=3,
            )
        if p.box is not None:
            t, left, b, right = p.box
            draw.rectangle((x0 + left * cw, y0 + t * CELL, x0 + right * cw, y0 + b * CELL), outline="#1a7f1a", width=3)
        if k < len(ops):
            draw.text(
                (x0 + widths[k] + gap / 2, MARGIN + title_h + grid_h / 2),
                ops[k],
                fill="black",
                font=op_font,
                anchor="mm",
            )
        x0 += widths[k] + gap
    y = img.height - MARGIN - caption_h / 2
    if _rtl(caption):  # Arabic: from the right edge, right to left
        draw.text((img.width - MARGIN, y), caption, fill="black", font=title_font, anchor="rm", direction="rtl")
    else:
        draw.text((MARGIN, y), caption, fill="black", font=title_font, anchor="lm")
    return img


def _save(frames: list[Image.Image], path: Path, still: int = 0) -> Path:
    """The GIF, plus a PNG of frame ``still`` (a representative one); frames are padded to one size."""
    w, h = max(f.width for f in frames), max(f.height for f in frames)
    frames = [f if f.size == (w, h) else _pad_image(f, w, h) for f in frames]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=FRAME_MS, loop=0)
    frames[still].save(path.with_suffix(".png"))
    return path


def _pad_image(img: Image.Image, w: int, h: int) -> Image.Image:
    out = Image.new("RGB", (w, h), "white")
    out.paste(img, (0, 0))
    return out


def _sum_caption(target: str, pairs: list[tuple[float, float]], total: float) -> str:
    def factor(v):
        return f"({_num(v)})" if v < 0 else _num(v)

    # every highlighted cell's product, zeros too: a product with an inserted or padding zero is shown as 0·b
    terms = [f"{factor(a)}·{factor(b)}" for a, b in pairs]
    return f"{target} = " + " + ".join(terms) + f" = {_num(total)}"


def _cell_name(base: str, i: int, j: int, shape) -> str:
    """The caption name of 0-based cell (i, j): X23, or X10,2 when an index has two digits."""
    return f"{base}{i + 1}{j + 1}" if max(shape) < 10 else f"{base}{i + 1},{j + 1}"


def _slide(a, a_fill, k, k_fill, out_shape, stride, dilation, titles, out_name, out_fill=None, out_box=None):
    """One frame per output cell: the window of ``a`` under ``k``, the cell written, its sum.

    ``out_name`` is a prefix (the cell is named prefix + its 1-based index) or a function of (i, j).
    Returns the frames and the index of the first representative one: its cell is kept (not cropped)
    and its window covers a real entry of ``a``, not only inserted or padding zeros.
    """
    (sh, sw), (dh, dw) = stride, dilation
    frames, still = [], None
    out_panel = _panel(titles[2], np.zeros(out_shape), out_fill)
    out_panel.labels[:] = ""
    out_panel.box = out_box
    for i, j in np.ndindex(*out_shape):
        window = {(i * sh + u * dh, j * sw + v * dw) for u, v in np.ndindex(*k.shape)}
        pairs = [(a[i * sh + u * dh, j * sw + v * dw], k[u, v]) for u, v in np.ndindex(*k.shape)]
        total = sum(p * q for p, q in pairs)
        left = _panel(titles[0], a, a_fill)
        left.window = window
        out_panel.labels[i, j] = _num(total)
        if out_fill is None or out_panel.fill[i, j] == WHITE:
            out_panel.fill[i, j] = DONE
        out_panel.current = (i, j)
        name = out_name(i, j) if callable(out_name) else _cell_name(out_name, i, j, out_shape)
        frames.append(
            _draw([left, _panel(titles[1], k, k_fill), out_panel], ["⊗", "→"], _sum_caption(name, pairs, total))
        )
        kept = out_fill is None or out_fill[i, j] == WHITE
        if still is None and kept and any(a_fill is None or a_fill[p] == WHITE for p in window):
            still = len(frames) - 1
    return frames, still or 0


def _values(shape, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(-3, 4, size=shape).astype(np.float64)


def animate_conv(cfg: ConvConfig, outdir, seed: int = 0, lang: str = "en") -> list[tuple[str, Path]]:
    """Write forward.gif, grad_f.gif and grad_x.gif (+ PNGs) for the first channel pair; returns (key, path).

    ``lang`` is the language of the words drawn inside the frames (``en`` or ``ar``).
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    x, f, go = _values(cfg.input_size, rng), _values(cfg.kernel_size, rng), _values(cfg.output_size, rng)
    ph, pw = cfg.padding

    xp = ref.pad(x, [(ph, ph), (pw, pw)])
    x_fill = np.full(xp.shape, PADDING, dtype=object)
    x_fill[ph : ph + x.shape[0], pw : pw + x.shape[1]] = WHITE
    frames, still = _slide(xp, x_fill, f, None, cfg.output_size, cfg.stride, cfg.dilation, ("X", "F", "O"), "O")
    written = [("anim_forward", _save(frames, outdir / "forward.gif", still))]

    # dL/dF: the (used part of the) padded input under the zero-inserted dL/dO, moving d steps at a time
    g = ref.dilate(go, cfg.stride)
    g_fill = np.full(g.shape, INSERTED, dtype=object)
    g_fill[:: cfg.stride[0], :: cfg.stride[1]] = WHITE
    titles = ("X", "dL/dO", "dL/dF")
    x_used = used_padded_input(cfg, x)
    fill_used = x_fill[: x_used.shape[0], : x_used.shape[1]]
    frames, still = _slide(x_used, fill_used, g, g_fill, cfg.kernel_size, cfg.dilation, (1, 1), titles, "dF")
    written.append(("anim_grad_f", _save(frames, outdir / "grad_f.gif", still)))

    # dL/dX: rotated filter over the padded dL/dO; the forward padding is cropped from the full result
    gp = padded_grad_output(cfg, go)
    gp_fill = np.full(gp.shape, PADDING, dtype=object)
    (eh, ew) = cfg.effective_kernel
    inner = gp_fill[eh - 1 : eh - 1 + g.shape[0], ew - 1 : ew - 1 + g.shape[1]]
    inner[:] = g_fill
    full_fill = np.full(cfg.padded_size, CROPPED, dtype=object)
    full_fill[ph : ph + x.shape[0], pw : pw + x.shape[1]] = WHITE
    box = (ph, pw, ph + x.shape[0], pw + x.shape[1]) if cfg.padding != (0, 0) else None
    titles = (_words(lang, "f_padded"), "rot180(F)", "dL/dX")
    cropped = _words(lang, "f_cropped")
    k = ref.rot180(f)

    def name(i, j):
        # the full result covers the padded input: name cells by their place in X, after the crop
        r, c = i - ph, j - pw
        return _cell_name("dX", r, c, x.shape) if 0 <= r < x.shape[0] and 0 <= c < x.shape[1] else cropped

    frames, still = _slide(gp, gp_fill, k, None, cfg.padded_size, (1, 1), cfg.dilation, titles, name, full_fill, box)
    written.append(("anim_grad_x", _save(frames, outdir / "grad_x.gif", still)))
    return written


def animate_pool(
    cfg: PoolConfig, outdir, values: np.ndarray | None = None, seed: int = 0, lang: str = "en"
) -> list[tuple[str, Path]]:
    """Write pool.gif (+ PNG): one frame per window, dL/dA accumulating; returns [(key, path)].

    ``lang`` is the language of the words drawn inside the frames (``en`` or ``ar``).
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    a = values if values is not None else _values(cfg.input_size, rng)
    gb = _values(cfg.output_size, rng)
    winners = winners_of(cfg, a) if cfg.kind == "max" else None
    ga = np.zeros(cfg.input_size)
    touched = np.full(cfg.input_size, WHITE, dtype=object)
    frames = []
    for i, j in np.ndindex(*cfg.output_size):
        single = np.zeros(cfg.output_size)
        single[i, j] = gb[i, j]
        share = routed(cfg, single, winners)  # this window's contribution alone
        ga = ga + share
        targets = [p for p in cfg.window(i, j) if share[p] != 0] if cfg.kind == "avg" else [winners[i, j]]
        for p in targets:
            touched[p] = DONE
        left = _panel("A", a)
        left.window = set(cfg.window(i, j))
        if cfg.kind == "max":
            left.current = winners[i, j]
        mid = _panel("dL/dB", gb)
        mid.current = (i, j)
        right = _panel("dL/dA", ga, touched)
        right.cell_width = CELL if cfg.kind == "max" else 2 * CELL  # room for running sums like -11/36
        g = f"dL/dB{i + 1}{j + 1} = {_num(gb[i, j])}"
        if cfg.kind == "max":
            r, c = winners[i, j]
            caption = _words(lang, "f_max").format(g=g, a=f"A{r + 1}{c + 1}", v=_num(a[r, c]))
        else:
            share = f"{_num(gb[i, j])}/{cfg.divisor(i, j)}"
            caption = _words(lang, "f_avg").format(g=g, n=len(targets), share=share)
        frames.append(_draw([left, mid, right], ["", "→"], caption))
    return [("anim_pool", _save(frames, outdir / f"{cfg.kind}pool.gif"))]
