r"""Data parallelism over MPI: K processes train one model as one process would, K times faster at best.

Launched as ``mpirun -n K python train.py`` (or ``mpirun -n K convprop train``), every process (a *rank*,
0..K-1) holds a full copy of the model. Each global batch of B images is cut into K contiguous shards; rank r
runs the forward and backward pass on its shard only, and an allreduce sums the K gradients so that every
rank applies the same update and the copies stay identical. Names follow ``torch.distributed`` and DDP.

**Why the allreduced gradient is the one-process gradient.** The training loss is the mean over the global
batch, L = (1/B) Σ_i ℓ_i. Rank r computes the mean over its own B_r images, L_r = (1/B_r) Σ_{i∈r} ℓ_i, so

.. math::
    L = \sum_r \frac{B_r}{B} L_r, \qquad
    \frac{\partial L}{\partial \theta} = \sum_r \frac{B_r}{B} \frac{\partial L_r}{\partial \theta}
    = \frac{1}{K} \sum_r \frac{\partial (s_r L_r)}{\partial \theta}, \quad s_r = \frac{K B_r}{B}.

With equal shards (B_r = B/K, the trainer requires K to divide B) every s_r is 1 and the gradient is the plain
average :func:`allreduce_gradients` computes: sum over ranks, divided by K. A smaller last batch of an epoch
is cut unevenly; the trainer then backpropagates s_r L_r instead of L_r. This holds when each ℓ_i depends
on the parameters and image i only. BatchNorm couples the images of a batch through its mean and variance;
:func:`convert_sync_batchnorm` makes those the global batch's (see ``convprop.ops.normalization``), and the
statement holds again. Dropout masks and augmentation are drawn for the global batch and sliced
(:class:`ShardedSampler`, :class:`ShardedGenerator`), so the K processes see exactly the one process's
batch. What remains different is the order of floating-point additions (a sum over B images becomes K sums
over B/K and one over K), so weights agree to float32 rounding, not bit for bit.

Without an MPI launcher (no ``OMPI_COMM_WORLD_SIZE``, ``PMI_SIZE`` or ``PMIX_RANK`` in the environment),
:func:`init` is a no-op: one process, rank 0 of 1, and every collective here returns its input. mpi4py is
imported only under a launcher, so convprop never needs it otherwise (``pip install 'convprop[mpi]'``).
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

# Set by mpirun/mpiexec: Open MPI, MPICH's Hydra (and Intel MPI), any PMIx launcher (srun --mpi=pmix).
LAUNCHER_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK")
INSTALL_HINT = "apt-get install openmpi-bin and pip install 'convprop[mpi]'"
# Gradient buckets of at most this many bytes (DDP's bucket_cap_mb default is 25 MB): one Allreduce each.
BUCKET_CAP_MB = 25


def launched_by_mpi() -> bool:
    """Whether an MPI launcher started this process (its environment variables are set)."""
    return any(name in os.environ for name in LAUNCHER_VARIABLES)


class ProcessGroup:
    """The processes that train together: an mpi4py communicator, or ``None`` for a single process.

    Besides the communicator it counts the seconds spent in gradient allreduces (``allreduce_seconds``,
    ``allreduce_calls``); that time includes waiting for the slowest rank to arrive.
    """

    def __init__(self, comm=None):
        self.comm = comm
        self.allreduce_seconds = 0.0
        self.allreduce_calls = 0

    def rank(self) -> int:
        return 0 if self.comm is None else self.comm.Get_rank()

    def size(self) -> int:
        return 1 if self.comm is None else self.comm.Get_size()

    def all_reduce(self, array: np.ndarray) -> np.ndarray:
        """Sum ``array`` (contiguous) over the ranks, in place; returns it."""
        if self.comm is not None:
            from mpi4py import MPI

            self.comm.Allreduce(MPI.IN_PLACE, array, op=MPI.SUM)
        return array

    def all_gather(self, array: np.ndarray) -> np.ndarray:
        """The ranks' equally shaped arrays stacked: ``out[r]`` is rank r's."""
        out = np.empty((self.size(), *array.shape), array.dtype)
        if self.comm is None:
            out[0] = array
        else:
            self.comm.Allgather(np.ascontiguousarray(array), out)
        return out

    def all_gather_object(self, obj) -> list:
        """Every rank's picklable ``obj``, in rank order."""
        return [obj] if self.comm is None else self.comm.allgather(obj)

    def broadcast_object(self, obj, src: int = 0):
        """Rank ``src``'s ``obj`` on every rank."""
        return obj if self.comm is None else self.comm.bcast(obj, root=src)

    def broadcast(self, array: np.ndarray, src: int = 0) -> np.ndarray:
        """Overwrite ``array`` (contiguous) with rank ``src``'s, in place; returns it."""
        if self.comm is not None:
            self.comm.Bcast(array, root=src)
        return array

    def barrier(self) -> None:
        if self.comm is not None:
            self.comm.Barrier()


