"""VGGSmall: a small VGG-style network with BatchNorm, the Fashion-MNIST default."""

from __future__ import annotations

import numpy as np

from convprop import nn, random
from convprop.models._common import he_init


def _conv_bn_relu(cin: int, cout: int, g: np.random.Generator) -> list[nn.Module]:
    # No conv bias: the BatchNorm after it subtracts the mean, so a bias would be a wasted parameter.
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False, generator=g), nn.BatchNorm2d(cout), nn.ReLU()]


class VGGSmall(nn.Module):
    """Two VGG stages of two 3x3 conv-BN-ReLU layers each, then a small classifier.

    Layers (w = ``width``, 1x28x28 input)::

        features:   [Conv2d(C, w, 3, padding=1, bias=False) -> BatchNorm2d -> ReLU]     w x 28 x 28
                    [Conv2d(w, w, 3, padding=1, bias=False) -> BatchNorm2d -> ReLU]     w x 28 x 28
                    MaxPool2d(2)                                                        w x 14 x 14
                    [Conv2d(w, 2w, ...) -> BN -> ReLU], [Conv2d(2w, 2w, ...) -> BN -> ReLU]
                    MaxPool2d(2)                                                        2w x 7 x 7
        classifier: Flatten -> Linear(2w * 7 * 7, 128) -> ReLU -> Dropout(dropout) -> Linear(128, classes)

    Size (w = 32, 1x28x28 input, 10 classes): 468,010 parameters; 18.7 M multiply-accumulates
    per image forward (about 37 MFLOPs; about 3x that per training image). Sized so that a few
    epochs of Fashion-MNIST fit in minutes on a 2-core CPU; BatchNorm lets it train with a large
    learning rate. With 3x32x32 input: 591,466 parameters, 25.0 M MACs.

    Args:
        num_classes: outputs of the last layer. Default: 10.
        in_channels: image channels. Default: 1.
        input_size: image height = width (a multiple of 4 keeps every pixel). Default: 28.
        width: channels of the first stage (the second has twice as many). Default: 32.
        dropout: dropout probability before the last layer. Default: 0.25.
        generator: ``np.random.Generator`` for the initial weights and the dropout masks; default: the
            default generator (:func:`convprop.manual_seed`).
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        input_size: int = 28,
        width: int = 32,
        dropout: float = 0.25,
        generator: np.random.Generator | None = None,
    ):
        super().__init__()
        if input_size < 4:
            raise ValueError(f"vggsmall: input_size must be at least 4, got {input_size}")
        g = random.resolve(generator, "VGGSmall")
        w = width
        self.features = nn.Sequential(
            *_conv_bn_relu(in_channels, w, g),
            *_conv_bn_relu(w, w, g),
            nn.MaxPool2d(2),
            *_conv_bn_relu(w, 2 * w, g),
            *_conv_bn_relu(2 * w, 2 * w, g),
            nn.MaxPool2d(2),
        )
        size = input_size // 4
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(2 * w * size * size, 128, generator=g),
            nn.ReLU(),
            nn.Dropout(dropout, generator=g),
            nn.Linear(128, num_classes, generator=g),
        )
        he_init(self, g)

    def forward(self, x):
        return self.classifier(self.features(x))
