"""convprop.summary and `convprop summary`: the numbers equal those computed on the PyTorch twin."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import convprop
from convprop.models import get_model
from tests.user_models import TinyNet

ROOT = Path(__file__).resolve().parent.parent
USER_MODELS = "tests/user_models.py"


def torch_summary(model, input_shape) -> dict[str, tuple[str, tuple[int, ...], int, int]]:
    """torchinfo-style numbers from the PyTorch twin: per module, (type, output shape, own parameters, MACs).

    MACs by the usual rule, from torch's own attributes: conv out·(C_in/groups)·prod(k), transposed conv
    in·(C_out/groups)·prod(k), linear out/out_features·in·out.
    """
    from tests.torch_mirror import to_torch, torch

    twin = to_torch(model).eval()
    rows: dict[str, list] = {}

    def hook(module, inputs, out, name):
        x = inputs[0]
        if isinstance(module, torch.nn.Linear):
            macs = out.numel() // module.out_features * module.in_features * module.out_features
        elif isinstance(module, torch.nn.modules.conv._ConvTransposeNd):
            macs = x.numel() * module.out_channels // module.groups * math.prod(module.kernel_size)
        elif isinstance(module, torch.nn.modules.conv._ConvNd):
            macs = out.numel() * module.in_channels // module.groups * math.prod(module.kernel_size)
        else:
            macs = 0
        if name in rows:
            rows[name][3] += macs
        else:
            own = sum(p.numel() for p in module.parameters(recurse=False))
            kind = type(module).__name__.removeprefix("Torch")  # the twin of a custom module is TorchBlock
            rows[name] = [kind, tuple(out.shape[1:]), own, macs]

    for name, module in twin.named_modules():
        if name:
            module.register_forward_hook(lambda m, i, o, name=name: hook(m, i, o, name))
    with torch.no_grad():
        twin(torch.zeros((1, *input_shape)))
    return {name: tuple(row) for name, row in rows.items()}


CASES = [
    ("lenet5", (1, 28, 28), 61_706, 416_520),
    ("vggsmall", (1, 28, 28), 468_010, None),
    ("resnet8", (3, 32, 32), 78_042, 12_501_632),
]


@pytest.mark.parametrize(("name", "shape", "params", "macs"), CASES)
def test_summary_equals_pytorch_twin(name, shape, params, macs):
    model = get_model(name, in_channels=shape[0], generator=np.random.default_rng(0))
    s = convprop.summary(model, shape)
    theirs = torch_summary(model, shape)
    ours = {row.name: (row.type, row.output_shape, row.parameters, row.macs) for row in s.layers}
    assert ours == theirs
    assert len(s.layers) == len(ours) == len(list(model.named_modules())) - 1  # every module once
    assert s.total_parameters == s.trainable_parameters == params == sum(p.numel() for p in model.parameters())
    assert s.total_macs == sum(row[3] for row in theirs.values())
    if macs is not None:
        assert s.total_macs == macs  # the README's table
    assert model.training, "summary restores the training flag"


def test_summary_of_a_user_model_with_groups_and_transposed_conv():
    model = TinyNet()
    s = convprop.summary(model, (2, 8, 8))
    assert {r.name: (r.type, r.output_shape, r.parameters, r.macs) for r in s.layers} == torch_summary(model, (2, 8, 8))
    rows = {r.name: r for r in s.layers}
    assert rows["conv"].macs == 4 * 4 * 4 * (1 * 3 * 3)  # 64 outputs, each from one group's 1 channel x 3x3
    assert rows["up"].macs == 4 * 2 * 2 * (3 * 2 * 2)  # 16 inputs, each scattered through 3 x 2x2 weights
    assert s.output_shape == (5,)
    text = str(s)
    assert "conv          Conv2d" in text or "conv   " in text
    assert f"parameters: {s.total_parameters:,}" in text and "FLOPs ≈ 2 × MACs" in text


def test_summary_bad_arguments():
    model = TinyNet()
    with pytest.raises(TypeError, match=r"model must be a convprop nn\.Module"):
        convprop.summary(object(), (1, 2, 3))
    with pytest.raises(ValueError, match="input_shape must be positive"):
        convprop.summary(model, (2, 0, 8))
    with pytest.raises(ValueError, match="more than the"):
        convprop.summary(model, (2, 100_000, 100_000))
    with pytest.raises(ValueError):
        convprop.summary(model, (3, 8, 8))  # the model rejects 3 channels


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "convprop", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )


def test_cli_summary_of_registered_and_file_models():
    result = _cli("summary", "lenet5", "--input-shape", "1x28x28")
    assert result.returncode == 0, result.stderr
    assert "features.0    Conv2d      6x28x28              156  117,600" in result.stdout
    assert "parameters: 61,706" in result.stdout and "416,520" in result.stdout
    result = _cli("summary", f"{USER_MODELS}:TinyNet", "--input-shape", "2x8x8")
    assert result.returncode == 0, result.stderr
    assert f"parameters: {convprop.summary(TinyNet(), (2, 8, 8)).total_parameters:,}" in result.stdout
    assert "RUNS ITS CODE" in " ".join(_cli("summary", "--help").stdout.split())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope.py:Net", "--input-shape", "1x8x8"), "nope.py: no such file"),
        ((f"{USER_MODELS}:Missing", "--input-shape", "1x8x8"), "has no class 'Missing'; nn.Module classes there:"),
        ((f"{USER_MODELS}:NotAModule", "--input-shape", "1x8x8"), "is not a convprop nn.Module subclass"),
        ((f"{USER_MODELS}:NeedsArguments", "--input-shape", "1x8x8"), "cannot build NeedsArguments() with no"),
        ((f"{USER_MODELS}:TinyNet", "--input-shape", "3x8x8"), "rejects input shape 3x8x8"),
        ((USER_MODELS, "--input-shape", "1x8x8"), "name the model class too"),
        (("alexnet", "--input-shape", "1x8x8"), "unknown model 'alexnet'"),
        (("lenet5", "--input-shape", "1xx8"), "expected CxHxW"),
        (("lenet5", "--input-shape", "1x100000x100000"), "more than the"),
    ],
)
def test_cli_summary_bad_input_is_one_line(args, message):
    result = _cli("summary", *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr, result.stderr
