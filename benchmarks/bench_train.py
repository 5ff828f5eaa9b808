"""Training throughput (images/s) of convprop beside PyTorch CPU: same models, batches, optimizer and threads.

Usage::

    python benchmarks/bench_train.py                          # lenet5 and the Fashion-MNIST default, 1 and 2 threads
    python benchmarks/bench_train.py --models lenet5 --threads 2 --steps 30 --batch-size 128

One training step is forward, cross-entropy, backward and an SGD (momentum 0.9,
Nesterov, weight decay) update on a batch of 28x28 grayscale images (32x32 RGB
for resnet models). The PyTorch twin is built by ``tests/torch_mirror.py`` with
the same weights. The two libraries alternate step by step, so that load from
other processes hits both alike; the table shows the median images/s of each
and their ratio (convprop / PyTorch; the project's target is >= 0.67).
Needs torch (a benchmark-only dependency).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests/torch_mirror.py

import convprop
import convprop.nn.functional as F
from convprop import optim
from convprop.models import get_model
from convprop.train.config import DATASET_DEFAULTS
from convprop.train.threads import set_num_threads
from tests.torch_mirror import to_torch

SGD = {"lr": 0.01, "momentum": 0.9, "weight_decay": 5e-4, "nesterov": True}


def _input_shape(name: str) -> tuple[int, int, int]:
    return (3, 32, 32) if name.startswith("resnet") else (1, 28, 28)


def bench(name: str, threads: int, batch_size: int, steps: int, warmup: int, seed: int = 0) -> dict:
    """Median seconds per training step of convprop and of its PyTorch twin."""
    set_num_threads(threads)
    torch.set_num_threads(threads)
    shape = _input_shape(name)
    defaults = DATASET_DEFAULTS["fashion-mnist"]
    # The Fashion-MNIST default model is benchmarked at the width `convprop train` uses.
    options = {"width": defaults["width"]} if name == defaults["model"] and "width" in defaults else {}
    model = get_model(name, num_classes=10, in_channels=shape[0], generator=np.random.default_rng(seed), **options)
    twin = to_torch(model)
    model.train()
    twin.train()
    cp_opt = optim.SGD(model.parameters(), **SGD)
    th_opt = torch.optim.SGD(twin.parameters(), **SGD)
    rng = np.random.default_rng(seed + 1)
    batches = [
        (rng.standard_normal((batch_size, *shape)).astype(np.float32), rng.integers(0, 10, batch_size))
        for _ in range(4)
    ]

    def cp_step(x, y):
        loss = F.cross_entropy(model(convprop.tensor(x)), y)
        cp_opt.zero_grad()
        loss.backward()
        cp_opt.step()

    def th_step(x, y):
        loss = torch.nn.functional.cross_entropy(twin(torch.from_numpy(x)), torch.from_numpy(y))
        th_opt.zero_grad()
        loss.backward()
        th_opt.step()

    times = {"convprop": [], "torch": []}
    for i in range(warmup + steps):
        x, y = batches[i % len(batches)]
        for label, step in (("convprop", cp_step), ("torch", th_step)):
            t0 = time.perf_counter()
            step(x, y)
            if i >= warmup:
                times[label].append(time.perf_counter() - t0)
    cp, th = statistics.median(times["convprop"]), statistics.median(times["torch"])
    label = name + "".join(f" {k}={v}" for k, v in options.items())
    return {"model": label, "threads": threads, "cp_ips": batch_size / cp, "th_ips": batch_size / th}


def main(argv=None) -> None:
    default_model = DATASET_DEFAULTS["fashion-mnist"]["model"]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["lenet5", default_model])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--batch-size", type=int, default=DATASET_DEFAULTS["fashion-mnist"]["batch_size"])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per library (median)")
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args(argv)

    print(f"convprop {convprop.__version__}, numpy {np.__version__}, torch {torch.__version__}")
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"batch size {args.batch_size}, float32, SGD momentum 0.9 + weight decay, median of {args.steps} steps")
    if hasattr(os, "getloadavg"):  # other work on the machine changes the numbers (2 threads most)
        print("load average at start: " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    print()
    header = f"{'model':<18} {'threads':>7} {'convprop img/s':>15} {'PyTorch img/s':>14} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for name in args.models:
        for threads in args.threads:
            r = bench(name, threads, args.batch_size, args.steps, args.warmup)
            ratio = r["cp_ips"] / r["th_ips"]
            print(f"{r['model']:<18} {threads:>7} {r['cp_ips']:>15.0f} {r['th_ips']:>14.0f} {ratio:>6.2f}", flush=True)


if __name__ == "__main__":
    main()
