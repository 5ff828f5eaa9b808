"""``Module``, the base class of every layer, and ``Parameter``, a tensor a module learns.

A module owns three ordered dictionaries: its parameters, its buffers (state that
is saved but not learned, such as BatchNorm's running statistics) and its child
modules. Assigning a :class:`Parameter` or a :class:`Module` to an attribute
registers it, as in PyTorch, so ``named_parameters()`` and ``state_dict()`` find it
under the dotted name PyTorch would use (``features.0.weight``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import NamedTuple

import numpy as np

from convprop.ops.shape import to_target
from convprop.tensor import Tensor, swap_module


class Parameter(Tensor):
    """A tensor that a module learns: ``requires_grad`` is True unless asked otherwise.

    Args:
        data: the initial value (an array, a Tensor or nested lists; copied).
        requires_grad: whether the optimizer should see a gradient for it. Default: True.
    """

    def __init__(self, data=None, requires_grad: bool = True):
        super().__init__(np.empty(0, dtype=np.float32) if data is None else data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(NamedTuple):
    """What :meth:`Module.load_state_dict` returns: the keys it could not match."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def _floating_dtype(dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"Module.to: expected a NumPy floating dtype, got {dtype!r}") from exc
    if not np.issubdtype(dt, np.floating):
        raise TypeError(f"Module.to only accepts floating point dtypes, but got desired dtype={dt}")
    return dt


