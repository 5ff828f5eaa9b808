"""Building a run's model: from its name and constructor arguments, fresh or from a checkpoint."""

from __future__ import annotations

from typing import Any

import numpy as np

from convprop.train.checkpoint import Checkpoint, CheckpointError, load_model_state
from convprop.train.config import MAX_CLASSES, MAX_IMAGE_SIDE, MAX_WIDTH


def build_model(name: str, kwargs: dict[str, Any], generator: np.random.Generator):
    """The model ``name`` built with ``kwargs``, its initial weights drawn from ``generator``."""
    from convprop.models import get_model

    return get_model(name, generator=generator, **kwargs)


def check_model_kwargs(kwargs, where) -> None:
    """Refuse constructor arguments no run of convprop trains with, before they allocate anything.

    Raises:
        CheckpointError: not a dict, or a size outside the bounds of :mod:`convprop.train.config`.
    """
    if not isinstance(kwargs, dict):
        raise CheckpointError(f"{where}: the model's arguments are a {type(kwargs).__name__}, not a JSON object")
    bounds = {"width": MAX_WIDTH, "input_size": MAX_IMAGE_SIDE, "in_channels": 4, "num_classes": MAX_CLASSES}
    for name, high in bounds.items():
        value = kwargs.get(name, 1)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
            raise CheckpointError(f"{where}: the model's {name} is {value!r}; a convprop model has 1..{high}")


def load_model(ck: Checkpoint):
    """The checkpoint's model, rebuilt from its name and constructor arguments, with its weights, in eval mode.

    Raises:
        CheckpointError: the model cannot be built from the header, or the weights do not fit it.
    """
    kwargs = ck.header["model"].get("kwargs", {})
    check_model_kwargs(kwargs, where=ck.path)
    try:
        # The initial weights are overwritten at once; a fixed generator keeps the library free of global randomness.
        model = build_model(ck.model_name, kwargs, np.random.default_rng(0))
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{ck.path}: cannot build model {ck.model_name!r} with {kwargs}: {exc}") from None
    load_model_state(model, ck)
    return model.eval()