WORLD = ProcessGroup()


def init() -> ProcessGroup:
    """Join the processes an MPI launcher started (``MPI_COMM_WORLD``); a single process otherwise.

    Safe to call more than once. Returns the group (also :data:`WORLD`).

    Raises:
        RuntimeError: launched by MPI but mpi4py (or the MPI library it loads) is missing.
    """
    global WORLD
    if WORLD.comm is None and launched_by_mpi():
        try:
            from mpi4py import MPI
        except ImportError as exc:
            raise RuntimeError(f"started by mpirun, but mpi4py cannot be loaded ({exc}): {INSTALL_HINT}") from None
        WORLD = ProcessGroup(MPI.COMM_WORLD)
    return WORLD


def is_initialized() -> bool:
    """Whether :func:`init` joined an MPI job (False for a single process)."""
    return WORLD.comm is not None


def rank() -> int:
    """This process's rank, 0..world_size()-1 (0 for a single process)."""
    return WORLD.rank()


def world_size() -> int:
    """How many processes train together (1 for a single process)."""
    return WORLD.size()


def barrier() -> None:
    """Wait until every rank has reached this call."""
    WORLD.barrier()


def all_reduce(array: np.ndarray, group: ProcessGroup | None = None) -> np.ndarray:
    """Sum a contiguous array over the ranks, in place (``torch.distributed.all_reduce`` with SUM); returns it."""
    return (group or WORLD).all_reduce(array)


def require_mpi() -> None:
    """Raise a one-line RuntimeError unless this process is part of an MPI job (for code that needs peers)."""
    if not is_initialized():
        reason = "mpi4py is not installed" if not _has_mpi4py() else "this process was not started by mpirun"
        raise RuntimeError(f"MPI is not initialised ({reason}): {INSTALL_HINT}, then run mpirun -n K ...")


def _has_mpi4py() -> bool:
    import importlib.util

    return importlib.util.find_spec("mpi4py") is not None


# ---- gradients and parameters ----


def _buckets(params: list, cap_bytes: int) -> Iterator[list]:
    """Consecutive runs of parameters of one dtype, each at most ``cap_bytes`` (a larger parameter alone)."""
    bucket, size = [], 0
    for p in params:
        nbytes = p.data.nbytes
        if bucket and (p.data.dtype != bucket[0].data.dtype or size + nbytes > cap_bytes):
            yield bucket
            bucket, size = [], 0
        bucket.append(p)
        size += nbytes
    if bucket:
        yield bucket


