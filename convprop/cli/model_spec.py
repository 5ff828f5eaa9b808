"""The MODEL argument of ``convprop summary`` and ``convprop explain model``: a registered name or FILE.py:Class.

Loading a file runs its code, as ``python FILE.py`` would; the commands' ``--help`` says so.
"""

from __future__ import annotations

import argparse
import re

from convprop.cli import CLIError
from convprop.models import list_models

MODEL_NAMES = ", ".join(list_models())
RUNS_CODE = (
    f"MODEL is a registered model ({MODEL_NAMES}) or FILE.py:ClassName, an nn.Module "
    "subclass built with no arguments; loading FILE.py RUNS ITS CODE, so only name files you trust."
)

_SHAPE = re.compile(r"^\s*\d+(\s*[x×,]\s*\d+)*\s*$")


def input_shape(text: str) -> tuple[int, ...]:
    """'1x28x28' (or '1,28,28') -> (1, 28, 28): one sample's shape, batch dimension left out."""
    if not _SHAPE.match(text):
        raise argparse.ArgumentTypeError(f"expected CxHxW (e.g. 1x28x28), got {text!r}")
    shape = tuple(int(s) for s in re.split(r"[x×,]", text.replace(" ", "")))
    if any(s == 0 for s in shape):
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    return shape


def shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def load_model(spec: str, shape: tuple[int, ...]):
    """The module named by ``spec`` for inputs of one-sample shape ``shape`` (registered models take C and H)."""
    from convprop.models import get_model, list_models
    from convprop.nn.summary import check_input_shape

    check_input_shape(shape)
    if spec in list_models():
        import numpy as np

        options = {"in_channels": shape[0]}
        if len(shape) == 3:
            options["input_size"] = shape[1]
        try:
            return get_model(spec, generator=np.random.default_rng(0), **options)
        except MemoryError:
            raise CLIError(f"{spec} for input shape {shape_text(shape)} needs more memory than there is") from None
    path_text, colon, class_name = spec.rpartition(":")
    if not colon:
        if spec.endswith(".py"):
            raise CLIError(f"name the model class too: {spec}:ClassName")
        raise CLIError(f"unknown model {spec!r}; registered: {', '.join(list_models())}, or give FILE.py:ClassName")
    from convprop.models.from_file import load_class

    try:
        cls = load_class(path_text, class_name)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    try:
        return cls()
    except TypeError as exc:
        raise CLIError(f"cannot build {class_name}() with no arguments: {exc}") from None
    except Exception as exc:
        raise CLIError(f"{class_name}() raised {type(exc).__name__}: {exc}") from None


def run_forward(spec: str, shape: tuple[int, ...], fn):
    """``fn()``, with any error the model raises for this input reported as one line."""
    from convprop.viz.graph import GraphTooLarge

    try:
        return fn()
    except CLIError:
        raise
    except GraphTooLarge as exc:
        raise CLIError(f"{spec} is too large to draw: {exc}") from None
    except MemoryError:
        raise CLIError(f"input shape {shape_text(shape)} needs more memory than there is") from None
    except Exception as exc:
        raise CLIError(f"{spec} rejects input shape {shape_text(shape)}: {exc}") from None
