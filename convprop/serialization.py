"""``convprop.save`` / ``convprop.load``: tensors in safetensors, structure in JSON, never pickle.

A saved file is one safetensors file (``pip install safetensors``): the arrays are
its tensors, stored under their dotted path in ``obj`` (``fc1.weight`` for a
state_dict, so other safetensors tools read it too), and the structure around
them (dicts, lists, tuples, numbers, strings, None) is JSON in the file's
metadata under the key ``"convprop"``. Loading parses the header with bounds
checks before anything is allocated, so a truncated or hostile file is a clear
``ValueError``, never a crash or a huge allocation; nothing in a file is executed.

A safetensors file written by PyTorch (``safetensors.torch.save_file``) has no
convprop metadata and loads as a flat ``{name: Tensor}`` dict, ready for
``model.load_state_dict``. PyTorch's own ``.pt``/``.pth`` files are pickles, which
convprop refuses to unpickle (unpickling runs code); the error says how to convert one.
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections import OrderedDict

import numpy as np

from convprop.tensor import Tensor

_META_KEY = "convprop"
_FORMAT = 1
_HEADER_LIMIT = 100 * 2**20  # the safetensors limit on the JSON header
_PICKLE_HINT = (
    "is a pickle-based PyTorch file, which convprop does not load (unpickling can run arbitrary code); "
    "convert it once with PyTorch: from safetensors.torch import save_file; "
    "save_file(torch.load(PATH, weights_only=True), 'model.safetensors')"
)


def _safetensors():
    try:
        import safetensors.numpy
    except ImportError:  # the safetensors extra; the engine itself needs NumPy alone
        raise ImportError(
            "convprop.save/load need the safetensors package: pip install 'convprop[safetensors]'"
        ) from None
    return safetensors.numpy


def _encode(obj, path: str, arrays: dict):
    """``obj`` as JSON data; every tensor or array goes into ``arrays`` under a unique name."""
    if isinstance(obj, Tensor | np.ndarray):
        name = path or "tensor"
        while name in arrays:
            name += "_"
        arr = obj.data if isinstance(obj, Tensor) else obj
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"save: the array at {path or 'the top level'} has dtype {arr.dtype}, which is not stored")
        arrays[name] = np.require(arr, requirements="C")  # (ascontiguousarray would make 0-d arrays 1-d)
        return {"__tensor__" if isinstance(obj, Tensor) else "__ndarray__": name}
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else {"__float__": repr(float(obj))}
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, dict):
        items = [(k, _encode(v, f"{path}.{k}" if path else str(k), arrays)) for k, v in obj.items()]
        if all(isinstance(k, str) and not k.startswith("__") for k, _ in items):
            return dict(items)
        for k, _ in items:
            if not isinstance(k, str | int | float | bool) and k is not None:
                raise TypeError(f"save: dict key {k!r} at {path or 'the top level'} is not a string or number")
        return {"__dict__": [[k, v] for k, v in items]}
    if isinstance(obj, list | tuple):
        items = [_encode(v, f"{path}.{i}" if path else str(i), arrays) for i, v in enumerate(obj)]
        return {"__tuple__": items} if isinstance(obj, tuple) else items
    raise TypeError(
        f"save: cannot store a {type(obj).__name__} at {path or 'the top level'}; convprop.save stores tensors, "
        "arrays, numbers, strings, None and dicts, lists and tuples of them"
    )


def _decode(data, arrays: dict):
    if isinstance(data, list):
        return [_decode(v, arrays) for v in data]
    if not isinstance(data, dict):
        return data
    if len(data) == 1:
        ((key, value),) = data.items()
        if key in ("__tensor__", "__ndarray__"):
            if not isinstance(value, str) or value not in arrays:
                raise ValueError(f"load: the structure names a tensor {value!r} that the file does not hold")
            return Tensor._wrap(arrays[value]) if key == "__tensor__" else arrays[value]
        if key == "__float__":
            if value not in ("inf", "-inf", "nan"):
                raise ValueError(f"load: bad float value {value!r}")
            return float(value)
        if key == "__tuple__" and isinstance(value, list):
            return tuple(_decode(v, arrays) for v in value)
        if key == "__dict__" and isinstance(value, list):
            if not all(isinstance(kv, list) and len(kv) == 2 for kv in value):
                raise ValueError("load: a dict entry in the structure is not a [key, value] pair")
            return OrderedDict((k, _decode(v, arrays)) for k, v in value)
    return OrderedDict((k, _decode(v, arrays)) for k, v in data.items())


def save(obj, f) -> None:
    """Save ``obj`` (a state_dict, an optimizer state_dict, or nested dicts/lists of tensors, arrays and
    numbers) to ``f`` (a path or a binary file object), like ``torch.save`` but safely (see the module doc)."""
    arrays: dict[str, np.ndarray] = {}
    structure = _encode(obj, "", arrays)
    meta = json.dumps({"format": _FORMAT, "structure": structure}, allow_nan=False)
    blob = _safetensors().save(arrays, metadata={_META_KEY: meta})
    if hasattr(f, "write"):
        f.write(blob)
        return
    with open(os.fspath(f), "wb") as out:
        out.write(blob)


def _read(f) -> tuple[bytes, str]:
    if hasattr(f, "read"):
        return f.read(), getattr(f, "name", "the file")
    path = os.fspath(f)
    with open(path, "rb") as fh:
        return fh.read(), path


def _header(blob: bytes, where: str) -> dict:
    """The safetensors JSON header, checked against the file's real size before it is trusted."""
    looks_like_pickle = blob[:4] == b"PK\x03\x04" or (
        blob[:1] == b"\x80" and blob[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")
    )
    if looks_like_pickle and blob[8:9] != b"{":  # a safetensors header length can start with 0x80 too
        raise ValueError(f"load: {where} {_PICKLE_HINT.replace('PATH', repr(where))}")
    if len(blob) < 8:
        raise ValueError(f"load: {where} is not a safetensors file ({len(blob)} bytes, too short for a header)")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > min(_HEADER_LIMIT, len(blob) - 8):
        raise ValueError(f"load: {where} declares a {n}-byte header but holds {len(blob) - 8} bytes after the length")
    try:
        header = json.loads(blob[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"load: {where} has a corrupted safetensors header ({exc})") from None
    if not isinstance(header, dict):
        raise ValueError(f"load: {where} has a safetensors header that is not a JSON object")
    data_size = len(blob) - 8 - n
    for name, info in header.items():
        if name == "__metadata__":
            continue
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise ValueError(f"load: {where}: tensor {name!r} has no valid data_offsets")
        if not 0 <= offsets[0] <= offsets[1] <= data_size:
            raise ValueError(f"load: {where}: tensor {name!r} claims bytes {offsets} beyond the {data_size} stored")
    return header


def load(f, map_location=None, weights_only: bool = True):
    """Load what :func:`save` wrote, or the tensors of any safetensors file (e.g. PyTorch's), from ``f``.

    ``map_location`` may only name the CPU; ``weights_only`` is accepted for compatibility
    (nothing but data is ever loaded).

    Raises:
        ValueError: for a pickle file (with the command that converts it), a truncated or corrupted file.
    """
    from convprop.dtypes import check_device

    if map_location is not None and not callable(map_location) and not isinstance(map_location, dict):
        check_device(map_location, "load")
    blob, where = _read(f)
    header = _header(blob, str(where))
    try:
        arrays = _safetensors().load(blob)
    except Exception as exc:  # the Rust parser's SafetensorError and NumPy's dtype errors
        raise ValueError(f"load: {where} is not a readable safetensors file ({type(exc).__name__}: {exc})") from None
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict) or _META_KEY not in meta:
        return OrderedDict((name, Tensor._wrap(arrays[name])) for name in header if name != "__metadata__")
    try:
        doc = json.loads(meta[_META_KEY])
        return _decode(doc["structure"], arrays)
    except (json.JSONDecodeError, KeyError, TypeError, RecursionError) as exc:
        raise ValueError(f"load: {where} has corrupted convprop metadata ({type(exc).__name__}: {exc})") from None


__all__ = ["load", "save"]
