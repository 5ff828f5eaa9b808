"""Building a run's model: from its name and constructor arguments, fresh or from a checkpoint."""

from __future__ import annotations

from typing import Any

import numpy as np

from convprop.train.checkpoint import Checkpoint, CheckpointError, load_model_state


def build_model(name: str, kwargs: dict[str, Any], generator: np.random.Generator):
    """The model ``name`` built with ``kwargs``, its initial weights drawn from ``generator``."""
    from convprop.models import get_model

    return get_model(name, generator=generator, **kwargs)


def load_model(ck: Checkpoint):
    """The checkpoint's model, rebuilt from its name and constructor arguments, with its weights, in eval mode.

    Raises:
        CheckpointError: the model cannot be built from the header, or the weights do not fit it.
    """
    kwargs = ck.header["model"].get("kwargs", {})
    try:
        # The initial weights are overwritten at once; a fixed generator keeps the library free of global randomness.
        model = build_model(ck.model_name, kwargs, np.random.default_rng(0))
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{ck.path}: cannot build model {ck.model_name!r} with {kwargs}: {exc}") from None
    load_model_state(model, ck)
    return model.eval()
