"""Shared pieces of the model zoo: He initialisation and a parameter / multiply-accumulate counter."""

from __future__ import annotations

import math

import numpy as np

from convprop import nn
from convprop.nn.summary import summary


def he_init(model: nn.Module, generator: np.random.Generator) -> None:
    """Conv weights ~ kaiming_normal_(mode='fan_out', nonlinearity='relu'); BatchNorm γ = 1, β = 0.

    The usual initialisation of VGG and ResNet (He et al. 2015): it keeps the variance
    of the activations stable through ReLU layers. Linear layers keep PyTorch's default.
    """
    for m in model.modules():
        if isinstance(m, nn.Conv1d | nn.Conv2d | nn.Conv3d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu", generator=generator)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def count_parameters(model: nn.Module) -> int:
    """The number of learnable scalars."""
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one forward pass of a single sample of shape ``input_shape`` (C, H, W).

    Counts convolutions, transposed convolutions and linear layers (the other layers are
    a few percent at most); a FLOP count is about twice this. Runs one forward pass: the
    total of :func:`convprop.nn.summary.summary`, where the convention is stated.
    """
    return summary(model, input_shape).total_macs


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """``floor((size + 2 padding - kernel) / stride) + 1``: one axis of a conv or pool output."""
    return math.floor((size + 2 * padding - kernel) / stride) + 1
