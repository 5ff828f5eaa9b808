"""convprop.distributed and `mpirun -n K convprop train`: K processes reproduce the one-process run.

The API is tested in this process (the single-process no-op path, the sharding rules) and under
``mpirun --allow-run-as-root --oversubscribe -n 2`` and ``-n 3`` (tests/distributed_worker.py). Those
need Open MPI's mpirun (``apt-get install openmpi-bin``) and mpi4py (``pip install 'convprop[mpi]'``); CI
installs both. The training runs read the first images of Fashion-MNIST (Debian's dataset-fashion-mnist).

Tolerance. K processes add the same numbers in another order (a batch's gradient is K partial sums plus one
sum over the ranks; BatchNorm's statistics likewise), so their weights differ from the one process's by float32
rounding that training carries along. Measured on 2026-11-30 after one epoch of 6 steps (2450 images, global
batch 480, lr 0.02): largest difference 7.5e-9 (lenet5) and 2.1e-7 / 3.7e-7 (vggsmall with augmentation,
K = 2 / 3), against weights up to about 1; for scale, one process whose initial weights were changed in their
last bit (x (1 + 2^-23 N(0, 1))) ended 4.5e-8 (lenet5) and 3.5e-5 (vggsmall) away. The tests allow 2e-5
(``rtol=atol=2e-5``): 50 times the measured difference, 300 times less than unsynchronised BatchNorm makes
(6.6e-3 and 1.4e-2). Longer runs at higher learning rates carry rounding much further (vggsmall, 16 steps of 120
at lr 0.01: 8e-4, as far as the last-bit change of the initial weights carries it), which is why the runs are short.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import convprop
from convprop import distributed, nn
from convprop.data import DataLoader
from convprop.data.transforms import Compose, RandomCrop, RandomHorizontalFlip
from convprop.train.config import TrainConfig, resolve_config
from convprop.train.run import RunError, plan_run

REPO = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).with_name("distributed_worker.py")
FASHION = Path("/usr/share/datasets/fashion-mnist")
MPIRUN = shutil.which("mpirun")
needs_mpi = pytest.mark.skipif(
    MPIRUN is None or importlib.util.find_spec("mpi4py") is None,
    reason="needs Open MPI's mpirun (apt-get install openmpi-bin) and mpi4py (pip install 'convprop[mpi]')",
)
needs_data = pytest.mark.skipif(
    not (FASHION / "t10k-labels-idx1-ubyte.gz").exists(),
    reason="needs Fashion-MNIST in /usr/share/datasets (apt-get install dataset-fashion-mnist)",
)
RTOL = ATOL = 2e-5
# One epoch of 6 steps: 2450 images in global batches of 480, the last one 50 (shards of 17, 17, 16 for K=3).
COMMON = {
    "dataset": "fashion-mnist",
    "epochs": 1,
    "batch_size": 480,
    "lr": 0.02,
    "limit_train": 2450,
    "limit_test": 500,
    "eval_batch_size": 200,
    "val_split": 0.0,
    "seed": 3,
    "checkpoint_every": 0,
}
CONFIGS = {
    "lenet5": {**COMMON, "model": "lenet5"},
    "vggsmall": {**COMMON, "model": "vggsmall", "width": 8, "augment": True},  # BatchNorm, dropout, augmentation
}


def _env() -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    # Containers often forbid the cross-process memory reads Open MPI's shared-memory transport tries first
    # for large messages; copying through shared memory instead works everywhere.
    env.setdefault("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
    for name in distributed.LAUNCHER_VARIABLES:
        env.pop(name, None)
    return env


def _mpirun(k: int, *args, timeout: float = 240, contexts=None, **kwargs) -> subprocess.CompletedProcess:
    """``mpirun -n k python ARGS`` (or, with ``contexts``, one ``-n 1 ...`` application context per rank)."""
    command = [MPIRUN, "--allow-run-as-root", "--oversubscribe"]
    if contexts is None:
        command += ["-n", str(k), sys.executable, *args]
    else:
        for i, ctx in enumerate(contexts):
            command += ([":"] if i else []) + ["-n", "1", *ctx]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=_env(), **kwargs)


def _cli(*args) -> list[str]:
    return [sys.executable, "-m", "convprop", "train", *args]


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("convprop train:")]


# ---- in this process: one process, no MPI ----


def test_single_process_is_a_no_op(monkeypatch):
    for name in distributed.LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    group = distributed.init()
    assert (group.size(), group.rank(), distributed.world_size(), distributed.rank()) == (1, 0, 1, 0)
    assert not distributed.is_initialized() and not distributed.launched_by_mpi()
    distributed.barrier()
    x = np.arange(4.0)
    assert distributed.all_reduce(x) is x and x.tolist() == [0, 1, 2, 3]
    model = nn.Linear(3, 2, generator=np.random.default_rng(0))
    grad = np.random.default_rng(1).standard_normal((2, 3)).astype(np.float32)
    model.weight.grad = convprop.tensor(grad.copy())
    before = model.weight.data.copy()
    distributed.allreduce_gradients(model)
    distributed.broadcast_parameters(model)
    assert np.array_equal(model.weight.grad.numpy(), grad) and np.array_equal(model.weight.data, before)
    assert distributed.convert_sync_batchnorm(nn.BatchNorm2d(2))  # a group of one: plain BatchNorm
    with pytest.raises(RuntimeError, match=r"MPI is not initialised .*apt-get install openmpi-bin.*convprop\[mpi\]"):
        distributed.require_mpi()


@pytest.mark.parametrize("n", [120, 50, 7, 2])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_shards_tile_the_batch(n, k):
    slices = [distributed.ShardedSampler(k, r).rows(n) for r in range(k)]
    assert [s.start for s in slices] == [0] + [s.stop for s in slices[:-1]] and slices[-1].stop == n
    sizes = [s.stop - s.start for s in slices]
    assert max(sizes) - min(sizes) <= 1


def test_sharded_sampler_refuses_bad_ranks():
    with pytest.raises(ValueError, match=r"rank must be in 0\.\.1, got 2"):
        distributed.ShardedSampler(2, 2)
    with pytest.raises(ValueError, match="num_replicas must be a positive int"):
        distributed.ShardedSampler(0, 0)


def test_k_sharded_loaders_and_masks_are_the_one_process_batches():
    """K loaders with shards of one global batch, and K dropout generators, give the one process's data."""
    rng = np.random.default_rng(0)
    data = (rng.integers(0, 256, (50, 1, 8, 8), dtype=np.uint8), rng.integers(0, 10, 50))
    augment = Compose([RandomCrop(8, padding=2), RandomHorizontalFlip()])

    def loader(shard=None):
        gen = np.random.default_rng(4)
        return DataLoader(data, 12, shuffle=True, generator=gen, transform=augment, normalize=(0.5, 0.2), shard=shard)

    k = 3
    samplers = [distributed.ShardedSampler(k, r) for r in range(k)]
    shards = [loader(s) for s in samplers]
    dropout = [distributed.ShardedGenerator(np.random.default_rng(9), s) for s in samplers]
    one, one_dropout = loader(), np.random.default_rng(9)
    for epoch in range(2):
        for (x, y), *parts in zip(one, *shards, strict=True):
            assert np.array_equal(np.concatenate([p[0] for p in parts]), x), epoch
            assert np.array_equal(np.concatenate([p[1] for p in parts]), y)
            masks = [g.random((len(p[1]), 4)) for g, p in zip(dropout, parts, strict=True)]
            assert np.array_equal(np.concatenate(masks), one_dropout.random((len(y), 4)))


