"""The torchvision side of tests/test_models_torchvision.py, run by the torchvision venv's Python.

    $CONVPROP_TORCHVISION_PYTHON tests/torchvision_reference.py OUT_DIR CASES_JSON

It needs torch, torchvision and safetensors, which do not import beside the test suite's pinned
torch 2.13.0 (.ci/run builds that second venv). CASES_JSON maps a label to ``[name, kwargs,
side, train]``: the model ``torchvision.models.<name>(num_classes=10, **kwargs)``, seeded, fed
2 x 3 x side x side inputs. For each LABEL it writes:

- ``LABEL.safetensors``: the float32 state_dict, as a user would convert torchvision weights
  (``safetensors.torch.save_file(model.state_dict(), ...)``). Random weights with realistic
  BatchNorm statistics (one calibration batch), then every BatchNorm weight and bias and every
  conv/linear bias perturbed, so that each loaded tensor changes the logits;
- ``LABEL.keys.json``: the state_dict's keys in order, with shapes and dtypes (a safetensors file
  does not keep the order);
- ``LABEL.io.safetensors``: ``x`` (2 x 3 x SIDE x SIDE) and ``logits``, the eval-mode output; with
  ``train``, in float64 training mode (dropout off): ``train_logits``, the random upstream gradient
  ``gy``, ``grad.x`` and ``grad.<parameter>`` after backpropagating ``gy``, and ``state.<buffer>``,
  the BatchNorm running statistics after that forward pass.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import torch
import torchvision
from safetensors.torch import save_file

NUM_CLASSES = 10


def calibrate_and_perturb(model: torch.nn.Module, side: int, g: torch.Generator) -> None:
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in norms:
        m.momentum = 1.0  # the running statistics become this batch's
    with torch.no_grad():
        model.train()(torch.randn(8, 3, side, side, generator=g))
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.momentum = 0.1
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.num_batches_tracked.fill_(7)
            if getattr(m, "bias", None) is not None:
                m.bias.normal_(0.0, 0.1, generator=g)


def reference(label: str, name: str, kwargs: dict, side: int, train: bool, out: Path) -> None:
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None, num_classes=NUM_CLASSES, **kwargs)
    calibrate_and_perturb(model, side, g)
    state = model.state_dict()
    save_file(state, out / f"{label}.safetensors")
    keys = [[k, list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in state.items()]
    (out / f"{label}.keys.json").write_text(json.dumps(keys))

    x = torch.randn(2, 3, side, side, generator=g)
    with torch.no_grad():
        io = {"x": x, "logits": model.eval()(x)}
    if train:
        twin = copy.deepcopy(model).double().train()
        for m in twin.modules():
            if isinstance(m, torch.nn.Dropout):
                m.p = 0.0  # convprop draws its masks from its own generator
        x64 = x.double().requires_grad_()
        logits = twin(x64)
        gy = torch.randn(logits.shape, generator=g, dtype=torch.float64)
        logits.backward(gy)
        io |= {"train_logits": logits.detach(), "gy": gy, "grad.x": x64.grad}
        io |= {f"grad.{k}": p.grad for k, p in twin.named_parameters()}
        io |= {f"state.{k}": b for k, b in twin.named_buffers()}
    save_file({k: v.contiguous() for k, v in io.items()}, out / f"{label}.io.safetensors")


def main(argv: list[str]) -> None:
    torch.set_num_threads(1)
    out = Path(argv[0])
    for label, case in json.loads(argv[1]).items():
        reference(label, *case, out)


if __name__ == "__main__":
    main(sys.argv[1:])
