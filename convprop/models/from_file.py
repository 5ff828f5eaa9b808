"""A model class defined in a user's Python file, named ``path/to/file.py:ClassName``.

The one loader behind ``convprop train --model FILE:Class``, ``convprop summary`` and ``convprop explain
model``: it runs the file as a module of its own and returns the class, or raises a ``ValueError`` that
names the file and what is wrong with it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path


def load_class(path: str | Path, class_name: str) -> type:
    """The ``nn.Module`` subclass ``class_name`` defined by running the Python file ``path``.

    The file runs each time, as a module registered in ``sys.modules`` under a name derived from its
    absolute path (dataclasses and pickling look classes up by module).

    Raises:
        ValueError: the file is missing or not Python, running it raised, or it has no ``nn.Module``
            subclass of that name (the message lists the ones it has).
    """
    from convprop import nn

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    module_name = f"convprop_user_model_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ValueError(f"{path}: running it raised {type(exc).__name__}: {exc}") from None
    if not hasattr(module, class_name):
        found = sorted(
            k
            for k, v in vars(module).items()
            if isinstance(v, type) and issubclass(v, nn.Module) and v.__module__ == module_name and k[0] != "_"
        )
        listed = f"; nn.Module classes there: {', '.join(found)}" if found else "; it defines no nn.Module class"
        raise ValueError(f"{path} has no class {class_name!r}{listed}")
    cls = getattr(module, class_name)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ValueError(f"{path}:{class_name} is not a convprop nn.Module subclass (it is {type(cls).__name__})")
    return cls
