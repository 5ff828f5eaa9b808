"""Which input cells a conv or pooling result entry adds up, computed here from the layer's definition alone.

The interactive page's tests compare what lights up in the browser, and the lesson data the page is built
from, with these sets; neither is computed from the other.
"""

from __future__ import annotations

import itertools

import numpy as np


def label(pos, multi: bool, channel_axes: int) -> str:
    """The testing contract's data-index: 1-based, comma-separated, channel axes only with several channels."""
    return ",".join(str(i + 1) for i in (pos if multi else pos[channel_axes:]))


class Conv:
    """conv2d of one unbatched input: X (cin, h, w), F (cout, cin/groups, kh, kw), O and dO (cout, oh, ow)."""

    def __init__(self, size, kernel, stride=1, padding=0, dilation=1, cin=1, cout=1, groups=1, row=True):
        pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)  # noqa: E731
        self.h, self.w = pair(size)
        self.kh, self.kw = pair(kernel)
        self.s, self.p, self.d = pair(stride), pair(padding), pair(dilation)
        self.cin, self.cout, self.groups = cin, cout, groups
        self.gin, self.gout = cin // groups, cout // groups
        self.oh = (self.h + 2 * self.p[0] - self.d[0] * (self.kh - 1) - 1) // self.s[0] + 1
        self.ow = (self.w + 2 * self.p[1] - self.d[1] * (self.kw - 1) - 1) // self.s[1] + 1
        self.multi = cin > 1 or cout > 1
        self.row = row  # False: a conv1d held as one row, whose labels leave the row index out

    def taps(self):
        """Every (output entry, filter entry, input entry) triple that one product of the layer joins."""
        for o, i, j, c, u, v in itertools.product(
            range(self.cout), range(self.oh), range(self.ow), range(self.gin), range(self.kh), range(self.kw)
        ):
            r = i * self.s[0] + u * self.d[0] - self.p[0]
            q = j * self.s[1] + v * self.d[1] - self.p[1]
            if 0 <= r < self.h and 0 <= q < self.w:
                yield (o, i, j), (o, c, u, v), ((o // self.gout) * self.gin + c, r, q)

    def _l(self, t, pos):
        axes = 2 if t in ("F", "dF") else 1
        if not self.row:
            pos = pos[:axes] + pos[axes + 1 :]
        return t, label(pos, self.multi, axes)

    def transposed(self) -> dict:
        """The contributors of the transposed convolution whose associated convolution this is: the conv's
        ∂L/∂O plays the transposed layer's X, the conv's ∂L/∂X its O, the conv's X its ∂L/∂O."""
        out = {}
        for opos, fpos, xpos in self.taps():
            out.setdefault(self._l("O", xpos), set()).update({self._l("X", opos), self._l("F", fpos)})
            out.setdefault(self._l("dF", fpos), set()).update({self._l("dO", xpos), self._l("X", opos)})
            out.setdefault(self._l("dX", opos), set()).update({self._l("dO", xpos), self._l("F", fpos)})
        for pos in np.ndindex(self.cin, self.h, self.w):
            out.setdefault(self._l("O", pos), set())
        return out

    def contributors(self) -> dict:
        """(result tensor, data-index) -> the set of (tensor, data-index) in its sum of products."""
        out = {}
        for opos, fpos, xpos in self.taps():
            out.setdefault(self._l("O", opos), set()).update({self._l("X", xpos), self._l("F", fpos)})
            out.setdefault(self._l("dF", fpos), set()).update({self._l("X", xpos), self._l("dO", opos)})
            out.setdefault(self._l("dX", xpos), set()).update({self._l("dO", opos), self._l("F", fpos)})
        for pos in np.ndindex(self.cin, self.h, self.w):  # an input entry that no window reaches: an empty sum
            out.setdefault(self._l("dX", pos), set())
        return out


def pool_contributors(kind, values, kernel, stride, padding, ceil_mode=False) -> dict:
    """(B or dA, data-index) -> (A or dB, data-index) cells: a window's entries; the windows routed to an entry."""
    h, w = values.shape
    kh, kw = kernel
    sh, sw = stride
    ph, pw = padding

    def count(n, k, s, p):
        size = (n + 2 * p - k + (s - 1 if ceil_mode else 0)) // s + 1
        return size - 1 if ceil_mode and (size - 1) * s >= n + p else size

    out = {}
    for i, j in itertools.product(range(count(h, kh, sh, ph)), range(count(w, kw, sw, pw))):
        win = [(r, c) for r in range(i * sh - ph, i * sh - ph + kh) for c in range(j * sw - pw, j * sw - pw + kw)
               if 0 <= r < h and 0 <= c < w]  # fmt: skip
        b = ("B", label((i, j), True, 0))
        out[b] = {("A", label(p, True, 0)) for p in win}
        routed = [max(win, key=lambda p: values[p])] if kind == "max" else win  # max() keeps the first maximum
        for p in routed:
            out.setdefault(("dA", label(p, True, 0)), set()).add(("dB", label((i, j), True, 0)))
    for p in np.ndindex(h, w):
        out.setdefault(("dA", label(p, True, 0)), set())
    return out
