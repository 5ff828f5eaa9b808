"""examples/pytorch: PyTorch programs that run on convprop with only their imports changed.

Each example runs for a few steps on real Fashion-MNIST (Debian's dataset-fashion-mnist) and its
loss must fall (for the DCGAN: the discriminator's loss, see its test). Each file, its imports
switched back to torch, must differ from ours in import lines only. The MNIST example, the DCGAN,
the autoencoder and the U-Net are also run by PyTorch itself from the same initial weights, the same
batches and the same dropout masks or latent vectors, and the losses and parameters must agree step
by step (float64, 1e-8 relative on the parameters).
"""

from __future__ import annotations

import difflib
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


def _torch_source(name: str) -> str:
    """The example with its ``convprop`` imports switched back to ``torch`` imports: the PyTorch program."""
    source = (EXAMPLES / f"{name}.py").read_text()
    source = re.sub(r"^import convprop as torch$", "import torch", source, flags=re.M)
    return re.sub(r"^(from|import) convprop\.(nn|optim|backends)", r"\1 torch.\2", source, flags=re.M)


def _load_example(name: str, torch_imports: bool = False) -> types.ModuleType:
    """The example as a module; with ``torch_imports`` it is the PyTorch program (see :func:`_torch_source`)."""
    source = _torch_source(name) if torch_imports else (EXAMPLES / f"{name}.py").read_text()
    module = types.ModuleType(f"{name}_{'torch' if torch_imports else 'convprop'}")
    exec(compile(source, str(EXAMPLES / f"{name}.py"), "exec"), module.__dict__)
    return module


def _subset(n_train: int, n_test: int):
    def load(name, split):
        full = load_dataset(name, split)
        n = n_train if split == "train" else n_test
        return ImageDataset(full.images[:n], full.labels[:n], classes=full.classes)

    return load


def _run(example: types.ModuleType, argv: list[str], subset, monkeypatch, tmp_path, capsys) -> str:
    """``example.main()`` with ``argv``, on ``subset`` of the data and in ``tmp_path``: what it printed."""
    monkeypatch.setattr(example, "load_dataset", subset)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", argv)
    example.main()
    return capsys.readouterr().out


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
    argv = ["mnist_main.py", "--epochs", "1", "--batch-size", "16", "--test-batch-size", "32", "--log-interval", "1",
            "--save-model"]  # fmt: skip
    output = _run(example, argv, _subset(16 * 12, 64), monkeypatch, tmp_path, capsys)
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


# --- the DCGAN, the convolutional autoencoder and the U-Net ---------------------------------------------------------

# the smallest settings that still run every line of main(), for the check that PyTorch runs the program itself
SMALL_RUN = {
    "dcgan": ["--batch-size", "8", "--nz", "8", "--ngf", "4", "--ndf", "4", "--dry-run"],
    "conv_autoencoder": ["--batch-size", "8", "--test-batch-size", "16", "--width", "4", "--dry-run"],
    "unet": ["--batch-size", "8", "--test-batch-size", "16", "--width", "4", "--bilinear", "--dry-run"],
}


@pytest.mark.parametrize("name", sorted(path.stem for path in EXAMPLES.glob("*.py")))
def test_example_differs_from_its_torch_version_only_in_import_lines(name):
    """The file PyTorch runs (imports switched back) and the file convprop runs differ in import lines only."""
    ours = (EXAMPLES / f"{name}.py").read_text().splitlines()
    theirs = _torch_source(name).splitlines()
    changed = [line[2:] for line in difflib.ndiff(ours, theirs) if line[:2] in ("- ", "+ ")]
    assert changed, "the torch version is the same file: the imports were not switched"
    assert all(re.match(r"(import|from) \S+", line) for line in changed), changed
    assert [line for line in theirs if "convprop" in line] == ["from convprop.data import load_dataset"]


def _fashion32(n: int) -> np.ndarray:
    """The first n Fashion-MNIST training images as the DCGAN sees them: padded to 32x32, scaled to [-1, 1]."""
    images = load_dataset("fashion-mnist", "train").images[:n]
    return (np.pad(images, ((0, 0), (0, 0), (2, 2), (2, 2))) / 255 - 0.5) / 0.5


class _SharedNoise:
    """``lib`` as an example's ``torch`` global, but ``randn`` draws from one seeded NumPy generator,
    so convprop and PyTorch feed the same latent vectors to their generators."""

    def __init__(self, lib, seed: int):
        self._lib, self._rng = lib, np.random.default_rng(seed)

    def __getattr__(self, name):
        return getattr(self._lib, name)

    def randn(self, *size, dtype=None, device=None):
        return self._lib.from_numpy(self._rng.standard_normal(size)).to(dtype)


