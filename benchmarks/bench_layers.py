"""Forward + backward time of convprop's layers beside PyTorch CPU, in one process, same thread count.

Usage::

    python benchmarks/bench_layers.py                       # the table at 1 and 2 threads (float32)
    python benchmarks/bench_layers.py --threads 1 --repeat 20 --only "16->16"
    python benchmarks/bench_layers.py --forward-only         # forward pass alone
    python benchmarks/bench_layers.py --sweep batch --only "N128 16->16"   # time per image, N = 16 .. 256
    python benchmarks/bench_layers.py --big                  # the workspace cap on N256, 256->256, 56x56
    python benchmarks/bench_layers.py --threads 1 --clock cpu  # CPU time: on a machine shared with other jobs

Each row backpropagates the same random upstream gradient through convprop and PyTorch,
alternating the two run by run so that load from other processes hits both alike, and prints
the median times, their ratio (convprop / PyTorch, lower is better), each library's GFLOP/s
(forward + both backward convolutions = 3x the forward's multiply-adds x 2), convprop's share of
the machine's fp32 GEMM peak (measured with NumPy at the start of each thread count), and
a lower bound on the time (all FLOPs at that GEMM peak, or all compulsory bytes, X and O and their
gradients, at the machine's copy bandwidth measured with NumPy likewise, whichever is longer) and each
library's time over it, the time of the layer's GEMMs alone in NumPy's BLAS (``BLAS ms``, below), and
convprop's peak extra memory during one step, gradients included (tracemalloc, in a separate untimed run).

``BLAS ms`` is what a NumPy implementation that computes the convolution with GEMMs cannot go below on
this machine: the three GEMMs of an im2col formulation (forward (P x K) @ (K x O), ∂L/∂X (P x O) @ (O x K),
∂L/∂F (K x P) @ (P x O), with P = N·H_out·W_out output positions, K = C·kh·kw, one group), each timed on
ready contiguous operands in the faster of its two orientations (the product or its transpose), best of 3,
with BLAS given the row's thread count; no copies, no col2im, nothing else. Where it exceeds PyTorch's
whole layer, no such implementation can match PyTorch there. Inputs are created once, outside the timed region, for
both libraries. ``--clock cpu`` times by process CPU time instead of the wall clock (see
``bench_train.py``).
Needs torch (the peer it is timed against); threadpoolctl is used when installed.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import time
import tracemalloc
from dataclasses import dataclass, field

import _machine
import numpy as np
import torch
import torch.nn.functional as TF

import convprop
import convprop.nn.functional as F
from convprop.ops import conv as conv_ops
from convprop.threads import blas_threads, set_num_threads


@dataclass
class Layer:
    name: str
    kind: str  # "conv", "max_pool", "avg_pool" or "batch_norm" (training mode, with γ and β)
    x_shape: tuple[int, ...]
    w_shape: tuple[int, ...] = ()
    kwargs: dict = field(default_factory=dict)

    def flops(self, passes: int) -> float:
        """Multiply-adds x 2 of ``passes`` convolutions (forward 1, forward + backward 3)."""
        if self.kind != "conv":
            return float("nan")
        n, _, h, w = self.x_shape
        o, cg, kh, kw = self.w_shape
        s, p = self.kwargs.get("stride", 1), self.kwargs.get("padding", 0)
        ho, wo = (h + 2 * p - kh) // s + 1, (w + 2 * p - kw) // s + 1
        return passes * 2.0 * n * o * ho * wo * cg * kh * kw

    def traffic(self, passes: int) -> float:
        """Bytes that any implementation must move: the forward reads X and writes O; the backward
        reads ∂L/∂O (for ∂L/∂X and again for ∂L/∂F), reads X and writes ∂L/∂X. Weights are
        negligible. float32; pooling's index or mask traffic is not counted."""
        n, c, h, w = self.x_shape
        if self.kind == "conv":
            o, s, p = self.w_shape[0], self.kwargs.get("stride", 1), self.kwargs.get("padding", 0)
            kh, kw = self.w_shape[2:]
        elif self.kind == "batch_norm":
            o, kh, kw, s, p = c, 1, 1, 1, 0
        else:
            o, kh = c, self.kwargs["kernel_size"]
            kw, s, p = kh, self.kwargs.get("stride", kh), self.kwargs.get("padding", 0)
        ho, wo = (h + 2 * p - kh) // s + 1, (w + 2 * p - kw) // s + 1
        x, y = n * c * h * w, n * o * ho * wo
        gy_reads = 2 if self.kind == "conv" else 1
        return 4.0 * (x + y if passes == 1 else 2 * x + y + gy_reads * y + x)

    def with_batch(self, n: int) -> Layer:
        return dataclasses.replace(self, x_shape=(n, *self.x_shape[1:]))