def allreduce_gradients(model, group: ProcessGroup | None = None, bucket_cap_mb: float = BUCKET_CAP_MB) -> None:
    """Average the gradients of ``model``'s parameters over the ranks: ``grad ← (1/K) Σ_r grad_r``.

    The gradients are copied into flat contiguous buffers (one per dtype, at most ``bucket_cap_mb`` each),
    each buffer is summed with one in-place ``MPI_Allreduce`` and divided by K, and every parameter's
    ``.grad`` becomes its slice of the result. One call per bucket rather than per parameter: a call costs
    a latency (a few µs on one machine, tens of µs across a network) whatever its size. A parameter
    without a gradient on this rank contributes zeros (every rank must still take part); one that no rank
    has a gradient for keeps ``grad`` None. With equal shards
    of the global batch, the average is the global-batch gradient (see the module docstring).
    """
    group = group or WORLD
    k = group.size()
    if k == 1:
        return
    params = [p for p in model.parameters() if p.requires_grad]
    start = time.perf_counter()
    for bucket in _buckets(params, int(bucket_cap_mb * 2**20)):
        # The gradients, then one count per parameter of the ranks that have a gradient for it.
        offsets = np.cumsum([0] + [p.data.size for p in bucket])
        flat = np.empty(offsets[-1] + len(bucket), bucket[0].data.dtype)
        for i, (p, a, b) in enumerate(zip(bucket, offsets[:-1], offsets[1:], strict=True)):
            grad = p._grad_array  # the array .grad wraps: no Tensor built per parameter
            flat[a:b] = 0 if grad is None else grad.reshape(-1)
            flat[offsets[-1] + i] = grad is not None
        group.all_reduce(flat)
        flat /= k
        for i, (p, a, b) in enumerate(zip(bucket, offsets[:-1], offsets[1:], strict=True)):
            # A parameter no rank has a gradient for keeps none, as in one process (the optimizer skips it).
            p._grad_array = flat[a:b].reshape(p.shape) if flat[offsets[-1] + i] > 0 else None
    group.allreduce_seconds += time.perf_counter() - start
    group.allreduce_calls += 1


def broadcast_parameters(model, group: ProcessGroup | None = None, src: int = 0) -> None:
    """Copy rank ``src``'s parameters and buffers (BatchNorm's running statistics) to every rank, in place."""
    group = group or WORLD
    if group.size() == 1:
        return
    for tensor in [*model.parameters(), *(b for b in model.buffers() if b is not None)]:
        array = tensor.data
        if array.flags.c_contiguous:
            group.broadcast(array, src)
        else:
            array[...] = group.broadcast(np.ascontiguousarray(array), src)


def convert_sync_batchnorm(model, group: ProcessGroup | None = None):
    """Make every BatchNorm layer of ``model`` normalise with the global batch's statistics; returns ``model``.

    In training, each BatchNorm layer then gathers the ranks' per-channel counts, means and squared
    deviations in its forward pass and sums the two reductions of its backward pass (∂L/∂β and ∂L/∂γ
    partial sums) over the ranks, so that its output and input gradient equal the one-process ones (formulas
    in ``convprop.ops.normalization``). The layers keep their type; their ``process_group`` is set (None
    reverts them). In evaluation mode nothing is exchanged: the running statistics are the same on every rank.
    """
    from convprop.nn.modules.normalization import _BatchNorm

    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.process_group = group or WORLD
    return model


# ---- data ----


