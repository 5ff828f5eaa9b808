"""Symbolic derivation of max and average pooling's backward pass (the article's A -> B example).

Pooling has no parameters; its backward pass only routes dL/dB back to the
input A. Max pooling sends each window's gradient to the window's maximum (the
first one in row-major order on ties, as PyTorch does), so it needs concrete
values, or a chosen winner per window. Average pooling spreads each window's gradient evenly over the divisor.
Where windows overlap (stride < kernel) the contributions add.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

import convprop
import convprop.nn.functional as F
from convprop.explain.derive import MAX_SYMBOLIC_SIZE, prove
from convprop.explain.notebook import NotebookDisplay
from convprop.explain.symbols import entry_name, symbol_array
from convprop.ops._args import ntuple, positive

KINDS = ("max", "avg")

#: The article's example: a 4x4 input whose 2x2 windows peak at A11, A13, A31 and A33.
ARTICLE_VALUES = np.array([[9, 1, 8, 2], [3, 4, 5, 6], [7, 2, 9, 1], [0, 5, 3, 4]], dtype=np.float64)


@dataclass(frozen=True)
class PoolConfig:
    kind: str
    input_size: tuple[int, int]
    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    output_size: tuple[int, int]
    count_include_pad: bool = True
    ceil_mode: bool = False

    def window(self, i: int, j: int) -> list[tuple[int, int]]:
        """Input positions (0-based, padding left out) covered by output (i, j), in row-major order."""
        (h, w), (kh, kw), (sh, sw), (ph, pw) = self.input_size, self.kernel_size, self.stride, self.padding
        return [
            (r, c)
            for r in range(i * sh - ph, i * sh - ph + kh)
            for c in range(j * sw - pw, j * sw - pw + kw)
            if 0 <= r < h and 0 <= c < w
        ]

    def divisor(self, i: int, j: int) -> int:
        """Average pooling's divisor: the window inside the padded input, or only its non-padding entries.

        With ``ceil_mode`` the last window may run past the padded input; as in PyTorch, that part never counts.
        """
        if not self.count_include_pad:
            return len(self.window(i, j))
        size = 1
        for start, k, n, p in zip((i * self.stride[0], j * self.stride[1]), self.kernel_size, self.input_size,
                                  self.padding, strict=True):  # fmt: skip
            size *= min(start + k, n + 2 * p) - start
        return size


def pool_config(
    kind, input_size, kernel_size, stride=None, padding=0, count_include_pad=True, symbolic=True, ceil_mode=False
):
    """Validated pooling hyper-parameters; ``symbolic`` also enforces the readable-size limit.

    The layer itself (``max_pool2d``/``avg_pool2d`` on zeros of the input's size) validates the
    arguments and gives the output size: one copy of the rules and the size formula.
    """
    if kind not in KINDS:
        raise ValueError(f"pooling kind must be one of {KINDS}, got {kind!r}")
    op = f"{kind}_pool2d"
    size = positive(input_size, 2, "input_size", op)
    x = convprop.tensor(np.zeros((1, *size)))
    with convprop.no_grad():
        if kind == "max":
            out = F.max_pool2d(x, kernel_size, stride, padding, ceil_mode=ceil_mode)
        else:
            out = F.avg_pool2d(
                x, kernel_size, stride, padding, ceil_mode=ceil_mode, count_include_pad=count_include_pad
            )
    kernel = ntuple(kernel_size, 2, "kernel_size", op)
    cfg = PoolConfig(
        kind,
        size,
        kernel,
        kernel if stride is None else ntuple(stride, 2, "stride", op),
        ntuple(padding, 2, "padding", op),
        tuple(out.shape[-2:]),
        bool(count_include_pad),
        bool(ceil_mode),
    )
    if symbolic and max(cfg.input_size) > MAX_SYMBOLIC_SIZE:
        h, w = cfg.input_size
        raise ValueError(
            f"a {h}x{w} input is too large to read symbolically (at most {MAX_SYMBOLIC_SIZE}x{MAX_SYMBOLIC_SIZE}); "
            "use the numeric check instead (--numeric, convprop.explain.numeric_pool)"
        )
    return cfg


@dataclass
class PoolDerivation(NotebookDisplay):
    """Every step for one pooling configuration; see :func:`derive_pool`.

    ``a``, ``b`` (outputs), ``gb`` (dL/dB), ``chain`` and ``closed`` are 2-D object
    arrays; ``A``, ``B``, ``dB`` and ``dA`` are the same as SymPy matrices.
    """

    config: PoolConfig
    values: np.ndarray | None  # the input's values (max pooling needs them, or chosen winners)
    a: np.ndarray
    b: np.ndarray  # B_ij: the winning entry (max) or the window mean (avg)
    gb: np.ndarray
    windows: np.ndarray  # per output: the covered input positions, row-major
    winners: np.ndarray | None  # per output: the position of the window's first maximum (or the chosen one)
    local: dict  # A entry -> ∂B/∂A_entry, shaped like B
    chain: np.ndarray  # ∂L/∂A from the chain rule
    closed: np.ndarray  # ∂L/∂A routed directly: to the argmax, or evenly
    verified: bool

    @property
    def A(self):
        return sp.Matrix(self.a.tolist())

    @property
    def B(self):
        return sp.Matrix(self.b.tolist())

    @property
    def dB(self):
        return sp.Matrix(self.gb.tolist())

    @property
    def dA(self):
        return sp.Matrix(self.chain.tolist())

    def __repr__(self) -> str:
        c = self.config
        size, kernel = ("x".join(str(n) for n in t) for t in (c.input_size, c.kernel_size))
        stride, padding = (str(t[0]) if t[0] == t[1] else str(t) for t in (c.stride, c.padding))
        return (
            f"PoolDerivation({c.kind}, input {size}, kernel {kernel}, stride {stride}, padding {padding}, "
            f"verified={self.verified})"
        )

    def _document(self):
        from convprop.explain.document import pool_document

        return pool_document(self)

    @property
    def concrete(self) -> np.ndarray | None:
        """The input's values; for chosen winners, small integers whose windows' first maxima they are."""
        if self.values is None and self.config.kind == "max":
            return realize(self.config, self.winners)
        return self.values

    @property
    def ties(self) -> list[tuple[int, int]]:
        """Outputs whose window holds its maximum more than once (the first one wins, as in PyTorch)."""
        if self.values is None or self.config.kind != "max":
            return []
        return [
            (i, j)
            for (i, j), win in np.ndenumerate(self.windows)
            if sum(self.values[p] == self.values[self.winners[i, j]] for p in win) > 1
        ]


def winners_of(cfg: PoolConfig, values: np.ndarray) -> np.ndarray:
    """Per output, the position of its window's maximum; the first one on ties (PyTorch's rule)."""
    winners = np.empty(cfg.output_size, dtype=object)
    for i, j in np.ndindex(*cfg.output_size):
        # max() keeps the first of equal values, and windows are listed in row-major order
        winners[i, j] = max(cfg.window(i, j), key=lambda p: values[p])
    return winners


def chosen_winners(cfg: PoolConfig, winners) -> np.ndarray:
    """Validate ``winners`` (per window, the 0-based (row, col) of the input entry that gets its gradient).

    Each must lie inside its window (padding excluded), and together they must be the first maxima
    of some input: overlapping windows cannot disagree about which of two entries is larger.
    """
    oh, ow = cfg.output_size
    try:
        rows = [[tuple(int(v) for v in p) for p in row] for row in winners]
    except (TypeError, ValueError):
        raise ValueError(f"winners: expected {oh}x{ow} (row, col) pairs, one per window, got {winners!r}") from None
    if len(rows) != oh or any(len(r) != ow for r in rows) or any(len(p) != 2 for r in rows for p in r):
        raise ValueError(f"winners: expected {oh}x{ow} (row, col) pairs, one per window, got {winners!r}")
    out = np.empty(cfg.output_size, dtype=object)
    for i, j in np.ndindex(oh, ow):
        p, win = rows[i][j], cfg.window(i, j)
        if p not in win:
            raise ValueError(
                f"winners[{i}][{j}] = {p} is not inside its window, which covers rows "
                f"{min(r for r, _ in win)}-{max(r for r, _ in win)} and columns "
                f"{min(c for _, c in win)}-{max(c for _, c in win)} (0-based, padding left out)"
            )
        out[i, j] = p
    realize(cfg, out)  # raises when no input has these maxima
    return out


def realize(cfg: PoolConfig, winners: np.ndarray) -> np.ndarray:
    """Small integer values whose windows' first maxima are ``winners``: a concrete input for the numeric check.

    A winner must exceed every entry of its window listed before it (row-major) and be at least every
    entry after it; making every such order strict, values exist exactly when these "larger than"
    relations have no cycle, and a topological order gives them.
    """
    larger = {p: set() for p in np.ndindex(*cfg.input_size)}  # p -> entries that must be smaller than p
    for (i, j), w in np.ndenumerate(winners):
        larger[w].update(p for p in cfg.window(i, j) if p != w)
    values, state = np.zeros(cfg.input_size), {}

    def visit(p, path):
        if state.get(p) == "done":
            return values[p]
        if state.get(p) == "active":
            names = " > ".join(entry_name("A", q) for q in [*path[path.index(p) :], p])
            raise ValueError(f"winners: no input has these maxima (overlapping windows would need {names})")
        state[p] = "active"
        values[p] = 1 + max((visit(q, [*path, p]) for q in larger[p]), default=-1)
        state[p] = "done"
        return values[p]

    for p in larger:
        visit(p, [])
    return values


def routed(cfg: PoolConfig, gb: np.ndarray, winners: np.ndarray | None) -> np.ndarray:
    """The closed form: every dL/dB_ij goes to its window's maximum, or 1/divisor of it to every entry.

    Works on symbols (object arrays) and on numbers alike.
    """
    out = np.zeros(cfg.input_size, dtype=gb.dtype)  # object zeros for symbols, floats for numbers
    for (i, j), g in np.ndenumerate(gb):
        if cfg.kind == "max":
            out[winners[i, j]] += g
        else:
            for p in cfg.window(i, j):
                out[p] += g / cfg.divisor(i, j)
    return out


def derive_pool(
    kind, input, kernel_size, stride=None, padding=0, count_include_pad=True, winners=None, ceil_mode=False
) -> PoolDerivation:
    """Derive, and prove, the backward pass of ``max_pool2d`` or ``avg_pool2d``.

    Max: B_ij = max of window (i, j); ∂L/∂A_rc = Σ of the dL/dB_ij whose window's
    first maximum is A_rc. Average: B_ij = (Σ window) / divisor;
    ∂L/∂A_rc = Σ over the windows containing A_rc of dL/dB_ij / divisor.

    Args:
        kind (str): ``'max'`` or ``'avg'``.
        input (int, tuple or 2-D array): the input's size, or its values (max
            pooling needs values, since the routing depends on them); values
            must be finite (NaN and infinity are refused).
        kernel_size, stride, padding: as in ``max_pool2d``/``avg_pool2d``
            (stride defaults to kernel_size).
        count_include_pad (bool): average pooling divides by the whole window
            (True, PyTorch's default) or only by its non-padding entries.
        ceil_mode (bool): as in PyTorch, round the output size up: a last, partial
            window is kept when it starts inside the input or its left padding.
        winners (H_out x W_out nested sequence of (row, col), optional): max
            pooling only, instead of values: per window, the 0-based position in
            the input of the entry that gets its gradient. Each must lie inside
            its window, and some input must have them as its windows' first
            maxima (overlapping windows cannot disagree); ``input`` is then the size.

    Shape:
        A: (H, W); B and dL/dB: (H_out, W_out), H_out = floor((H + 2p - k) / s) + 1.

    Example::

        >>> d = derive_pool("avg", 4, 2)
        >>> d.dA[0, 0]
        dL/dB11/4
        >>> derive_pool("max", 4, 2, winners=[[(1, 1), (0, 3)], [(2, 0), (3, 2)]]).dA[1, 1]
        dL/dB11
    """
    values = None
    if np.ndim(input) == 2:
        values = np.asarray(input, dtype=np.float64)
        if not np.isfinite(values).all():
            # NaN/inf have no place in a worked example: PyTorch's max propagates NaN, the average turns it all NaN
            bad = ", ".join(entry_name("A", p) for p in zip(*np.nonzero(~np.isfinite(values)), strict=True))
            raise ValueError(f"input: the values must be finite numbers, got NaN or infinity at {bad}")
        size = values.shape
    else:
        size = input
    cfg = pool_config(kind, size, kernel_size, stride, padding, count_include_pad, ceil_mode=ceil_mode)
    if winners is not None and (kind != "max" or values is not None):
        raise ValueError("winners: only for max pooling, and instead of the input's values (give a size)")
    if kind == "max" and values is None and winners is None:
        raise ValueError(
            "max pooling routes each gradient to its window's maximum, so it needs the input's values "
            "or the chosen winners (winners=)"
        )
    a = symbol_array("A", cfg.input_size, 0, False)
    gb = symbol_array("B", cfg.output_size, 0, False, grad=True)
    windows = np.empty(cfg.output_size, dtype=object)
    b = np.empty(cfg.output_size, dtype=object)
    if kind == "max":
        winners = winners_of(cfg, values) if winners is None else chosen_winners(cfg, winners)
    for i, j in np.ndindex(*cfg.output_size):
        win = windows[i, j] = cfg.window(i, j)
        b[i, j] = a[winners[i, j]] if kind == "max" else sp.Add(*(a[p] for p in win)) / cfg.divisor(i, j)
    local, chain = {}, np.empty(cfg.input_size, dtype=object)
    for pos in np.ndindex(*cfg.input_size):
        d = np.array([sp.diff(e, a[pos]) for e in b.flat], dtype=object)
        local[a[pos]] = d.reshape(b.shape)
        chain[pos] = sp.Add(*(g * v for g, v in zip(gb.flat, d, strict=True)))
    closed = routed(cfg, gb, winners)
    return PoolDerivation(cfg, values, a, b, gb, windows, winners, local, chain, closed, prove(chain, closed))