LAYERS = [
    Layer("LeNet conv1 N64 1->6 28x28 5x5", "conv", (64, 1, 28, 28), (6, 1, 5, 5)),
    Layer("LeNet conv2 N64 6->16 14x14 5x5", "conv", (64, 6, 14, 14), (16, 6, 5, 5)),
    Layer("N128 16->16 28x28 3x3 p1", "conv", (128, 16, 28, 28), (16, 16, 3, 3), {"padding": 1}),
    Layer("N128 32->32 14x14 3x3 p1", "conv", (128, 32, 14, 14), (32, 32, 3, 3), {"padding": 1}),
    Layer("N64 32->64 28x28 3x3 p1", "conv", (64, 32, 28, 28), (64, 32, 3, 3), {"padding": 1}),
    Layer("N32 64->64 56x56 3x3 p1", "conv", (32, 64, 56, 56), (64, 64, 3, 3), {"padding": 1}),
    Layer("N128 128->128 14x14 3x3 p1", "conv", (128, 128, 14, 14), (128, 128, 3, 3), {"padding": 1}),
    Layer("N64 64->128 28x28 3x3 s2 p1", "conv", (64, 64, 28, 28), (128, 64, 3, 3), {"stride": 2, "padding": 1}),
    Layer("depthwise N64 64ch 28x28 3x3 p1", "conv", (64, 64, 28, 28), (64, 1, 3, 3), {"padding": 1, "groups": 64}),
    Layer("1x1 N64 256->64 14x14", "conv", (64, 256, 14, 14), (64, 256, 1, 1)),
    Layer("max_pool 2x2 N64 64ch 56x56", "max_pool", (64, 64, 56, 56), (), {"kernel_size": 2}),
    Layer("max_pool 3x3 s2 N64 64ch 56x56", "max_pool", (64, 64, 56, 56), (), {"kernel_size": 3, "stride": 2}),
    Layer("avg_pool 2x2 N64 64ch 56x56", "avg_pool", (64, 64, 56, 56), (), {"kernel_size": 2}),
    Layer("batch_norm N128 16ch 28x28", "batch_norm", (128, 16, 28, 28)),
    Layer("batch_norm N128 32ch 14x14", "batch_norm", (128, 32, 14, 14)),
]
BATCH_SWEEP = (16, 32, 64, 128, 256)


def _functions(layer: Layer):
    """(convprop function, torch function) taking (x, w, b) or (x,)."""
    if layer.kind == "conv":
        return (
            lambda x, w, b: F.conv2d(x, w, b, **layer.kwargs),
            lambda x, w, b: TF.conv2d(x, w, b, **layer.kwargs),
        )
    if layer.kind == "batch_norm":
        return (
            lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
            lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True),
        )
    name = f"{layer.kind}2d"
    return (lambda x: getattr(F, name)(x, **layer.kwargs), lambda x: getattr(TF, name)(x, **layer.kwargs))


def _arrays(layer: Layer, rng: np.random.Generator) -> list[np.ndarray]:
    x = rng.standard_normal(layer.x_shape, dtype=np.float32)
    if layer.kind == "batch_norm":
        c = layer.x_shape[1]
        return [x, rng.standard_normal(c, dtype=np.float32), rng.standard_normal(c, dtype=np.float32)]
    if layer.kind != "conv":
        return [x]
    fan_in = math.prod(layer.w_shape[1:])
    w = rng.standard_normal(layer.w_shape, dtype=np.float32) / np.float32(math.sqrt(fan_in))
    b = rng.standard_normal(layer.w_shape[0], dtype=np.float32)
    return [x, w, b]


