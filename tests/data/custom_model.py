"""A model file for the tests of ``convprop train --model tests/data/custom_model.py:TinyNet``."""

from convprop import nn


class TinyNet(nn.Module):
    """conv 3x3 -> BatchNorm -> ReLU -> global average pool -> linear; any image size."""

    def __init__(self, num_classes=10, in_channels=1, hidden=8, generator=None):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 3, padding=1, generator=generator),
            nn.BatchNorm2d(hidden),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.classifier = nn.Linear(hidden, num_classes, generator=generator)

    def forward(self, x):
        return self.classifier(self.features(x))


class NotAModule:
    pass


class FunctionalNet(TinyNet):
    """TinyNet with a functional ReLU in forward: a graph the ONNX export cannot trace."""

    def forward(self, x):
        from convprop.nn import functional as F

        return self.classifier(F.relu(self.features(x)))
