"""Data-parallel training over MPI: images/s with 1 and K processes, the allreduce's cost, and the ring model.

Run as a plain script, it times the training step itself (1 process) and then under
``mpirun -n K`` (``--processes K``, default 2), one BLAS thread per process: the default model (vggsmall,
width 16), a global batch of 128 Fashion-MNIST-sized random images, SGD with Nesterov momentum, BatchNorm
synchronised over the ranks as ``convprop train`` does. Each process times ``--steps`` steps after a warm-up
and reports the median; under MPI also the time spent in the gradient allreduce per step, and the cost of
one allreduce of the gradient's size and of an 8-byte allreduce taken alone (median of 200). From those it
extrapolates, with the ring-allreduce cost model, how step time and efficiency would go with K processes:

    T_step(K) = T_1 / K + 2 (K - 1)/K · S / β + 2 (K - 1) · α + c · log2(K) · α

S: the gradient's bytes; β, α: the bandwidth and latency of one link (fitted to the measured allreduces, and
also those of a 10 Gb/s Ethernet with 50 µs latency, as an assumption); c: the small latency-bound collectives
of a step (two per BatchNorm layer, one for the loss and one for Ctrl-C), modelled as recursive doubling.

    pip install -e ".[mpi]"; apt-get install openmpi-bin
    python benchmarks/bench_distributed.py --steps 20
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time

import numpy as np

import convprop
import convprop.nn.functional as F
from convprop import distributed, optim
from convprop.models import get_model
from convprop.train.threads import set_num_threads

BATCH = 128
ETHERNET = {"name": "10 Gb/s Ethernet, 50 µs latency (assumed)", "bandwidth": 1.25e9, "latency": 50e-6}


def measure(steps: int) -> dict:
    """Median step time of this rank, and under MPI the allreduce costs (every rank runs this)."""
    group = distributed.init()
    k, r = group.size(), group.rank()
    set_num_threads(1)
    rng = np.random.default_rng(0)
    model = distributed.convert_sync_batchnorm(get_model("vggsmall", width=16, generator=rng))
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    rows = distributed.ShardedSampler().rows(BATCH)
    x = convprop.tensor(rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32)[rows])
    y = rng.integers(0, 10, BATCH)[rows]
    times = []
    for step in range(steps + 2):  # two warm-up steps
        group.barrier()
        if step == 2:
            group.allreduce_seconds, group.allreduce_calls = 0.0, 0
        start = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        distributed.allreduce_gradients(model)
        opt.step()
        times.append(time.perf_counter() - start)
    grad_floats = sum(p.data.size for p in model.parameters())
    result = {"processes": k, "step_seconds": float(np.median(times[2:])), "gradient_floats": grad_floats}
    if k > 1:
        result["allreduce_ms_per_step"] = 1e3 * group.allreduce_seconds / group.allreduce_calls
        result["allreduce_gradient_ms"] = 1e3 * _allreduce_seconds(group, grad_floats)
        result["allreduce_8_bytes_us"] = 1e6 * _allreduce_seconds(group, 2)
    # The slowest rank sets the pace: report its median.
    result["step_seconds"] = max(group.all_gather_object(result["step_seconds"]))
    return result if r == 0 else {}


def _allreduce_seconds(group, floats: int, repeat: int = 200) -> float:
    buffer = np.ones(floats, np.float32)
    times = []
    for _ in range(repeat):
        group.barrier()
        start = time.perf_counter()
        group.all_reduce(buffer)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def ring_model(t1: float, grad_bytes: float, bandwidth: float, latency: float, small: int, k: int) -> float:
    """Modelled step time of K processes (see the module docstring)."""
    if k == 1:
        return t1
    return t1 / k + 2 * (k - 1) / k * grad_bytes / bandwidth + 2 * (k - 1) * latency + small * math.log2(k) * latency


def report(one: dict, many: dict, steps: int) -> None:
    k = many["processes"]
    ips1, ipsk = BATCH / one["step_seconds"], BATCH / many["step_seconds"]
    grad_bytes = 4 * one["gradient_floats"]
    print(f"vggsmall width 16, global batch {BATCH}, 1 BLAS thread per process, median of {steps} steps")
    print(f"  1 process : {1e3 * one['step_seconds']:7.1f} ms/step, {ips1:6.0f} images/s")
    print(f"  {k} processes: {1e3 * many['step_seconds']:7.1f} ms/step, {ipsk:6.0f} images/s")
    print(f"  speed-up {ipsk / ips1:.2f}, scaling efficiency {ipsk / (k * ips1):.0%}")
    print(
        f"  gradient allreduce in training: {many['allreduce_ms_per_step']:.2f} ms/step (waiting for the slower rank "
        f"included); alone: {many['allreduce_gradient_ms']:.3f} ms for {grad_bytes / 1e3:.0f} kB, "
        f"{many['allreduce_8_bytes_us']:.1f} µs for 8 bytes"
    )
    # Fit the ring model's link to the two measured allreduces of K processes: α from the 8 bytes, β from the rest.
    latency = many["allreduce_8_bytes_us"] * 1e-6 / (2 * (k - 1))
    transfer = max(many["allreduce_gradient_ms"] * 1e-3 - 2 * (k - 1) * latency, 1e-9)
    fitted = {"name": "this machine's shared memory (fitted)", "bandwidth": 2 * (k - 1) / k * grad_bytes / transfer}
    fitted["latency"] = latency
    small = 2 * sum(type(m).__name__.startswith("BatchNorm") for m in get_model("vggsmall", width=16).modules()) + 2
    t1 = one["step_seconds"]
    for link in (fitted, ETHERNET):
        print(
            f"ring model, {link['name']}: beta {link['bandwidth'] / 1e9:.2f} GB/s, alpha {1e6 * link['latency']:.1f} µs"
        )

        def step(kk, link=link):
            return ring_model(t1, grad_bytes, link["bandwidth"], link["latency"], small, kk)

        print(
            "  "
            + ", ".join(f"K={kk}: {1e3 * step(kk):.1f} ms ({t1 / (kk * step(kk)):.0%})" for kk in (2, 4, 8, 16, 32, 64))
        )
        ks = range(1, BATCH + 1)
        best = min(ks, key=step)
        half = next((kk for kk in ks if t1 / (kk * step(kk)) < 0.5), None)
        below = f"from K={half}" if half else f"at no K up to {BATCH}"
        print(f"  fastest step at K={best}; efficiency below 50% {below} (in practice K must divide the batch)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20, help="timed steps (after 2 warm-up steps)")
    ap.add_argument("--processes", type=int, default=2, help="K, the processes of the MPI run (default 2)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        result = measure(args.steps)
        if result:
            print(json.dumps(result))
        return
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        sys.exit("bench_distributed.py: mpirun not found: apt-get install openmpi-bin and pip install 'convprop[mpi]'")
    from _machine import header

    print(header())
    one = measure(args.steps)
    command = [mpirun, "--allow-run-as-root", "--oversubscribe", "-n", str(args.processes), sys.executable, __file__]
    out = subprocess.run(
        [*command, "--worker", "--steps", str(args.steps)], capture_output=True, text=True, env=os.environ
    )
    if out.returncode:
        sys.exit(f"bench_distributed.py: the MPI run failed:\n{out.stderr}")
    report(one, json.loads(out.stdout.strip().splitlines()[-1]), args.steps)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
