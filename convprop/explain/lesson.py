"""A derivation's proved index structure as data: what the interactive page steps through, lights up and sums.

The page (``render.to_html`` + ``assets/lesson.js``) never re-implements convolution or pooling. Python hands it:

* ``tensors``: every matrix of the lesson (X, F, dO, O, dF, dX; pooling: A, B, dB, dA) with its shape, the
  entry names as the equations write them (``X₁₂``, ``∂L/∂O₁₃``), the ``data-index`` labels of the testing
  contract (1-based, comma-separated, channel axes first when there are several channels) and starting values
  for the inputs.
* ``sums`` (convolution): for every result entry, the products it adds up, read off the *proved* symbolic
  expressions: O from the forward pass's terms, ∂L/∂F and ∂L/∂X from the chain-rule results that SymPy matched
  entry by entry with the closed forms. The page's arithmetic is only Σ a·b over these lists.
* ``pool`` (pooling): every window's input entries and divisor; the page applies the routing rule the article
  states (the window's first maximum gets its gradient; the average spreads it over the divisor).
* ``widgets``: one per figure. A widget is a row of grids, each a channel slice of a tensor *as one step of the
  closed form draws it* (X padded; ∂L/∂O with the stride's zeros inserted and padded; the filter dilated and
  rotated; the full result before the crop), and frames for the stepper: which cells one position covers and
  the products it writes, zero products of inserted or padding cells included and marked as such.

A grid cell is ``{"t": tensor, "i": flat index}``, a zero ``{"z": "pad" | "inserted" | "hole"}``, or a cell of
the full ∂L/∂X before the crop ``{"full": frame}`` (also carrying ``t``/``i`` when the crop keeps it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from convprop.explain.derive import ConvConfig, ConvDerivation
from convprop.explain.pool import PoolDerivation
from convprop.explain.symbols import Entry, unicode_name

PAD = {"z": "pad"}
INSERTED = {"z": "inserted"}
HOLE = {"z": "hole"}


def _ref(t: str, shape, pos) -> dict:
    return {"t": t, "i": int(np.ravel_multi_index(pos, shape))}


def _labels(shape, channel_axes: int, multi: bool, row: bool = True) -> list[str]:
    """The contract's data-index: 1-based, comma-separated; channel axes only when there are several channels,
    and no row index for a one-row (conv1d) array."""
    keep = [k for k in range(len(shape)) if (multi or k >= channel_axes) and (row or k != channel_axes)]
    return [",".join(str(pos[k] + 1) for k in keep) for pos in np.ndindex(*shape)]


def _tensor(symbols: np.ndarray, channel_axes: int, multi: bool, values=None, names=None, row=True) -> dict:
    out = {
        "shape": list(symbols.shape),
        "labels": _labels(symbols.shape, channel_axes, multi, row),
        "names": names if names is not None else [unicode_name(s) for s in symbols.flat],
    }
    if values is not None:
        out["values"] = [float(v) for v in np.asarray(values, dtype=np.float64).flat]
    return out


def _gradient_names(symbols: np.ndarray) -> list[str]:
    return ["∂L/∂" + unicode_name(s) for s in symbols.flat]


def _products(expr, where: dict, first: str) -> list[list[dict]]:
    """The terms of a proved sum of products as [factor, factor] references, ordered by the ``first`` tensor."""
    terms = []
    for term in sp.Add.make_args(sp.expand(expr)):
        if term == 0:
            continue
        coeff, factors = term.as_coeff_mul()
        assert coeff == 1 and len(factors) == 2, f"not a product of two entries: {term}"
        pair = sorted((where[f] for f in factors), key=lambda r: r["t"] != first)
        terms.append(pair)
    return sorted(terms, key=lambda p: (p[0]["i"], p[1]["i"]))


# ---- convolution -------------------------------------------------------------


def _small_integers(rng: np.random.Generator, shape, low: int, high: int) -> np.ndarray:
    return rng.integers(low, high + 1, size=shape).astype(np.float64)


def conv_values(d: ConvDerivation, values: dict | None = None, seed: int = 0) -> dict:
    """Starting numbers for X, F and dO: the given ones, the rest small seeded integers."""
    rng = np.random.default_rng(seed)
    ranges = {"X": (d.x.shape, 0, 5), "F": (d.f.shape, -2, 2), "dO": (d.go.shape, -2, 2)}
    out = {}
    for key, (shape, low, high) in ranges.items():
        drawn = _small_integers(rng, shape, low, high)
        given = (values or {}).get(key)
        if given is None:
            out[key] = drawn
            continue
        given = np.asarray(given, dtype=np.float64)
        if given.size != int(np.prod(shape)):
            raise ValueError(
                f"values[{key!r}]: this layer's {key} has shape {tuple(shape)} ({int(np.prod(shape))} numbers), "
                f"got {given.size}"
            )
        if not np.isfinite(given).all():
            raise ValueError(f"values[{key!r}]: expected finite numbers (no nan or inf)")
        out[key] = given.reshape(shape)
    return out


class _Grids:
    """The grids of one widget, and each grid's cells, laid out row by row."""

    def __init__(self):
        self.grids: list[dict] = []

    def add(self, label: str, cells: np.ndarray, role: str, join: str = "") -> int:
        """A grid; ``join`` is the operator drawn before it (⋆, =, →)."""
        grid = {"label": label, "rows": cells.shape[0], "cols": cells.shape[1], "role": role, "cells": list(cells.flat)}
        if join:
            grid["join"] = join
        self.grids.append(grid)
        return len(self.grids) - 1

    def widget(self, name: str, frames: list, **extra) -> dict:
        """The widget, with a legend for the kinds of zero cells (and cropped cells) its grids show."""
        cells = [c for g in self.grids for c in g["cells"]]
        legend = [z for z in ("pad", "inserted", "hole") if any(c.get("z") == z for c in cells)]
        if any("full" in c and "t" not in c for c in cells):
            legend.append("cropped")
        return {"id": name, "grids": self.grids, "frames": frames, "legend": legend, **extra}


