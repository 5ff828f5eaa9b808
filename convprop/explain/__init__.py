"""Derive, prove, animate and write up the backward pass of a convolution or pooling layer.

>>> from convprop.explain import derive_conv, conv_document, render
>>> d = derive_conv(3, 2)          # the article's example: 3x3 input, 2x2 filter
>>> d.verified                     # chain rule == closed forms, entry by entry
True
>>> print(render(conv_document(d), "text"))  # doctest: +SKIP

Needs the ``explain`` extra (SymPy, matplotlib, Pillow).
"""

from convprop.explain.derive import (
    ConvConfig,
    ConvDerivation,
    closed_form_dF,
    closed_form_dX,
    derive_conv,
    derive_conv1d,
    prove,
)
from convprop.explain.document import conv_document, numeric_document, pool_document
from convprop.explain.numeric import (
    NumericCheck,
    check_conv,
    check_conv_transpose,
    check_pool,
    numeric_conv,
    numeric_pool,
)
from convprop.explain.pool import PoolConfig, PoolDerivation, derive_pool
from convprop.explain.render import FORMATS, render
from convprop.explain.transpose import ConvTransposeConfig, ConvTransposeDerivation, derive_conv_transpose
from convprop.explain.transposed_document import conv_transpose_document

__all__ = [
    "FORMATS",
    "ConvConfig",
    "ConvDerivation",
    "ConvTransposeConfig",
    "ConvTransposeDerivation",
    "NumericCheck",
    "PoolConfig",
    "PoolDerivation",
    "check_conv",
    "check_conv_transpose",
    "check_pool",
    "closed_form_dF",
    "closed_form_dX",
    "conv_document",
    "conv_transpose_document",
    "derive_conv",
    "derive_conv1d",
    "derive_conv_transpose",
    "derive_pool",
    "numeric_conv",
    "numeric_document",
    "numeric_pool",
    "pool_document",
    "prove",
    "render",
]