@needs_data
def test_readme_loop_runs_as_one_process(monkeypatch):
    for name in distributed.LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Multi-process and multi-node training") : readme.index("## Notebooks")]
    (block,) = [b for b in section.split("```python\n")[1:]]
    exec(block.split("```")[0], {})


def test_batch_must_divide_among_the_processes():
    with pytest.raises(ValueError, match=r"--batch-size 100 is the global batch .* divisible by the 3 processes"):
        resolve_config(TrainConfig(batch_size=100), world_size=3)
    assert resolve_config(TrainConfig(batch_size=99), world_size=3).world_size == 3
    with pytest.raises(ValueError, match="set up for 2 processes, but 1 are running"):
        resolve_config(TrainConfig(world_size=2), world_size=1)


def test_settings_from_before_mpi_are_one_process():
    assert TrainConfig.from_dict({"dataset": "mnist"}).world_size == 1


def test_missing_mpi4py_is_one_line(tmp_path):
    """Started by a launcher without mpi4py: one line saying how to install it, exit status 1."""
    env = {**_env(), "OMPI_COMM_WORLD_SIZE": "2"}
    blocked = "import sys; sys.modules['mpi4py'] = None; from convprop.cli import main; sys.exit(main(sys.argv[1:]))"
    out = tmp_path / "run"
    args = ["train", "--limit-train", "100", "--out", str(out)]
    proc = subprocess.run([sys.executable, "-c", blocked, *args], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "apt-get install openmpi-bin" in proc.stderr and "pip install 'convprop[mpi]'" in proc.stderr
    assert not out.exists()


# ---- under mpirun ----


@needs_mpi
@pytest.mark.parametrize("k", [2, 3])
def test_api_under_mpirun(k):
    proc = _mpirun(k, str(WORKER), "api", timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # mpirun forwards each rank's output in chunks, which may interleave: look for each line, not at the order
    assert all(proc.stdout.count(f"rank {r} of {k}: ok") == 1 for r in range(k)), proc.stdout


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Each config trained by 1 process and by mpirun -n 2 and -n 3 (and vggsmall -n 2 without sync BatchNorm)."""
    base = tmp_path_factory.mktemp("trained")
    runs = {1: CONFIGS, 2: {**CONFIGS, "vggsmall-nosync": {**CONFIGS["vggsmall"], "sync_batchnorm": False}}, 3: CONFIGS}
    for k, configs in runs.items():
        args = [str(WORKER), "train", str(base / f"k{k}"), json.dumps(configs)]
        proc = (
            subprocess.run([sys.executable, *args], env=_env(), capture_output=True, text=True, timeout=240)
            if (k == 1)
            else _mpirun(k, *args)
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return base


def _weights(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as f:
        return dict(f)


@needs_mpi
@needs_data
@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("model", ["lenet5", "vggsmall"])
def test_k_processes_reproduce_the_one_process_run(trained, model, k):
    one = _weights(trained / "k1" / model / "weights-rank0.npz")
    ranks = [_weights(trained / f"k{k}" / model / f"weights-rank{r}.npz") for r in range(k)]
    for r in range(1, k):  # the ranks hold the same weights, bit for bit
        assert all(np.array_equal(ranks[0][key], ranks[r][key]) for key in one), r
    worst = max(float(np.abs(ranks[0][key].astype(np.float64) - one[key]).max()) for key in one)
    for key in one:
        np.testing.assert_allclose(ranks[0][key], one[key], rtol=RTOL, atol=ATOL, err_msg=f"{key} (worst {worst})")
    assert worst > 0 or model == "lenet5"  # float32 summation order does differ (else the comparison is idle)
    # Only rank 0 wrote a run folder; its summary says how many processes, and the test accuracy is the whole
    # test set's (500 images, sharded between the ranks), equal to the one process's.
    assert sorted(p.name for p in (trained / f"k{k}" / model).iterdir() if p.is_dir()) == ["rank0"]
    summary = json.loads((trained / f"k{k}" / model / "rank0" / "summary.json").read_text())
    reference = json.loads((trained / "k1" / model / "rank0" / "summary.json").read_text())
    assert summary["world_size"] == k and reference["world_size"] == 1
    assert summary["allreduce_seconds"] > 0 and reference["allreduce_seconds"] == 0
    assert sum(map(sum, summary["confusion_matrix"])) == 500
    assert abs(summary["test_accuracy"]["final"] - reference["test_accuracy"]["final"]) <= 1 / 500
    config = json.loads((trained / f"k{k}" / model / "rank0" / "config.json").read_text())
    assert config["world_size"] == k and config["sync_batchnorm"] is True


@needs_mpi
@needs_data
def test_unsynchronised_batchnorm_is_not_the_one_process_run(trained):
    one = _weights(trained / "k1" / "vggsmall" / "weights-rank0.npz")
    nosync = _weights(trained / "k2" / "vggsmall-nosync" / "weights-rank0.npz")
    worst = max(float(np.abs(nosync[key].astype(np.float64) - one[key]).max()) for key in one)
    assert worst > 100 * ATOL


@needs_mpi
@needs_data
def test_bad_input_stops_every_rank_with_one_line(tmp_path):
    out = tmp_path / "run"
    flags = ["--model", "lenet5", "--limit-train", "200", "--limit-test", "100", "--out", str(out)]
    # A global batch that 2 processes cannot share.
    proc = _mpirun(2, "-m", "convprop", "train", *flags, "--batch-size", "75")
    assert proc.returncode != 0 and not out.exists()
    assert _errors(proc.stderr) == [
        "convprop train: error: --batch-size 75 is the global batch and must be divisible by the 2 processes "
        "(mpirun -n 2), so that each takes the same share; try --batch-size 74"
    ], proc.stderr
    # Flags that differ between the ranks.
    proc = _mpirun(2, contexts=[_cli(*flags, "--lr", "0.1"), _cli(*flags, "--lr", "0.2")])
    assert proc.returncode != 0 and not out.exists()
    assert _errors(proc.stderr) == [
        "convprop train: error: rank 1 of 2: started with --lr 0.2, but rank 0 with --lr 0.1: every process of "
        "mpirun must get the same flags"
    ], proc.stderr
    # A rank that cannot read the data: rank 1 finds a truncated copy of Fashion-MNIST first.
    bad = tmp_path / "bad" / "fashion-mnist"
    bad.mkdir(parents=True)
    for source in FASHION.glob("*-ubyte.gz"):
        (bad / source.name).write_bytes(source.read_bytes()[:1000])
    contexts = [_cli(*flags), ["env", f"CONVPROP_DATA={bad.parent}", *_cli(*flags)]]
    proc = _mpirun(2, contexts=contexts)
    assert proc.returncode != 0 and not out.exists()
    lines = _errors(proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("convprop train: error: rank 1 of 2: ") and "train-" in lines[0]


@needs_mpi
@needs_data
def test_sigkill_of_a_rank_ends_the_job_and_resume_reproduces_the_run(tmp_path):
    """A killed rank takes the job down within seconds; --resume with the same K continues it exactly."""
    flags = ["--model", "lenet5", "--limit-train", "1200", "--limit-test", "200", "--val-split", "0"]
    flags += ["--batch-size", "60", "--lr", "0.02", "--epochs", "1", "--checkpoint-every", "4", "--no-progress"]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    proc = _mpirun(2, "-m", "convprop", "train", *flags, "--out", str(whole))
    assert proc.returncode == 0, proc.stderr
    one = tmp_path / "one"
    subprocess.run(_cli(*flags, "--out", str(one)), env=_env(), check=True, capture_output=True, timeout=240)

    command = [MPIRUN, "--allow-run-as-root", "--oversubscribe", "-n", "2", *_cli(*flags, "--out", str(cut))]
    job = subprocess.Popen(command, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while not (cut / "last.npz").exists() and job.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert job.poll() is None, "the run ended before its first checkpoint"
        rank1 = _rank_pid(job.pid, 1)
        os.kill(rank1, signal.SIGKILL)
        killed = time.monotonic()
        _, stderr = job.communicate(timeout=60)
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode != 0 and time.monotonic() - killed < 30
    assert "signal 9" in stderr or "Killed" in stderr, stderr
    step = json.loads(_header_position(cut))["step"]
    assert 4 <= step < 20, step

    proc = _mpirun(3, "-m", "convprop", "train", "--resume", "--out", str(cut))
    assert proc.returncode != 0
    assert _errors(proc.stderr) == [
        f"convprop train: error: {cut / 'last.npz'} was trained by 2 processes (mpirun -n 2); resume it with as "
        "many (this job has 3): the shards of each batch, and so the arithmetic, depend on their number"
    ], proc.stderr
    proc = _mpirun(2, "-m", "convprop", "train", "--resume", "--out", str(cut))
    assert proc.returncode == 0, proc.stderr
    resumed, uninterrupted, single = (_weights(d / "last.npz") for d in (cut, whole, one))
    for key in uninterrupted:
        if key.startswith("model/"):
            assert np.array_equal(resumed[key], uninterrupted[key]), key
            np.testing.assert_allclose(uninterrupted[key], single[key], rtol=RTOL, atol=ATOL, err_msg=key)


@needs_mpi
def test_benchmark_runs():
    script = REPO / "benchmarks" / "bench_distributed.py"
    out = subprocess.run(
        [sys.executable, str(script), "--steps", "1"], capture_output=True, text=True, env=_env(), timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert "load average" in out.stdout and "scaling efficiency" in out.stdout and "ring model" in out.stdout


def _rank_pid(mpirun_pid: int, rank: int) -> int:
    """The process id of ``rank``, a child of the mpirun process, found by its OMPI_COMM_WORLD_RANK."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                environ = (entry / "environ").read_bytes().split(b"\0")
            except (OSError, IndexError, ValueError):
                continue
            if parent == mpirun_pid and f"OMPI_COMM_WORLD_RANK={rank}".encode() in environ:
                return int(entry.name)
        time.sleep(0.1)
    raise AssertionError(f"no rank {rank} under mpirun (pid {mpirun_pid})")


def _header_position(run: Path) -> str:
    from convprop.train.checkpoint import load_checkpoint

    return json.dumps(load_checkpoint(run / "last.npz").header["position"])


def test_resume_with_another_number_of_processes_is_refused(tmp_path, monkeypatch):
    """In this process: a one-process run's checkpoint, resumed by a job of 2, is refused before any work."""
    from convprop.data import write_idx_dataset
    from convprop.train.trainer import Trainer

    data = write_idx_dataset(tmp_path / "data", n_train=48, n_test=12, seed=1)
    config = TrainConfig(model="lenet5", epochs=1, batch_size=24, val_split=0, limit_test=12, seed=0)
    Trainer(config, tmp_path / "run", data_dir=data, progress=False, plots=False, log=lambda line: None).fit()

    class TwoProcesses(distributed.ProcessGroup):
        def size(self):
            return 2

    monkeypatch.setattr(distributed, "WORLD", TwoProcesses())
    with pytest.raises(RunError, match=r"was trained by 1 process; resume it with as many \(this job has 2\)"):
        plan_run({}, tmp_path / "run", "")
