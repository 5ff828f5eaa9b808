"""Containers: ``Sequential`` (a pipeline) and ``ModuleList`` (an indexable list of submodules).

Children are registered under their position ("0", "1", ...) or the names of an
``OrderedDict``, so state_dict keys match PyTorch's (``features.0.weight``).
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Iterable, Iterator

from convprop.nn.modules.module import Module


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
