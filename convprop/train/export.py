"""Exporting a trained model: ONNX (for any ONNX runtime) and safetensors (the weights, for any framework).

**ONNX** (opset :data:`OPSET`, float32, a dynamic batch dimension): the model is traced by running it once
in eval mode on a batch of zeros and recording each layer it calls, and each ``+`` between their outputs
(a residual connection). Supported layers: ``Conv1d/2d/3d`` (zero padding, groups, dilation),
``MaxPool*``, ``AvgPool*``, ``AdaptiveAvgPool*``/``AdaptiveMaxPool*`` to size 1 (or an exact divisor of the
input), ``BatchNorm1d/2d`` (with running statistics), ``ReLU``, ``LeakyReLU``, ``Sigmoid``, ``Tanh``,
``Softmax``, ``LogSoftmax``, ``Linear``, ``Flatten`` (from dim 1), ``Dropout`` and ``Identity`` (no-ops in
eval mode). A forward that computes with anything else (``F.relu`` on a tensor, ``x.view(...)``) is
refused with the layer whose input could not be traced. Needs the ``onnx`` package (``convprop[onnx]``).

**safetensors**: every entry of the model's ``state_dict()`` under its PyTorch key, plus string metadata
(model name and arguments, class names, input shape, normalisation). Needs ``safetensors``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

import convprop
from convprop import nn
from convprop.train.checkpoint import Checkpoint

OPSET = 17
FORMATS = ("onnx", "safetensors")


class ExportError(ValueError):
    """The model holds a layer or an operation the chosen format cannot express."""


def _tuple(value, n: int) -> list[int]:
    return [int(v) for v in value] if isinstance(value, tuple | list) else [int(value)] * n


class _Tracer:
    """Records the supported layers a forward pass calls, and the ``+`` between their outputs."""

    LEAVES = (
        nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d,
        nn.AvgPool3d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d, nn.AdaptiveMaxPool1d,
        nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d, nn.BatchNorm1d, nn.BatchNorm2d, nn.ReLU, nn.LeakyReLU,
        nn.Sigmoid, nn.Tanh, nn.Softmax, nn.LogSoftmax, nn.Linear, nn.Flatten, nn.Dropout, nn.Identity,
    )  # fmt: skip

    def __init__(self, model):
        self.names = {id(p): name for name, p in model.named_modules()}
        self.values: dict[int, str] = {}  # id(tensor) -> ONNX value name
        self.keep: list = []  # the traced tensors, alive so that their ids stay unique
        self.steps: list[tuple] = []  # (module or "Add", input names, output name, input shape, output shape)
        self.depth = 0

    def name_of(self, tensor, user: str) -> str:
        if id(tensor) not in self.values:
            raise ExportError(
                f"cannot export: the input of {user} comes from an operation outside the supported layers "
                "(use modules such as nn.ReLU and nn.Flatten in forward, not functions or tensor methods)"
            )
        return self.values[id(tensor)]

    def output(self, tensor) -> str:
        name = f"t{len(self.keep)}"
        self.keep.append(tensor)
        self.values[id(tensor)] = name
        return name

    def call(self, original, module, args, kwargs):
        if self.depth or not isinstance(module, self.LEAVES):
            return original(module, *args, **kwargs)
        label = self.names.get(id(module), type(module).__name__) or "the model"
        if len(args) != 1 or kwargs:
            raise ExportError(f"cannot export: {label} is called with {len(args)} inputs")
        source = self.name_of(args[0], f"{label} ({type(module).__name__})")
        self.depth += 1
        try:
            out = original(module, *args, **kwargs)
        finally:
            self.depth -= 1
        if isinstance(module, nn.Dropout | nn.Identity):  # no-ops in eval mode
            self.keep.append(out)
            self.values[id(out)] = source
        else:
            self.steps.append((module, label, [source], self.output(out), args[0].shape, out.shape))
        return out

    def add(self, original, a, b):
        out = original(a, b)
        if self.depth == 0 and isinstance(a, convprop.Tensor) and isinstance(b, convprop.Tensor):
            inputs = [self.name_of(a, "an addition"), self.name_of(b, "an addition")]
            self.steps.append(("Add", "+", inputs, self.output(out), a.shape, out.shape))
        return out


def trace(model, input_shape) -> tuple[_Tracer, np.ndarray]:
    """Run ``model`` (eval mode) on zeros of ``(1, *input_shape)`` and record its layers; returns the trace and
    the output."""
    tracer = _Tracer(model)
    call, add = nn.Module.__call__, convprop.Tensor.__add__
    x = convprop.Tensor(np.zeros((1, *input_shape), np.float32))
    tracer.keep.append(x)
    tracer.values[id(x)] = "input"
    nn.Module.__call__ = lambda module, *a, **k: tracer.call(call, module, a, k)
    convprop.Tensor.__add__ = lambda a, b: tracer.add(add, a, b)
    try:
        with convprop.no_grad():
            out = model.eval()(x)
    finally:
        nn.Module.__call__, convprop.Tensor.__add__ = call, add
    if id(out) not in tracer.values:
        raise ExportError("cannot export: the model's output comes from an operation outside the supported layers")
    return tracer, out


def _node(module, label: str, inputs: list[str], output: str, in_shape, out_shape, weights: dict):
    """The ONNX node for one traced layer; its parameters go into ``weights`` (name -> float32 array)."""
    from onnx import helper

    def param(suffix: str, value) -> str:
        name = f"{label}.{suffix}"
        weights[name] = np.asarray(value, dtype=np.float32)
        return name

    def node(op: str, extra_inputs=(), **attrs):
        # A module called twice (one ReLU used after several layers) makes two nodes: the output names them apart.
        return helper.make_node(op, [*inputs, *extra_inputs], [output], name=f"{label}->{output}", **attrs)

    n = len(in_shape) - 2
    if isinstance(module, nn.Conv1d | nn.Conv2d | nn.Conv3d):
        if module.padding_mode != "zeros":  # ONNX's Conv pads with zeros only
            raise ExportError(f"cannot export {label}: padding_mode={module.padding_mode!r} (only 'zeros')")
        k, d = list(module.kernel_size), list(module.dilation)
        if isinstance(module.padding, str):  # 'same' (stride 1) pads d*(k-1) in all, the odd one on the right
            totals = [0 if module.padding == "valid" else di * (ki - 1) for di, ki in zip(d, k, strict=True)]
            pads = [t // 2 for t in totals] + [t - t // 2 for t in totals]
        else:
            pads = list(module.padding) * 2
        extra = [param("weight", module.weight.data)]
        if module.bias is not None:
            extra.append(param("bias", module.bias.data))
        return node(
            "Conv", extra, kernel_shape=k, strides=list(module.stride), dilations=d, pads=pads, group=module.groups
        )
    if isinstance(module, nn.MaxPool1d | nn.MaxPool2d | nn.MaxPool3d):
        if module.return_indices:
            raise ExportError(f"cannot export {label}: return_indices=True")
        return node(
            "MaxPool",
            kernel_shape=_tuple(module.kernel_size, n),
            strides=_tuple(module.stride, n),
            pads=_tuple(module.padding, n) * 2,
            dilations=_tuple(module.dilation, n),
            ceil_mode=int(module.ceil_mode),
        )
    if isinstance(module, nn.AvgPool1d | nn.AvgPool2d | nn.AvgPool3d):
        if module.divisor_override is not None:
            raise ExportError(f"cannot export {label}: divisor_override")
        return node(
            "AveragePool",
            kernel_shape=_tuple(module.kernel_size, n),
            strides=_tuple(module.stride, n),
            pads=_tuple(module.padding, n) * 2,
            ceil_mode=int(module.ceil_mode),
            count_include_pad=int(module.count_include_pad),
        )
    if isinstance(module, nn.modules.pooling._AdaptivePoolNd):
        is_max = isinstance(module, nn.modules.pooling._AdaptiveMaxPoolNd)
        if all(s == 1 for s in out_shape[2:]):
            return node("GlobalMaxPool" if is_max else "GlobalAveragePool")
        if any(i % o for i, o in zip(in_shape[2:], out_shape[2:], strict=True)):
            raise ExportError(f"cannot export {label}: adaptive pooling from {in_shape[2:]} to {out_shape[2:]}")
        kernel = [i // o for i, o in zip(in_shape[2:], out_shape[2:], strict=True)]
        return node("MaxPool" if is_max else "AveragePool", kernel_shape=kernel, strides=kernel)
    if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
        if module.running_mean is None:
            raise ExportError(f"cannot export {label}: BatchNorm without running statistics")
        c = module.num_features
        scale = module.weight.data if module.affine else np.ones(c)
        bias = module.bias.data if module.affine else np.zeros(c)
        extra = [param("weight", scale), param("bias", bias)]
        extra += [param("running_mean", module.running_mean.data), param("running_var", module.running_var.data)]
        return node("BatchNormalization", extra, epsilon=float(module.eps))
    if isinstance(module, nn.Linear):
        extra = [param("weight", module.weight.data)]
        if module.bias is not None:
            extra.append(param("bias", module.bias.data))
        return node("Gemm", extra, transB=1)
    if isinstance(module, nn.Flatten):
        if module.start_dim != 1 or module.end_dim not in (-1, len(in_shape) - 1):
            raise ExportError(f"cannot export {label}: Flatten({module.start_dim}, {module.end_dim}), only from dim 1")
        return node("Flatten", axis=1)
    if isinstance(module, nn.LeakyReLU):
        return node("LeakyRelu", alpha=float(module.negative_slope))
    if isinstance(module, nn.Softmax | nn.LogSoftmax):
        if module.dim is None:
            raise ExportError(f"cannot export {label}: {type(module).__name__} without dim")
        return node(type(module).__name__, axis=int(module.dim))
    return node({nn.ReLU: "Relu", nn.Sigmoid: "Sigmoid", nn.Tanh: "Tanh"}[type(module)])


def to_onnx(model, input_shape, path: str | os.PathLike, doc: str = "") -> Path:
    """Write ``model`` as an ONNX file (opset :data:`OPSET`): input ``input`` of shape ``(batch, *input_shape)``,
    output ``logits``. Raises :class:`ExportError` for a layer or operation ONNX export does not support."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError as exc:
        raise RuntimeError("ONNX export needs the onnx package: pip install 'convprop[onnx]'") from exc
    tracer, out = trace(model, input_shape)
    weights: dict[str, np.ndarray] = {}
    nodes = []
    for module, label, inputs, output, in_shape, out_shape in tracer.steps:
        if module == "Add":
            nodes.append(helper.make_node("Add", inputs, [output], name=f"add{len(nodes)}"))
        else:
            nodes.append(_node(module, label, inputs, output, in_shape, out_shape, weights))
    last = tracer.values[id(out)]
    nodes.append(helper.make_node("Identity", [last], ["logits"], name="output"))
    graph = helper.make_graph(
        nodes,
        "convprop",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", *input_shape])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", *out.shape[1:]])],
        initializer=[numpy_helper.from_array(v, name) for name, v in weights.items()],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="convprop")
    proto.producer_version = convprop.__version__
    proto.doc_string = doc
    onnx.checker.check_model(proto)
    path = Path(path)
    onnx.save(proto, path)
    return path


