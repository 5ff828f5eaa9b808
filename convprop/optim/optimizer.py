"""The ``Optimizer`` base class: parameter groups, ``zero_grad`` and a JSON + arrays ``state_dict``.

State-dict layout (the same as PyTorch's, with NumPy arrays and plain numbers only,
so a checkpoint is a JSON document plus an ``.npz`` of the arrays, never a pickle)::

    {
        "state": {0: {"momentum_buffer": ndarray}, 1: {"step": 3, "exp_avg": ndarray, ...}, ...},
        "param_groups": [{"lr": 0.1, "momentum": 0.9, ..., "params": [0, 1]}, ...],
    }

Parameters are numbered 0, 1, ... in group order; ``state`` holds only those that
have state yet. ``load_state_dict`` accepts the keys of ``state`` as ints or as
the strings JSON turns them into, and tuples (``betas``) given back as lists.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable

import numpy as np

from convprop.tensor import Tensor, enable_grad


def check_hyper(valid: bool, message: str) -> None:
    """Raise ``ValueError(message)`` unless ``valid``; write checks as ``lr >= 0`` so that NaN fails them.

    That is how PyTorch checks every optimizer but SGD, whose ``lr < 0`` checks let NaN through.
    """
    if not valid:
        raise ValueError(message)


class _Required:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


class Optimizer:
    """Base class of all optimizers, like ``torch.optim.Optimizer``.

    Args:
        params: an iterable of Tensors (Parameters) or of dicts with a ``"params"`` entry and per-group
            options that override ``defaults``.
        defaults: the default value of each option.

    Subclasses implement ``_update(group, param, grad, state)`` for one parameter.
    ``self.state`` maps ``id(param)`` to that parameter's state dict (Tensors are not
    used as dict keys, so that elementwise ``==`` on them stays possible).
    """

    def __init__(self, params: Iterable, defaults: dict):
        self.defaults = defaults
        self.state: dict[int, dict] = {}
        self.param_groups: list[dict] = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, "
                f"but got {type(params).__name__}"
            )
        if isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but got a set")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (e.g. a smaller lr for a pretrained part)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but got a set")
        params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        if len({id(p) for p in params}) != len(params):
            raise ValueError("optimizer contains a parameter group with duplicate parameters")
        group = {**param_group, "params": params}
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            group.setdefault(name, default)
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if existing & {id(p) for p in params}:
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized parameters to ``None`` (default) or to zeros, in place."""
        for group in self.param_groups:
            for p in group["params"]:
                p._zero_grad(set_to_none)

    def step(self, closure: Callable[[], Tensor] | None = None):
        """Update every parameter that has a gradient; ``closure`` (optional) re-evaluates and returns the loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                grad = p._grad_array
                if grad is None:
                    continue
                if group.get("maximize", False):
                    grad = -grad
                self._update(group, p, grad, self.state.setdefault(id(p), {}))
        return loss

    def _update(self, group: dict, param: Tensor, grad: np.ndarray, state: dict) -> None:  # pragma: no cover
        raise NotImplementedError

    # ---- state dict -------------------------------------------------------
    def _indexed_params(self) -> list[Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict:
        """``{"state": {index: {name: array | number}}, "param_groups": [...]}``; arrays are copies."""
        params = self._indexed_params()
        state = {}
        for i, p in enumerate(params):
            entry = self.state.get(id(p))
            if entry:
                state[i] = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in entry.items()}
        groups, start = [], 0
        for group in self.param_groups:
            n = len(group["params"])
            options = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            groups.append({**options, "params": list(range(start, start + n))})
            start += n
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore options and per-parameter state saved by :meth:`state_dict` (arrays cast to each param's dtype).

        Raises:
            ValueError: if the number or sizes of the parameter groups differ, or a state array has the
                wrong shape.
        """
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError("optimizer state_dict must be a dict with 'state' and 'param_groups' entries")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has a different number of parameter groups ({len(saved_groups)}) than the "
                f"optimizer ({len(self.param_groups)})"
            )
        index_to_param: dict[int, Tensor] = {}
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups, strict=True)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"loaded state dict contains a parameter group ({i}) that doesn't match the size of optimizer's "
                    f"group: {len(saved['params'])} vs {len(group['params'])} parameters"
                )
            index_to_param.update({int(k): p for k, p in zip(saved["params"], group["params"], strict=True)})

        new_state: dict[int, dict] = {}
        for key, entry in state_dict["state"].items():
            index = int(key)
            if index not in index_to_param:
                raise ValueError(f"optimizer state_dict has state for parameter {index}, which no group contains")
            p = index_to_param[index]
            restored = {}
            for name, value in entry.items():
                if isinstance(value, np.ndarray):
                    if value.shape != p.shape:
                        raise ValueError(
                            f"optimizer state '{name}' of parameter {index} has shape {value.shape}, "
                            f"but the parameter has shape {p.shape}"
                        )
                    value = value.astype(p.dtype, copy=True)
                restored[name] = value
            new_state[id(p)] = restored
        self.state = new_state

        for saved, group in zip(saved_groups, self.param_groups, strict=True):
            for name, value in saved.items():
                if name != "params":
                    # JSON turns tuples (betas) into lists; keep the in-memory type stable.
                    group[name] = tuple(value) if isinstance(value, list) else copy.deepcopy(value)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {group[k]}" for k in sorted(group) if k != "params")
        lines.append(")")
        return "\n".join(lines)
