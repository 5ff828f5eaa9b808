"""``summary(model, input_shape)``: every layer's output shape, parameters and multiply-accumulates.

One forward pass of a single sample (batch dimension 1, zeros, evaluation mode, no graph)
visits every module; each row is one module, in the order of its first call.

Multiply-accumulates (MACs) per sample, the usual convention (as torchinfo and fvcore count):

- convolution: one per output element per weight of one filter,
  ``out.numel() · (C_in / groups) · prod(kernel)``;
- transposed convolution: one per input element per weight it scatters,
  ``in.numel() · (C_out / groups) · prod(kernel)``;
- linear: ``out.numel() / out_features · in_features · out_features``.

Bias additions, normalisation, activations and pooling are not counted (a few percent at
most in these networks); one MAC is two FLOPs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from convprop.nn.modules.conv import _ConvNd, _ConvTransposeNd
from convprop.nn.modules.linear import Linear
from convprop.nn.modules.module import Module
from convprop.tensor import Tensor, no_grad

MAX_INPUT_ELEMENTS = 1 << 26  # 64 M values per sample: beyond it the one forward pass would not fit in memory


@dataclass
class LayerSummary:
    """One module: ``name`` as ``named_modules()`` gives it, its class, output shape (batch left out),
    the parameters it owns itself (not its submodules'), and its MACs per sample (all calls)."""

    name: str
    type: str
    output_shape: tuple[int, ...] | None
    parameters: int
    macs: int


@dataclass
class Summary:
    """What :func:`summary` returns: ``layers`` (rows) and the totals; ``str()`` is the table."""

    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...] | None
    layers: list[LayerSummary] = field(default_factory=list)
    total_parameters: int = 0
    trainable_parameters: int = 0
    total_macs: int = 0

    def __str__(self) -> str:
        header = ("layer", "type", "output shape", "parameters", "MACs")
        rows = [
            (
                layer.name,
                layer.type,
                _shape(layer.output_shape),
                f"{layer.parameters:,}" if layer.parameters else "-",
                f"{layer.macs:,}" if layer.macs else "-",
            )
            for layer in self.layers
        ]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
        line = "  ".join("-" * w for w in widths)

        def fmt(row):
            return "  ".join(
                c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )

        return "\n".join(
            [
                f"input {_shape(self.input_shape)} (one sample), output {_shape(self.output_shape)}",
                fmt(header),
                line,
                *map(fmt, rows),
                line,
                f"parameters: {self.total_parameters:,} ({self.trainable_parameters:,} trainable)",
                f"multiply-accumulates per sample: {self.total_macs:,} ({self.total_macs / 1e6:.2f} M, "
                "counted for conv, transposed conv and linear layers; FLOPs ≈ 2 × MACs)",
            ]
        )


def _shape(shape) -> str:
    return "?" if shape is None else "x".join(map(str, shape)) if shape else "scalar"


def layer_macs(module: Module, x: Tensor, out: Tensor) -> int:
    """The multiply-accumulates of one call of ``module`` (see the module docstring); 0 for other layers."""
    if isinstance(module, Linear):
        return out.numel() // out.shape[-1] * module.in_features * module.out_features
    if isinstance(module, _ConvTransposeNd):
        return x.numel() * module.weight[0].numel()
    if isinstance(module, _ConvNd):
        return out.numel() * module.weight[0].numel()
    return 0


def check_input_shape(input_shape) -> tuple[int, ...]:
    """``input_shape`` as a tuple of positive ints, small enough for one forward pass (else ValueError)."""
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise TypeError(f"summary: input_shape must be a sequence of ints (C, H, W), got {input_shape!r}") from None
    if not shape or any(s <= 0 for s in shape):
        raise ValueError(f"summary: input_shape must be positive sizes (C, H, W), got {shape}")
    if math.prod(shape) > MAX_INPUT_ELEMENTS:
        raise ValueError(
            f"summary: input_shape {_shape(shape)} has {math.prod(shape):,} values per sample, "
            f"more than the {MAX_INPUT_ELEMENTS:,} this one forward pass allows"
        )
    return shape


def summary(model: Module, input_shape, dtype=np.float32) -> Summary:
    """Layer-by-layer summary of ``model`` for one sample of shape ``input_shape`` (batch left out).

    Args:
        model: an ``nn.Module``.
        input_shape: one sample's shape, e.g. ``(1, 28, 28)``.
        dtype: the input's dtype. Default: float32.

    Returns:
        a :class:`Summary`: ``layers`` (name, type, output shape, parameters, MACs), the totals,
        and ``str()`` a table.

    Raises:
        TypeError: ``model`` is not an ``nn.Module``.
        ValueError: a bad ``input_shape``; whatever the model raises for it propagates.

    Example::

        >>> print(convprop.summary(get_model("lenet5"), (1, 28, 28)))  # doctest: +SKIP
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary: model must be a convprop nn.Module, got {type(model).__name__}")
    shape = check_input_shape(input_shape)
    names = {id(m): name for name, m in model.named_modules()}
    rows: dict[int, LayerSummary] = {}
    calls: list[Module] = []

    def watching(module: Module):
        forward = type(module).forward

        def wrapped(*args, **kwargs):
            row = rows.get(id(module))
            if row is None:  # the row is placed at the first call's start: a block before its layers
                own = sum(p.numel() for p in module.parameters(recurse=False))
                row = rows[id(module)] = LayerSummary(names[id(module)], type(module).__name__, None, own, 0)
                calls.append(module)
            out = forward(module, *args, **kwargs)
            if isinstance(out, Tensor):
                if row.output_shape is None:
                    row.output_shape = tuple(out.shape[1:])
                if args and isinstance(args[0], Tensor):
                    row.macs += layer_macs(module, args[0], out)
            return out

        return wrapped

    modules = [m for name, m in model.named_modules() if name]
    was_training = model.training
    try:
        for m in modules:
            object.__setattr__(m, "forward", watching(m))
        model.eval()
        with no_grad():
            out = model(Tensor(np.zeros((1, *shape), dtype=dtype)))
    finally:
        for m in modules:
            m.__dict__.pop("forward", None)
        model.train(was_training)
    layers = [rows[id(m)] for m in calls]
    params = list(model.parameters())
    return Summary(
        input_shape=shape,
        output_shape=tuple(out.shape[1:]) if isinstance(out, Tensor) else None,
        layers=layers,
        total_parameters=sum(p.numel() for p in params),
        trainable_parameters=sum(p.numel() for p in params if p.requires_grad),
        total_macs=sum(layer.macs for layer in layers),
    )
