"""PyTorch's ``torch.nn.functional`` names, argument order, defaults and NCHW layout.

``import convprop.nn.functional as F``. Each function validates its arguments and
calls the differentiable operation in ``convprop.ops``.
"""

# isort: off
# ---- elementwise, activations, losses, shapes (convprop.ops.*) ----

# ---- convolution and im2col (convprop.ops.conv, convprop.ops.fold) ----

# ---- pooling (convprop.ops.pool) ----