class Module:
    """Base class for all neural network modules, like ``torch.nn.Module``.

    Subclasses call ``super().__init__()`` first, assign parameters, buffers and
    submodules as attributes, and implement ``forward``. Calling the module runs
    ``forward``. ``training`` (set by :meth:`train` / :meth:`eval`) switches
    layers such as Dropout and BatchNorm between their two behaviours.

    Example::

        >>> class Net(Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc = Linear(4, 2)
        ...     def forward(self, x):
        ...         return self.fc(x).relu()
        >>> [name for name, _ in Net().named_parameters()]
        ['fc.weight', 'fc.bias']
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args, **kwargs):
        outer = swap_module(self)  # operations recorded inside are tagged with this module
        try:
            return self.forward(*args, **kwargs)
        finally:
            swap_module(outer)

    # ---- registration -----------------------------------------------------
    def _registry(self, name: str) -> OrderedDict:
        registry = self.__dict__.get(name)
        if registry is None:
            raise AttributeError("cannot assign parameters, buffers or modules before Module.__init__() call")
        return registry

    @staticmethod
    def _check_name(name, kind: str, owner: Module) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if name == "" or "." in name:
            raise KeyError(f'{kind} name can\'t be empty or contain ".", got "{name}"')
        registered = name in owner._parameters or name in owner._buffers or name in owner._modules
        if hasattr(owner, name) and not registered:
            raise KeyError(f'attribute "{name}" already exists')

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or a ``None`` placeholder, e.g. a disabled bias) under ``name``."""
        self._registry("_parameters")
        self._check_name(name, "parameter", self)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                "(convprop.nn.Parameter or None required)"
            )
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Add a buffer: saved in ``state_dict`` (when persistent) and cast by ``to``, but never learned."""
        self._registry("_buffers")
        self._check_name(name, "buffer", self)
        if tensor is not None and not isinstance(tensor, Tensor):
            if not isinstance(tensor, np.ndarray | np.generic):
                raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' (Tensor or None)")
            tensor = Tensor(tensor)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module under ``name`` (``self.name`` then returns it)."""
        self._registry("_modules")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_name(name, "module", self)
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name: str, value) -> None:
        def drop(*registries):
            for registry in registries:
                registry.pop(name, None)
            self.__dict__.pop(name, None)

        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            params = self._registry("_parameters")
            drop(self._buffers, self._modules)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                    "(convprop.nn.Parameter or None expected)"
                )
            params[name] = None
        elif isinstance(value, Module):
            modules = self._registry("_modules")
            drop(self._parameters, self._buffers)
            modules[name] = value
        elif name in self.__dict__.get("_modules", {}):
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module '{name}' (Module or None)")
            self._modules[name] = None
        elif name in self.__dict__.get("_buffers", {}):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' (Tensor or None expected)")
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        # Only reached when ordinary lookup fails, i.e. for registered parameters, buffers and modules.
        for registry in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(registry)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for registry in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(registry)
            if entries is not None and name in entries:
                del entries[name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    # ---- traversal --------------------------------------------------------
    def named_modules(self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True):
        """Yield ``(dotted name, module)`` for this module and every descendant, depth first."""
        memo = set() if memo is None else memo
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool = True):
        seen: set[int] = set()
        owners = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for owner_name, owner in owners:
            for name, value in getattr(owner, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{owner_name}.{name}" if owner_name else name), value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """Yield ``(dotted name, parameter)``: each shared parameter (or module) once, under its first
        name; with ``remove_duplicate=False`` under every name that reaches it, as in ``state_dict``."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        """Yield ``(dotted name, buffer)``, deduplicated as :meth:`named_parameters` does."""
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def get_submodule(self, target: str) -> Module:
        """The descendant at dotted path ``target`` (``""`` is this module)."""
        module = self
        for atom in target.split(".") if target else []:
            child = module._modules.get(atom)
            if child is None:
                raise AttributeError(f"{type(module).__name__} has no submodule `{atom}` (looking up '{target}')")
            module = child
        return module

    # ---- modes, gradients, dtype ------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and all descendants (Dropout drops, BatchNorm uses batch stats)."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters: to ``None`` (default) or to zeros, in place."""
        for param in self.parameters():
            param._zero_grad(set_to_none)

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn`` on every descendant, then on this module (children first, as in PyTorch)."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def to(self, *args, **kwargs) -> Module:
        """Cast floating-point parameters and buffers in place: ``to(dtype)``, ``to(device)``, ``to(device, dtype)``
        or ``to(tensor)``, as in PyTorch (the device can only be the CPU); integer buffers are kept.

        Parameters keep their identity (an optimizer built before the cast still
        updates them), and existing gradients are cast too.
        """
        dtype, device = kwargs.pop("dtype", None), kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"Module.to: unexpected keyword argument(s) {sorted(kwargs)}")
        dtype = to_target(args, dtype, device, "Module.to")
        if dtype is None:
            return self
        dt = _floating_dtype(dtype)
        for module in self.modules():
            for tensor in (*module._parameters.values(), *module._buffers.values()):
                if tensor is None or not np.issubdtype(tensor.dtype, np.floating):
                    continue
                tensor.data = tensor.data.astype(dt, copy=False)
                if tensor._grad_array is not None:
                    tensor._grad_array = tensor._grad_array.astype(dt)
        return self

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    # ---- state dict -------------------------------------------------------
    def state_dict(self, prefix: str = "") -> OrderedDict[str, np.ndarray]:
        """Every parameter and persistent buffer under PyTorch's dotted key, as a copied NumPy array.

        As in PyTorch, nothing is deduplicated: a module or parameter reachable under two names
        (``Sequential(lin, act, lin)``, tied weights) is saved under both. Unlike PyTorch's (which
        aliases live storage), the arrays are copies: a saved snapshot does not change when
        training goes on.
        """
        return OrderedDict((key, tensor.data.copy()) for key, tensor in self._state_tensors(prefix.rstrip(".")).items())

    def _state_tensors(self, prefix: str = "") -> OrderedDict[str, Tensor]:
        """The tensors behind :meth:`state_dict`, keyed by every name that reaches them."""
        out: OrderedDict[str, Tensor] = OrderedDict()
        for module_name, module in self.named_modules(prefix=prefix, remove_duplicate=False):
            base = f"{module_name}." if module_name else ""
            for name, tensor in (*module._parameters.items(), *module._buffers.items()):
                if tensor is not None and name not in module._non_persistent_buffers:
                    out[base + name] = tensor
        return out

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays from ``state_dict`` into this module's parameters and buffers, keeping their dtypes.

        Every key of :meth:`state_dict` is expected, so a module reachable under two names
        (``Sequential(lin, act, lin)``) needs both; it ends up holding the later key's value,
        as in PyTorch.

        Args:
            state_dict: a mapping from dotted keys (as made by :meth:`state_dict`) to arrays or Tensors.
            strict: if True, missing and unexpected keys are errors; shape mismatches always are.

        Raises:
            RuntimeError: listing every missing key, unexpected key and shape mismatch (nothing is
                loaded then).

        Returns:
            ``IncompatibleKeys(missing_keys, unexpected_keys)``.
        """
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict).__name__}.")
        own = self._state_tensors()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors: list[str] = []
        arrays: dict[str, np.ndarray] = {}
        for key, tensor in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            arr = value.data if isinstance(value, Tensor) else np.asarray(value)
            if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
                errors.append(f'value for "{key}" must be a numeric array, got {type(value).__name__} {arr.dtype}')
            elif arr.shape != tensor.shape:
                errors.append(
                    f"size mismatch for {key}: copying a param with shape {arr.shape} from checkpoint, "
                    f"the shape in current model is {tensor.shape}."
                )
            else:
                arrays[key] = arr
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        for key, arr in arrays.items():
            own[key].data[...] = arr
        return IncompatibleKeys(missing, unexpected)

    # ---- printing ---------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr; layers override it."""
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, module in self._modules.items():
            child = repr(module).replace("\n", "\n  ")
            lines.append(f"({name}): {child}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        body = "\n  ".join(([extra] if extra else []) + lines)
        return f"{type(self).__name__}(\n  {body}\n)"
