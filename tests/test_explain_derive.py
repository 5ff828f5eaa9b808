"""convprop.explain: the article's equations, exactly; proofs over a sweep; wrong closed forms fail.

The expected expressions are typed in here from the article (with its two typos
fixed), independently of the code that derives them.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

sp = pytest.importorskip("sympy", reason="convprop explain needs the explain extra: pip install convprop[explain]")

from convprop.explain import (  # noqa: E402
    check_conv,
    check_pool,
    closed_form_dF,
    closed_form_dX,
    derive_conv,
    derive_pool,
    numeric_conv,
    numeric_pool,
    prove,
)
from convprop.explain.pool import ARTICLE_VALUES, winners_of  # noqa: E402
from convprop.explain.symbols import Entry  # noqa: E402
from tests.helpers import require_torch  # noqa: E402


def S(names: str):
    """Symbols by the article's names: S('X11 F11') -> (X11, F11)."""
    out = [Entry(n, real=True) for n in names.split()]
    return out[0] if len(out) == 1 else out


def dO(ij: str):
    return S("dL/dO" + ij)


@pytest.fixture(scope="module")
def article():
    return derive_conv(3, 2)


def test_article_symbols(article):
    assert [s.name for s in article.X] == ["X11", "X12", "X13", "X21", "X22", "X23", "X31", "X32", "X33"]
    assert [s.name for s in article.F] == ["F11", "F12", "F21", "F22"]
    assert [s.name for s in article.dO] == ["dL/dO11", "dL/dO12", "dL/dO21", "dL/dO22"]
    # the article's first typo: row 3, column 2 of dL/dX is dL/dX32
    assert article.X[2, 1] == S("X32")
    assert sp.latex(Entry("dL/dX32")) == r"\frac{\partial L}{\partial X_{32}}"


def test_article_forward_equations(article):
    X11, X12, X13, X21, X22, X23, X31, X32, X33 = S("X11 X12 X13 X21 X22 X23 X31 X32 X33")
    F11, F12, F21, F22 = S("F11 F12 F21 F22")
    expected = sp.Matrix(
        [
            [X11 * F11 + X12 * F12 + X21 * F21 + X22 * F22, X12 * F11 + X13 * F12 + X22 * F21 + X23 * F22],
            [X21 * F11 + X22 * F12 + X31 * F21 + X32 * F22, X22 * F11 + X23 * F12 + X32 * F21 + X33 * F22],
        ]
    )
    assert expected == article.O


def test_article_local_gradients(article):
    X11, X12, X21, X22 = S("X11 X12 X21 X22")
    F11, F12, F21 = S("F11 F12 F21")
    assert sp.Matrix(article.local_f[S("F11")][0].tolist()) == sp.Matrix([[X11, X12], [X21, X22]])
    assert sp.Matrix(article.local_x[S("X11")][0].tolist()) == sp.Matrix([[F11, 0], [0, 0]])
    assert sp.Matrix(article.local_x[S("X12")][0].tolist()) == sp.Matrix([[F12, F11], [0, 0]])
    assert sp.Matrix(article.local_x[S("X21")][0].tolist()) == sp.Matrix([[F21, 0], [F11, 0]])


def test_article_filter_gradient(article):
    X = sp.Matrix(3, 3, S("X11 X12 X13 X21 X22 X23 X31 X32 X33"))
    g = {ij: dO(ij) for ij in ("11", "12", "21", "22")}
    expected = sp.Matrix(
        [
            [
                g["11"] * X[0, 0] + g["12"] * X[0, 1] + g["21"] * X[1, 0] + g["22"] * X[1, 1],
                g["11"] * X[0, 1] + g["12"] * X[0, 2] + g["21"] * X[1, 1] + g["22"] * X[1, 2],
            ],
            [
                g["11"] * X[1, 0] + g["12"] * X[1, 1] + g["21"] * X[2, 0] + g["22"] * X[2, 1],
                g["11"] * X[1, 1] + g["12"] * X[1, 2] + g["21"] * X[2, 1] + g["22"] * X[2, 2],
            ],
        ]
    )
    assert article.dF == expected
    assert article.verified_f


