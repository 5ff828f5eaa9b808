"""examples/pytorch: PyTorch programs that run on convprop with only their imports changed.

Each example runs for a few steps on real Fashion-MNIST (Debian's dataset-fashion-mnist) and its
loss must fall. The MNIST example is also run by PyTorch itself (its imports switched back to
torch) from the same initial weights, the same batches and the same dropout masks, and every
parameter must agree after every optimizer step (float64, 1e-8 relative).
"""

from __future__ import annotations

import re
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

import convprop
from convprop.data import ImageDataset, load_dataset
from tests.helpers import require_torch

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "pytorch"
FASHION = Path("/usr/share/datasets/fashion-mnist")

needs_fashion = pytest.mark.skipif(
    not (FASHION / "train-images-idx3-ubyte.gz").exists(),
    reason="Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist; CI installs it)",
)


def _load_example(name: str, torch_imports: bool = False) -> types.ModuleType:
    """The example as a module; with ``torch_imports`` its ``convprop`` imports become ``torch`` imports."""
    source = (EXAMPLES / f"{name}.py").read_text()
    if torch_imports:
        source = re.sub(r"^import convprop as torch$", "import torch", source, flags=re.M)
        source = re.sub(r"^(from|import) convprop\.(nn|optim)", r"\1 torch.\2", source, flags=re.M)
    module = types.ModuleType(f"{name}_{'torch' if torch_imports else 'convprop'}")
    exec(compile(source, str(EXAMPLES / f"{name}.py"), "exec"), module.__dict__)
    return module


def _subset(n_train: int, n_test: int):
    def load(name, split):
        full = load_dataset(name, split)
        n = n_train if split == "train" else n_test
        return ImageDataset(full.images[:n], full.labels[:n], classes=full.classes)

    return load


def _losses(output: str) -> list[float]:
    return [float(v) for v in re.findall(r"Loss: ([0-9.]+)", output)]


def test_mnist_example_differs_from_pytorch_only_in_imports_and_data_lines():
    source = (EXAMPLES / "mnist_main.py").read_text()
    imports = [line for line in source.splitlines() if re.match(r"(import|from) ", line)]
    assert imports == [
        "import argparse",
        "import convprop as torch",
        "import convprop.nn as nn",
        "import convprop.nn.functional as F",
        "import convprop.optim as optim",
        "from convprop.data import load_dataset",
        "from convprop.optim.lr_scheduler import StepLR",
    ]
    assert "convprop" not in "\n".join(line for line in source.splitlines() if line not in imports)


@needs_fashion
def test_mnist_example_runs_and_its_loss_falls(monkeypatch, tmp_path, capsys):
    example = _load_example("mnist_main")
    monkeypatch.setattr(example, "load_dataset", _subset(16 * 12, 64))
    monkeypatch.chdir(tmp_path)
    argv = ["mnist_main.py", "--epochs", "1", "--batch-size", "16", "--test-batch-size", "32", "--log-interval", "1",
            "--save-model"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    example.main()
    output = capsys.readouterr().out
    losses = _losses(output)
    assert len(losses) == 12
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses
    assert re.search(r"Test set: Average loss: [0-9.]+, Accuracy: \d+/64", output)
    model = example.Net()
    model.load_state_dict(convprop.load(tmp_path / "mnist_cnn.pt"))


class _SharedMasks:
    """Dropout masks from a seeded NumPy generator, so both libraries drop the same units."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def __call__(self, shape, p: float) -> np.ndarray:
        return (self.rng.random(shape) >= p) / (1 - p)


def _masked_dropout(lib, masks: _SharedMasks, p: float):
    class MaskedDropout(lib.nn.Module):
        def forward(self, x):
            if not self.training:
                return x
            return x * lib.from_numpy(masks(tuple(x.shape), p))

    return MaskedDropout()


@needs_fashion
def test_mnist_example_matches_pytorch_step_by_step(capsys):
    torch = require_torch()
    libs = {"convprop": (convprop, _load_example("mnist_main")), "torch": (torch, _load_example("mnist_main", True))}
    train = load_dataset("fashion-mnist", "train")
    images = (train.images[:24] / 255 - 0.1307) / 0.3081
    labels = train.labels[:24].astype(np.int64)
    models, optimizers, schedulers, loaders = {}, {}, {}, {}
    reference = libs["convprop"][1].Net().double().state_dict()
    for name, (lib, example) in libs.items():
        model = example.Net().double()
        model.load_state_dict({k: lib.from_numpy(np.array(v)) for k, v in reference.items()})
        model.dropout1 = _masked_dropout(lib, _SharedMasks(7), 0.25)
        model.dropout2 = _masked_dropout(lib, _SharedMasks(8), 0.5)
        models[name] = model
        optimizers[name] = lib.optim.Adadelta(model.parameters(), lr=1.0)
        schedulers[name] = lib.optim.lr_scheduler.StepLR(optimizers[name], step_size=1, gamma=0.7)
        dataset = lib.utils.data.TensorDataset(lib.from_numpy(images), lib.from_numpy(labels))
        loaders[name] = lib.utils.data.DataLoader(dataset, batch_size=8)
    args = types.SimpleNamespace(log_interval=1, dry_run=False)
    printed = {name: [] for name in libs}
    for epoch in (1, 2):
        for name, (_, example) in libs.items():
            example.train(args, models[name], "cpu", loaders[name], optimizers[name], epoch)
            schedulers[name].step()
            printed[name] += _losses(capsys.readouterr().out)
        cp_state = models["convprop"].state_dict()
        for key, value in models["torch"].state_dict().items():
            np.testing.assert_allclose(cp_state[key], value.numpy(), rtol=1e-8, atol=1e-12, err_msg=key)
    assert len(printed["convprop"]) == 6
    np.testing.assert_allclose(printed["convprop"], printed["torch"], atol=1.5e-6)


@needs_fashion
def test_training_a_classifier_tutorial_runs_and_learns(monkeypatch, tmp_path, capsys):
    """The "Training a classifier" tutorial (CIFAR-10 there; Fashion-MNIST padded to 3x32x32 here)."""
    pytest.importorskip("matplotlib", reason="the tutorial shows images with matplotlib (CI installs it)")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setattr(convprop.data, "load_dataset", _subset(2000, 400))
    monkeypatch.chdir(tmp_path)
    convprop.manual_seed(0)
    namespace: dict = {"__name__": "cifar10_tutorial"}
    path = EXAMPLES / "cifar10_tutorial.py"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "FigureCanvasAgg is non-interactive")  # plt.show() under Agg
        exec(compile(path.read_text(), str(path), "exec"), namespace)
    output = capsys.readouterr().out
    accuracy = int(re.search(r"Accuracy of the network on the 10000 test images: (\d+) %", output).group(1))
    assert accuracy > 40, output
    test_set = load_dataset("fashion-mnist", "test")
    x, y = namespace["transform"](test_set.images[:400]), convprop.tensor(test_set.labels[:400])
    criterion = namespace["criterion"]
    with convprop.no_grad():
        trained = criterion(namespace["net"](x), y).item()
        untrained = criterion(namespace["Net"]()(x), y).item()
    assert trained < 0.7 * untrained, (trained, untrained)
