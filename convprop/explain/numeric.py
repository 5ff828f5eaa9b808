"""Numeric checks: the derived gradients, convprop's autograd and finite differences must agree.

For a symbolic derivation, random values are substituted into the equations.
For sizes too large to read symbolically (``--numeric``), the closed forms are
evaluated directly on numbers (the same code, on ``convprop.reference``'s
pad/dilate/rot180/correlate, that builds them symbolically).
Either way the same values go through ``convprop.nn.functional`` with autograd,
and central finite differences of L = Σ O · dL/dO estimate each gradient entry
(exact up to rounding here, since L is linear in every single input). When
PyTorch happens to be importable, its autograd is one more witness; it is never
needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp

import convprop
from convprop.explain.derive import ConvConfig, ConvDerivation, closed_form_dF, closed_form_dX
from convprop.explain.pool import PoolConfig, PoolDerivation, pool_config, routed, winners_of

EPS = 1e-6
#: Agreement required between exact computations (float64 rounding) and with finite differences.
TOLERANCE = {"exact": 1e-9, "fd": 1e-5}


@dataclass
class NumericCheck:
    """Max absolute differences between ways of computing the same gradient.

    ``errors`` maps a comparison (e.g. ``("dL/dX", "symbolic", "autograd")``) to
    its max |difference|; ``kinds`` says whether it compares exact computations
    or finite differences, which sets the tolerance.
    """

    seed: int
    errors: dict = field(default_factory=dict)
    kinds: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    torch_version: str | None = None  # set when PyTorch took part

    def add(self, grad: str, a: str, b: str, x: np.ndarray, y: np.ndarray, kind: str = "exact") -> None:
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        assert x.shape == y.shape, f"{grad}: {a} has shape {x.shape}, {b} has shape {y.shape}"
        self.errors[(grad, a, b)] = float(np.max(np.abs(x - y))) if x.size else 0.0
        self.kinds[(grad, a, b)] = kind

    @property
    def max_error(self) -> float:
        return max(self.errors.values(), default=0.0)

    @property
    def ok(self) -> bool:
        return all(e <= TOLERANCE[self.kinds[k]] for k, e in self.errors.items())


def _functional():
    import convprop.nn.functional as F

    return F


def _torch():
    """PyTorch when it is importable: an optional witness, never a dependency of convprop."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def _torch_run(check: NumericCheck, fn, inputs: list[np.ndarray], grad_out: np.ndarray) -> list[np.ndarray] | None:
    """``fn(torch, *tensors)`` in float64 with PyTorch's autograd: [output, gradient of each input], or None."""
    torch = _torch()
    if torch is None:
        return None
    check.torch_version = torch.__version__.split("+")[0]
    tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in inputs]
    out = fn(torch, *tensors)
    out.backward(torch.tensor(grad_out, dtype=torch.float64))
    return [out.detach().numpy(), *(t.grad.numpy() for t in tensors)]


def _tensor(a: np.ndarray, grad: bool = True):
    return convprop.tensor(a[None], requires_grad=grad, dtype=np.float64)


def _finite_differences(loss, arrays: list[np.ndarray], which: int, positions) -> np.ndarray:
    """Central differences of ``loss(*arrays)`` with respect to ``arrays[which]`` at ``positions``."""
    out = []
    for pos in positions:
        plus = [a.copy() for a in arrays]
        minus = [a.copy() for a in arrays]
        plus[which][pos] += EPS
        minus[which][pos] -= EPS
        out.append((loss(*plus) - loss(*minus)) / (2 * EPS))
    return np.array(out)


def _sample(shape, rng: np.random.Generator, limit: int | None):
    """All positions, or ``limit`` of them drawn at random (finite differences cost two forwards each)."""
    positions = list(np.ndindex(*shape))
    if limit is None or len(positions) <= limit:
        return positions
    return [positions[i] for i in sorted(rng.choice(len(positions), size=limit, replace=False))]


def _evaluate(values: dict, a: np.ndarray) -> np.ndarray:
    """The expressions of object array ``a`` at ``values`` (symbol -> number), as floats shaped like ``a``.

    Entry names such as dL/dO11 are not Python identifiers, and lambdify would then rewrite
    every expression once per symbol (minutes for 8x8 with 4 channels); renaming them all in one
    xreplace pass first keeps it linear in the size of the expressions.
    """
    plain = {s: sp.Symbol(f"v{k}", real=True) for k, s in enumerate(values)}
    f = sp.lambdify(list(plain.values()), [e.xreplace(plain) for e in a.flat], modules="numpy")
    return np.array(f(*values.values()), dtype=np.float64).reshape(a.shape)


# ---- convolution -------------------------------------------------------------


def _engine(layer, kw: dict, x, w, go):
    """``layer(x, w, **kw)`` with autograd in float64: (output, ∂L/∂X, ∂L/∂F, loss) for L = Σ O · ∂L/∂O."""
    xt, wt = _tensor(x), convprop.tensor(w, requires_grad=True, dtype=np.float64)
    out = layer(xt, wt, **kw)
    out.backward(go[None])

    def loss(x_, w_):
        with convprop.no_grad():
            o = layer(_tensor(x_, False), convprop.tensor(w_, dtype=np.float64), **kw)
        return float(np.sum(o.data[0] * go))

    return out.data[0], xt._grad_array[0], wt._grad_array, loss


