"""Containers: ``Sequential``, ``ModuleList``, ``ModuleDict``, ``ParameterList`` and ``ParameterDict``.

Children are registered under their position ("0", "1", ...) or the names of an
``OrderedDict``, so state_dict keys match PyTorch's (``features.0.weight``).
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Iterable, Iterator

from convprop.nn.modules.module import Module, Parameter


def _index(idx, length: int, owner: str) -> int:
    try:
        idx = operator.index(idx)
    except TypeError as exc:
        raise TypeError(f"{owner} indices must be integers or slices, not {type(idx).__name__}") from exc
    if not -length <= idx < length:
        raise IndexError(f"index {idx} is out of range for {owner} of length {length}")
    return idx % length


class Sequential(Module):
    """Apply modules one after another: ``Sequential(a, b, c)(x) == c(b(a(x)))``.

    Args:
        *args: modules, registered as "0", "1", ...; or a single ``OrderedDict`` of name -> module.

    Supports ``len``, iteration, indexing (a slice gives a new ``Sequential`` sharing the
    modules), ``append``, item assignment and deletion.

    Example::

        >>> Sequential(Conv2d(1, 20, 5), ReLU())
        Sequential(
          (0): Conv2d(1, 20, kernel_size=(5, 5), stride=(1, 1))
          (1): ReLU()
        )
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, idx):
        items = list(self._modules.items())
        if isinstance(idx, slice):
            return type(self)(OrderedDict(items[idx]))
        return items[_index(idx, len(items), type(self).__name__)][1]

    def __setitem__(self, idx, module: Module) -> None:
        key = list(self._modules)[_index(idx, len(self), type(self).__name__)]
        self.add_module(key, module)

    def __delitem__(self, idx) -> None:
        keys = list(self._modules)
        for key in keys[idx] if isinstance(idx, slice) else [keys[_index(idx, len(keys), type(self).__name__)]]:
            del self._modules[key]

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self

    def forward(self, input):
        for module in self._modules.values():
            input = module(input)
        return input


class ModuleList(Module):
    """Hold submodules in a list, registered as "0", "1", ... (it has no ``forward``).

    Args:
        modules: an optional iterable of modules.

    Example::

        >>> blocks = ModuleList(Linear(10, 10) for _ in range(3))
        >>> [name for name, _ in blocks.named_parameters()][:2]
        ['0.weight', '0.bias']
    """

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, idx):
        values = list(self._modules.values())
        if isinstance(idx, slice):
            return type(self)(values[idx])
        return values[_index(idx, len(values), type(self).__name__)]

    def __setitem__(self, idx, module: Module) -> None:
        self.add_module(str(_index(idx, len(self), type(self).__name__)), module)

    def __delitem__(self, idx) -> None:
        values = list(self._modules.values())
        if isinstance(idx, slice):
            del values[idx]
        else:
            del values[_index(idx, len(values), type(self).__name__)]
        # Renumber so that keys stay "0".."n-1", as PyTorch does.
        self._modules.clear()
        self.extend(values)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        if isinstance(modules, Module) or not isinstance(modules, Iterable):
            raise TypeError(f"ModuleList.extend should be called with an iterable, but got {type(modules).__name__}")
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        values = list(self._modules.values())
        values.insert(index, module)
        self._modules.clear()
        self.extend(values)


class ModuleDict(Module):
    """Hold submodules under string keys, registered by those keys (it has no ``forward``).

    Example::

        >>> heads = ModuleDict({"cls": Linear(8, 10), "box": Linear(8, 4)})
        >>> sorted(name for name, _ in heads.named_parameters())[:2]
        ['box.bias', 'box.weight']
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def pop(self, key: str) -> Module:
        return self._modules.pop(key)

    def clear(self) -> None:
        self._modules.clear()

    def update(self, modules) -> None:
        pairs = modules.items() if hasattr(modules, "items") else modules
        for key, module in pairs:
            self[key] = module


class ParameterList(Module):
    """Hold parameters in a list, registered as "0", "1", ... (plain tensors and arrays become Parameters)."""

    def __init__(self, values=None):
        super().__init__()
        if values is not None:
            self.extend(values)

    def _as_parameter(self, value) -> Parameter:
        return value if isinstance(value, Parameter) else Parameter(value)

    def __getitem__(self, idx):
        values = list(self._parameters.values())
        if isinstance(idx, slice):
            return type(self)(values[idx])
        return values[_index(idx, len(values), type(self).__name__)]

    def __setitem__(self, idx, value) -> None:
        self.register_parameter(str(_index(idx, len(self), type(self).__name__)), self._as_parameter(value))

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._parameters.values())

    def append(self, value) -> ParameterList:
        self.register_parameter(str(len(self)), self._as_parameter(value))
        return self

    def extend(self, values) -> ParameterList:
        for value in values:
            self.append(value)
        return self


class ParameterDict(Module):
    """Hold parameters under string keys (plain tensors and arrays become Parameters)."""

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str) -> Parameter:
        return self._parameters[key]

    def __setitem__(self, key: str, value) -> None:
        self.register_parameter(key, value if isinstance(value, Parameter) else Parameter(value))

    def __delitem__(self, key: str) -> None:
        del self._parameters[key]

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[str]:
        return iter(self._parameters)

    def __contains__(self, key: str) -> bool:
        return key in self._parameters

    def keys(self):
        return self._parameters.keys()

    def items(self):
        return self._parameters.items()

    def values(self):
        return self._parameters.values()

    def update(self, parameters) -> None:
        pairs = parameters.items() if hasattr(parameters, "items") else parameters
        for key, value in pairs:
            self[key] = value
