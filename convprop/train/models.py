"""Building a run's model: a built-in by name, or your own ``nn.Module`` from a Python file.

A model named ``path/to/file.py:ClassName`` is loaded by running that file (as ``python file.py`` would,
so only name files you trust) and calling ``ClassName(**kwargs)``. Its checkpoints record the file's
absolute path and SHA-256, and loading one refuses a file that has changed since, so a checkpoint is
never silently paired with other code.
"""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path
from typing import Any

import numpy as np

from convprop.train.checkpoint import Checkpoint, CheckpointError, load_model_state
from convprop.train.config import is_model_file
from convprop.train.state import ModelRecord
from convprop.train.state import model_record as model_record_of

# The arguments convprop fills in from the data when the constructor takes them and --model-args does not.
DATA_ARGUMENTS = ("num_classes", "in_channels", "input_size")


def model_file(name: str) -> tuple[Path, str]:
    """``("path/to/file.py", "ClassName")`` from ``"path/to/file.py:ClassName"``."""
    path, _, cls = name.rpartition(":")
    return Path(path), cls


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _load_class(name: str):
    """The class of a ``--model path/to/file.py:ClassName`` (:func:`convprop.models.from_file.load_class`).

    Raises:
        ValueError: the file is missing, fails to run, or lacks an ``nn.Module`` subclass of that name.
    """
    from convprop.models.from_file import load_class

    path, cls_name = model_file(name)
    try:
        return load_class(path, cls_name)
    except ValueError as exc:
        raise ValueError(f"--model {name}: {exc}") from None


def model_kwargs(name: str, data_kwargs: dict[str, Any], model_args: dict[str, Any] | None) -> dict[str, Any]:
    """The constructor arguments of a run's model.

    Built-ins get ``data_kwargs`` (classes, channels, input size, width). A model file's class gets
    ``model_args`` plus those of ``data_kwargs`` that its constructor accepts and ``model_args`` lacks.
    """
    if not is_model_file(name):
        return dict(data_kwargs)
    signature = inspect.signature(_load_class(name))
    takes_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    kwargs = dict(model_args or {})
    for key in DATA_ARGUMENTS:
        if key not in kwargs and key in data_kwargs and (takes_any or key in signature.parameters):
            kwargs[key] = data_kwargs[key]
    return kwargs


def build_model(name: str, kwargs: dict[str, Any], generator: np.random.Generator):
    """The model ``name`` built with ``kwargs``, its initial weights drawn from ``generator``.

    A model file's class receives ``generator=`` only when its constructor takes it.
    """
    if not is_model_file(name):
        from convprop.models import get_model

        return get_model(name, generator=generator, **kwargs)
    cls = _load_class(name)
    parameters = inspect.signature(cls).parameters
    extra = {"generator": generator} if "generator" in parameters and "generator" not in kwargs else {}
    try:
        return cls(**kwargs, **extra)
    except Exception as exc:
        raise ValueError(f"--model {name}: {cls.__name__}(**{kwargs}) failed: {type(exc).__name__}: {exc}") from None


def model_record(name: str) -> dict[str, str]:
    """What a checkpoint records about a model file: its absolute path and SHA-256 (nothing for built-ins)."""
    if not is_model_file(name):
        return {}
    path = model_file(name)[0].resolve()
    return {"file": str(path), "sha256": file_sha256(path)}


def check_model_file(record: ModelRecord, where) -> str:
    """The name to build a checkpoint's model by; for a model file, its recorded path, which must hold the
    same code.

    Raises:
        CheckpointError: the file is gone or its SHA-256 differs from the one recorded.
    """
    name = record.name
    if not is_model_file(name):
        return name
    path = Path(record.file or model_file(name)[0])
    if not path.is_file():
        raise CheckpointError(f"{where}: the model's file {path} is gone (the checkpoint holds only the weights)")
    if file_sha256(path) != record.sha256:
        raise CheckpointError(
            f"{where}: the model's file {path} has changed since the checkpoint was written (SHA-256 differs)"
        )
    return f"{path}:{model_file(name)[1]}"


def load_model(ck: Checkpoint):
    """The checkpoint's model, rebuilt from its name and constructor arguments, with its weights, in eval mode.

    Raises:
        CheckpointError: the model cannot be built from the header, or the weights do not fit it.
    """
    record = model_record_of(ck.header, ck.path)
    kwargs = record.kwargs
    name = check_model_file(record, ck.path)
    try:
        # The initial weights are overwritten at once; a fixed generator keeps the library free of global randomness.
        model = build_model(name, kwargs, np.random.default_rng(0))
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{ck.path}: cannot build model {ck.model_name!r} with {kwargs}: {exc}") from None
    load_model_state(model, ck)
    return model.eval()