def _conv_engine(cfg: ConvConfig, x, w, go):
    F = _functional()
    kw = dict(stride=cfg.stride, padding=cfg.padding, dilation=cfg.dilation, groups=cfg.groups)
    out, gx, gw, loss = _engine(F.conv2d, kw, x, w, go)
    with convprop.no_grad():
        transposed = F.conv_transpose2d(
            _tensor(go, False),
            convprop.tensor(w, dtype=np.float64),
            stride=cfg.stride,
            padding=cfg.padding,
            output_padding=cfg.uncovered,
            groups=cfg.groups,
            dilation=cfg.dilation,
        )
    return out, gx, gw, loss, transposed.data[0]


def _check_conv_numbers(check: NumericCheck, cfg, x, w, go, rng, samples, derived_x, derived_f, label):
    out, gx, gw, loss, transposed = _conv_engine(cfg, x, w, go)
    check.add("dL/dF", label, "autograd", derived_f, gw)
    check.add("dL/dX", label, "autograd", derived_x, gx)

    def conv(torch, x_, w_):
        kw = dict(stride=cfg.stride, padding=cfg.padding, dilation=cfg.dilation, groups=cfg.groups)
        return torch.nn.functional.conv2d(x_, w_, **kw)

    witness = _torch_run(check, conv, [x[None], w], go[None])
    if witness is not None:
        t_out, t_gx, t_gw = witness
        check.add("O", "autograd", "PyTorch", out, t_out[0])
        check.add("dL/dF", "autograd", "PyTorch", gw, t_gw)
        check.add("dL/dX", "autograd", "PyTorch", gx, t_gx[0])
    check.add("dL/dX", "transposed conv", "autograd", transposed, gx)
    px, pf = _sample(x.shape, rng, samples), _sample(w.shape, rng, samples)
    check.add(
        "dL/dX", "autograd", "finite differences", [gx[p] for p in px], _finite_differences(loss, [x, w], 0, px), "fd"
    )
    check.add(
        "dL/dF", "autograd", "finite differences", [gw[p] for p in pf], _finite_differences(loss, [x, w], 1, pf), "fd"
    )
    return out


def check_conv(d: ConvDerivation, seed: int = 0) -> NumericCheck:
    """Substitute random values into the derived equations and compare with autograd and finite differences."""
    rng = np.random.default_rng(seed)
    x, w, go = (rng.standard_normal(a.shape) for a in (d.x, d.f, d.go))
    values = dict(zip(d.symbols, np.concatenate([x.ravel(), w.ravel(), go.ravel()]), strict=True))
    check = NumericCheck(seed)
    derived_x, derived_f = _evaluate(values, d.chain_x), _evaluate(values, d.chain_f)
    out = _check_conv_numbers(check, d.config, x, w, go, rng, None, derived_x, derived_f, "symbolic")
    check.add("O", "symbolic", "autograd", _evaluate(values, d.o), out)
    return check


def numeric_conv(
    input_size,
    kernel_size,
    stride=1,
    padding=0,
    dilation=1,
    in_channels=1,
    out_channels=1,
    groups=1,
    seed=0,
    samples=24,
    ndim=2,
) -> tuple[ConvConfig, NumericCheck]:
    """The closed forms on random numbers vs autograd vs (sampled) finite differences, for any size."""
    cfg = ConvConfig.make(input_size, kernel_size, stride, padding, dilation, in_channels, out_channels, groups, ndim)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((cfg.in_channels, *cfg.input_size))
    w = rng.standard_normal((cfg.out_channels, cfg.group_in, *cfg.kernel_size))
    go = rng.standard_normal((cfg.out_channels, *cfg.output_size))
    check = NumericCheck(seed)
    dx, df = closed_form_dX(cfg, w, go), closed_form_dF(cfg, x, go)
    _check_conv_numbers(check, cfg, x, w, go, rng, samples, dx, df, "closed form")
    return cfg, check


# ---- pooling -----------------------------------------------------------------


def _pool_engine(cfg: PoolConfig, a: np.ndarray, gb: np.ndarray):
    F = _functional()

    def run(a_, grad):
        t = convprop.tensor(a_[None, None], requires_grad=grad, dtype=np.float64)
        if cfg.kind == "max":
            return t, F.max_pool2d(t, cfg.kernel_size, cfg.stride, cfg.padding, ceil_mode=cfg.ceil_mode)
        return t, F.avg_pool2d(
            t,
            cfg.kernel_size,
            cfg.stride,
            cfg.padding,
            ceil_mode=cfg.ceil_mode,
            count_include_pad=cfg.count_include_pad,
        )

    t, out = run(a, True)
    out.backward(gb[None, None])

    def loss(a_):
        with convprop.no_grad():
            return float(np.sum(run(a_, False)[1].data[0, 0] * gb))

    return out.data[0, 0], t._grad_array[0, 0], loss


