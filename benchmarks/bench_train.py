"""Training throughput (images/s) of convprop beside PyTorch CPU: same models, batches, optimizer and threads.

Usage::

    python benchmarks/bench_train.py                       # lenet5, vggsmall (the default), resnet8; 1 and 2 threads
    python benchmarks/bench_train.py --models lenet5 --threads 2 --steps 30 --batch-size 128
    python benchmarks/bench_train.py --models vggsmall --threads 1 --batch-size 16 32 64 128 256   # batch sweep
    python benchmarks/bench_train.py --models vggsmall resnet8 --threads 1 --image-size 16 28 56   # image-size sweep
    python benchmarks/bench_train.py --memory                    # peak memory of a step, each library alone
    python benchmarks/bench_train.py --clock cpu                 # CPU time instead of wall time (a loaded machine)
    python benchmarks/bench_train.py --separate                  # each library alone in its own processes

One training step is forward, cross-entropy, backward and an SGD (momentum 0.9, Nesterov,
weight decay) update on a batch of 28x28 grayscale images (32x32 RGB for resnet models). The
PyTorch twin is built by ``convprop.testing.torch_twin`` with the same weights. The two libraries
alternate step by step, so that load from other processes hits both alike; the table shows the
median images/s of each, their ratio (convprop / PyTorch, higher is better), the time per image,
and convprop's GFLOP/s against the machine's fp32 GEMM peak measured with NumPy in the same run
(a training step is counted as 3x the forward pass's multiply-adds x 2, from ``convprop.summary``).

``--clock cpu`` times each step by the process's CPU time (``time.process_time``) instead of the
wall clock: on a machine shared with other jobs the wall clock also counts the time the process
waited for a core; CPU time does not (it still feels the shared caches and memory bandwidth).
Meaningful at one thread, where each library runs its step on the calling thread alone.

``--separate`` runs each library alone in fresh subprocesses, three rounds taking turns, instead of both
in one process. In one process they share more than the cores: at 2 threads each library's idle worker
threads (OpenBLAS's, PyTorch's OpenMP) spin for a while after every call and slow the other one down, and
each library's frees change how the C allocator serves the other (convprop.allocator's setting, made on import,
applies to both in one process). What a user gets is the separate figure, where PyTorch's process keeps glibc's
own allocator settings.

``--memory`` measures the peak memory of training instead of its speed, each library in a fresh
subprocess of its own: the model, optimizer and batches are built, then the peak resident set size
(``VmHWM``, reset through ``/proc/self/clear_refs``) over three training steps, minus the resident
size before them, is the memory training added. What is counted is the same for both: gradients,
optimizer state, activations saved for backward and every temporary (both get their memory from
the C allocator; freed memory that it keeps counts once, as resident memory). Linux only.
Needs torch (the peer it is timed against); threadpoolctl is used when installed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
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


def _input_shape(name: str, image_size: int | None = None) -> tuple[int, int, int]:
    channels, size = (3, 32) if name.startswith("resnet") else (1, 28)
    return (channels, image_size or size, image_size or size)


def _setup(name: str, batch_size: int, image_size: int | None, seed: int):
    """The convprop model, its PyTorch twin (same weights), the FLOPs of one training image, and 4 batches."""
    shape = _input_shape(name, image_size)
    defaults = DATASET_DEFAULTS["fashion-mnist"]
    # The Fashion-MNIST default model is benchmarked at the width `convprop train` uses.
    options = {"width": defaults["width"]} if name == defaults["model"] and "width" in defaults else {}
    if image_size is not None and not name.startswith("resnet"):  # resnets pool globally: any size fits
        options["input_size"] = image_size
    model = get_model(name, num_classes=10, in_channels=shape[0], generator=np.random.default_rng(seed), **options)
    macs = summary(model, shape).total_macs
    twin = to_torch(model)
    model.train()
    twin.train()
    rng = np.random.default_rng(seed + 1)
    batches = [
        (rng.standard_normal((batch_size, *shape)).astype(np.float32), rng.integers(0, 10, batch_size))
        for _ in range(4)
    ]
    label = name + "".join(f" {k}={v}" for k, v in options.items() if k != "input_size")
    return model, twin, 6.0 * macs, batches, label


def _step(lib: str, module):
    """One training step of ``module`` in ``lib`` ("convprop" or "torch"): forward, cross-entropy, backward, SGD."""
    if lib == "convprop":
        opt = optim.SGD(module.parameters(), **SGD)

        def step(x, y):
            loss = F.cross_entropy(module(convprop.tensor(x)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

    else:
        opt = torch.optim.SGD(module.parameters(), **SGD)

        def step(x, y):
            loss = torch.nn.functional.cross_entropy(module(torch.from_numpy(x)), torch.from_numpy(y))
            opt.zero_grad()
            loss.backward()
            opt.step()

    return step


def bench(
    name: str,
    batch_size: int,
    steps: int,
    warmup: int,
    seed: int = 0,
    image_size: int | None = None,
    clock=time.perf_counter,
) -> dict:
    """Median seconds per training step of convprop and of its PyTorch twin, at the current thread count."""
    model, twin, flops, batches, label = _setup(name, batch_size, image_size, seed)
    step_of = {"convprop": _step("convprop", model), "torch": _step("torch", twin)}
    times = {"convprop": [], "torch": []}
    for i in range(warmup + steps):
        x, y = batches[i % len(batches)]
        for lib, step in step_of.items():
            t0 = clock()
            step(x, y)
            if i >= warmup:
                times[lib].append(clock() - t0)
    return _result(label, batch_size, flops, times)


def _result(label: str, batch_size: int, flops: float, times: dict[str, list[float]]) -> dict:
    """The table row's numbers from each library's step times."""
    cp, th = statistics.median(times["convprop"]), statistics.median(times["torch"])
    return {"model": label, "cp_ips": batch_size / cp, "th_ips": batch_size / th, "flops_per_image": flops}


def _alone(lib: str, name: str, batch_size: int, image_size: int | None, threads: int):
    """In this process, ``lib``'s training step and the batches, with only that library's model kept."""
    set_num_threads(threads)
    torch.set_num_threads(threads)
    model, twin, _, batches, _ = _setup(name, batch_size, image_size, seed=0)
    return _step(lib, model if lib == "convprop" else twin), batches  # the step holds the one it trains


def _child_step_seconds(
    lib: str, name: str, batch_size: int, image_size: int | None, threads: int, steps: int, warmup: int, clock
) -> list[float]:
    """In this process, ``lib`` alone: the seconds of each of ``steps`` training steps after ``warmup``."""
    step, batches = _alone(lib, name, batch_size, image_size, threads)
    times = []
    for i in range(warmup + steps):
        x, y = batches[i % len(batches)]
        t0 = clock()
        step(x, y)
        if i >= warmup:
            times.append(clock() - t0)
    return times


def bench_separate(
    name: str,
    batch_size: int,
    steps: int,
    warmup: int,
    threads: int,
    image_size: int | None = None,
    clock: str = "wall",
    rounds: int = 3,
) -> dict:
    """Like :func:`bench`, but each library runs alone in fresh subprocesses, ``rounds`` of them taking turns.

    In one process the two libraries share more than the cores: at 2 threads each one's idle worker threads
    (OpenBLAS's, PyTorch's OpenMP) keep spinning for a while after every call and take a core from the other,
    and each one's frees change how the C allocator serves the other. A user runs one library at a time.
    """
    _, _, flops, _, label = _setup(name, batch_size, image_size, seed=0)
    times: dict[str, list[float]] = {"convprop": [], "torch": []}
    per_round = max(1, steps // rounds)
    for _ in range(rounds):
        for lib in times:
            args = [lib, name, batch_size, image_size or 0, threads, per_round, warmup, clock]
            cmd = [sys.executable, __file__, "--speed-child", *map(str, args)]
            # PyTorch's process keeps glibc's own allocator settings, as a PyTorch user's does: importing
            # convprop (which builds the twin here) would otherwise give it convprop.allocator's
            env = os.environ if lib == "convprop" else {**os.environ, "CONVPROP_KEEP_FREED_MEMORY": "0"}
            run = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
            times[lib] += [float(t) for t in run.stdout.split()]
    return _result(label, batch_size, flops, times)


def _resident_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def _peak_step_memory(lib: str, name: str, batch_size: int, image_size: int | None, threads: int) -> int:
    """In this process: the peak resident bytes that three training steps of ``lib`` add (see the module docstring)."""
    step, batches = _alone(lib, name, batch_size, image_size, threads)
    before = _resident_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM, the peak resident size, to the current size
    for x, y in batches[:3]:
        step(x, y)
    return 1024 * (_resident_kib("VmHWM") - before)


def memory(name: str, batch_size: int, image_size: int | None, threads: int) -> dict[str, int]:
    """Peak step memory of each library, each measured in a fresh subprocess of its own."""
    out = {}
    for lib in ("convprop", "torch"):
        args = [sys.executable, __file__, "--memory-child", lib, name, str(batch_size), str(image_size or 0)]
        run = subprocess.run([*args, str(threads)], capture_output=True, text=True, check=True, env=os.environ)
        out[lib] = int(run.stdout.split()[-1])
    return out


def main(argv=None) -> None:
    default_model = DATASET_DEFAULTS["fashion-mnist"]["model"]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["lenet5", default_model, "resnet8"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--batch-size", nargs="+", type=int, default=[DATASET_DEFAULTS["fashion-mnist"]["batch_size"]])
    parser.add_argument(
        "--image-size", nargs="+", type=int, default=[None], help="image height = width (default: 28, resnets 32)"
    )
    parser.add_argument("--steps", type=int, default=20, help="timed steps per library (median)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="wall-clock or process CPU time")
    parser.add_argument("--memory", action="store_true", help="peak memory of a step instead of its speed")
    parser.add_argument(
        "--separate",
        action="store_true",
        help="run each library alone in its own processes, taking turns (as a user runs it), not in one process",
    )
    parser.add_argument("--memory-child", nargs=5, help=argparse.SUPPRESS)  # one library's measurement
    parser.add_argument("--speed-child", nargs=8, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.speed_child:
        lib, name, *numbers, child_clock = args.speed_child
        batch, size, threads, steps, warmup = map(int, numbers)
        timer = time.process_time if child_clock == "cpu" else time.perf_counter
        print(*_child_step_seconds(lib, name, batch, size or None, threads, steps, warmup, timer))
        return
    if args.memory_child:
        lib, name, batch, size, threads = args.memory_child[0], args.memory_child[1], *map(int, args.memory_child[2:5])
        print(_peak_step_memory(lib, name, batch, size or None, threads))
        return

    print(_machine.header())
    if args.memory:
        print("peak resident memory added by training steps (MB), each library alone in a fresh process")
        header = (
            f"{'model':<18} {'threads':>7} {'batch':>5} {'image':>5} {'convprop MB':>12} {'PyTorch MB':>11} "
            f"{'ratio':>6}"
        )
        print(header)
        print("-" * len(header))
    else:
        where = "each library alone in 3 rounds of fresh processes" if args.separate else "alternating in one process"
        print(f"float32, SGD momentum 0.9 + weight decay, median of {args.steps} steps, {where}, {args.clock} clock")
        header = (
            f"{'model':<18} {'threads':>7} {'batch':>5} {'image':>5} {'convprop img/s':>15} {'PyTorch img/s':>14} "
            f"{'ratio':>6} {'cp us/img':>10} {'GFLOP/s':>8} {'% peak':>6}"
        )
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    for threads in args.threads:
        set_num_threads(threads)
        torch.set_num_threads(threads)
        if not args.memory:
            peak = _machine.gemm_peak_gflops()
            print(f"\nthreads={threads}: NumPy fp32 GEMM peak {peak:.0f} GFLOP/s")
            print(header)
            print("-" * len(header))
        for name in args.models:
            for image_size in args.image_size:
                size = image_size or _input_shape(name)[1]
                for batch_size in args.batch_size:
                    if args.memory:
                        m = memory(name, batch_size, image_size, threads)
                        print(
                            f"{name:<18} {threads:>7} {batch_size:>5} {size:>5} {m['convprop'] / 2**20:>12.1f} "
                            f"{m['torch'] / 2**20:>11.1f} {m['convprop'] / m['torch']:>6.2f}",
                            flush=True,
                        )
                        continue
                    if args.separate:
                        r = bench_separate(name, batch_size, args.steps, args.warmup, threads, image_size, args.clock)
                    else:
                        r = bench(name, batch_size, args.steps, args.warmup, image_size=image_size, clock=clock)
                    gflops = r["cp_ips"] * r["flops_per_image"] / 1e9
                    print(
                        f"{r['model']:<18} {threads:>7} {batch_size:>5} {size:>5} {r['cp_ips']:>15.0f} "
                        f"{r['th_ips']:>14.0f} {r['cp_ips'] / r['th_ips']:>6.2f} {1e6 / r['cp_ips']:>10.1f} "
                        f"{gflops:>8.1f} {100 * gflops / peak:>5.0f}%",
                        flush=True,
                    )
    print(f"\nat the end: {_machine.conditions()}")


if __name__ == "__main__":
    main()
