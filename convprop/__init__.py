"""convprop: backpropagation in convolutional networks, transparent and fast."""

__version__ = "0.1.0"

from convprop import models, nn, ops, optim
from convprop.gradcheck import GradcheckError, gradcheck
from convprop.nn.summary import summary
from convprop.ops import cat, stack, where
from convprop.tensor import Function, Tensor, enable_grad, is_grad_enabled, no_grad, tensor
from convprop.viz import draw_graph

__all__ = [
    "Function",
    "GradcheckError",
    "Tensor",
    "cat",
    "draw_graph",
    "enable_grad",
    "gradcheck",
    "is_grad_enabled",
    "models",
    "nn",
    "no_grad",
    "ops",
    "optim",
    "stack",
    "summary",
    "tensor",
    "where",
]
