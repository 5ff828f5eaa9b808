"""The named ``(values, indices)`` pairs that ``max``/``min``/``sort``/``topk`` along a dim return.

As ``torch.return_types``: ``out = x.max(1)`` gives ``out.values``, ``out.indices``
and unpacks as ``values, indices = out``.
"""

from __future__ import annotations

from typing import NamedTuple

from convprop.tensor import Tensor


class max(NamedTuple):
    values: Tensor
    indices: Tensor


class min(NamedTuple):
    values: Tensor
    indices: Tensor


class sort(NamedTuple):
    values: Tensor
    indices: Tensor


class topk(NamedTuple):
    values: Tensor
    indices: Tensor
