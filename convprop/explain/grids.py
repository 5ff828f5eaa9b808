"""The closed forms' building blocks on 2-D grids: dilate, pad, rot180, correlate.

They work on float arrays and on object arrays of SymPy expressions alike, so the
symbolic derivation, the numeric check for large sizes and the animations all
build ∂L/∂F and ∂L/∂X from the same few lines.
"""

from __future__ import annotations

import numpy as np
import sympy as sp


def zeros(shape, like: np.ndarray) -> np.ndarray:
    """Zeros of ``like``'s kind: SymPy zeros in an object array, 0.0 otherwise."""
    if like.dtype == object:
        out = np.empty(shape, dtype=object)
        out.fill(sp.S.Zero)
        return out
    return np.zeros(shape, dtype=like.dtype)


def dilate(a: np.ndarray, step: tuple[int, int]) -> np.ndarray:
    """Insert ``step - 1`` zeros between neighbouring entries (a stride ``step`` turned into a dilation)."""
    sh, sw = step
    h, w = a.shape
    out = zeros(((h - 1) * sh + 1, (w - 1) * sw + 1), a)
    out[::sh, ::sw] = a
    return out


def pad(a: np.ndarray, top: int, bottom: int, left: int, right: int) -> np.ndarray:
    """Zero padding with a (possibly different) width on each side."""
    h, w = a.shape
    out = zeros((h + top + bottom, w + left + right), a)
    out[top : top + h, left : left + w] = a
    return out


def rot180(a: np.ndarray) -> np.ndarray:
    """The filter rotated by 180 degrees (flipped along both axes)."""
    return a[::-1, ::-1].copy()


def correlate(a: np.ndarray, k: np.ndarray, stride=(1, 1), dilation=(1, 1)) -> np.ndarray:
    """Valid cross-correlation: out[i, j] = sum_{u,v} a[i*s + u*d, j*s + v*d] * k[u, v].

    One strided slice of ``a`` per filter entry, so the loop runs over the
    (small) filter and every output position is computed at once.
    """
    (sh, sw), (dh, dw) = stride, dilation
    kh, kw = k.shape
    oh = (a.shape[0] - (dh * (kh - 1) + 1)) // sh + 1
    ow = (a.shape[1] - (dw * (kw - 1) + 1)) // sw + 1
    products = [
        a[u * dh : u * dh + sh * (oh - 1) + 1 : sh, v * dw : v * dw + sw * (ow - 1) + 1 : sw] * k[u, v]
        for u in range(kh)
        for v in range(kw)
    ]
    if a.dtype != object and k.dtype != object:
        return np.sum(products, axis=0) if products else np.zeros((oh, ow))
    # SymPy: one Add per entry (adding term by term would rebuild a growing sum kh*kw times)
    stacked = np.stack(products)
    out = np.empty((oh, ow), dtype=object)
    for i, j in np.ndindex(oh, ow):
        out[i, j] = sp.Add(*stacked[:, i, j])
    return out
