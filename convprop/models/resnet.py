"""CIFAR-style residual networks (He et al. 2016, section 4.2): resnet8, resnet20."""

from __future__ import annotations

import numpy as np

from convprop import nn, random
from convprop.models._common import he_init


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with a skip connection: ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``.

    The shortcut is the identity, or a strided 1x1 conv + BatchNorm when the block changes
    the resolution or the number of channels (the paper's option B). The gradient reaches x
    along both paths and adds up: that sum is what lets deep stacks train.

    Args:
        in_planes: input channels.
        planes: output channels.
        stride: stride of the first conv (2 halves the resolution). Default: 1.
        generator: ``np.random.Generator`` for the initial weights; default: the
            default generator (:func:`convprop.manual_seed`).
    """

    def __init__(self, in_planes: int, planes: int, stride: int = 1, generator: np.random.Generator | None = None):
        super().__init__()
        g = random.resolve(generator, "BasicBlock")
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False, generator=g)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False, generator=g)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False, generator=g), nn.BatchNorm2d(planes)
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNetCIFAR(nn.Module):
    """ResNet for 32x32 images: a 3x3 stem, three stages of n BasicBlocks (depth = 6n + 2), global pooling, fc.

    Layers (w = ``width``)::

        conv1: Conv2d(C, w, 3, padding=1, bias=False) -> bn1 -> ReLU      w x 32 x 32
        layer1: n blocks, w channels                                       w x 32 x 32
        layer2: n blocks, 2w channels, the first with stride 2             2w x 16 x 16
        layer3: n blocks, 4w channels, the first with stride 2             4w x 8 x 8
        avgpool: AdaptiveAvgPool2d(1) -> Flatten -> fc: Linear(4w, classes)

    Sizes (w = 16, 3x32x32 input, 10 classes): resnet8 (n = 1): 78,042 parameters,
    12.5 M multiply-accumulates per image forward; resnet20 (n = 3): 272,474 parameters,
    40.8 M multiply-accumulates (about twice that in FLOPs, three times per training image).

    Args:
        depth: 6n + 2 (8, 14, 20, 32, ...).
        num_classes: outputs of the last layer. Default: 10.
        in_channels: image channels. Default: 3.
        width: channels of the first stage. Default: 16.
        generator: ``np.random.Generator`` for the initial weights; default: the
            default generator (:func:`convprop.manual_seed`).
    """

    def __init__(
        self,
        depth: int,
        num_classes: int = 10,
        in_channels: int = 3,
        width: int = 16,
        generator: np.random.Generator | None = None,
    ):
        super().__init__()
        if depth < 8 or (depth - 2) % 6 != 0:
            raise ValueError(f"ResNetCIFAR: depth must be 6n + 2 with n >= 1 (8, 14, 20, ...), got {depth}")
        g = random.resolve(generator, "ResNetCIFAR")
        n = (depth - 2) // 6
        self.depth, self.width = depth, width
        self.conv1 = nn.Conv2d(in_channels, width, 3, padding=1, bias=False, generator=g)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        planes = width
        for i, channels in enumerate((width, 2 * width, 4 * width)):
            blocks = []
            for j in range(n):
                stride = 2 if i > 0 and j == 0 else 1
                blocks.append(BasicBlock(planes, channels, stride, generator=g))
                planes = channels
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(4 * width, num_classes, generator=g)
        he_init(self, g)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.flatten(self.avgpool(x)))