def test_article_input_gradient(article):
    F11, F12, F21, F22 = S("F11 F12 F21 F22")
    o11, o12, o21, o22 = dO("11"), dO("12"), dO("21"), dO("22")
    expected = sp.Matrix(
        [
            [o11 * F11, o11 * F12 + o12 * F11, o12 * F12],
            [o11 * F21 + o21 * F11, o11 * F22 + o12 * F21 + o21 * F12 + o22 * F11, o12 * F22 + o22 * F12],
            [o21 * F21, o21 * F22 + o22 * F21, o22 * F22],
        ]
    )
    assert article.dX == expected
    assert article.verified_x and article.verified


def test_article_rotated_filter_and_padded_gradient(article):
    F11, F12, F21, F22 = S("F11 F12 F21 F22")
    assert sp.Matrix(article.rotated_filter().tolist()) == sp.Matrix([[F22, F21], [F12, F11]])
    padded = sp.Matrix(article.padded_grad_output().tolist())
    z = sp.S.Zero
    expected = sp.Matrix([[z, z, z, z], [z, dO("11"), dO("12"), z], [z, dO("21"), dO("22"), z], [z, z, z, z]])
    assert padded == expected
    # the article's second typo: row 3, column 3 of the padded dL/dO is dL/dO22
    assert padded[2, 2] == dO("22")


def test_article_max_pooling():
    d = derive_pool("max", ARTICLE_VALUES, 2)
    b = {ij: S("dL/dB" + ij) for ij in ("11", "12", "21", "22")}
    z = sp.S.Zero
    expected = sp.Matrix([[b["11"], z, b["12"], z], [z, z, z, z], [b["21"], z, b["22"], z], [z, z, z, z]])
    assert d.dA == expected
    assert [tuple(w) for w in d.winners.flat] == [(0, 0), (0, 2), (2, 0), (2, 2)]
    # local gradient of max: 1 where the entry is its window's maximum
    assert sp.Matrix(d.local[S("A11")].tolist()) == sp.Matrix([[1, 0], [0, 0]])
    assert sp.Matrix(d.local[S("A12")].tolist()) == sp.zeros(2, 2)
    assert sp.Matrix(2, 2, S("A11 A13 A31 A33")) == d.B
    assert d.verified


def test_article_average_pooling():
    d = derive_pool("avg", 4, 2)
    b = {ij: S("dL/dB" + ij) for ij in ("11", "12", "21", "22")}
    block = sp.Matrix(
        [
            [b["11"], b["11"], b["12"], b["12"]],
            [b["11"], b["11"], b["12"], b["12"]],
            [b["21"], b["21"], b["22"], b["22"]],
            [b["21"], b["21"], b["22"], b["22"]],
        ]
    )
    assert d.dA == block / 4
    A11, A12, A21, A22 = S("A11 A12 A21 A22")
    assert d.B[0, 0] == (A11 + A12 + A21 + A22) / 4
    assert d.verified


def test_pooling_ties_overlap_and_divisor():
    values = np.array([[5, 5, 1], [2, 5, 0], [1, 1, 1]], dtype=float)
    d = derive_pool("max", values, 2, stride=1)
    assert d.ties == [(0, 0), (0, 1)]
    # ties go to the first maximum in row-major order; overlapping windows add up
    assert d.dA[0, 0] == S("dL/dB11")
    assert d.dA[0, 1] == S("dL/dB12")
    assert d.dA[1, 1] == S("dL/dB21") + S("dL/dB22")
    assert d.verified and check_pool(d).ok
    # padding counted in the divisor or not
    incl = derive_pool("avg", 3, 2, stride=2, padding=1, count_include_pad=True)
    excl = derive_pool("avg", 3, 2, stride=2, padding=1, count_include_pad=False)
    assert incl.dA[0, 0] == S("dL/dB11") / 4
    assert excl.dA[0, 0] == S("dL/dB11")  # that window covers only A11
    assert excl.dA[1, 0] == S("dL/dB21") / 2
    assert incl.verified and excl.verified


