"""The PyTorch twin of a convprop module tree: ``to_torch(module)`` builds it with the same weights.

Every convprop layer maps to the ``torch.nn`` layer with the same constructor arguments; child
names are kept (so the state_dict keys are the same); parameters and buffers are copied through
``load_state_dict``, and the train/eval flags too. A custom module (a model, a residual block)
becomes a ``torch.nn.Module`` whose ``forward`` is the convprop class's own ``forward``: it only
calls child modules and tensor operators that both libraries share.

Used by the module, model and parity tests (``tests/torch_mirror.py``) and by
``benchmarks/bench_train.py``.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict

import numpy as np

from convprop import nn

try:
    import torch
except ImportError:
    raise ImportError("convprop.testing.torch_twin builds PyTorch modules: pip install torch==2.13.0") from None

tnn = torch.nn
_CONV_TRANSPOSE = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


@contextlib.contextmanager
def one_torch_thread():
    """Run PyTorch single-threaded: on a loaded 2-core machine its thread pool makes tiny ops ~50x slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _conv(m):
    """Conv and ConvTranspose alike; every argument by keyword, as the two constructors order them differently."""
    cls = getattr(tnn, type(m).__name__)
    transposed = {"output_padding": m.output_padding} if isinstance(m, _CONV_TRANSPOSE) else {}
    return cls(
        m.in_channels,
        m.out_channels,
        m.kernel_size,
        stride=m.stride,
        padding=m.padding,
        dilation=m.dilation,
        groups=m.groups,
        bias=m.bias is not None,
        padding_mode=m.padding_mode,
        **transposed,
    )


def _avg_pool(m):
    cls = getattr(tnn, type(m).__name__)
    extra = {} if isinstance(m, nn.AvgPool1d) else {"divisor_override": m.divisor_override}
    return cls(m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad, **extra)


def _batch_norm(m):
    cls = getattr(tnn, type(m).__name__)
    return cls(m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats, bias=m.bias is not None)


def _weight(m):
    return None if m.weight is None else torch.from_numpy(m.weight.data.copy())


_LEAVES = {
    **dict.fromkeys(("Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"), _conv),
    **dict.fromkeys(
        ("MaxPool1d", "MaxPool2d", "MaxPool3d"),
        lambda m: getattr(tnn, type(m).__name__)(
            m.kernel_size, m.stride, m.padding, m.dilation, m.return_indices, m.ceil_mode
        ),
    ),
    **dict.fromkeys(("AvgPool1d", "AvgPool2d", "AvgPool3d"), _avg_pool),
    **dict.fromkeys(
        ("AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d"),
        lambda m: getattr(tnn, type(m).__name__)(m.output_size),
    ),
    **dict.fromkeys(
        ("AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d"),
        lambda m: getattr(tnn, type(m).__name__)(m.output_size, m.return_indices),
    ),
    **dict.fromkeys(("BatchNorm1d", "BatchNorm2d"), _batch_norm),
    "Linear": lambda m: tnn.Linear(m.in_features, m.out_features, bias=m.bias is not None),
    "Identity": lambda m: tnn.Identity(),
    "ReLU": lambda m: tnn.ReLU(),
    "LeakyReLU": lambda m: tnn.LeakyReLU(m.negative_slope),
    "Sigmoid": lambda m: tnn.Sigmoid(),
    "Tanh": lambda m: tnn.Tanh(),
    "Softmax": lambda m: tnn.Softmax(m.dim),
    "LogSoftmax": lambda m: tnn.LogSoftmax(m.dim),
    "Flatten": lambda m: tnn.Flatten(m.start_dim, m.end_dim),
    "Dropout": lambda m: tnn.Dropout(m.p),
    "CrossEntropyLoss": lambda m: tnn.CrossEntropyLoss(
        _weight(m), ignore_index=m.ignore_index, reduction=m.reduction, label_smoothing=m.label_smoothing
    ),
    "NLLLoss": lambda m: tnn.NLLLoss(_weight(m), ignore_index=m.ignore_index, reduction=m.reduction),
    "MSELoss": lambda m: tnn.MSELoss(reduction=m.reduction),
}


def _build(m: nn.Module) -> tnn.Module:
    name = type(m).__name__
    if name in _LEAVES and type(m).__module__.startswith("convprop.nn"):
        return _LEAVES[name](m)
    children = OrderedDict((k, _build(c)) for k, c in m._modules.items())
    if isinstance(m, nn.Sequential):
        return tnn.Sequential(children)
    if isinstance(m, nn.ModuleList):
        return tnn.ModuleList(children.values())
    # A custom module: same children and plain attributes, the convprop forward.
    twin_cls = type(f"Torch{name}", (tnn.Module,), {"forward": type(m).forward})
    twin = twin_cls()
    for key, value in vars(m).items():
        if not key.startswith("_") and key != "training" and isinstance(value, int | float | str | tuple | bool):
            setattr(twin, key, value)
    for key, child in children.items():
        twin.add_module(key, child)
    for key, param in m._parameters.items():
        twin.register_parameter(key, None if param is None else tnn.Parameter(torch.from_numpy(param.data.copy())))
    for key, buf in m._buffers.items():
        twin.register_buffer(key, None if buf is None else torch.from_numpy(buf.data.copy()))
    return twin


_TORCH_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def to_torch(module: nn.Module) -> tnn.Module:
    """The ``torch.nn`` equivalent of ``module``: same structure, keys, weights, dtype and train/eval flags."""
    twin = _build(module)
    floating = [t for t in (*module.parameters(), *module.buffers()) if np.issubdtype(t.dtype, np.floating)]
    if floating:
        twin.to(_TORCH_DTYPES[floating[0].dtype])
    state = {k: torch.from_numpy(np.array(v)) for k, v in module.state_dict().items()}
    twin.load_state_dict(state, strict=True)
    for (cp_name, cp_mod), (th_name, th_mod) in zip(module.named_modules(), twin.named_modules(), strict=True):
        assert cp_name == th_name, (cp_name, th_name)
        th_mod.training = cp_mod.training
    return twin
