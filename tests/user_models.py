"""Models defined in a file, as a user would: loaded by `convprop summary/explain model tests/user_models.py:Class`."""

import numpy as np

from convprop import nn
from convprop.tensor import Function


class TinyNet(nn.Module):
    """A grouped strided conv, max pooling, a transposed conv, average pooling and a linear layer."""

    def __init__(self):
        super().__init__()
        g = np.random.default_rng(0)
        self.conv = nn.Conv2d(2, 4, 3, stride=2, padding=1, groups=2, generator=g)
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ConvTranspose2d(4, 3, 2, stride=2, generator=g)
        self.avg = nn.AvgPool2d(2)
        self.fc = nn.Linear(3 * 2 * 2, 5, generator=g)

    def forward(self, x):
        x = self.pool(self.conv(x).relu())
        x = self.avg(self.up(x).tanh())
        return self.fc(x.flatten(1))


class _WronglyScaled(Function):
    """y = w · x (w a scalar);  dL/dx = dL/dy · w,  dL/dw = Σ dL/dy · x; the second is deliberately doubled."""

    formula = "dL/dx = dL/dy · w; dL/dw = Σ dL/dy · x"

    def forward(self, x, w):
        self.x, self.w = x, w
        return x * w

    def backward(self, gy):
        return gy * self.w, 2 * (gy * self.x).sum().reshape(self.w.shape)  # the bug: 2 ×


class WrongBackward(nn.Module):
    """A conv followed by a learnt scale whose backward is wrong for the scale only."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, generator=np.random.default_rng(0))
        self.scale = nn.Parameter(np.array([1.5], dtype=np.float32))
        self.fc = nn.Linear(2 * 4 * 4, 3, generator=np.random.default_rng(1))

    def forward(self, x):
        return self.fc(_WronglyScaled.apply(self.conv(x), self.scale).flatten(1))


class NeedsArguments(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, 2)


class NotAModule:
    pass


class TooLargeToDraw(nn.Module):
    """A linear layer followed by 2,100 tanh operations: more nodes than draw_graph draws."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4, generator=np.random.default_rng(0))

    def forward(self, x):
        x = self.fc(x.flatten(1))
        for _ in range(2100):
            x = x.tanh()
        return x
