"""A derivation's proved index structure as data: what the interactive page steps through, lights up and sums.

The page (``page.py`` + ``assets/lesson.js``) never re-implements convolution or pooling. Python hands it:

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

import numpy as np
import sympy as sp

from convprop.explain.derive import ConvDerivation
from convprop.explain.pool import PoolDerivation
from convprop.explain.symbols import Entry, unicode_name

PAD = {"z": "pad"}
INSERTED = {"z": "inserted"}
HOLE = {"z": "hole"}


def _ref(t: str, shape, pos) -> dict:
    return {"t": t, "i": int(np.ravel_multi_index(pos, shape))}


def _labels(shape, channel_axes: int, multi: bool) -> list[str]:
    """The contract's data-index: 1-based, comma-separated; channel axes only when there are several channels."""
    skip = 0 if multi else channel_axes
    return [",".join(str(i + 1) for i in pos[skip:]) for pos in np.ndindex(*shape)]


def _tensor(symbols: np.ndarray, channel_axes: int, multi: bool, values=None, names=None) -> dict:
    out = {
        "shape": list(symbols.shape),
        "labels": _labels(symbols.shape, channel_axes, multi),
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


def _padded_x(cfg, c: int) -> np.ndarray:
    """Channel c of X inside its forward padding (all of it, including rows no window reaches)."""
    (h, w), (ph, pw) = cfg.input_size, cfg.padding
    cells = np.full((h + 2 * ph, w + 2 * pw), PAD, dtype=object)
    for r, s in np.ndindex(h, w):
        cells[r + ph, s + pw] = _ref("X", (cfg.in_channels, h, w), (c, r, s))
    return cells


def _dilated_filter(cfg, o: int, c: int, rotate: bool) -> np.ndarray:
    """F[o, c] with d-1 holes between its taps (dilation), optionally rotated by 180°."""
    (kh, kw), (dh, dw), (eh, ew) = cfg.kernel_size, cfg.dilation, cfg.effective_kernel
    cells = np.full((eh, ew), HOLE, dtype=object)
    shape = (cfg.out_channels, cfg.group_in, kh, kw)
    for u, v in np.ndindex(kh, kw):
        r, s = (eh - 1 - u * dh, ew - 1 - v * dw) if rotate else (u * dh, v * dw)
        cells[r, s] = _ref("F", shape, (o, c, u, v))
    return cells


def _dilated_grad_output(cfg, o: int, border: tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0))):
    """∂L/∂O[o] with s-1 zeros inserted between its entries, inside ``border`` zeros ((top, bottom), (left, right))."""
    (oh, ow), (sh, sw) = cfg.output_size, cfg.stride
    (t, b), (left, right) = border
    cells = np.full(((oh - 1) * sh + 1 + t + b, (ow - 1) * sw + 1 + left + right), PAD, dtype=object)
    cells[t : t + (oh - 1) * sh + 1, left : left + (ow - 1) * sw + 1] = [[INSERTED]]
    for i, j in np.ndindex(oh, ow):
        cells[t + i * sh, left + j * sw] = _ref("dO", (cfg.out_channels, oh, ow), (o, i, j))
    return cells


def _slice(t: str, shape, lead: tuple) -> np.ndarray:
    """The cells of one channel slice ``lead`` of result tensor ``t``."""
    h, w = shape[-2:]
    cells = np.empty((h, w), dtype=object)
    for i, j in np.ndindex(h, w):
        cells[i, j] = _ref(t, shape, (*lead, i, j))
    return cells


def _channel_label(base: str, chan: tuple, multi: bool) -> str:
    return f"{base}({','.join(str(c + 1) for c in chan)})" if multi else base


def _forward_widget(d: ConvDerivation) -> dict:
    """O = X ⋆ F: the (dilated) filter slides over the padded input, s cells at a time."""
    cfg, multi = d.config, not d.config.single_channel
    g = _Grids()
    xg = [g.add(_channel_label("X", (c,), multi), _padded_x(cfg, c), "input") for c in range(cfg.in_channels)]
    fg = {(o, c): g.add(_channel_label("F", (o, c), multi), _dilated_filter(cfg, o, c, False), "input",
                        "⊗" if o == c == 0 else "")
          for o in range(cfg.out_channels) for c in range(cfg.group_in)}  # fmt: skip
    og = [g.add(_channel_label("O", (o,), multi), _slice("O", d.o.shape, (o,)), "result", "=" if o == 0 else "")
          for o in range(cfg.out_channels)]  # fmt: skip
    (kh, kw), (sh, sw), (dh, dw) = cfg.kernel_size, cfg.stride, cfg.dilation
    frames = []
    for o, i, j in np.ndindex(*d.o.shape):
        cells, terms = [], []
        for c in range(cfg.group_in):
            ci = cfg.input_channel(o, c)
            xcells = _padded_x(cfg, ci)
            for u, v in np.ndindex(kh, kw):
                r, s = i * sh + u * dh, j * sw + v * dw
                cells += [
                    [xg[ci], int(r * xcells.shape[1] + s)],
                    [fg[o, c], int(u * dh * cfg.effective_kernel[1] + v * dw)],
                ]
                terms.append([xcells[r, s], _ref("F", d.f.shape, (o, c, u, v))])
        target = [og[o], int(i * d.o.shape[2] + j)]
        frames.append({"cells": cells, "target": target, "lhs": _ref("O", d.o.shape, (o, i, j)), "terms": terms})
    return g.widget("forward", frames)


