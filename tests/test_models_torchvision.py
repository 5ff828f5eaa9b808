"""torchvision's models in convprop: torchvision's state_dicts load (strict) and give torchvision's logits.

The oracle is torchvision itself, which does not import beside the suite's pinned torch 2.13.0
('operator torchvision::nms does not exist'), so it runs in a second venv (torch 2.14.1,
torchvision 0.29.1, safetensors) whose Python $CONVPROP_TORCHVISION_PYTHON names; .ci/run builds
it. tests/torchvision_reference.py writes seeded, randomly initialised torchvision models there
(BatchNorm statistics calibrated on one batch, then BatchNorm weights and all biases perturbed),
with their outputs; here they are loaded with convprop.load + load_state_dict(strict=True).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

import convprop
from convprop import models, nn

ENV = "CONVPROP_TORCHVISION_PYTHON"
SCRIPT = Path(__file__).with_name("torchvision_reference.py")
# label: (model, its arguments, input side, compare a float64 training step too). 64x64 leaves resnet18's layer4
# 2x2, so its training-mode BatchNorm sees 8 values per channel; VGG needs 32x32 and is large enough without a
# training step. The ResNeXt-style case covers ResNet's groups, width_per_group and replace_stride_with_dilation.
CASES = {
    "resnet18": ("resnet18", {}, 64, True),
    "resnet34": ("resnet34", {}, 64, False),
    "resnet50": ("resnet50", {}, 64, False),
    "resnext_dilated": (
        "resnet50",
        {"groups": 4, "width_per_group": 16, "replace_stride_with_dilation": [False, True, True]},
        32,
        False,
    ),
    "vgg11_bn": ("vgg11_bn", {}, 32, False),
    "mobilenet_v2": ("mobilenet_v2", {}, 64, True),
}
# Eval in float32, as a user runs converted weights: tens of layers of float32 rounding, so the bound is
# 1e-4 of each logit plus 2e-5 of the largest. Measured on 2026-11-30, max |difference| / max |logit|:
# 4.2e-6 (resnet18), 5.1e-6 (resnet34), 5.1e-6 (resnet50), 9.1e-7 (resnext_dilated), 2.7e-6 (vgg11_bn),
# 9.0e-6 (mobilenet_v2); at most 0.38 of the bound.
EVAL_RTOL, EVAL_ATOL_OF_LARGEST = 1e-4, 2e-5


def torchvision_python() -> str:
    """The torchvision venv's Python; skips where it is not configured, but never in CI."""
    python = os.environ.get(ENV)
    if not python:
        message = f"${ENV} is unset: the Python of a venv with torch==2.14.1 torchvision==0.29.1 safetensors"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI must build it: see .ci/run)")
        pytest.skip(f"{message}, as .ci/run builds it")
    if not os.access(python, os.X_OK):
        pytest.fail(f"${ENV}={python} is not an executable Python")
    return python


@pytest.fixture(scope="module")
def reference():
    """The directory the torchvision script wrote into (removed after this module's tests)."""
    python = torchvision_python()
    with tempfile.TemporaryDirectory(prefix="convprop-torchvision-") as out:
        # -I: that venv's torch, never one that PYTHONPATH or the user site would put first
        command = [python, "-I", str(SCRIPT), out, json.dumps(CASES)]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        assert proc.returncode == 0, f"{SCRIPT.name} failed:\n{proc.stderr[-4000:]}"
        yield Path(out)


def build(label: str) -> nn.Module:
    name, kwargs, _, _ = CASES[label]
    return getattr(models, name)(num_classes=10, generator=np.random.default_rng(0), **kwargs)


@pytest.mark.parametrize("label", list(CASES))
def test_torchvision_state_dict_loads_and_gives_torchvisions_logits(reference, label):
    model = build(label)
    expected_keys = json.loads((reference / f"{label}.keys.json").read_text())
    assert [[k, list(v.shape), str(v.dtype)] for k, v in model.state_dict().items()] == expected_keys
    result = model.load_state_dict(convprop.load(reference / f"{label}.safetensors"), strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []
    io = convprop.load(reference / f"{label}.io.safetensors")
    with convprop.no_grad():
        logits = model.eval()(io["x"])
    assert logits.dtype == convprop.float32
    expected = io["logits"].data
    atol = EVAL_ATOL_OF_LARGEST * np.abs(expected).max()
    np.testing.assert_allclose(logits.data, expected, rtol=EVAL_RTOL, atol=atol)


def assert_close_float64(actual, expected, what: str):
    """Equal to 1e-10 of the tensor's largest entry (cancellation leaves ~1e-14 noise where the exact value is 0)."""
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-10 * np.abs(expected).max() + 1e-13, err_msg=what)


