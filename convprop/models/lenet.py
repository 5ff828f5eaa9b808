"""LeNet-5 (LeCun et al. 1998) with ReLU and max pooling, for 28x28 or 32x32 images."""

from __future__ import annotations

import numpy as np

from convprop import nn, random
from convprop.models._common import conv_output_size


class LeNet5(nn.Module):
    """LeNet-5: two 5x5 conv + pool stages, then three fully connected layers.

    Layers (28x28 input; from ``input_size=32`` on the first conv is unpadded, so a 32x32
    image gives the same sizes after it)::

        features:   Conv2d(C, 6, 5, padding=2) -> ReLU -> MaxPool2d(2)     6x28x28 -> 6x14x14
                    Conv2d(6, 16, 5) -> ReLU -> MaxPool2d(2)               16x10x10 -> 16x5x5
        classifier: Flatten -> Linear(400, 120) -> ReLU -> Linear(120, 84) -> ReLU -> Linear(84, classes)

    The original used tanh-like squashing and trainable average pooling; ReLU and max
    pooling (the modern reading) train faster and better.

    Size (1x28x28 input, 10 classes): 61,706 parameters; 0.42 M multiply-accumulates per
    image forward (about 0.85 MFLOPs). With 3x32x32 input: 62,006 parameters, 0.65 M MACs.

    Args:
        num_classes: outputs of the last layer. Default: 10.
        in_channels: image channels. Default: 1.
        input_size: image height = width (at least 12). Default: 28.
        generator: ``np.random.Generator`` for the initial weights (PyTorch's default layer init).
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        input_size: int = 28,
        generator: np.random.Generator | None = None,
    ):
        super().__init__()
        g = random.resolve(generator, "LeNet5")
        # LeNet was designed for 32x32 inputs; smaller images (MNIST's 28x28) get padded by 2 on each side.
        padding = 2 if input_size < 32 else 0
        size = conv_output_size(input_size, 5, padding=padding) // 2
        size = conv_output_size(size, 5) // 2
        if size < 1:
            raise ValueError(f"lenet5: input_size must be at least 12, got {input_size}")
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=padding, generator=g),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5, generator=g),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * size * size, 120, generator=g),
            nn.ReLU(),
            nn.Linear(120, 84, generator=g),
            nn.ReLU(),
            nn.Linear(84, num_classes, generator=g),
        )

    def forward(self, x):
        return self.classifier(self.features(x))
