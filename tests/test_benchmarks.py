"""The benchmark scripts run after the README's benchmark install: torch, no pytest, no tests/ package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import require_torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
# pytest and the tests package made unimportable; the script's folder on the path, as `python script.py` does
RUN = (
    "import runpy, sys; sys.modules['pytest'] = sys.modules['tests'] = None; sys.path.insert(0, {folder!r}); "
    "sys.argv = [{script!r}, *{args!r}]; runpy.run_path({script!r}, run_name='__main__')"
)


@pytest.mark.parametrize(
    ("script", "args", "expected"),
    [
        ("bench_layers.py", ["--only", "LeNet conv2", "--threads", "1", "--repeat", "1"], "geometric mean"),
        ("bench_layers.py", ["--only", "LeNet conv2", "--threads", "1", "--repeat", "1", "--sweep", "batch"], " 256 "),
        ("bench_conv_algorithms.py", ["--threads", "1", "--repeat", "1"], "grad_weight"),
        (
            "bench_train.py",
            ["--models", "lenet5", "--threads", "1", "--steps", "1", "--warmup", "0", "--batch-size", "8"],
            "lenet5",
        ),
        (
            "bench_train.py",
            [
                *("--models", "resnet8", "--threads", "1", "--steps", "1", "--warmup", "0", "--batch-size", "4"),
                *("--image-size", "16", "--clock", "cpu"),
            ],
            "resnet8",
        ),
        ("bench_train.py", ["--models", "lenet5", "--threads", "1", "--batch-size", "8", "--memory"], "PyTorch MB"),
        (
            "bench_train.py",
            [
                *("--models", "lenet5", "--threads", "1", "--steps", "3", "--warmup", "0", "--batch-size", "8"),
                "--separate",
            ],
            "each library alone in 3 rounds of fresh processes",
        ),
    ],
)
def test_benchmark_runs_without_test_dependencies(script, args, expected):
    require_torch()
    code = RUN.format(folder=str(BENCHMARKS), script=str(BENCHMARKS / script), args=args)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "load average" in out.stdout and expected in out.stdout, out.stdout
