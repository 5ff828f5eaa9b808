"""PyTorch's ``torch.nn.functional`` names, argument order, defaults and NCHW layout.

``import convprop.nn.functional as F``. Each function validates its arguments and
calls the differentiable operation in ``convprop.ops``.
"""

# isort: off
# ---- elementwise, activations, losses, shapes (convprop.ops.*) ----
from convprop.ops.activation import (  # noqa: F401
    dropout,
    dropout2d,
    elu,
    gelu,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    log_softmax,
    prelu,
    relu,
    relu6,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from convprop.ops.creation import one_hot  # noqa: F401
from convprop.ops.linalg import cosine_similarity, linear, normalize  # noqa: F401
from convprop.ops.loss import (  # noqa: F401
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from convprop.ops.normalization import batch_norm, group_norm, instance_norm, layer_norm  # noqa: F401
from convprop.ops.resample import interpolate, pixel_shuffle, pixel_unshuffle  # noqa: F401
from convprop.ops.shape import flatten, pad  # noqa: F401

# ---- convolution and im2col (convprop.ops.conv, convprop.ops.fold) ----
from convprop.ops.conv import conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d  # noqa: F401
from convprop.ops.fold import fold, unfold  # noqa: F401

# ---- pooling (convprop.ops.pool) ----
from convprop.ops.pool import (  # noqa: F401
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    adaptive_max_pool3d,
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    max_pool1d,
    max_pool2d,
    max_pool3d,
)


def upsample(input, size=None, scale_factor=None, mode: str = "nearest", align_corners=None):
    """The old name of :func:`interpolate`."""
    return interpolate(input, size, scale_factor, mode, align_corners)
