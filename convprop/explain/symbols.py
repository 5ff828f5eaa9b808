"""Named matrix entries (X11, F21, dL/dO12, ...) that print the way the article writes them.

An entry's name carries everything: an optional ``dL/d`` prefix (a loss gradient),
the matrix letter, optional channel indices in parentheses and the 1-based
row/column indices, e.g. ``X11``, ``F(2,1)12`` or ``dL/dO22``. Indices are written
without a separator while every one is a single digit (as in the article) and
with commas otherwise (``X10,2``), so a name is never ambiguous.
"""

from __future__ import annotations

import re

import numpy as np
import sympy as sp
from sympy.printing.pretty.stringpict import prettyForm

_NAME = re.compile(r"^(?P<grad>dL/d)?(?P<base>[A-Za-z]+)(?:\((?P<chan>[\d,]+)\))?(?P<idx>[\d,]+)$")
_SUBSCRIPT_DIGITS = str.maketrans("0123456789,", "₀₁₂₃₄₅₆₇₈₉,")


def index_label(idx: tuple[int, ...]) -> str:
    """1-based indices as the article writes them: ``11`` or, past 9, ``10,2``."""
    one_based = [str(i + 1) for i in idx]
    return ("" if all(len(s) == 1 for s in one_based) else ",").join(one_based)


class Entry(sp.Symbol):
    """A SymPy symbol for one matrix entry, printed as X_{11} or ∂L/∂O_{11}."""

    def _parts(self):
        m = _NAME.match(self.name)
        assert m is not None, f"malformed entry name {self.name!r}"
        return bool(m["grad"]), m["base"], m["chan"], m["idx"]

    @property
    def is_gradient(self) -> bool:
        return self._parts()[0]

    def _latex(self, printer) -> str:
        grad, base, chan, idx = self._parts()
        sup = f"^{{({chan})}}" if chan else ""
        core = f"{base}{sup}_{{{idx}}}"
        return rf"\frac{{\partial L}}{{\partial {core}}}" if grad else core

    def _mathml_presentation(self, printer):
        grad, base, chan, idx = self._parts()
        dom = printer.dom

        def node(tag, text):
            el = dom.createElement(tag)
            el.appendChild(dom.createTextNode(text))
            return el

        if chan:
            core = dom.createElement("msubsup")
            core.appendChild(node("mi", base))
            core.appendChild(node("mn", idx))
            core.appendChild(node("mn", f"({chan})"))
        else:
            core = dom.createElement("msub")
            core.appendChild(node("mi", base))
            core.appendChild(node("mn", idx))
        if not grad:
            return core
        frac = dom.createElement("mfrac")
        num = dom.createElement("mrow")
        num.appendChild(node("mo", "∂"))
        num.appendChild(node("mi", "L"))
        den = dom.createElement("mrow")
        den.appendChild(node("mo", "∂"))
        den.appendChild(core)
        frac.appendChild(num)
        frac.appendChild(den)
        return frac

    def _pretty(self, printer):
        grad, base, chan, idx = self._parts()
        core = base + (f"({chan})" if chan else "") + idx.translate(_SUBSCRIPT_DIGITS)
        return prettyForm(f"∂L/∂{core}" if grad else core)

    def _sympystr(self, printer) -> str:
        return self.name


def entry_name(base: str, idx: tuple[int, ...], channels: tuple[int, ...] = (), grad: bool = False) -> str:
    chan = f"({','.join(str(c + 1) for c in channels)})" if channels else ""
    return f"{'dL/d' if grad else ''}{base}{chan}{index_label(idx)}"


def symbol_array(
    base: str, shape: tuple[int, ...], n_channel_axes: int, show_channels: bool, grad: bool = False, row: bool = True
):
    """An object array of :class:`Entry` symbols; the first ``n_channel_axes`` axes are channels.

    Channel indices appear in the names only when ``show_channels`` (one channel
    keeps the article's plain X11 names); ``row=False`` leaves out the row index
    of a one-row array (conv1d's X3, F2).
    """
    out = np.empty(shape, dtype=object)
    for pos in np.ndindex(*shape):
        chans, idx = pos[:n_channel_axes], pos[n_channel_axes + (0 if row else 1) :]
        out[pos] = Entry(entry_name(base, idx, chans if show_channels else (), grad), real=True)
    return out


def gradient_of(sym: Entry) -> Entry:
    """dL/dS for an entry S (``X11`` -> ``dL/dX11``)."""
    return Entry("dL/d" + sym.name, real=True)


def entry_of(grad: Entry) -> Entry:
    """The entry S of a gradient dL/dS (``dL/dO11`` -> ``O11``)."""
    assert grad.is_gradient, f"{grad.name} is not a loss gradient"
    return Entry(grad.name[len("dL/d") :], real=True)


def unicode_name(sym: Entry) -> str:
    """The entry as the page writes it: ``X₁₂``, ``F(2,1)₁₂``, ``∂L/∂O₁₃``."""
    return str(sym._pretty(None))