def _check_pool_numbers(check: NumericCheck, cfg, a, gb, rng, samples, derived, label, ties):
    out, ga, loss = _pool_engine(cfg, a, gb)
    check.add("dL/dA", label, "autograd", derived, ga)

    def pool(torch, a_):
        F = torch.nn.functional
        if cfg.kind == "max":
            return F.max_pool2d(a_, cfg.kernel_size, cfg.stride, cfg.padding, ceil_mode=cfg.ceil_mode)
        return F.avg_pool2d(
            a_,
            cfg.kernel_size,
            cfg.stride,
            cfg.padding,
            ceil_mode=cfg.ceil_mode,
            count_include_pad=cfg.count_include_pad,
        )

    witness = _torch_run(check, pool, [a[None, None]], gb[None, None])
    if witness is not None:
        check.add("B", "autograd", "PyTorch", out, witness[0][0, 0])
        check.add("dL/dA", "autograd", "PyTorch", ga, witness[1][0, 0])
    if ties:
        check.notes.append("ties")  # max is not differentiable at a tie: finite differences would straddle it
    else:
        pos = _sample(a.shape, rng, samples)
        check.add(
            "dL/dA",
            "autograd",
            "finite differences",
            [ga[p] for p in pos],
            _finite_differences(loss, [a], 0, pos),
            "fd",
        )
    return out


def check_pool(d: PoolDerivation, seed: int = 0) -> NumericCheck:
    """The derived ∂L/∂A for a random dL/dB (random inputs for average pooling) vs autograd and finite differences."""
    rng = np.random.default_rng(seed)
    a = d.concrete if d.concrete is not None else rng.standard_normal(d.a.shape)
    gb = rng.standard_normal(d.gb.shape)
    subs = dict(zip([*d.a.flat, *d.gb.flat], [*a.ravel(), *gb.ravel()], strict=True))
    check = NumericCheck(seed)
    out = _check_pool_numbers(check, d.config, a, gb, rng, None, _evaluate(subs, d.chain), "symbolic", bool(d.ties))
    check.add("B", "symbolic", "autograd", _evaluate(subs, d.b), out)
    return check


def numeric_pool(
    kind, input_size, kernel_size, stride=None, padding=0, count_include_pad=True, seed=0, samples=24, ceil_mode=False
) -> tuple[PoolConfig, NumericCheck]:
    """Pooling's routing on random numbers vs autograd vs (sampled) finite differences, for any size."""
    cfg = pool_config(kind, input_size, kernel_size, stride, padding, count_include_pad, False, ceil_mode)
    rng = np.random.default_rng(seed)
    a, gb = rng.standard_normal(cfg.input_size), rng.standard_normal(cfg.output_size)
    check = NumericCheck(seed)
    derived = routed(cfg, gb, winners_of(cfg, a) if kind == "max" else None)
    _check_pool_numbers(check, cfg, a, gb, rng, samples, derived, "closed form", ties=False)
    return cfg, check


# ---- transposed convolution --------------------------------------------------


def check_conv_transpose(d, seed: int = 0) -> NumericCheck:
    """A :class:`~convprop.explain.transpose.ConvTransposeDerivation` on random values vs ``conv_transpose2d``'s
    autograd and finite differences of L = Σ O · dL/dO."""
    F = _functional()
    cfg = d.config
    rng = np.random.default_rng(seed)
    x, w, go = (rng.standard_normal(a.shape) for a in (d.x, d.f, d.go))
    values = dict(zip(d.symbols, np.concatenate([x.ravel(), w.ravel(), go.ravel()]), strict=True))
    kw = dict(stride=cfg.stride, padding=cfg.padding, output_padding=cfg.output_padding, groups=cfg.groups,
              dilation=cfg.dilation)  # fmt: skip
    out, gx, gw, loss = _engine(F.conv_transpose2d, kw, x, w, go)
    check = NumericCheck(seed)
    check.add("O", "symbolic", "autograd", _evaluate(values, d.o), out)
    witness = _torch_run(check, lambda torch, x_, w_: torch.nn.functional.conv_transpose2d(x_, w_, **kw),
                         [x[None], w], go[None])  # fmt: skip
    if witness is not None:
        check.add("O", "autograd", "PyTorch", out, witness[0][0])
        check.add("dL/dX", "autograd", "PyTorch", gx, witness[1][0])
        check.add("dL/dF", "autograd", "PyTorch", gw, witness[2])
    check.add("dL/dX", "symbolic", "autograd", _evaluate(values, d.chain_x), gx)
    check.add("dL/dF", "symbolic", "autograd", _evaluate(values, d.chain_f), gw)
    px, pf = list(np.ndindex(*x.shape)), list(np.ndindex(*w.shape))
    fd_x, fd_f = _finite_differences(loss, [x, w], 0, px), _finite_differences(loss, [x, w], 1, pf)
    check.add("dL/dX", "autograd", "finite differences", [gx[p] for p in px], fd_x, "fd")
    check.add("dL/dF", "autograd", "finite differences", [gw[p] for p in pf], fd_f, "fd")
    return check