@needs_fashion
def test_dcgan_example_runs_and_its_discriminator_learns(monkeypatch, tmp_path, capsys):
    """A GAN's two losses fight, so neither must fall steadily; the honest early signal is the discriminator's.

    At the start D outputs about 1/2 for everything: Loss_D = 2 log 2 = 1.386 and D(x) = 0.5. In the first
    steps the generator's images are still noise-like and D learns to tell them from real garments, so Loss_D
    falls and D(x) (its output on real images) rises. The generator's side is checked by the step-by-step
    comparison with PyTorch below.
    """
    example = _load_example("dcgan")
    monkeypatch.setattr(convprop.backends.cudnn, "benchmark", False)  # main() sets it True: restored afterwards
    argv = ["dcgan.py", "--batch-size", "16", "--nz", "16", "--ngf", "8", "--ndf", "8", "--epochs", "2",
            "--steps", "12", "--log-interval", "1", "--save-model"]  # fmt: skip
    output = _run(example, argv, _subset(16 * 12, 0), monkeypatch, tmp_path, capsys)
    rows = re.findall(r"Loss_D: ([0-9.]+)\tLoss_G: ([0-9.]+)\tD\(x\): ([0-9.]+)", output)
    loss_d, d_x = [float(row[0]) for row in rows], [float(row[2]) for row in rows]
    assert len(rows) == 12
    assert abs(loss_d[0] - 2 * np.log(2)) < 0.25, loss_d  # 1.39 to 1.53 over seeds 1 to 8
    assert np.mean(loss_d[-3:]) < np.mean(loss_d[:3]) - 0.15, loss_d
    assert np.mean(d_x[-3:]) > np.mean(d_x[:3]) + 0.05, d_x
    assert re.search(r"Fake images: \(64, 1, 32, 32\)", output)
    generator = example.Generator(16, 8, 1)
    generator.load_state_dict(convprop.load(tmp_path / "dcgan_netG.pt"))


@needs_fashion
def test_dcgan_example_matches_pytorch_step_by_step(capsys):
    torch = require_torch()
    images = _fashion32(8 * 4)
    args = types.SimpleNamespace(nz=8, epochs=1, log_interval=1, dry_run=False, steps=0)
    dcgan = _load_example("dcgan")
    initial = [
        net.double().apply(dcgan.weights_init).state_dict()
        for net in (dcgan.Generator(8, 4, 1), dcgan.Discriminator(4, 1))
    ]
    histories, states = {}, {}
    for name, lib in {"convprop": convprop, "torch": torch}.items():
        example = _load_example("dcgan", torch_imports=name == "torch")
        example.torch = _SharedNoise(lib, seed=3)
        net_g, net_d = example.Generator(args.nz, 4, 1).double(), example.Discriminator(4, 1).double()
        for net, state in zip((net_g, net_d), initial, strict=True):
            net.load_state_dict({k: lib.from_numpy(np.array(v)) for k, v in state.items()})
        loader = lib.utils.data.DataLoader(lib.utils.data.TensorDataset(lib.from_numpy(images)), batch_size=8)
        adam_g = lib.optim.Adam(net_g.parameters(), lr=2e-3, betas=(0.5, 0.999))
        adam_d = lib.optim.Adam(net_d.parameters(), lr=2e-3, betas=(0.5, 0.999))
        history = {"G_losses": [], "D_losses": [], "D_x": []}
        example.train(args, net_g, net_d, "cpu", loader, adam_g, adam_d, lib.nn.BCELoss(), 0, history)
        histories[name] = history
        states[name] = {f"G.{k}": np.asarray(v) for k, v in net_g.state_dict().items()}
        states[name] |= {f"D.{k}": np.asarray(v) for k, v in net_d.state_dict().items()}
    capsys.readouterr()
    assert len(histories["convprop"]["D_losses"]) == 4
    for key, values in histories["convprop"].items():
        np.testing.assert_allclose(values, histories["torch"][key], rtol=1e-10, err_msg=key)
    for key, value in states["torch"].items():
        np.testing.assert_allclose(states["convprop"][key], value, rtol=1e-8, atol=1e-12, err_msg=key)


@needs_fashion
def test_conv_autoencoder_example_runs_and_its_loss_falls(monkeypatch, tmp_path, capsys):
    example = _load_example("conv_autoencoder")
    argv = ["conv_autoencoder.py", "--epochs", "1", "--batch-size", "16", "--test-batch-size", "32", "--lr", "1e-2",
            "--width", "8", "--log-interval", "1", "--save-model"]  # fmt: skip
    output = _run(example, argv, _subset(16 * 30, 64), monkeypatch, tmp_path, capsys)
    losses = _losses(output)
    assert len(losses) == 30
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5]), losses  # 0.31 to 0.56 over seeds 1 to 8
    test_loss = float(re.search(r"Test set: Average reconstruction loss: ([0-9.]+)", output).group(1))
    assert test_loss < 0.7 * np.mean(losses[:5]), (test_loss, losses)
    model = example.Autoencoder(8)
    model.load_state_dict(convprop.load(tmp_path / "conv_autoencoder.pt"))


