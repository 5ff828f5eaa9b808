"""The training configuration: every setting of a run, with defaults per dataset.

``TrainConfig`` is what ``config.json`` in a run folder holds and what a
checkpoint stores, so a run can be resumed (or reproduced) from it exactly.
Fields left as ``None`` are filled from :data:`DATASET_DEFAULTS` by
:func:`resolve_config`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

DATASETS = ("fashion-mnist", "mnist", "cifar10", "imagefolder")
# The share of the training images held out for validation when neither --val-split nor --val-dir is given.
DEFAULT_VAL_SPLIT = 0.1
# Settings a resumed run may change: they do not enter the training arithmetic (except that some BLAS
# builds sum in a different order with another thread count, so a resumed run keeps it unless told).
RUNTIME_SETTINGS = ("threads", "checkpoint_every", "eval_batch_size")
OPTIMIZERS = ("sgd", "adam", "adamw")
# The (peak) learning rate when --lr is not given and the optimizer is not the dataset's default one:
# Adam's steps are normalised per parameter, so SGD's 0.05 makes it diverge; 1e-3 is its usual default.
OPTIMIZER_LR = {"sgd": 0.05, "adam": 1e-3, "adamw": 1e-3}
SCHEDULERS = ("none", "step", "cosine", "onecycle")
# Bounds that keep a typo (--width 1000000) or a doctored checkpoint header from asking for terabytes:
# vggsmall at width 1024 already has ~150 M parameters, and a CPU trainer has no use for larger images.
MAX_WIDTH = 1024
MAX_IMAGE_SIDE = 4096
MAX_CLASSES = 100_000

# Chosen so that a plain `convprop train` reaches the README's targets on a 2-core CPU
# (Fashion-MNIST: >= 92% test accuracy within 10 minutes of training; see the README for the measured run).
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "fashion-mnist": {
        "model": "vggsmall",
        "width": 16,
        "epochs": 5,
        "batch_size": 128,
        "lr": 0.05,
        "optimizer": "sgd",
        "momentum": 0.9,
        "weight_decay": 5e-4,
        "scheduler": "onecycle",
        "augment": False,
    },
    "mnist": {
        "model": "lenet5",
        "epochs": 5,
        "batch_size": 128,
        "lr": 0.05,
        "optimizer": "sgd",
        "momentum": 0.9,
        "weight_decay": 5e-4,
        "scheduler": "onecycle",
        "augment": False,
    },
    "cifar10": {
        "model": "resnet20",
        "epochs": 30,
        "batch_size": 128,
        "lr": 0.1,
        "optimizer": "sgd",
        "momentum": 0.9,
        "weight_decay": 5e-4,
        "scheduler": "cosine",
        "augment": True,
    },
    # Your own images (--data-dir): a small ResNet, which takes any image size (global average pooling).
    "imagefolder": {
        "model": "resnet8",
        "epochs": 10,
        "batch_size": 64,
        "lr": 0.05,
        "optimizer": "sgd",
        "momentum": 0.9,
        "weight_decay": 5e-4,
        "scheduler": "cosine",
        "augment": False,
    },
}


def is_model_file(model: str | None) -> bool:
    """True for a model given as ``path/to/file.py:ClassName`` (see :mod:`convprop.train.models`)."""
    return isinstance(model, str) and ".py:" in model


@dataclass
class TrainConfig:
    """Every setting of a training run (see ``convprop train --help`` for their meaning)."""

    dataset: str = "fashion-mnist"
    model: str | None = None
    width: int | None = None
    # Constructor arguments of a model file's class (--model-args JSON); built-ins take --width instead.
    model_args: dict[str, Any] | None = None
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    optimizer: str | None = None
    momentum: float | None = None
    weight_decay: float | None = None
    scheduler: str | None = None
    augment: bool | None = None
    label_smoothing: float = 0.0
    # Validation: the share of the training set held out (stratified, drawn from the seed; 0: none), or a
    # folder of images per class. None: DEFAULT_VAL_SPLIT unless val_dir (or an image folder's val/) is given.
    val_split: float | None = None
    val_dir: str | None = None
    # Stop when the validation loss has not improved for this many epochs (None: never).
    early_stopping: int | None = None
    image_size: int | None = None  # --dataset imagefolder: side of the square images (None: their own size)
    seed: int = 0
    # One thread by default: on the shared 2-core machine the README's numbers come from, two BLAS threads
    # were up to 6x slower per image than one (they wait for each other on oversubscribed cores), and
    # barely faster when the machine was quieter. None: leave the libraries' own defaults (all cores).
    threads: int | None = 1
    limit_train: int | None = None
    limit_test: int | None = None
    checkpoint_every: int = 200
    eval_batch_size: int = 500
    # Data parallelism (mpirun -n K): the processes of the run (None: those this one was launched with), and
    # whether BatchNorm takes the global batch's statistics (the one-process result) or each rank's own.
    world_size: int | None = None
    sync_batchnorm: bool = True

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown training settings: {', '.join(unknown)}")
        # Settings written before data parallelism existed are those of a single process.
        return cls(**{"world_size": 1, **data})


def resolve_config(config: TrainConfig, world_size: int | None = None) -> TrainConfig:
    """A copy of ``config`` with the dataset's defaults filled in, validated.

    ``world_size``: the processes training together (default: ``convprop.distributed.world_size()``);
    ``config.world_size`` becomes it, and must equal it when set.

    Raises:
        ValueError: an unknown dataset, optimizer or scheduler, an out-of-range value, a batch size
            that the processes cannot share equally, or a config written for another number of processes.
    """
    from convprop import distributed

    world = distributed.world_size() if world_size is None else world_size
    if config.dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}; got {config.dataset!r}")
    defaults = dict(DATASET_DEFAULTS[config.dataset])
    if config.model not in (None, defaults["model"]):
        defaults.pop("width", None)  # the default width belongs to the default model
    if config.optimizer not in (None, defaults["optimizer"]) and config.optimizer in OPTIMIZER_LR:
        defaults["lr"] = OPTIMIZER_LR[config.optimizer]  # the dataset's lr belongs to its default optimizer
    filled = {k: (defaults[k] if v is None and k in defaults else v) for k, v in config.to_dict().items()}
    if filled["val_dir"] is not None:
        if filled["val_split"]:
            raise ValueError("give --val-split or --val-dir, not both")
        filled["val_dir"] = str(filled["val_dir"])
        filled["val_split"] = 0.0
    elif filled["val_split"] is None:
        filled["val_split"] = DEFAULT_VAL_SPLIT
    if filled["world_size"] not in (None, world):
        raise ValueError(
            f"the run is set up for {filled['world_size']} processes, but {world} are running: "
            f"start it with mpirun -n {filled['world_size']}"
        )
    filled["world_size"] = world
    if filled["image_size"] is not None and filled["dataset"] != "imagefolder":
        raise ValueError(f"--image-size is for --dataset imagefolder ({filled['dataset']} has its own size)")
    cfg = TrainConfig(**filled)
    from convprop.models import list_models

    if is_model_file(cfg.model):
        if cfg.width is not None:
            raise ValueError("--width is for the built-in models; give a model file's arguments with --model-args")
    elif cfg.model_args is not None:
        raise ValueError("--model-args is for a model file (--model path/to/file.py:ClassName)")
    elif cfg.model not in list_models():
        raise ValueError(
            f"--model must be one of {', '.join(list_models())}, or path/to/file.py:ClassName; got {cfg.model!r}"
        )
    if cfg.model_args is not None and not isinstance(cfg.model_args, dict):
        raise ValueError(f"--model-args must be a JSON object; got {cfg.model_args!r}")
    if cfg.optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {cfg.optimizer!r}")
    if cfg.scheduler not in SCHEDULERS:
        raise ValueError(f"scheduler must be one of {', '.join(SCHEDULERS)}; got {cfg.scheduler!r}")
    for name in ("epochs", "batch_size", "eval_batch_size"):
        _require(name, getattr(cfg, name), lambda v: isinstance(v, int) and v >= 1, "a positive integer")
    for name in ("limit_train", "limit_test", "threads", "early_stopping"):
        value = getattr(cfg, name)
        _require(name, value, lambda v: v is None or (isinstance(v, int) and v >= 1), "a positive integer")
    for name, high in (("width", MAX_WIDTH), ("image_size", MAX_IMAGE_SIDE)):
        value = getattr(cfg, name)
        _require(
            name, value, lambda v, high=high: v is None or (isinstance(v, int) and 1 <= v <= high), f"in 1..{high}"
        )
    _require("checkpoint_every", cfg.checkpoint_every, lambda v: isinstance(v, int) and v >= 0, ">= 0 (0: off)")
    _require("lr", cfg.lr, lambda v: 0 < v < math.inf, "positive and finite")
    _require("momentum", cfg.momentum, lambda v: 0 <= v < 1, "in [0, 1)")
    _require("weight_decay", cfg.weight_decay, lambda v: 0 <= v < math.inf, ">= 0 and finite")
    _require("val_split", cfg.val_split, lambda v: 0 <= v < 1, "in [0, 1) (0: no validation)")
    _require("label_smoothing", cfg.label_smoothing, lambda v: 0 <= v < 1, "in [0, 1)")
    _require("seed", cfg.seed, lambda v: isinstance(v, int) and v >= 0, "a non-negative integer")
    if cfg.batch_size % world:
        raise ValueError(
            f"--batch-size {cfg.batch_size} is the global batch and must be divisible by the {world} processes "
            f"(mpirun -n {world}), so that each takes the same share; try --batch-size "
            f"{max(world, cfg.batch_size - cfg.batch_size % world)}"
        )
    return cfg


def changed_settings(saved: TrainConfig, given: dict[str, Any]) -> list[str]:
    """The settings in ``given`` that differ from ``saved`` and that a resumed run may not change
    (all but :data:`RUNTIME_SETTINGS`)."""
    return sorted(k for k, v in given.items() if k not in RUNTIME_SETTINGS and getattr(saved, k) != v)


def _require(name: str, value, ok, what: str) -> None:
    if isinstance(value, bool) or not ok(value):
        flag = "--" + name.replace("_", "-")
        raise ValueError(f"{flag} must be {what}; got {value!r}")
