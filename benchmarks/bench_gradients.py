"""The cost of ``convprop train --track-gradients``: training steps with and without the tracker, alternated.

The default model (vggsmall, width 16), batch 128 of 1x28x28 inputs, SGD with Nesterov momentum and weight
decay, one BLAS thread. Steps without tracking, with ``--track-gradients 10`` and with ``--track-gradients 1``
(every step) take turns step by step, in a rotating order, all in this one process, so that load from other
processes hits the three alike (``--steps`` steps each). Prints the median step time of each, and the
tracker's own time per recorded step (``before_step`` + ``after_step``, timed directly).

    python benchmarks/bench_gradients.py --steps 50
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import convprop
import convprop.nn.functional as F
from convprop import optim
from convprop.models import get_model
from convprop.train.gradients import GradientTracker
from convprop.train.threads import set_num_threads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=50, help="steps of each kind")
    args = ap.parse_args()
    set_num_threads(1)
    rng = np.random.default_rng(0)
    model = get_model("vggsmall", width=16, generator=rng)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    x = convprop.tensor(rng.standard_normal((128, 1, 28, 28)).astype(np.float32))
    y = rng.integers(0, 10, 128)
    modes = {"off": None, "every 10": GradientTracker(model, 10), "every 1": GradientTracker(model, 1)}
    step_times = {name: [] for name in modes}
    tracker_times = []
    step = 0

    def train_step(tracker):
        nonlocal step
        step += 1
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        if tracker is not None:
            t = time.perf_counter()
            tracker.before_step(step)
            pause = time.perf_counter() - t
        opt.step()
        if tracker is not None:
            t = time.perf_counter()
            tracker.after_step()
            if tracker.every == 1:
                tracker_times.append(pause + time.perf_counter() - t)

    for _ in range(2):  # warm-up
        train_step(None)
    load = os.getloadavg()[0]
    names = list(modes)
    for r in range(args.steps):
        for name in names[r % 3 :] + names[: r % 3]:
            t = time.perf_counter()
            train_step(modes[name])
            step_times[name].append(time.perf_counter() - t)
    base = np.median(step_times["off"])
    print(f"{len(modes['every 1'].layers)} tracked layers; load average at the start {load:.1f}")
    for name, times in step_times.items():
        med = np.median(times)
        print(
            f"{name:>9}: median step {1000 * med:7.1f} ms ({len(times)} steps), {100 * (med / base - 1):+5.1f}% vs off"
        )
    own = np.median(tracker_times)
    print(f"tracker's own time per recorded step: median {1000 * own:.2f} ms = {100 * own / base:.2f}% of a step")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