def _best_ms(fn, repeat: int = 3) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def blas_ms(layer: Layer, forward_only: bool, threads: int) -> float:
    """The layer's im2col GEMMs alone, each in its faster orientation (see the module docstring); NaN
    for layers that are not one-group convolutions."""
    if layer.kind != "conv" or layer.kwargs.get("groups", 1) != 1:
        return float("nan")
    n, c, h, w = layer.x_shape
    o, _, kh, kw = layer.w_shape
    s, p = layer.kwargs.get("stride", 1), layer.kwargs.get("padding", 0)
    positions, k = n * ((h + 2 * p - kh) // s + 1) * ((w + 2 * p - kw) // s + 1), c * kh * kw
    # (rows, contraction, columns) of each GEMM; the transpose swaps rows and columns
    gemms = [(positions, k, o)] if forward_only else [(positions, k, o), (positions, o, k), (k, positions, o)]
    total = 0.0
    with blas_threads(threads):
        for rows, inner, cols in gemms:
            a, b = np.full((rows, inner), 0.5, np.float32), np.full((inner, cols), 0.5, np.float32)
            at, bt = np.ascontiguousarray(a.T), np.ascontiguousarray(b.T)
            total += min(_best_ms(lambda a=a, b=b: a @ b), _best_ms(lambda at=at, bt=bt: bt @ at))
            del a, b, at, bt
    return total


def _step(fn, inputs, gy, forward_only: bool):
    """One forward (+ backward) pass; the same code drives both libraries."""
    if forward_only:
        fn(*inputs)
        return
    for t in inputs:
        t.grad = None
    fn(*inputs).backward(gy)


def bench(layer: Layer, repeat: int, rng: np.random.Generator, forward_only: bool, clock=time.perf_counter):
    """Median seconds of convprop and PyTorch (alternating), and convprop's traced peak bytes."""
    cp_fn, th_fn = _functions(layer)
    arrays = _arrays(layer, rng)
    cp_in = [convprop.tensor(a, requires_grad=not forward_only) for a in arrays]
    th_in = [torch.tensor(a, requires_grad=not forward_only) for a in arrays]
    with torch.no_grad():
        out_shape = th_fn(*th_in).shape
    gy = rng.standard_normal(tuple(out_shape), dtype=np.float32)
    th_gy = torch.from_numpy(gy)
    for _ in range(2):  # warm-up: page in buffers, let BLAS spin up its threads
        _step(cp_fn, cp_in, gy, forward_only)
        _step(th_fn, th_in, th_gy, forward_only)
    t_cp, t_th = [], []
    for _ in range(repeat):
        t0 = clock()
        _step(cp_fn, cp_in, gy, forward_only)
        t1 = clock()
        _step(th_fn, th_in, th_gy, forward_only)
        t2 = clock()
        t_cp.append(t1 - t0)
        t_th.append(t2 - t1)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    _step(cp_fn, cp_in, gy, forward_only)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return statistics.median(t_cp), statistics.median(t_th), peak


def big_case() -> None:
    """Forward of N256, 256->256, 56x56, 3x3: a 7 GB column matrix if done in one piece."""
    rng = np.random.default_rng(0)
    x = convprop.tensor(rng.standard_normal((256, 256, 56, 56), dtype=np.float32))
    w = convprop.tensor(rng.standard_normal((256, 256, 3, 3), dtype=np.float32) / np.float32(48))
    limit = conv_ops.get_workspace_limit()
    out_bytes = 256 * 256 * 56 * 56 * 4
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    with convprop.no_grad():
        y = F.conv2d(x, w, padding=1)
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    print(f"big conv forward N256 256->256 56x56 3x3 p1: output {y.shape}, {elapsed:.1f} s")
    print(
        f"  workspace limit {limit / 2**20:.0f} MB; peak traced memory {peak / 2**20:.0f} MB "
        f"= output {out_bytes / 2**20:.0f} MB + workspace {(peak - out_bytes) / 2**20:.0f} MB "
        f"(one unchunked column matrix would be {256 * 56 * 56 * 256 * 9 * 4 / 2**30:.1f} GB)"
    )


def table(layers: list[Layer], args, peak_gflops: float, bandwidth_gbs: float, threads: int) -> None:
    passes = 1 if args.forward_only else 3
    rng = np.random.default_rng(0)
    header = (
        f"{'layer':34s} {'convprop ms':>11s} {'torch ms':>9s} {'ratio':>6s} {'GFLOP/s':>8s} {'torch':>6s} "
        f"{'% peak':>6s} {'bound ms':>8s} {'cp/bnd':>6s} {'th/bnd':>6s} {'BLAS ms':>8s} {'peak MB':>8s}"
    )
    print(header)
    print("-" * len(header))
    conv_ratios = []
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    for layer in layers:
        t_cp, t_th, peak = bench(layer, args.repeat, rng, args.forward_only, clock)
        ratio = t_cp / t_th
        if layer.kind == "conv":
            conv_ratios.append(ratio)
        flops = layer.flops(passes)
        cols = ("", "") if math.isnan(flops) else (f"{flops / t_cp / 1e9:.1f}", f"{flops / t_th / 1e9:.1f}")
        share = "" if math.isnan(flops) else f"{100 * flops / t_cp / 1e9 / peak_gflops:.0f}%"
        # the lower bound: all FLOPs at the GEMM peak or all compulsory bytes at the copy bandwidth
        compute = 0.0 if math.isnan(flops) else flops / peak_gflops / 1e9
        bound = max(compute, layer.traffic(passes) / bandwidth_gbs / 1e9)
        gemms = blas_ms(layer, args.forward_only, threads)
        gemm_col = "" if math.isnan(gemms) else f"{gemms:.2f}"
        print(
            f"{layer.name:34s} {t_cp * 1e3:11.2f} {t_th * 1e3:9.2f} {ratio:6.2f} {cols[0]:>8s} {cols[1]:>6s} "
            f"{share:>6s} {bound * 1e3:8.2f} {t_cp / bound:6.1f} {t_th / bound:6.1f} {gemm_col:>8s} "
            f"{peak / 2**20:8.1f}",
            flush=True,
        )
    if conv_ratios:
        geo = math.exp(sum(math.log(r) for r in conv_ratios) / len(conv_ratios))
        print(f"geometric mean of conv ratios: {geo:.2f} (worst {max(conv_ratios):.2f}, {len(conv_ratios)} layers)")


def batch_sweep(layers: list[Layer], args) -> None:
    """Time per image against batch size: where per-call overhead stops mattering."""
    rng = np.random.default_rng(0)
    header = f"{'layer':34s} {'N':>4s} {'convprop us/img':>16s} {'torch us/img':>13s} {'ratio':>6s}"
    print(header)
    print("-" * len(header))
    for layer in layers:
        for n in BATCH_SWEEP:
            t_cp, t_th, _ = bench(layer.with_batch(n), args.repeat, rng, args.forward_only)
            print(
                f"{layer.name:34s} {n:4d} {t_cp / n * 1e6:16.1f} {t_th / n * 1e6:13.1f} {t_cp / t_th:6.2f}", flush=True
            )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2], help="thread counts (both libraries)")
    parser.add_argument("--repeat", type=int, default=10, help="timed runs per layer (median reported)")
    parser.add_argument("--only", default="", help="run only layers whose name contains this text")
    parser.add_argument("--forward-only", action="store_true", help="time the forward pass alone")
    parser.add_argument("--sweep", choices=["batch"], help="time per image for batch sizes 16 .. 256")
    parser.add_argument("--big", action="store_true", help="show the workspace cap on the N256 256->256 case")
    parser.add_argument("--workspace-mb", type=float, help="convprop's workspace cap (default: its own, 512 MB)")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="wall-clock or process CPU time")
    args = parser.parse_args(argv)
    if args.workspace_mb is not None:
        conv_ops.set_workspace_limit(int(args.workspace_mb * 2**20))
    print(_machine.header())
    what = "forward" if args.forward_only else "forward+backward"
    print(f"float32 {what}, median of {args.repeat} alternating runs, {args.clock} clock")
    layers = [layer for layer in LAYERS if args.only in layer.name]
    for threads in args.threads:
        set_num_threads(threads)
        torch.set_num_threads(threads)
        peak, bandwidth = _machine.gemm_peak_gflops(), _machine.copy_bandwidth_gbs()
        print(f"\nthreads={threads}: NumPy fp32 GEMM peak {peak:.0f} GFLOP/s, copy bandwidth {bandwidth:.1f} GB/s")
        if args.big:
            big_case()
        elif args.sweep == "batch":
            batch_sweep(layers, args)
        else:
            table(layers, args, peak, bandwidth, threads)
    print(f"\nat the end: {_machine.conditions()}")


if __name__ == "__main__":
    main()
