"""convprop: backpropagation in convolutional networks, transparent and fast."""

__version__ = "0.1.0"

from convprop.tensor import Function, Tensor, enable_grad, is_grad_enabled, no_grad, tensor  # noqa: E402
from convprop.gradcheck import GradcheckError, gradcheck  # noqa: E402
from convprop import ops  # noqa: E402  (also gives Tensor its operators and methods)
from convprop.ops import cat, stack, where  # noqa: E402

__all__ = [
    "Function",
    "GradcheckError",
    "Tensor",
    "cat",
    "enable_grad",
    "gradcheck",
    "is_grad_enabled",
    "no_grad",
    "ops",
    "stack",
    "tensor",
    "where",
]