# ---- sweep -------------------------------------------------------------------


def _configs(n: int, seed: int = 3):
    """A seeded random subset of input 1-6, kernel 1-3, stride 1-3, padding 0-2, dilation 1-2, channels, groups."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        h, w = rng.integers(1, 7, size=2)
        kh, kw = rng.integers(1, 4, size=2)
        stride = tuple(int(v) for v in rng.integers(1, 4, size=2))
        padding = tuple(int(v) for v in rng.integers(0, 3, size=2))
        dilation = tuple(int(v) for v in rng.integers(1, 3, size=2))
        groups = int(rng.choice([1, 2]))
        cin = groups * int(rng.integers(1, 3 - groups + 1))
        cout = groups * int(rng.integers(1, 3 - groups + 1))
        eff = [d * (k - 1) + 1 for k, d in zip((kh, kw), dilation, strict=True)]
        if eff[0] > h + 2 * padding[0] or eff[1] > w + 2 * padding[1]:
            continue
        out.append(((int(h), int(w)), (int(kh), int(kw)), stride, padding, dilation, cin, cout, groups))
    return out


SWEEP = _configs(36)


def test_sweep_covers_the_space():
    strides = {s for c in SWEEP for s in c[2]}
    paddings = {p for c in SWEEP for p in c[3]}
    assert strides == {1, 2, 3} and paddings == {0, 1, 2}
    assert {c[4][0] for c in SWEEP} == {1, 2} and {c[7] for c in SWEEP} == {1, 2}
    assert any(c[5] == 2 and c[7] == 1 for c in SWEEP)


@pytest.mark.parametrize("cfg", SWEEP, ids=lambda c: "in{}k{}s{}p{}d{}c{}-{}g{}".format(*c))
def test_sweep_verified_and_numeric(cfg):
    d = derive_conv(*cfg)
    assert d.verified
    check = check_conv(d, seed=1)
    assert check.ok, check.errors
    # every comparison ran: symbolic vs engine, transposed conv, finite differences for both gradients,
    # and, where PyTorch is importable, its autograd for O and both gradients
    assert len(check.errors) == (9 if check.torch_version else 6)


def test_symbolic_results_match_torch():
    torch = require_torch()
    for cfg in SWEEP[:6]:
        d = derive_conv(*cfg)
        rng = np.random.default_rng(7)
        x, w, g = (rng.standard_normal(a.shape) for a in (d.x, d.f, d.go))
        values = np.concatenate([x.ravel(), w.ravel(), g.ravel()])
        gx = np.array(sp.lambdify(d.symbols, list(d.chain_x.flat))(*values)).reshape(x.shape)
        gw = np.array(sp.lambdify(d.symbols, list(d.chain_f.flat))(*values)).reshape(w.shape)
        tx = torch.tensor(x[None], requires_grad=True)
        tw = torch.tensor(w, requires_grad=True)
        out = torch.nn.functional.conv2d(tx, tw, None, cfg[2], cfg[3], cfg[4], cfg[7])
        out.backward(torch.tensor(g[None]))
        np.testing.assert_allclose(gx, tx.grad[0].numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(gw, tw.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_evaluate_matches_substitution(article):
    from convprop.explain.numeric import _evaluate

    # names like dL/dO11 are not identifiers; _evaluate renames them before lambdify (the 8x8, 4-channel speed-up)
    rng = np.random.default_rng(0)
    values = dict(zip(article.symbols, rng.standard_normal(len(article.symbols)), strict=True))
    exact = np.array([float(e.xreplace(values)) for e in article.chain_x.flat]).reshape(article.chain_x.shape)
    np.testing.assert_allclose(_evaluate(values, article.chain_x), exact, rtol=1e-12)


# ---- wrong closed forms must fail the proof ----------------------------------


def test_unrotated_filter_fails_the_proof(article):
    cfg = article.config
    assert prove(article.chain_x, closed_form_dX(cfg, article.f, article.go))
    assert not prove(article.chain_x, closed_form_dX(cfg, article.f, article.go, rotate=False))


@pytest.mark.parametrize("input_size", [5, 6])
def test_missing_zeros_for_stride_two_fail_the_proof(input_size):
    d = derive_conv(input_size, 2, stride=2)
    cfg = d.config
    assert d.verified
    assert not prove(d.chain_x, closed_form_dX(cfg, d.f, d.go, insert_zeros=False))
    assert not prove(d.chain_f, closed_form_dF(cfg, d.x, d.go, insert_zeros=False))


def test_wrong_entry_fails_the_proof(article):
    closed = closed_form_dX(article.config, article.f, article.go).copy()
    closed[0, 2, 1] = closed[0, 1, 2]  # the article's typo, dL/dX23 in the place of dL/dX32
    assert not prove(article.chain_x, closed)


# ---- numeric path and errors -------------------------------------------------


def test_numeric_path_for_large_sizes():
    cfg, check = numeric_conv(24, 5, stride=3, padding=2, dilation=2, in_channels=4, out_channels=6, groups=2)
    assert cfg.output_size == (7, 7)  # floor((24 + 4 - 9) / 3) + 1
    assert check.ok, check.errors
    for kind in ("max", "avg"):
        cfg, check = numeric_pool(kind, 20, 3, stride=2, padding=1)
        assert check.ok, check.errors


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(input_size=3, kernel_size=5), "smaller than the dilated kernel size"),
        (dict(input_size=3, kernel_size=2, stride=0), "stride must be positive"),
        (dict(input_size=3, kernel_size=2, padding=-1), "padding must be non-negative"),
        (dict(input_size=4, kernel_size=2, in_channels=3, groups=2), "divisible by groups"),
        (dict(input_size=9, kernel_size=2), "--numeric"),
        (dict(input_size=(3, 3, 3), kernel_size=2), "input_size"),
    ],
)
def test_bad_configurations_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        derive_conv(**kwargs)


def test_bad_pool_configurations():
    with pytest.raises(ValueError, match="needs the input's values"):
        derive_pool("max", 4, 2)
    with pytest.raises(ValueError, match="winners="):
        derive_pool("max", 4, 2)
    with pytest.raises(ValueError, match="at most half"):
        derive_pool("avg", 4, 2, padding=2)
    with pytest.raises(ValueError, match="kind"):
        derive_pool("min", 4, 2)


def test_max_pool_chosen_winners():
    d = derive_pool("max", 4, 2, winners=[[(1, 1), (0, 3)], [(2, 0), (3, 2)]])
    b = {ij: S("dL/dB" + ij) for ij in ("11", "12", "21", "22")}
    z = sp.S.Zero
    expected = sp.Matrix([[z, z, z, b["12"]], [z, b["11"], z, z], [b["21"], z, z, z], [z, z, b["22"], z]])
    assert d.dA == expected
    assert sp.Matrix(2, 2, S("A22 A14 A31 A43")) == d.B
    assert d.values is None and d.verified and check_pool(d).ok
    # overlapping windows and padding: the winners are realized by a concrete input, checked against the engine
    winners = [[(0, 0), (0, 2), (1, 4)], [(3, 0), (2, 2), (2, 4)], [(4, 1), (3, 3), (4, 4)]]
    d = derive_pool("max", 5, 3, stride=2, padding=1, winners=winners)
    assert [list(row) for row in d.winners.tolist()] == winners
    assert [list(row) for row in winners_of(d.config, d.concrete).tolist()] == winners
    assert d.dA[2, 2] == S("dL/dB22") and d.dA[0, 1] == 0 and d.verified and check_pool(d).ok


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(winners=[[(0, 0), (0, 0)], [(2, 0), (3, 2)]]), r"winners\[0\]\[1\] = \(0, 0\) is not inside its window"),
        (dict(winners=[[(0, 0), (0, 2)]]), "expected 2x2 \\(row, col\\) pairs"),
        (dict(winners="corner"), "expected 2x2"),
        (dict(input=ARTICLE_VALUES, winners=[[(0, 0), (0, 2)], [(2, 0), (2, 2)]]), "instead of the input's values"),
        (dict(kind="avg", winners=[[(0, 0), (0, 2)], [(2, 0), (2, 2)]]), "only for max pooling"),
    ],
)
def test_bad_winners(kwargs, message):
    args = dict(kind="max", input=4, kernel_size=2) | kwargs
    with pytest.raises(ValueError, match=message):
        derive_pool(**args)


def test_contradictory_winners_are_refused():
    # windows (0,0) and (0,1) share A12 and A22: one says A22 is the larger, the other A12
    with pytest.raises(ValueError, match=r"no input has these maxima \(overlapping windows would need A12 > A22 > A12"):
        derive_pool("max", 3, 2, stride=1, winners=[[(1, 1), (0, 1)], [(1, 1), (1, 1)]])
    # a longer cycle, one step per window: top-left, bottom-left, bottom-right, top-right
    with pytest.raises(ValueError, match="would need A12 > A21 > A22 > A23 > A12"):
        derive_pool("max", 3, 2, stride=1, winners=[[(0, 1), (1, 2)], [(1, 0), (1, 1)]])
    assert derive_pool("max", 3, 2, stride=1, winners=[[(0, 1), (0, 1)], [(1, 0), (1, 1)]]).verified


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_refuses_non_finite_values(kind):
    # max would route around a NaN (PyTorch propagates it); refusing is the honest choice for a worked example
    values = ARTICLE_VALUES.copy()
    values[2, 3] = np.nan
    with pytest.raises(ValueError, match=r"input: .*finite.* A34"):
        derive_pool(kind, values, 2)
    values[2, 3] = -np.inf
    with pytest.raises(ValueError, match="finite"):
        derive_pool(kind, values, 2)


def test_sweep_pooling():
    rng = np.random.default_rng(5)
    for kind, size, k, s, p in itertools.islice(
        itertools.product(("max", "avg"), (3, 5, 6), (2, 3), (1, 2, 3), (0, 1)), 0, None, 3
    ):
        if 2 * p > k or size + 2 * p < k:
            continue
        values = rng.integers(0, 4, size=(size, size)).astype(float)  # small range: ties happen
        d = derive_pool(kind, values if kind == "max" else size, k, s, p)
        assert d.verified
        check = check_pool(d, seed=2)
        assert check.ok, (kind, size, k, s, p, check.errors)


def test_channels_give_arrays_with_pytorch_layout():
    d = derive_conv(3, 2, in_channels=4, out_channels=2, groups=2)
    assert isinstance(d.X, sp.Array) and d.X.shape == (4, 3, 3)
    assert d.F.shape == (2, 2, 2, 2) and d.dF.shape == (2, 2, 2, 2)
    assert d.O.shape == d.dO.shape == (2, 2, 2) and d.dX.shape == (4, 3, 3)
    assert d.X[1, 0, 0].name == "X(2)11" and d.F[1, 0, 1, 1].name == "F(2,1)22"
    # group 2 (input channels 3, 4) feeds only output channel 2, so dL/dX of channel 3 has no dL/dO(1) term
    assert not any(s.name.startswith("dL/dO(1)") for s in d.dX[2, 0, 0].free_symbols)
    assert d.verified
