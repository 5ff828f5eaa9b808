"""Safe checkpoints: one ``.npz`` file of plain arrays plus a JSON header, never pickle.

Layout of a checkpoint file (a zip archive written by ``np.savez``):

* ``__header__`` -- a uint8 array holding UTF-8 JSON: the format tag and version,
  the model name and constructor arguments, dataset facts (normalisation, class
  names, input shape), training position (epoch, step), generator states,
  metrics history, and the scalar parts of the optimizer and scheduler states.
* ``model/<key>`` -- one array per entry of the model's ``state_dict()``.
* ``state/<n>`` -- arrays found inside the optimizer/scheduler states; the header
  refers to them as ``{"__array__": "state/<n>"}``.

It is read with ``np.load(..., allow_pickle=False)``, so loading a checkpoint can
never run code. Writes are atomic: a temporary file in the same folder is
flushed and fsynced, then renamed over the target, then the folder is fsynced,
so a crash leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from convprop._io import atomic_file

FORMAT = "convprop-checkpoint"
FORMAT_VERSION = 1
_HEADER_KEY = "__header__"
_MODEL_PREFIX = "model/"
_STATE_PREFIX = "state/"


class CheckpointError(ValueError):
    """A checkpoint file is missing, damaged, from a newer convprop, or for another model."""


@dataclass
class Checkpoint:
    """The decoded contents of a checkpoint file.

    ``header`` is the JSON header (with optimizer/scheduler states restored to
    dicts holding NumPy arrays); ``model_state`` maps ``state_dict`` keys to arrays.
    """

    header: dict[str, Any]
    model_state: dict[str, np.ndarray] = field(repr=False)
    path: Path | None = None

    @property
    def model_name(self) -> str:
        return self.header["model"]["name"]


# ---- encoding nested state dicts into JSON + arrays ----


def _encode(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    """JSON-able form of ``obj``; arrays go to ``arrays`` and are referenced by key.

    Dicts with non-string keys (PyTorch-style optimizer states are keyed by
    parameter index) and tuples are tagged so they come back with the same types.
    """
    if isinstance(obj, np.ndarray):
        key = f"{_STATE_PREFIX}{len(arrays)}"
        arrays[key] = obj
        return {"__array__": key}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and not any(k.startswith("__") for k in obj):
            return {k: _encode(v, arrays) for k, v in obj.items()}
        return {"__items__": [[_encode(k, arrays), _encode(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, arrays) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, arrays) for v in obj]
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    raise TypeError(f"cannot store a {type(obj).__name__} in a checkpoint (only arrays, numbers, strings, containers)")


def _decode(obj: Any, arrays) -> Any:
    if isinstance(obj, list):
        return [_decode(v, arrays) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__array__" in obj:
        key = obj["__array__"]
        if key not in arrays:
            raise CheckpointError(f"the header refers to array {key!r}, which is missing from the file")
        return arrays[key]
    if "__tuple__" in obj:
        return tuple(_decode(v, arrays) for v in obj["__tuple__"])
    if "__items__" in obj:
        return {_hashable(_decode(k, arrays)): _decode(v, arrays) for k, v in obj["__items__"]}
    return {k: _decode(v, arrays) for k, v in obj.items()}


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key


# ---- writing ----


def save_checkpoint(
    path: str | os.PathLike,
    header: dict[str, Any],
    model_state: dict[str, np.ndarray],
    states: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically and return its path.

    Args:
        path: target file (conventionally ending in ``.npz``).
        header: JSON-serialisable facts (model name and config, dataset, epoch, ...).
            Must contain ``header["model"]["name"]``.
        model_state: the model's ``state_dict()`` (key -> array).
        states: nested states holding arrays, e.g. ``{"optimizer": opt.state_dict()}``;
            stored in the header with the arrays moved into the archive.
    """
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    full_header = dict(header)
    full_header["format"] = FORMAT
    full_header["format_version"] = FORMAT_VERSION
    full_header["states"] = _encode(states or {}, arrays)
    for key, value in model_state.items():
        arrays[_MODEL_PREFIX + key] = np.asarray(value)
    # allow_nan=False would reject inf losses; JSON's NaN/Infinity extension is what Python reads back.
    # Keys keep the writer's order (metrics records restore with the columns in order).
    header_bytes = json.dumps(full_header).encode("utf-8")
    arrays[_HEADER_KEY] = np.frombuffer(header_bytes, dtype=np.uint8)

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as f:
        np.savez(f, **arrays)
    return path


# ---- reading ----


