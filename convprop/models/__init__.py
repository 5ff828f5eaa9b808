"""The model zoo: ``get_model(name, ...)`` builds a network by name; ``list_models()`` names them.

==========  ==========================================  ==========  ===============
name        what                                        parameters  MACs / image
==========  ==========================================  ==========  ===============
lenet5      LeNet-5, ReLU + max pool (1x28x28)          61,706      0.42 M
vggsmall    2x(conv-BN-ReLU)x2 + pools + MLP (1x28x28)  468,010     18.7 M
resnet8     CIFAR ResNet, n = 1 (3x32x32)               78,042      12.5 M
resnet20    CIFAR ResNet, n = 3 (3x32x32)               272,474     40.8 M
==========  ==========================================  ==========  ===============

Every model takes ``generator=`` (an ``np.random.Generator``), so
``get_model("vggsmall", generator=np.random.default_rng(0))`` is reproducible; without one
the weights come from the default generator, so ``convprop.manual_seed(0)`` first does the same.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from convprop import nn
from convprop.models._common import count_macs, count_parameters
from convprop.models.lenet import LeNet5
from convprop.models.resnet import BasicBlock, ResNetCIFAR
from convprop.models.vgg import VGGSmall


def _resnet(depth: int) -> Callable[..., nn.Module]:
    def build(num_classes: int = 10, in_channels: int = 3, **kwargs) -> nn.Module:
        kwargs.pop("input_size", None)  # global average pooling accepts any size
        return ResNetCIFAR(depth, num_classes, in_channels, **kwargs)

    return build


_REGISTRY: dict[str, Callable[..., nn.Module]] = {
    "lenet5": LeNet5,
    "vggsmall": VGGSmall,
    "resnet8": _resnet(8),
    "resnet20": _resnet(20),
}


def list_models() -> list[str]:
    """The names :func:`get_model` accepts."""
    return sorted(_REGISTRY)


def get_model(
    name: str,
    num_classes: int = 10,
    in_channels: int = 1,
    generator: np.random.Generator | None = None,
    **kwargs,
) -> nn.Module:
    """Build the model called ``name`` (see :func:`list_models`).

    Args:
        name: e.g. ``"vggsmall"`` (the Fashion-MNIST default) or ``"resnet20"``.
        num_classes: number of outputs. Default: 10.
        in_channels: image channels (1 for (Fashion-)MNIST, 3 for CIFAR-10). Default: 1.
        generator: ``np.random.Generator`` for the initial weights (and Dropout masks). Default: the
            default generator, which :func:`convprop.manual_seed` seeds.
        **kwargs: model options, e.g. ``input_size=32`` (lenet5, vggsmall) or ``width=`` (vggsmall, resnets).

    Raises:
        ValueError: for an unknown name or a bad option.
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(list_models())}")
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(f"get_model: generator must be a numpy.random.Generator, got {type(generator).__name__}")
    try:
        return _REGISTRY[name](num_classes=num_classes, in_channels=in_channels, generator=generator, **kwargs)
    except TypeError as exc:
        raise ValueError(f"get_model({name!r}): {exc}") from exc


__all__ = [
    "BasicBlock",
    "LeNet5",
    "ResNetCIFAR",
    "VGGSmall",
    "count_macs",
    "count_parameters",
    "get_model",
    "list_models",
]