class ShardedSampler:
    """Which rows of every global batch this rank takes: a contiguous slice, the same rule on every rank.

    Give it to ``DataLoader(..., batch_size=B, shard=sampler)``, with ``B`` the *global* batch: every rank's
    loader draws the same permutation and augmentation for the whole batch from the same seeded generator
    and keeps rows ``sampler.shard(n)`` of each batch of n. Unlike ``torch.utils.data.DistributedSampler``,
    which deals whole batches of its own to each rank, the K shards of step t together are exactly the
    one-process run's batch t.

    Args:
        num_replicas: K (default: :func:`world_size`).
        rank: this rank (default: :func:`rank`).
    """

    def __init__(self, num_replicas: int | None = None, rank: int | None = None):
        self.num_replicas = WORLD.size() if num_replicas is None else num_replicas
        self.rank = WORLD.rank() if rank is None else rank
        if not (isinstance(self.num_replicas, int) and self.num_replicas >= 1):
            raise ValueError(f"ShardedSampler: num_replicas must be a positive int, got {self.num_replicas!r}")
        if not (isinstance(self.rank, int) and 0 <= self.rank < self.num_replicas):
            raise ValueError(f"ShardedSampler: rank must be in 0..{self.num_replicas - 1}, got {self.rank!r}")
        self.global_rows = 0  # the size of the global batch last served

    def rows(self, n: int) -> slice:
        """Rank r's rows of a batch of n: each rank gets n // K rows, the first n % K ranks one more."""
        per, extra = divmod(n, self.num_replicas)
        start = self.rank * per + min(self.rank, extra)
        return slice(start, start + per + (self.rank < extra))

    def shard(self, n: int) -> slice:
        """:meth:`rows` of a batch of n, remembering n as the batch being served (``global_rows``)."""
        self.global_rows = n
        return self.rows(n)

    def __repr__(self) -> str:
        return f"ShardedSampler(num_replicas={self.num_replicas}, rank={self.rank})"


class ShardedGenerator(np.random.Generator):
    """A view of ``generator`` (same stream, same state) that draws batch-shaped samples for the global batch.

    ``random(shape)`` with ``shape[0]`` this rank's rows of the batch ``sampler`` last served draws the
    samples of the whole global batch and returns this rank's rows: every rank's stream advances as the one
    process's does, and the masks are its masks, sliced. Dropout draws its masks with ``random``; give this
    as the dropout layers' ``generator``. Other shapes are drawn as they are.
    """

    def __init__(self, generator: np.random.Generator, sampler: ShardedSampler):
        super().__init__(generator.bit_generator)
        self.sampler = sampler

    def random(self, size=None, dtype=np.float64, out=None):
        shape = (size,) if isinstance(size, int | np.integer) else size
        n = self.sampler.global_rows
        rows = self.sampler.rows(n)
        if out is None and shape and n and shape[0] == rows.stop - rows.start:
            return super().random((n, *shape[1:]), dtype)[rows]
        return super().random(size, dtype, out)


# ---- errors that every rank must see ----


@contextmanager
def agree_on_errors(group: ProcessGroup | None = None):
    """Run a block on every rank; if it raises on any rank, raise on every rank.

    Every rank learns the error of the lowest failing rank (its message prefixed ``rank r of K:`` when it is
    another rank's) and raises it with ``collective = True`` set: every rank stops, so none waits forever
    in a later collective, and a command-line front end prints it once (on rank 0). Use it around setup,
    where a rank may fail alone (a file it cannot read).
    """
    group = group or WORLD
    error = None
    try:
        yield
    except Exception as exc:
        error = exc
    if group.size() == 1:
        if error is not None:
            raise error
        return
    errors = group.all_gather_object(_portable(error))
    failed = [(r, e) for r, e in enumerate(errors) if e is not None]
    if not failed:
        return
    r, first = failed[0]
    if r != group.rank():
        first.args = (f"rank {r} of {group.size()}: {first}",)
    first.collective = True
    raise first from None


def _portable(error: Exception | None) -> Exception | None:
    """``error`` if it survives pickling, else a RuntimeError with its message."""
    if error is None:
        return None
    try:
        return pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(str(error))


__all__ = [
    "INSTALL_HINT",
    "WORLD",
    "ProcessGroup",
    "ShardedGenerator",
    "ShardedSampler",
    "agree_on_errors",
    "all_reduce",
    "allreduce_gradients",
    "barrier",
    "broadcast_parameters",
    "convert_sync_batchnorm",
    "init",
    "is_initialized",
    "launched_by_mpi",
    "rank",
    "require_mpi",
    "world_size",
]