@needs_fashion
def test_unet_example_runs_and_its_loss_falls(monkeypatch, tmp_path, capsys):
    example = _load_example("unet")
    argv = ["unet.py", "--epochs", "1", "--batch-size", "8", "--test-batch-size", "32", "--lr", "1e-2", "--width", "4",
            "--log-interval", "1", "--save-model"]  # fmt: skip
    output = _run(example, argv, _subset(8 * 20, 64), monkeypatch, tmp_path, capsys)
    losses = _losses(output)
    assert len(losses) == 20
    assert np.mean(losses[-5:]) < 0.85 * np.mean(losses[:5]), losses  # 0.60 to 0.80 over seeds 1 to 8
    test_loss = float(re.search(r"Test set: Average loss: ([0-9.]+)", output).group(1))
    assert test_loss < 0.9 * np.mean(losses[:5]), (test_loss, losses)
    assert re.search(r"Pixel accuracy: \d+/50176", output)  # 64 test images of 28 x 28
    model = example.UNet(width=4)
    model.load_state_dict(convprop.load(tmp_path / "unet.pt"))


def _recording(criterion, losses: list[float]):
    """``criterion``, also appending each loss to ``losses`` (full precision, unlike the printed ones)."""

    def loss_fn(output, target):
        loss = criterion(output, target)
        losses.append(loss.item())
        return loss

    return loss_fn


@needs_fashion
@pytest.mark.parametrize("name, bilinear", [("conv_autoencoder", None), ("unet", False), ("unet", True)])
def test_autoencoder_and_unet_examples_match_pytorch_step_by_step(name, bilinear, capsys):
    """Same initial weights, same batches, float64: the losses agree at every step, the weights at the end."""
    torch = require_torch()
    clean = load_dataset("fashion-mnist", "train").images[:24] / 255
    if name == "unet":
        noisy = clean + 0.3 * np.random.default_rng(5).standard_normal(clean.shape)
        arrays = [noisy, (clean > 0.1).astype(np.float64)]

        def build(example):
            return example.UNet(width=4, bilinear=bilinear)
    else:
        arrays = [clean]

        def build(example):
            return example.Autoencoder(4)

    initial = build(_load_example(name)).double().state_dict()
    args = types.SimpleNamespace(log_interval=1, dry_run=False, steps=0)
    losses, states = {}, {}
    for lib_name, lib in {"convprop": convprop, "torch": torch}.items():
        example = _load_example(name, torch_imports=lib_name == "torch")
        model = build(example).double()
        model.load_state_dict({k: lib.from_numpy(np.array(v)) for k, v in initial.items()})
        dataset = lib.utils.data.TensorDataset(*map(lib.from_numpy, arrays))
        loader = lib.utils.data.DataLoader(dataset, batch_size=8)
        optimizer = lib.optim.Adam(model.parameters(), lr=1e-2)
        criterion = lib.nn.BCEWithLogitsLoss() if name == "unet" else lib.nn.MSELoss()
        losses[lib_name] = []
        for epoch in (1, 2):
            example.train(args, model, "cpu", loader, optimizer, _recording(criterion, losses[lib_name]), epoch)
        states[lib_name] = {k: np.asarray(v) for k, v in model.state_dict().items()}
    capsys.readouterr()
    assert len(losses["convprop"]) == 6 and losses["convprop"][-1] < losses["convprop"][0]
    np.testing.assert_allclose(losses["convprop"], losses["torch"], rtol=1e-10)
    for key, value in states["torch"].items():
        np.testing.assert_allclose(states["convprop"][key], value, rtol=1e-8, atol=1e-12, err_msg=key)


@needs_fashion
@pytest.mark.parametrize("name", sorted(SMALL_RUN))
def test_example_runs_under_pytorch_itself(name, monkeypatch, tmp_path, capsys):
    """The file with its imports switched back is a working PyTorch program (so the code is PyTorch's, not ours)."""
    require_torch()
    example = _load_example(name, torch_imports=True)
    if hasattr(example, "cudnn"):
        # PyTorch's test utilities (torch.testing._internal, which the OpInfo tests import) forbid setting the
        # cudnn flags for the rest of the process, so here `cudnn.benchmark = True` goes to a stand-in
        monkeypatch.setattr(example, "cudnn", types.SimpleNamespace(benchmark=False))
    argv = [f"{name}.py", "--epochs", "1", "--log-interval", "1", "--save-model", *SMALL_RUN[name]]
    output = _run(example, argv, _subset(16, 16), monkeypatch, tmp_path, capsys)
    assert re.search(r"Loss(_D)?: [0-9.]+", output), output
    assert list(tmp_path.glob("*.pt")), "--save-model wrote nothing"
