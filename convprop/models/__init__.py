"""The model zoo: ``get_model(name, ...)`` builds a network by name; ``list_models()`` names them.

============  ==========================================  ===========  ============
name          what                                        parameters   MACs / image
============  ==========================================  ===========  ============
lenet5        LeNet-5, ReLU + max pool (1x28x28)          61,706       0.42 M
vggsmall      2x(conv-BN-ReLU)x2 + pools + MLP (1x28x28)  468,010      18.7 M
resnet8       CIFAR ResNet, n = 1 (3x32x32)               78,042       12.5 M
resnet20      CIFAR ResNet, n = 3 (3x32x32)               272,474      40.8 M
resnet18      torchvision's ResNet-18 (3x224x224)         11,689,512   1.81 G
resnet34      torchvision's ResNet-34 (3x224x224)         21,797,672   3.66 G
resnet50      torchvision's ResNet-50 (3x224x224)         25,557,032   4.09 G
vgg11_bn      torchvision's VGG-11 + BN (3x224x224)       132,868,840  7.61 G
mobilenet_v2  torchvision's MobileNetV2 (3x224x224)       3,504,872    0.30 G
============  ==========================================  ===========  ============

(Counts for 10 classes, but the last five for 1000, torchvision's default.) The last five
are also functions with torchvision's signatures, ``convprop.models.resnet18(num_classes=1000)``,
whose state_dict keys are torchvision's (:mod:`convprop.models.torchvision`); ``BasicBlock``
here is the CIFAR ResNet's, torchvision's is ``convprop.models.torchvision.BasicBlock``.

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
from convprop.models.torchvision import (
    VGG,
    MobileNetV2,
    ResNet,
    mobilenet_v2,
    resnet18,
    resnet34,
    resnet50,
    vgg11_bn,
)
from convprop.models.vgg import VGGSmall


def _resnet(depth: int) -> Callable[..., nn.Module]:
    def build(num_classes: int = 10, in_channels: int = 3, **kwargs) -> nn.Module:
        kwargs.pop("input_size", None)  # global average pooling accepts any size
        return ResNetCIFAR(depth, num_classes, in_channels, **kwargs)

    return build


def _torchvision(constructor: Callable[..., nn.Module], min_input_size: int = 1) -> Callable[..., nn.Module]:
    def build(num_classes: int = 10, in_channels: int = 3, input_size: int | None = None, **kwargs) -> nn.Module:
        if input_size is not None and input_size < min_input_size:
            raise ValueError(f"{constructor.__name__}: input_size must be at least {min_input_size}, got {input_size}")
        return constructor(num_classes=num_classes, in_channels=in_channels, **kwargs)

    return build


_REGISTRY: dict[str, Callable[..., nn.Module]] = {
    "lenet5": LeNet5,
    "vggsmall": VGGSmall,
    "resnet8": _resnet(8),
    "resnet20": _resnet(20),
    "resnet18": _torchvision(resnet18),
    "resnet34": _torchvision(resnet34),
    "resnet50": _torchvision(resnet50),
    "vgg11_bn": _torchvision(vgg11_bn, min_input_size=32),  # five 2x2 max pools
    "mobilenet_v2": _torchvision(mobilenet_v2),
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
    "VGG",
    "BasicBlock",
    "LeNet5",
    "MobileNetV2",
    "ResNet",
    "ResNetCIFAR",
    "VGGSmall",
    "count_macs",
    "count_parameters",
    "get_model",
    "list_models",
    "mobilenet_v2",
    "resnet18",
    "resnet34",
    "resnet50",
    "vgg11_bn",
]
