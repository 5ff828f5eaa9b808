"""The article's formulas, literally: the slow, obviously correct oracle.

Nothing here is fast and nothing here is clever. Each function is one line of
the derivation in ``shared/seed`` (O = X ⋆ F; ∂L/∂F = X ⋆ ∂L/∂O; ∂L/∂X = the
full correlation of ∂L/∂O with rot180(F); max pooling routes to the argmax;
average pooling spreads evenly), written with explicit loops so it can be
read beside the article. The tests use it as an oracle for the fast kernels
in ``convprop.ops``.
"""

from __future__ import annotations

import numpy as np

# ---- convolution -------------------------------------------------------------

# ---- pooling -----------------------------------------------------------------