#: The matrices' names in the grids' captions.
LABELS = {"X": "X", "F": "F", "dO": "∂L/∂O", "O": "O", "dF": "∂L/∂F", "dX": "∂L/∂X"}
#: A convolution's steps are drawn with each tensor in its own role...
CONV_ROLES = {t: t for t in LABELS}
#: ...and a transposed convolution's with its tensors in the roles of its associated convolution
#: (transpose.py): its X is the conv's ∂L/∂O, its O the conv's ∂L/∂X, its ∂L/∂O the conv's X.
TRANSPOSED_ROLES = {"X": "dO", "F": "F", "dO": "X", "O": "dX", "dF": "dF", "dX": "O"}


@dataclass(frozen=True)
class _View:
    """A convolution seen through ``roles``: which tensor of the lesson plays each part of the conv's formulas."""

    config: ConvConfig
    roles: dict

    def t(self, role: str) -> str:
        return self.roles[role]

    def label(self, role: str, chan: tuple) -> str:
        base = LABELS[self.roles[role]]
        return f"{base}({','.join(str(c + 1) for c in chan)})" if not self.config.single_channel else base

    @property
    def x_shape(self):
        return (self.config.in_channels, *self.config.input_size)

    @property
    def f_shape(self):
        return (self.config.out_channels, self.config.group_in, *self.config.kernel_size)

    @property
    def o_shape(self):
        return (self.config.out_channels, *self.config.output_size)


def _padded_x(v: _View, c: int) -> np.ndarray:
    """Channel c of the conv's input inside its forward padding (all of it, including rows no window reaches)."""
    (h, w), (ph, pw) = v.config.input_size, v.config.padding
    cells = np.full((h + 2 * ph, w + 2 * pw), PAD, dtype=object)
    for r, s in np.ndindex(h, w):
        cells[r + ph, s + pw] = _ref(v.t("X"), v.x_shape, (c, r, s))
    return cells


def _dilated_filter(v: _View, o: int, c: int, rotate: bool) -> np.ndarray:
    """F[o, c] with d-1 holes between its taps (dilation), optionally rotated by 180°."""
    cfg = v.config
    (kh, kw), (dh, dw), (eh, ew) = cfg.kernel_size, cfg.dilation, cfg.effective_kernel
    cells = np.full((eh, ew), HOLE, dtype=object)
    for u, w in np.ndindex(kh, kw):
        r, s = (eh - 1 - u * dh, ew - 1 - w * dw) if rotate else (u * dh, w * dw)
        cells[r, s] = _ref(v.t("F"), v.f_shape, (o, c, u, w))
    return cells


def _dilated_grad_output(v: _View, o: int, border: tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0))):
    """∂L/∂O[o] with s-1 zeros inserted between its entries, inside ``border`` zeros ((top, bottom), (left, right))."""
    (oh, ow), (sh, sw) = v.config.output_size, v.config.stride
    (t, b), (left, right) = border
    cells = np.full(((oh - 1) * sh + 1 + t + b, (ow - 1) * sw + 1 + left + right), PAD, dtype=object)
    cells[t : t + (oh - 1) * sh + 1, left : left + (ow - 1) * sw + 1] = [[INSERTED]]
    for i, j in np.ndindex(oh, ow):
        cells[t + i * sh, left + j * sw] = _ref(v.t("dO"), v.o_shape, (o, i, j))
    return cells


