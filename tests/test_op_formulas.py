"""Every operation in convprop/ops carries its backward formula once: ``formula``, stated in its docstring."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import convprop.ops
from convprop.tensor import Function


def _operations() -> list[type[Function]]:
    for info in pkgutil.iter_modules(convprop.ops.__path__):
        importlib.import_module(f"convprop.ops.{info.name}")
    found, todo = [], list(Function.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("convprop.ops.") and not cls.__name__.startswith("_"):
            found.append(cls)
    return sorted(found, key=lambda c: (c.__module__, c.__name__))


def _words(text: str) -> str:
    return " ".join(text.split())


def test_the_operations_are_found():
    names = {cls.__name__ for cls in _operations()}
    assert {"ConvNd", "MaxPoolNd", "Sigmoid", "Add", "BatchNormFunction", "Linear"} <= names


@pytest.mark.parametrize("op", _operations(), ids=lambda c: c.__name__)
def test_formula_is_stated_in_the_docstring(op):
    assert op.formula, f"{op.__module__}.{op.__name__} has no formula"
    # clauses are separated by "; " (drawn on separate lines); each is the docstring's own text
    for clause in op.formula.split(";"):
        assert _words(clause) in _words(op.__doc__), f"{op.__name__}: {clause!r} not in its docstring"
