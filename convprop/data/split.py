"""A seeded, stratified train/validation split.

Each class gives the same share of its images to the validation set, so a class
that is rare in the training data is rare in validation too, and the split of a
run is the same every time it is made from the same seed.
"""

from __future__ import annotations

import numpy as np


def stratified_split(
    labels: np.ndarray, fraction: float, generator: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, val)`` that hold out ``fraction`` of each class for validation.

    Class ``c`` with ``n_c`` images gives ``round(fraction * n_c)`` of them, chosen by
    ``generator``, to validation, but always keeps at least one for training. Both index
    arrays are sorted, so the images keep their order inside each part.

    Raises:
        ValueError: ``fraction`` outside (0, 1), or a split that leaves no validation image.

    Example:
        >>> train, val = stratified_split(np.array([0, 0, 0, 0, 1, 1]), 0.5, np.random.default_rng(0))
        >>> len(train), len(val), sorted(np.array([0, 0, 0, 0, 1, 1])[val].tolist())
        (3, 3, [0, 0, 1])
    """
    if not 0 < fraction < 1:
        raise ValueError(f"--val-split must be in (0, 1) (0 turns validation off); got {fraction}")
    labels = np.asarray(labels)
    held = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        k = min(round(fraction * len(members)), len(members) - 1)
        held.append(generator.permutation(members)[:k])
    val = np.sort(np.concatenate(held)) if held else np.zeros(0, np.int64)
    if len(val) == 0:
        raise ValueError(
            f"--val-split {fraction} of {len(labels)} training images leaves no validation image; "
            "raise it, or turn validation off with --val-split 0"
        )
    keep = np.ones(len(labels), dtype=bool)
    keep[val] = False
    return np.flatnonzero(keep), val
