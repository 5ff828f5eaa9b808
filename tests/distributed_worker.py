"""Run by tests/test_distributed.py under ``mpirun -n K`` (and once without it, as the one-process reference).

``python tests/distributed_worker.py api``: checks convprop.distributed's collectives and the exactness of
synchronised BatchNorm on every rank (float64), raising on the first failure.

``python tests/distributed_worker.py train OUT CONFIGS_JSON``: trains each named config of CONFIGS_JSON
(a TrainConfig's settings, and optionally ``perturb``) with the Trainer, rank r into ``OUT/NAME/rank<r>``
(so that a folder written by a rank other than 0 would show), and every rank saves its final weights to
``OUT/NAME/weights-rank<r>.npz``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

import convprop
from convprop import distributed, nn


def check_api() -> None:
    world = distributed.init()
    k, r = distributed.world_size(), distributed.rank()
    assert distributed.is_initialized() and world.size() == k and 0 <= r < k
    assert distributed.all_reduce(np.array([r + 1.0]))[0] == k * (k + 1) / 2
    distributed.barrier()

    # broadcast_parameters: every rank ends with rank 0's parameters and buffers.
    model = nn.Sequential(nn.Linear(5, 4, generator=np.random.default_rng(r)), nn.BatchNorm1d(4))
    model[1].running_mean.data[...] = r
    distributed.broadcast_parameters(model)
    reference = nn.Sequential(nn.Linear(5, 4, generator=np.random.default_rng(0)), nn.BatchNorm1d(4))
    for (name, got), want in zip(model.state_dict().items(), reference.state_dict().values(), strict=True):
        expected = np.zeros_like(want.data) if name == "1.running_mean" else want.data
        assert np.array_equal(got.data, expected), name

    # allreduce_gradients: the mean over the ranks, in several buckets and two dtypes, a missing grad as zeros.
    params = [
        nn.Parameter(np.zeros((300,), np.float32)),
        nn.Parameter(np.zeros((7, 3), np.float64)),
        nn.Parameter(np.zeros((2, 2), np.float64)),
        nn.Parameter(np.zeros((50,), np.float32)),
        nn.Parameter(np.zeros((3,), np.float32)),  # unused: no rank has a gradient
    ]
    holder = nn.ParameterList(params)
    for i, p in enumerate(params[:4]):
        p.grad = None if i == 2 and r == 0 else convprop.tensor(np.full(p.shape, (i + 1) * (r + 1), p.dtype))
    distributed.allreduce_gradients(holder, bucket_cap_mb=1e-3)  # 1 KB buckets: the 300 floats get their own
    assert params[4].grad is None
    for i, p in enumerate(params[:4]):
        ranks_with_grad = range(1, k) if i == 2 else range(k)
        expected = sum((i + 1) * (q + 1) for q in ranks_with_grad) / k
        grad = p.grad.numpy()
        assert grad.dtype == p.dtype and np.allclose(grad, expected, rtol=1e-6), (i, grad.ravel()[:3], expected)

    # ShardedGenerator: this rank's rows of the one process's dropout mask.
    sampler = distributed.ShardedSampler()
    rows = sampler.shard(11)
    mine = distributed.ShardedGenerator(np.random.default_rng(5), sampler).random((rows.stop - rows.start, 3))
    assert np.array_equal(mine, np.random.default_rng(5).random((11, 3))[rows])

    # Synchronised BatchNorm (float64): output, input gradient, parameter gradients and running statistics
    # equal the one process's on the whole batch. Shards of 7 images are uneven for K = 2 and 3.
    rng = np.random.default_rng(1)
    x_all = rng.standard_normal((7, 3, 4, 4)) * 3 + 2
    g_all = rng.standard_normal((7, 3, 4, 4))
    rows = distributed.ShardedSampler().rows(7)

    def run(x, g, share, sync):
        bn = nn.BatchNorm2d(3, dtype=np.float64)
        bn.weight.data[...] = [0.5, 1.5, -2.0]
        if sync:
            distributed.convert_sync_batchnorm(bn)
        x = convprop.tensor(x, requires_grad=True)
        y = bn(x)
        ((y * convprop.tensor(g)).sum() * share).backward()
        return y.data, x.grad.numpy(), bn

    y1, gx1, bn1 = run(x_all, g_all, 1.0, sync=False)
    y, gx, bn = run(x_all[rows], g_all[rows], k / 1.0, sync=True)  # mean over ranks of K * (rank's part)
    distributed.allreduce_gradients(bn)
    assert np.allclose(y, y1[rows], rtol=0, atol=1e-12)
    assert np.allclose(gx, k * gx1[rows], rtol=0, atol=1e-12)
    for name in ("weight", "bias"):
        assert np.allclose(getattr(bn, name).grad.numpy(), getattr(bn1, name).grad.numpy(), rtol=0, atol=1e-12), name
    for name in ("running_mean", "running_var"):
        assert np.allclose(getattr(bn, name).data, getattr(bn1, name).data, rtol=0, atol=1e-12), name
    print(f"rank {r} of {k}: ok", flush=True)


def train(out: Path, configs: dict) -> None:
    from convprop.train.config import TrainConfig
    from convprop.train.trainer import Trainer

    distributed.init()
    r = distributed.rank()
    for name, settings in configs.items():
        (out / name).mkdir(parents=True, exist_ok=True)
        settings = dict(settings)
        perturb = settings.pop("perturb", 0.0)
        trainer = Trainer(TrainConfig(**settings), out / name / f"rank{r}", progress=False, log=lambda line: None)
        # "perturb": scale every initial weight by (1 + perturb·N(0, 1)), a rounding-sized change, to measure how
        # far training carries a difference in the last bit.
        noise = np.random.default_rng(0)
        for p in trainer.model.parameters():
            p.data[...] = p.data * (1 + perturb * noise.standard_normal(p.shape))
        trainer.fit()
        np.savez(
            out / name / f"weights-rank{r}.npz", **{k: np.asarray(v) for k, v in trainer.model.state_dict().items()}
        )


if __name__ == "__main__":
    if sys.argv[1] == "api":
        check_api()
    else:
        train(Path(sys.argv[2]), json.loads(sys.argv[3]))