def _slice(t: str, shape, lead: tuple) -> np.ndarray:
    """The cells of one channel slice ``lead`` of result tensor ``t``."""
    h, w = shape[-2:]
    cells = np.empty((h, w), dtype=object)
    for i, j in np.ndindex(h, w):
        cells[i, j] = _ref(t, shape, (*lead, i, j))
    return cells


def _forward_widget(v: _View, name: str) -> dict:
    """O = X ⋆ F: the (dilated) filter slides over the padded input, s cells at a time."""
    cfg = v.config
    g = _Grids()
    padded = [_padded_x(v, c) for c in range(cfg.in_channels)]
    xg = [g.add(v.label("X", (c,)), padded[c], "input") for c in range(cfg.in_channels)]
    fg = {(o, c): g.add(v.label("F", (o, c)), _dilated_filter(v, o, c, False), "input", "⊗" if o == c == 0 else "")
          for o in range(cfg.out_channels) for c in range(cfg.group_in)}  # fmt: skip
    og = [g.add(v.label("O", (o,)), _slice(v.t("O"), v.o_shape, (o,)), "result", "=" if o == 0 else "")
          for o in range(cfg.out_channels)]  # fmt: skip
    (kh, kw), (sh, sw), (dh, dw) = cfg.kernel_size, cfg.stride, cfg.dilation
    frames = []
    for o, i, j in np.ndindex(*v.o_shape):
        cells, terms = [], []
        for c in range(cfg.group_in):
            ci = cfg.input_channel(o, c)
            xcells = padded[ci]
            for u, w in np.ndindex(kh, kw):
                r, s = i * sh + u * dh, j * sw + w * dw
                cells += [
                    [xg[ci], int(r * xcells.shape[1] + s)],
                    [fg[o, c], int(u * dh * cfg.effective_kernel[1] + w * dw)],
                ]
                terms.append([xcells[r, s], _ref(v.t("F"), v.f_shape, (o, c, u, w))])
        target = [og[o], int(i * v.o_shape[2] + j)]
        lhs = _ref(v.t("O"), v.o_shape, (o, i, j))
        frames.append({"cells": cells, "target": target, "lhs": lhs, "terms": terms})
    return g.widget(name, frames)


def _grad_f_widget(v: _View, name: str) -> dict:
    """∂L/∂F = X ⋆ dilate_s(∂L/∂O): the zero-inserted ∂L/∂O slides over the padded X, d cells at a time."""
    cfg = v.config
    g = _Grids()
    padded = [_padded_x(v, c) for c in range(cfg.in_channels)]
    dilated = [_dilated_grad_output(v, o) for o in range(cfg.out_channels)]
    xg = [g.add(v.label("X", (c,)), padded[c], "input") for c in range(cfg.in_channels)]
    gg = [g.add(v.label("dO", (o,)), dilated[o], "input", "⊗" if o == 0 else "") for o in range(cfg.out_channels)]
    fg = {(o, c): g.add(v.label("dF", (o, c)), _slice(v.t("dF"), v.f_shape, (o, c)), "result",
                        "=" if o == c == 0 else "")
          for o in range(cfg.out_channels) for c in range(cfg.group_in)}  # fmt: skip
    dh, dw = cfg.dilation
    frames = []
    for o, c, u, w in np.ndindex(*v.f_shape):
        ci = cfg.input_channel(o, c)
        xcells, gcells = padded[ci], dilated[o]
        cells, terms, zeros = [], [], 0
        for a, b in np.ndindex(*gcells.shape):
            r, s = u * dh + a, w * dw + b
            cells += [[xg[ci], int(r * xcells.shape[1] + s)], [gg[o], int(a * gcells.shape[1] + b)]]
            if gcells[a, b] is INSERTED:
                zeros += 1  # X · 0: counted, not listed (they would swamp the real products)
            else:
                terms.append([xcells[r, s], gcells[a, b]])
        target = [fg[o, c], int(u * cfg.kernel_size[1] + w)]
        frames.append({"cells": cells, "target": target, "lhs": _ref(v.t("dF"), v.f_shape, (o, c, u, w)),
                       "terms": terms, "inserted": zeros})  # fmt: skip
    return g.widget(name, frames)


