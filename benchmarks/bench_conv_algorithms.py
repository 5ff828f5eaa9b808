"""The measurement behind the algorithm choice table in ``convprop/ops/_conv_kernels.py``.

Usage::

    python benchmarks/bench_conv_algorithms.py --threads 1 2

For each shape it times the forward pass and ∂L/∂F with each algorithm forced (im2col GEMM,
per-kernel-offset GEMMs on shifted views, and, forward only, the channel-major shifted views),
alternating them run by run in one process, and prints the median times and each one's ratio to
im2col (below 1 means faster than im2col), beside the algorithm the table picks. float32; stride 1
(the shifted views need it).
"""

from __future__ import annotations

import argparse
import statistics
import time

import _machine
import numpy as np

from convprop.ops import _conv_kernels as kernels
from convprop.ops import conv
from convprop.threads import set_num_threads

# (N, C, O, H=W, kernel, padding)
SHAPES = [
    (128, 8, 8, 28, 3, 1),
    (128, 16, 16, 28, 3, 1),
    (128, 16, 32, 28, 3, 1),
    (128, 32, 16, 28, 3, 1),
    (128, 32, 32, 14, 3, 1),
    (128, 64, 64, 8, 3, 1),
    (64, 32, 64, 28, 3, 1),
    (128, 1, 16, 28, 3, 1),
    (128, 3, 16, 32, 3, 1),
    (64, 1, 6, 28, 5, 2),
    (64, 6, 16, 14, 5, 0),
]


def _time(fn, algorithm: str) -> float:
    kernels.force = algorithm
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", nargs="+", type=int, default=[1])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)
    print(_machine.header())
    rng = np.random.default_rng(0)
    for threads in args.threads:
        set_num_threads(threads)
        print(f"\nthreads={threads}, median of {args.repeat} runs, ms (ratio to im2col)")
        head = f"{'shape':28s} {'formula':12s} {'im2col':>8s} {'shifted':>14s} {'channel-major':>16s} {'table':>14s}"
        print(head)
        for n, c, o, h, k, p in SHAPES:
            x = rng.standard_normal((n, c, h, h), dtype=np.float32)
            w = rng.standard_normal((o, c, k, k), dtype=np.float32)
            geom = conv.Geometry((1, 1), (p, p), (p, p), (1, 1), 1)
            out_size = geom.out_size((h, h), (k, k))
            gy = rng.standard_normal((n, o, *out_size), dtype=np.float32)
            runs = {
                "forward": lambda x=x, w=w, geom=geom: conv.conv_forward(x, w, None, geom),
                "grad_weight": lambda x=x, gy=gy, w=w, geom=geom: conv.conv_grad_weight(x, gy, w.shape, geom),
            }
            for formula, fn in runs.items():
                times = {"im2col": [], "shifted": []} | ({"channel-major": []} if formula == "forward" else {})
                for _ in range(args.repeat + 1):  # the first round warms up
                    for algorithm in times:
                        times[algorithm].append(_time(fn, algorithm))
                kernels.force = None
                chosen = kernels.algorithm(w.shape, geom, (h, h), out_size, formula)
                med = {a: statistics.median(v[1:]) * 1e3 for a, v in times.items()}
                cells = [
                    f"{med[a]:6.2f} ({med[a] / med['im2col']:.2f})" for a in ("shifted", "channel-major") if a in med
                ]
                print(
                    f"N{n} {c}->{o} {h}x{h} {k}x{k} p{p}".ljust(28)
                    + f" {formula:12s} {med['im2col']:8.2f} "
                    + " ".join(f"{cell:>15s}" for cell in cells).ljust(32)
                    + f" {chosen:>14s}",
                    flush=True,
                )
    print(f"\nat the end: {_machine.conditions()}")


if __name__ == "__main__":
    main()