def _grad_f_widget(d: ConvDerivation) -> dict:
    """∂L/∂F = X ⋆ dilate_s(∂L/∂O): the zero-inserted ∂L/∂O slides over the padded X, d cells at a time."""
    cfg, multi = d.config, not d.config.single_channel
    g = _Grids()
    xg = [g.add(_channel_label("X", (c,), multi), _padded_x(cfg, c), "input") for c in range(cfg.in_channels)]
    gg = [g.add(_channel_label("∂L/∂O", (o,), multi), _dilated_grad_output(cfg, o), "input", "⊗" if o == 0 else "")
          for o in range(cfg.out_channels)]  # fmt: skip
    fg = {(o, c): g.add(_channel_label("∂L/∂F", (o, c), multi), _slice("dF", d.f.shape, (o, c)), "result",
                        "=" if o == c == 0 else "")
          for o in range(cfg.out_channels) for c in range(cfg.group_in)}  # fmt: skip
    dh, dw = cfg.dilation
    frames = []
    for o, c, u, v in np.ndindex(*d.f.shape):
        ci = cfg.input_channel(o, c)
        xcells, gcells = _padded_x(cfg, ci), _dilated_grad_output(cfg, o)
        cells, terms, zeros = [], [], 0
        for a, b in np.ndindex(*gcells.shape):
            r, s = u * dh + a, v * dw + b
            cells += [[xg[ci], int(r * xcells.shape[1] + s)], [gg[o], int(a * gcells.shape[1] + b)]]
            if gcells[a, b] is INSERTED:
                zeros += 1  # X · 0: counted, not listed (they would swamp the real products)
            else:
                terms.append([xcells[r, s], gcells[a, b]])
        target = [fg[o, c], int(u * cfg.kernel_size[1] + v)]
        frames.append({"cells": cells, "target": target, "lhs": _ref("dF", d.f.shape, (o, c, u, v)),
                       "terms": terms, "inserted": zeros})  # fmt: skip
    return g.widget("grad_f", frames)


def _grad_x_widget(d: ConvDerivation) -> dict:
    """∂L/∂X = crop_p(pad(dilate_s(∂L/∂O)) ⋆ rot180(dilate_d(F))): the full correlation, then the crop."""
    cfg, multi = d.config, not d.config.single_channel
    (eh, ew), (rh, rw), (ph, pw) = cfg.effective_kernel, cfg.uncovered, cfg.padding
    border = ((eh - 1, eh - 1 + rh), (ew - 1, ew - 1 + rw))
    g = _Grids()
    padded = [_dilated_grad_output(cfg, o, border) for o in range(cfg.out_channels)]
    gg = [g.add(_channel_label("∂L/∂O", (o,), multi), padded[o], "input") for o in range(cfg.out_channels)]
    rotated = {(o, c): _dilated_filter(cfg, o, c, True) for o in range(cfg.out_channels) for c in range(cfg.group_in)}
    fg = {key: g.add(_channel_label("rot180 F", key, multi), cells, "input", "⊗" if key == (0, 0) else "")
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
                frame["lhs"] = _ref("dX", d.x.shape, (c, r - ph, s - pw))
                full[r, s].update(frame["lhs"])
            frames.append(frame)
        full_grids.append((g.add(_channel_label("full", (c,), multi), full, "full", "=" if c == 0 else ""), full))
    xg = [g.add(_channel_label("∂L/∂X", (c,), multi), _slice("dX", d.x.shape, (c,)), "result",
                ("crop →" if cfg.padding != (0, 0) else "=") if c == 0 else "")
          for c in range(cfg.in_channels)]  # fmt: skip
    for c, (grid, full) in enumerate(full_grids):
        for r, s in np.ndindex(fh, fw):
            frame = frames[full[r, s]["full"]]
            frame["target"] = [grid, int(r * fw + s)]
            if "lhs" in frame:
                frame["also"] = [xg[c], int((r - ph) * w + s - pw)]
    return g.widget("grad_x", frames)


def conv_lesson(d: ConvDerivation, values: dict | None = None, seed: int = 0) -> dict:
    """The interactive page's data for one conv derivation (see the module docstring)."""
    multi = not d.config.single_channel
    v = conv_values(d, values, seed)
    where = {}
    for t, arr in (("X", d.x), ("F", d.f), ("dO", d.go)):
        for pos in np.ndindex(*arr.shape):
            where[arr[pos]] = _ref(t, arr.shape, pos)
    o_names = [unicode_name(Entry(s.name[len("dL/d"):])) for s in d.go.flat]  # fmt: skip
    tensors = {
        "X": _tensor(d.x, 1, multi, v["X"]),
        "F": _tensor(d.f, 2, multi, v["F"]),
        "dO": _tensor(d.go, 1, multi, v["dO"]),
        "O": _tensor(d.o, 1, multi, names=o_names),
        "dF": _tensor(d.f, 2, multi, names=_gradient_names(d.f)),
        "dX": _tensor(d.x, 1, multi, names=_gradient_names(d.x)),
    }
    for t in ("X", "F", "dO"):
        tensors[t]["editable"] = True
    sums = {
        "O": [[[where[a], where[b]] for a, b in pairs] for pairs in d.forward_terms.flat],
        "dF": [_products(e, where, "X") for e in d.chain_f.flat],
        "dX": [_products(e, where, "dO") for e in d.chain_x.flat],
    }
    widgets = [_forward_widget(d), _grad_f_widget(d), _grad_x_widget(d)]
    return {"kind": "conv", "tensors": tensors, "sums": sums, "widgets": widgets}


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