def _grad_x_widget(v: _View, name: str) -> dict:
    """∂L/∂X = crop_p(pad(dilate_s(∂L/∂O)) ⋆ rot180(dilate_d(F))): the full correlation, then the crop."""
    cfg = v.config
    (eh, ew), (rh, rw), (ph, pw) = cfg.effective_kernel, cfg.uncovered, cfg.padding
    border = ((eh - 1, eh - 1 + rh), (ew - 1, ew - 1 + rw))
    g = _Grids()
    padded = [_dilated_grad_output(v, o, border) for o in range(cfg.out_channels)]
    gg = [g.add(v.label("dO", (o,)), padded[o], "input") for o in range(cfg.out_channels)]
    rotated = {(o, c): _dilated_filter(v, o, c, True) for o in range(cfg.out_channels) for c in range(cfg.group_in)}
    rot = "rot180 " + LABELS[v.t("F")]
    fg = {key: g.add(f"{rot}({key[0] + 1},{key[1] + 1})" if not cfg.single_channel else rot, cells, "input",
                     "⊗" if key == (0, 0) else "")
          for key, cells in rotated.items()}  # fmt: skip
    fh, fw = cfg.padded_size
    h, w = cfg.input_size
    frames, full_grids = [], []
    for c in range(cfg.in_channels):
        full = np.empty((fh, fw), dtype=object)
        for r, s in np.ndindex(fh, fw):
            cells, terms = [], []
            for o in range(cfg.out_channels):
                for cl in range(cfg.group_in):
                    if cfg.input_channel(o, cl) != c:
                        continue
                    k = rotated[o, cl]
                    for a, b in np.ndindex(eh, ew):
                        cells += [[gg[o], int((r + a) * padded[o].shape[1] + s + b)], [fg[o, cl], int(a * ew + b)]]
                        if k[a, b] is not HOLE:
                            terms.append([padded[o][r + a, s + b], k[a, b]])
            frame = {"cells": cells, "terms": terms}
            full[r, s] = {"full": len(frames)}
            if ph <= r < ph + h and pw <= s < pw + w:
                frame["lhs"] = _ref(v.t("dX"), v.x_shape, (c, r - ph, s - pw))
                full[r, s].update(frame["lhs"])
            frames.append(frame)
        label = f"full({c + 1})" if not cfg.single_channel else "full"
        full_grids.append((g.add(label, full, "full", "=" if c == 0 else ""), full))
    xg = [g.add(v.label("dX", (c,)), _slice(v.t("dX"), v.x_shape, (c,)), "result",
                ("crop →" if cfg.padding != (0, 0) else "=") if c == 0 else "")
          for c in range(cfg.in_channels)]  # fmt: skip
    for c, (grid, full) in enumerate(full_grids):
        for r, s in np.ndindex(fh, fw):
            frame = frames[full[r, s]["full"]]
            frame["target"] = [grid, int(r * fw + s)]
            if "lhs" in frame:
                frame["also"] = [xg[c], int((r - ph) * w + s - pw)]
    # the stepper opens on the first entry that ∂L/∂X keeps, not on the cropped border that precedes it
    return g.widget(name, frames, start=next(k for k, f in enumerate(frames) if "lhs" in f))


def _conv_tensors(d, values: dict, multi: bool, row: bool = True) -> dict:
    """The six matrices of a conv or transposed-conv lesson; X, F and ∂L/∂O editable, from ``values``."""
    o_names = [unicode_name(Entry(s.name[len("dL/d"):])) for s in d.go.flat]  # fmt: skip
    tensors = {
        "X": _tensor(d.x, 1, multi, values["X"], row=row),
        "F": _tensor(d.f, 2, multi, values["F"], row=row),
        "dO": _tensor(d.go, 1, multi, values["dO"], row=row),
        "O": _tensor(d.go, 1, multi, names=o_names, row=row),
        "dF": _tensor(d.f, 2, multi, names=_gradient_names(d.f), row=row),
        "dX": _tensor(d.x, 1, multi, names=_gradient_names(d.x), row=row),
    }
    for t in ("X", "F", "dO"):
        tensors[t]["editable"] = True
    return tensors