def load_checkpoint(path: str | os.PathLike, model_name: str | None = None) -> Checkpoint:
    """Read and validate a checkpoint written by :func:`save_checkpoint`.

    Args:
        path: the checkpoint file.
        model_name: if given, the checkpoint must be for this model.

    Raises:
        CheckpointError: missing, truncated or corrupted file, bad JSON header,
            missing arrays, a newer format version, or another model.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        if not zipfile.is_zipfile(path):  # np.load would return a lone .npy array, or refuse a pickle
            raise CheckpointError(_not_an_archive(path))
        _check_sizes(path)
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        if isinstance(exc, CheckpointError):
            raise
        # np.load raises ValueError for damaged members and for object arrays, which need pickle.
        raise CheckpointError(_unreadable(path, exc)) from None
    if _HEADER_KEY not in arrays:
        raise CheckpointError(f"{path} has no {_HEADER_KEY} entry: not a convprop checkpoint")
    raw = arrays.pop(_HEADER_KEY)
    try:
        header = json.loads(raw.astype(np.uint8, copy=False).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} has a corrupted header: {exc}") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} is not a convprop checkpoint (its header is a JSON {type(header).__name__})")
    if header.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a convprop checkpoint (format tag {header.get('format')!r})")
    version = header.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{path} has an invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} was written by a newer convprop (checkpoint format version {version}; "
            f"this version reads up to {FORMAT_VERSION}): upgrade convprop"
        )
    model = header.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("name"), str):
        raise CheckpointError(f"{path} has no model name in its header")
    if model_name is not None and model["name"] != model_name:
        raise CheckpointError(f"{path} holds a {model['name']!r} model, not {model_name!r}")
    header["states"] = _decode(header.get("states", {}), arrays)
    model_state = {k[len(_MODEL_PREFIX) :]: v for k, v in arrays.items() if k.startswith(_MODEL_PREFIX)}
    expected = model.get("state_keys")
    if expected is not None and sorted(expected) != sorted(model_state):
        missing = sorted(set(expected) - set(model_state))
        raise CheckpointError(f"{path} is missing model arrays: {', '.join(missing) or '(unexpected extra arrays)'}")
    return Checkpoint(header=header, model_state=model_state, path=path)


# How far the archive's members may expand beyond the file's size: np.savez stores them uncompressed (1x);
# np.savez_compressed of weights saves ~10%. A zip bomb expands a thousandfold.
_MAX_EXPANSION = 64
_SLACK = 64 << 20


def _check_sizes(path: Path) -> None:
    """Refuse an archive whose members would take more memory than its size justifies, before reading any.

    Each ``.npy`` member's header declares its shape and dtype, and NumPy allocates that much before reading
    the data, so the declared size must fit in the member; all members together may not expand more than
    :data:`_MAX_EXPANSION` times beyond the file.
    """
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        expanded = sum(info.file_size for info in members)
        if expanded > _MAX_EXPANSION * path.stat().st_size + _SLACK:
            raise CheckpointError(
                f"{path}: its {len(members)} members would expand to {expanded} bytes from a {path.stat().st_size}"
                "-byte file; not a checkpoint convprop wrote (a zip bomb?)"
            )
        for info in members:
            with archive.open(info) as member:
                try:
                    version = np.lib.format.read_magic(member)
                    read = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    shape, _, dtype = read(member)
                except (ValueError, SyntaxError, TypeError, OSError) as exc:
                    raise CheckpointError(f"{path}: member {info.filename} is not a NumPy array: {exc}") from None
            declared = math.prod(shape) * dtype.itemsize
            if declared > info.file_size:
                raise CheckpointError(
                    f"{path}: member {info.filename} declares shape {shape} ({declared} bytes) but holds "
                    f"{info.file_size} bytes: corrupted"
                )


_PICKLE_REFUSAL = "it holds Python objects, which only pickle can load, and convprop never loads pickles"


def _not_an_archive(path: Path) -> str:
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic == b"\x93NUMPY":
        return f"{path} is a NumPy .npy file, not a convprop checkpoint (an .npz archive)"
    if magic[:1] == b"\x80":  # the PROTO opcode that starts every pickle since protocol 2
        return f"{path} is not a convprop checkpoint: {_PICKLE_REFUSAL}"
    return f"{path} is not a readable checkpoint (truncated or corrupted?): not an .npz archive"


def _unreadable(path: Path, exc: Exception) -> str:
    reason = str(exc)
    if "pickle" in reason.lower() or "object arrays" in reason.lower():
        # NumPy's message suggests allow_pickle=True; never pass that on: unpickling a file can run any code.
        return f"{path} is not a convprop checkpoint (or is truncated or corrupted): {_PICKLE_REFUSAL}"
    return f"{path} is not a readable checkpoint (truncated or corrupted?): {reason}"


def load_model_state(model, checkpoint: Checkpoint) -> None:
    """Copy the checkpoint's weights into ``model``, checking keys and shapes first.

    Raises:
        CheckpointError: a key is missing or unexpected, or a shape differs.
    """
    own = model.state_dict()
    saved = checkpoint.model_state
    where = checkpoint.path or "checkpoint"
    missing = sorted(set(own) - set(saved))
    unexpected = sorted(set(saved) - set(own))
    if missing or unexpected:
        raise CheckpointError(
            f"{where} does not fit model {checkpoint.model_name!r}: "
            f"missing keys {missing or '[]'}, unexpected keys {unexpected or '[]'}"
        )
    for key, value in own.items():
        if np.shape(value) != saved[key].shape:
            raise CheckpointError(
                f"{where} does not fit model {checkpoint.model_name!r}: {key} has shape "
                f"{tuple(saved[key].shape)} in the file but {tuple(np.shape(value))} in the model"
            )
    model.load_state_dict(saved)