def to_safetensors(model, path: str | os.PathLike, metadata: dict[str, str]) -> Path:
    """Write ``model.state_dict()`` (PyTorch's keys, float32 as trained, int64 counters) with string ``metadata``."""
    try:
        from safetensors.numpy import save_file
    except ImportError as exc:
        raise RuntimeError(
            "safetensors export needs the safetensors package: pip install 'convprop[safetensors]'"
        ) from exc
    state = {k: np.array(v, order="C") for k, v in model.state_dict().items()}  # ascontiguousarray makes 0-d 1-d
    path = Path(path)
    save_file(state, str(path), metadata=metadata)
    return path


def export_checkpoint(ck: Checkpoint, fmt: str, path: str | os.PathLike) -> Path:
    """Export the checkpoint's model as ``fmt`` (``"onnx"`` or ``"safetensors"``) to ``path``."""
    from convprop.train.models import load_model
    from convprop.train.state import dataset_facts

    if fmt not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    facts = dataset_facts(ck.header, ck.path)
    model = load_model(ck)
    info = {
        "model": ck.model_name,
        "model_kwargs": ck.header["model"]["kwargs"],
        "classes": facts.classes,
        "input_shape": facts.input_shape,
        "mean": facts.mean,
        "std": facts.std,
        "convprop_version": convprop.__version__,
    }
    if fmt == "safetensors":
        return to_safetensors(model, path, {k: json.dumps(v) for k, v in info.items()})
    doc = (
        f"convprop {ck.model_name}; input: images (batch, {', '.join(map(str, facts.input_shape))}) as pixel/255, "
        f"normalised (x - mean) / std per channel; {json.dumps(info)}"
    )
    return to_onnx(model, facts.input_shape, path, doc=doc)