def _sums(d, v: _View) -> dict:
    """Every result entry's products, read off the proved expressions (O's from the forward pass's terms), each
    pair in the order the steps of ``v`` write it."""
    where = {}
    for t, arr in (("X", d.x), ("F", d.f), ("dO", d.go)):
        for pos in np.ndindex(*arr.shape):
            where[arr[pos]] = _ref(t, arr.shape, pos)
    return {
        "O": [[[where[a], where[b]] for a, b in pairs] for pairs in d.forward_terms.flat],
        "dF": [_products(e, where, v.t("X")) for e in d.chain_f.flat],
        "dX": [_products(e, where, "dO") for e in d.chain_x.flat],
    }


def conv_lesson(d: ConvDerivation, values: dict | None = None, seed: int = 0) -> dict:
    """The interactive page's data for one conv derivation (see the module docstring)."""
    multi = not d.config.single_channel
    tensors = _conv_tensors(d, conv_values(d, values, seed), multi, row=d.config.ndim == 2)
    v = _View(d.config, CONV_ROLES)
    widgets = [_forward_widget(v, "forward"), _grad_f_widget(v, "grad_f"), _grad_x_widget(v, "grad_x")]
    return {"kind": "conv", "tensors": tensors, "sums": _sums(d, v), "widgets": widgets}


def conv_transpose_lesson(d, values: dict | None = None, seed: int = 0) -> dict:
    """The page's data for a transposed convolution: its associated convolution's steps, tensors in new roles.

    Its forward pass is drawn as that convolution's ∂L/∂X (the full correlation with the rotated filter), its
    ∂L/∂X as that convolution's forward pass, and its ∂L/∂F as that convolution's filter gradient.
    """
    multi = not d.config.single_channel
    tensors = _conv_tensors(d, conv_values(d, values, seed), multi)
    v = _View(d.config.conv, TRANSPOSED_ROLES)
    widgets = [_grad_x_widget(v, "forward"), _forward_widget(v, "grad_x"), _grad_f_widget(v, "grad_f")]
    return {"kind": "conv", "tensors": tensors, "sums": _sums(d, v), "widgets": widgets}


# ---- pooling -----------------------------------------------------------------


def pool_lesson(d: PoolDerivation, seed: int = 0, grad_values=None) -> dict:
    """The interactive page's data for one pooling derivation: windows, divisors and starting values."""
    cfg = d.config
    rng = np.random.default_rng(seed)
    a_values = d.concrete if d.concrete is not None else _small_integers(rng, cfg.input_size, 0, 9)
    gb_values = _small_integers(rng, cfg.output_size, -3, 3) if grad_values is None else np.asarray(grad_values)
    (h, w), (ph, pw) = cfg.input_size, cfg.padding
    a_names = [unicode_name(s) for s in d.a.flat]
    b_names = [unicode_name(Entry(s.name[len("dL/d"):])) for s in d.gb.flat]  # fmt: skip
    tensors = {
        "A": {**_tensor(d.a, 0, False, a_values, a_names), "editable": True},
        "B": _tensor(d.gb, 0, False, names=b_names),
        "dB": {**_tensor(d.gb, 0, False, gb_values), "editable": True},
        "dA": _tensor(d.a, 0, False, names=_gradient_names(d.a)),
    }
    windows = [[int(r * w + c) for r, c in win] for win in d.windows.flat]
    divisors = [cfg.divisor(i, j) for i, j in np.ndindex(*cfg.output_size)]
    g = _Grids()
    a_cells = np.full((h + 2 * ph, w + 2 * pw), PAD, dtype=object)
    for r, c in np.ndindex(h, w):
        a_cells[r + ph, c + pw] = _ref("A", (h, w), (r, c))
    ag = g.add("A", a_cells, "input")
    bg = g.add("B", _slice("B", cfg.output_size, ()), "result", f"{cfg.kind} →")
    gbg = g.add("∂L/∂B", _slice("dB", cfg.output_size, ()), "input", "│")
    dag = g.add("∂L/∂A", _slice("dA", cfg.input_size, ()), "result", "→")
    (kh, kw), (sh, sw) = cfg.kernel_size, cfg.stride
    frames = []
    for k, (i, j) in enumerate(np.ndindex(*cfg.output_size)):
        cells = [[ag, int((i * sh + u) * a_cells.shape[1] + j * sw + v)]
                 for u in range(kh) for v in range(kw)
                 if i * sh + u < a_cells.shape[0] and j * sw + v < a_cells.shape[1]]  # fmt: skip
        cells.append([gbg, k])
        frames.append({"window": k, "cells": cells, "target": [bg, k], "route": dag})
    return {
        "kind": "pool",
        "tensors": tensors,
        "pool": {"kind": cfg.kind, "windows": windows, "divisors": divisors},
        "widgets": [g.widget("pool", frames)],
    }
