"""Training throughput (images/s) of convprop beside PyTorch CPU: same models, batches, optimizer and threads.

Usage::

    python benchmarks/bench_train.py                       # lenet5, vggsmall (the default), resnet8; 1 and 2 threads
    python benchmarks/bench_train.py --models lenet5 --threads 2 --steps 30 --batch-size 128
    python benchmarks/bench_train.py --models vggsmall --threads 1 --batch-size 16 32 64 128 256   # batch sweep

One training step is forward, cross-entropy, backward and an SGD (momentum 0.9, Nesterov,
weight decay) update on a batch of 28x28 grayscale images (32x32 RGB for resnet models). The
PyTorch twin is built by ``convprop.testing.torch_twin`` with the same weights. The two libraries
alternate step by step, so that load from other processes hits both alike; the table shows the
median images/s of each, their ratio (convprop / PyTorch, higher is better), the time per image,
and convprop's GFLOP/s against the machine's fp32 GEMM peak measured with NumPy in the same run
(a training step is counted as 3x the forward pass's multiply-adds x 2, from ``convprop.summary``).
Needs torch (the peer it is timed against); threadpoolctl is used when installed.
"""

from __future__ import annotations

import argparse
import statistics
import time

import _machine
import numpy as np
import torch

import convprop
import convprop.nn.functional as F
from convprop import optim
from convprop.models import get_model
from convprop.nn.summary import summary
from convprop.testing.torch_twin import to_torch
from convprop.threads import set_num_threads
from convprop.train.config import DATASET_DEFAULTS

SGD = {"lr": 0.01, "momentum": 0.9, "weight_decay": 5e-4, "nesterov": True}


def _input_shape(name: str) -> tuple[int, int, int]:
    return (3, 32, 32) if name.startswith("resnet") else (1, 28, 28)


def bench(name: str, batch_size: int, steps: int, warmup: int, seed: int = 0) -> dict:
    """Median seconds per training step of convprop and of its PyTorch twin, at the current thread count."""
    shape = _input_shape(name)
    defaults = DATASET_DEFAULTS["fashion-mnist"]
    # The Fashion-MNIST default model is benchmarked at the width `convprop train` uses.
    options = {"width": defaults["width"]} if name == defaults["model"] and "width" in defaults else {}
    model = get_model(name, num_classes=10, in_channels=shape[0], generator=np.random.default_rng(seed), **options)
    macs = summary(model, shape).total_macs
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
    return {"model": label, "cp_ips": batch_size / cp, "th_ips": batch_size / th, "flops_per_image": 6.0 * macs}


def main(argv=None) -> None:
    default_model = DATASET_DEFAULTS["fashion-mnist"]["model"]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["lenet5", default_model, "resnet8"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--batch-size", nargs="+", type=int, default=[DATASET_DEFAULTS["fashion-mnist"]["batch_size"]])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per library (median)")
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args(argv)

    print(_machine.header())
    print(f"float32, SGD momentum 0.9 + weight decay, median of {args.steps} alternating steps")
    header = (
        f"{'model':<18} {'threads':>7} {'batch':>5} {'convprop img/s':>15} {'PyTorch img/s':>14} {'ratio':>6} "
        f"{'cp us/img':>10} {'GFLOP/s':>8} {'% peak':>6}"
    )
    for threads in args.threads:
        set_num_threads(threads)
        torch.set_num_threads(threads)
        peak = _machine.gemm_peak_gflops()
        print(f"\nthreads={threads}: NumPy fp32 GEMM peak {peak:.0f} GFLOP/s")
        print(header)
        print("-" * len(header))
        for name in args.models:
            for batch_size in args.batch_size:
                r = bench(name, batch_size, args.steps, args.warmup)
                gflops = r["cp_ips"] * r["flops_per_image"] / 1e9
                print(
                    f"{r['model']:<18} {threads:>7} {batch_size:>5} {r['cp_ips']:>15.0f} {r['th_ips']:>14.0f} "
                    f"{r['cp_ips'] / r['th_ips']:>6.2f} {1e6 / r['cp_ips']:>10.1f} {gflops:>8.1f} "
                    f"{100 * gflops / peak:>5.0f}%",
                    flush=True,
                )
    print(f"\nat the end: {_machine.conditions()}")


if __name__ == "__main__":
    main()