@pytest.mark.parametrize("label", [label for label, case in CASES.items() if case[3]])
def test_training_step_matches_torchvision(reference, label):
    """Float64 training mode: logits, the gradient of the input and of every parameter, BatchNorm's new statistics."""
    model = build(label)
    model.load_state_dict(convprop.load(reference / f"{label}.safetensors"))
    model.double().train()
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0  # as in the reference: the masks come from different generators
    io = convprop.load(reference / f"{label}.io.safetensors")
    x = convprop.tensor(io["x"].data.astype(np.float64), requires_grad=True)
    logits = model(x)
    assert_close_float64(logits.data, io["train_logits"].data, "logits")
    logits.backward(io["gy"].data)
    for key, tensor in [("x", x), *model.named_parameters()]:
        assert_close_float64(np.asarray(tensor.grad), io[f"grad.{key}"].data, f"gradient of {key}")
    for key, buffer in model.named_buffers():
        assert_close_float64(buffer.data, io[f"state.{key}"].data, key)


# The constructor arguments beyond the defaults (no torchvision needed).


@pytest.mark.parametrize(
    "constructor", [models.resnet18, models.resnet34, models.resnet50, models.vgg11_bn, models.mobilenet_v2]
)
def test_weights_must_be_none(constructor):
    with pytest.raises(ValueError, match=rf"{constructor.__name__}: convprop downloads no weights.*convprop\.load"):
        constructor(weights="IMAGENET1K_V1")


def test_zero_init_residual_zeroes_each_blocks_last_norm():
    basic = models.resnet18(zero_init_residual=True, generator=np.random.default_rng(1))
    blocks = [m for m in basic.modules() if isinstance(m, models.torchvision.BasicBlock)]
    assert len(blocks) == 8
    assert all(np.all(b.bn2.weight.data == 0) and np.all(b.bn1.weight.data == 1) for b in blocks)
    bottleneck = models.resnet50(zero_init_residual=True, generator=np.random.default_rng(1))
    blocks = [m for m in bottleneck.modules() if isinstance(m, models.torchvision.Bottleneck)]
    assert len(blocks) == 16
    assert all(np.all(b.bn3.weight.data == 0) and np.all(b.bn2.weight.data == 1) for b in blocks)


def test_norm_layer_and_in_channels():
    model = models.resnet18(num_classes=5, norm_layer=lambda c: nn.GroupNorm(8, c), in_channels=1)
    assert isinstance(model.bn1, nn.GroupNorm) and isinstance(model.layer4[1].bn2, nn.GroupNorm)
    assert model.conv1.weight.shape == (64, 1, 7, 7)
    net = models.mobilenet_v2(num_classes=5, width_mult=0.5, norm_layer=lambda c: nn.GroupNorm(1, c))
    x = convprop.tensor(np.random.default_rng(2).standard_normal((2, 3, 32, 32)).astype(np.float32))
    with convprop.no_grad():
        assert model(x[:, :1]).shape == (2, 5) and net(x).shape == (2, 5)


def test_torchvisions_argument_errors():
    with pytest.raises(NotImplementedError, match="Dilation > 1 not supported in BasicBlock"):
        models.resnet18(replace_stride_with_dilation=[False, False, True])
    with pytest.raises(ValueError, match="replace_stride_with_dilation should be None or a 3-element tuple"):
        models.resnet18(replace_stride_with_dilation=[True])
    with pytest.raises(ValueError, match="BasicBlock only supports groups=1 and base_width=64"):
        models.resnet34(groups=2)
    with pytest.raises(ValueError, match="inverted_residual_setting should be non-empty"):
        models.mobilenet_v2(inverted_residual_setting=[[1, 16, 1]])
    with pytest.raises(ValueError, match="stride should be 1 or 2 instead of 3"):
        models.torchvision.InvertedResidual(8, 8, 3, 6)


def test_registry_builds_them_for_the_trainer():
    model = models.get_model("resnet18", num_classes=7, in_channels=1, input_size=28)
    with convprop.no_grad():
        assert model.eval()(convprop.tensor(np.zeros((1, 1, 28, 28), np.float32))).shape == (1, 7)
    with pytest.raises(ValueError, match="vgg11_bn: input_size must be at least 32, got 28"):
        models.get_model("vgg11_bn", input_size=28)
    with pytest.raises(ValueError, match=r"get_model\('mobilenet_v2'\).*width"):
        models.get_model("mobilenet_v2", width=8)
