"""The training loop: fit, evaluate, checkpoint every N steps, resume exactly.

Exact resume rests on three rules:

1. All randomness comes from explicit ``np.random.Generator`` objects spawned from
   the run's seed (weight init, data order and augmentation, dropout), and their
   states go into every checkpoint.
2. The training ``DataLoader``'s state (its generator as it was at the start of
   the epoch, and the number of batches done) is saved too: on resume it redraws
   the epoch's permutation and augmentation seed and continues at the next batch.
3. Everything else that changes with training (weights, BatchNorm buffers,
   optimizer and scheduler state, the epoch's running sums) is saved exactly.

With the same machine and thread count, a run killed at any moment and resumed
from its last checkpoint ends with bit-for-bit the same weights.

Under MPI (``mpirun -n K``, see :mod:`convprop.distributed`) the same loop runs on every
rank: the loader serves each rank its slice of the global batch, dropout draws its masks
for the global batch and slices them, BatchNorm takes the global batch's statistics (unless
``sync_batchnorm`` is off), the gradients are averaged over the ranks before the optimizer
step, and the loss and accuracy are summed over the ranks. Every rank therefore holds the
one-process run's weights (to float32 rounding); rank 0 alone writes the run folder.

Model selection never looks at the test set: after every epoch the model is
measured on a validation set (a seeded, stratified share of the training images,
or a folder of images), ``best.npz`` is the epoch with the best validation
accuracy, and early stopping watches the validation loss. The test set is
measured once, at the end, on the final model and on ``best.npz``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import convprop
import convprop.nn.functional as F
from convprop import distributed
from convprop._io import write_text_atomic
from convprop.train.checkpoint import Checkpoint, load_checkpoint, load_model_state, save_checkpoint
from convprop.train.config import TrainConfig, changed_settings, resolve_config
from convprop.train.gradients import PLOT_NAME, GradientTracker, plot_gradients
from convprop.train.models import build_model, check_model_file, model_kwargs, model_record
from convprop.train.progress import EpochProgress
from convprop.train.state import CheckpointHeader, DatasetFacts, ModelRecord, Running, RunState
from convprop.train.threads import set_num_threads

LAST = "last.npz"
BEST = "best.npz"
# The columns of metrics.csv (and the key order of metrics.json records), the same in fresh and resumed runs.
METRICS_FIELDS = (
    "epoch",
    "step",
    "lr",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "train_seconds",
    "train_cpu_seconds",
    "eval_seconds",
    "images_per_second",
)


class TrainingInterrupted(Exception):
    """Raised by :meth:`Trainer.fit` after Ctrl-C: the checkpoint at ``path`` holds the exact position."""

    def __init__(self, path: Path):
        super().__init__(f"training interrupted; checkpoint saved to {path}")
        self.path = path


class TrainingDiverged(ValueError):
    """The training loss became NaN or infinite; no checkpoint was written after the last finite step."""


@dataclass
class EvalResult:
    """Loss, accuracy and confusion matrix (rows: true class, columns: predicted) on one dataset split."""

    loss: float
    accuracy: float
    confusion: np.ndarray = field(repr=False)

    @property
    def per_class_accuracy(self) -> np.ndarray:
        return np.diag(self.confusion) / np.maximum(self.confusion.sum(axis=1), 1)


def evaluate_model(model, batches, num_classes: int, should_stop: Callable[[], bool] | None = None) -> EvalResult:
    """Mean cross-entropy, accuracy and confusion matrix of ``model`` over ``batches`` of (images, labels)."""
    model.eval()
    total_loss, seen = 0.0, 0
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    with convprop.no_grad():
        for x, y in batches:
            if len(y):  # empty: this rank's share of a batch smaller than the number of processes
                logits = model(convprop.Tensor(x))
                total_loss += float(F.cross_entropy(logits, y, reduction="sum").item())
                np.add.at(confusion, (y, logits.data.argmax(axis=1)), 1)
                seen += len(y)
            if should_stop is not None and should_stop():
                break
    return EvalResult(total_loss / max(seen, 1), np.trace(confusion) / max(seen, 1), confusion)


def spawn_generators(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators for each source of randomness, all derived from ``seed``.

    ``data`` drives the training loader (shuffling and augmentation), ``init`` the
    weight initialisation, ``dropout`` the dropout masks.
    """
    names = ("init", "data", "dropout")
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {name: np.random.Generator(np.random.PCG64(child)) for name, child in zip(names, children, strict=True)}


def load_split(name: str, split: str, data_dir=None, limit: int | None = None, like=None, image_size=None):
    """One split of a dataset as an ``ImageDataset``, cut to its first ``limit`` images.

    For ``imagefolder``, ``data_dir`` holds one subfolder per class, or ``train/`` (and optionally ``val/``
    and ``test/``) folders of them; a split it lacks is ``None``. Its images are resized to ``image_size``
    (default: their own size); the ``val`` and ``test`` folders take the channels, size and classes of
    ``like`` (the training set, or a checkpoint's ``(input_shape, classes)``). Built-in datasets always have
    a train and a test split.
    """
    from convprop.data.datasets import load_dataset
    from convprop.data.imagefolder import has_split_folders, read_image_folder

    if name != "imagefolder":
        ds = None if split == "val" else load_dataset(name, split, data_dir=data_dir)
    else:
        if data_dir is None:
            raise ValueError("--dataset imagefolder needs --data-dir DIR (one subfolder of PNG/JPEG images per class)")
        root = Path(data_dir)
        if not root.is_dir():
            raise ValueError(f"--data-dir {root}: " + ("not a folder" if root.exists() else "no such folder"))
        if split == "train":
            ds = read_image_folder(root / "train" if has_split_folders(root) else root, image_size, split=split)
        elif has_split_folders(root) and (root / split).is_dir():
            shape, classes = like if isinstance(like, tuple) else (like.images.shape[1:], like.classes)
            ds = read_image_folder(root / split, shape[1], shape[0], classes, split=split)
        else:
            ds = None
    return ds if ds is None or limit is None or limit >= len(ds) else ds.subset(slice(0, limit))


def load_splits(cfg: TrainConfig, data_dir=None):
    """The run's ``(train, val, test)`` datasets; ``val`` or ``test`` is None when the run has none.

    Validation comes from ``cfg.val_dir`` (a folder of class subfolders), else from an image folder's
    ``val/``, else from holding out ``cfg.val_split`` of each class of the training set (after
    ``--limit-train``), drawn from the seed, so the same seed always gives the same split.

    Raises:
        ValueError: an empty training, validation or test set.
    """
    from convprop.data.imagefolder import read_image_folder
    from convprop.data.split import stratified_split

    train = load_split(cfg.dataset, "train", data_dir, cfg.limit_train, image_size=cfg.image_size)
    test = load_split(cfg.dataset, "test", data_dir, cfg.limit_test, like=train)
    val = None if cfg.val_dir is not None else load_split(cfg.dataset, "val", data_dir, like=train)
    if cfg.val_dir is not None:
        channels, size, _ = train.images.shape[1:]
        val = read_image_folder(cfg.val_dir, size, channels, train.classes, name=train.name, split="val")
    elif val is None and cfg.val_split > 0 and len(train):
        keep, held = stratified_split(train.labels, cfg.val_split, split_generator(cfg.seed))
        train, val = train.subset(keep), train.subset(held, "val")
    for split, ds in (("training", train), ("validation", val), ("test", test)):
        if ds is not None and len(ds) == 0:
            raise ValueError(f"the {split} set of {cfg.dataset} ({ds.source}) holds no images")
    return train, val, test


def split_generator(seed: int) -> np.random.Generator:
    """The generator that draws the validation split: a fourth child of the seed, after init, data, dropout."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed).spawn(4)[3]))


def augmentation(image_shape):
    """Random crop after zero padding (4 pixels for 32x32 CIFAR-10, 2 for 28x28 images) and horizontal flip."""
    from convprop.data.transforms import Compose, RandomCrop, RandomHorizontalFlip

    _, h, w = image_shape
    return Compose([RandomCrop((h, w), padding=4 if min(h, w) >= 32 else 2), RandomHorizontalFlip()])


def build_optimizer(cfg: TrainConfig, params):
    from convprop import optim

    if cfg.optimizer == "sgd":
        return optim.SGD(
            params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, nesterov=cfg.momentum > 0
        )
    # For Adam and AdamW, --momentum is beta1 (the decay of the running mean of gradients).
    cls = optim.Adam if cfg.optimizer == "adam" else optim.AdamW
    return cls(params, lr=cfg.lr, betas=(cfg.momentum, 0.999), weight_decay=cfg.weight_decay)


def build_scheduler(cfg: TrainConfig, optimizer, steps_per_epoch: int):
    """The learning-rate schedule, stepped after every optimizer step.

    ``step``: x0.1 after each third of the run; ``cosine``: cosine decay to 0 over the run;
    ``onecycle``: warm-up to ``lr`` over the first 30%, then cosine decay (momentum cycled inversely).
    """
    from convprop import optim

    total = cfg.epochs * steps_per_epoch
    if cfg.scheduler == "none":
        return None
    if cfg.scheduler == "step":
        return optim.lr_scheduler.StepLR(optimizer, step_size=max(1, total // 3), gamma=0.1)
    if cfg.scheduler == "cosine":
        return optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    # Cycling momentum needs a momentum to cycle (SGD with momentum 0 has none).
    cycle = cfg.optimizer != "sgd" or cfg.momentum > 0
    return optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=total, cycle_momentum=cycle)


class Trainer:
    """Trains one model on one dataset, writing checkpoints, metrics and plots to ``out_dir``.

    Args:
        config: the run's settings (defaults are filled in with :func:`resolve_config`).
        out_dir: the run folder.
        data_dir: where to look for the dataset files first (``--data-dir``).
        progress: show tqdm bars (None: on a terminal or in a notebook, else a log line every 30 s; False: none).
        plots: draw curves.png (every epoch) and confusion.png (at the end).
        log: prints one line (end-of-epoch lines, notices).
        track_gradients: every this many steps, record each layer's gradient norm and update-to-weight
            ratio into gradients.csv/json (and gradients.png with ``plots``); None: off. See
            :mod:`convprop.train.gradients`.
    """

    def __init__(
        self,
        config: TrainConfig,
        out_dir: str | os.PathLike,
        data_dir: str | os.PathLike | None = None,
        progress: bool | None = None,
        plots: bool = True,
        log: Callable[[str], None] = print,
        track_gradients: int | None = None,
    ):
        from convprop.data.loader import DataLoader

        self.group = distributed.WORLD
        world = self.group.size()
        self.cfg = cfg = resolve_config(config, world_size=world)
        if cfg.threads is not None:
            set_num_threads(cfg.threads)
        self.out_dir = Path(out_dir)
        # Rank 0 alone writes the run folder, shows progress and logs the epochs.
        self.writer = self.group.rank() == 0
        self.progress = progress if self.writer else False
        self.plots = plots
        self.log = log if self.writer else _quiet
        self.rngs = spawn_generators(cfg.seed)
        train, val, test = load_splits(cfg, data_dir)
        if cfg.early_stopping is not None and val is None:
            raise ValueError("--early-stopping needs a validation set (--val-split > 0 or --val-dir)")
        image_shape = tuple(train.images.shape[1:])
        self.data = DatasetFacts(
            name=cfg.dataset,
            classes=list(train.classes),
            mean=list(train.mean),
            std=list(train.std),
            input_shape=list(image_shape),
            border_brightness=train.border_brightness,
            train_size=len(train),
            val_size=len(val) if val is not None else 0,
            test_size=len(test) if test is not None else 0,
        )
        last = len(train) % cfg.batch_size
        if 0 < last < world:
            raise ValueError(
                f"the last batch of each epoch holds {last} of the {len(train)} training images, fewer than the "
                f"{world} processes: choose a --batch-size or --limit-train that leaves none or at least {world}"
            )
        self.sampler = distributed.ShardedSampler()
        self.train_loader = DataLoader(
            train,
            batch_size=cfg.batch_size,
            shuffle=True,
            generator=self.rngs["data"],
            transform=augmentation(image_shape) if cfg.augment else None,
            normalize=train.normalization,
            shard=self.sampler,
        )
        self.val_loader, self.test_loader = (
            DataLoader(
                ds, batch_size=cfg.eval_batch_size, normalize=train.normalization, shard=distributed.ShardedSampler()
            )
            if ds is not None
            else None
            for ds in (val, test)
        )
        self.num_classes = len(train.classes)
        data_kwargs = {"num_classes": self.num_classes, "in_channels": image_shape[0], "input_size": image_shape[1]}
        if cfg.width is not None:
            data_kwargs["width"] = cfg.width
        self.model_kwargs = model_kwargs(cfg.model, data_kwargs, cfg.model_args)
        self.model_file = model_record(cfg.model)
        self.model = build_model(cfg.model, self.model_kwargs, self.rngs["init"])
        _check_outputs(self.model, image_shape, self.num_classes, cfg.model)
        _set_dropout_generator(self.model, distributed.ShardedGenerator(self.rngs["dropout"], self.sampler))
        if cfg.sync_batchnorm:
            distributed.convert_sync_batchnorm(self.model, self.group)
        self.steps_per_epoch = len(self.train_loader)
        self.optimizer = build_optimizer(cfg, list(self.model.parameters()))
        self.scheduler = build_scheduler(cfg, self.optimizer, self.steps_per_epoch)
        self.state = RunState()
        self.gradients = GradientTracker(self.model, track_gradients) if track_gradients and self.writer else None
        self._stop_requested = False

    # The run state's parts, by their short names.
    epoch = property(lambda self: self.state.position.epoch, lambda self, v: setattr(self.state.position, "epoch", v))
    batch = property(lambda self: self.state.position.batch, lambda self, v: setattr(self.state.position, "batch", v))
    step = property(lambda self: self.state.position.step, lambda self, v: setattr(self.state.position, "step", v))
    running = property(lambda self: self.state.running)
    history = property(lambda self: self.state.history)

    # ---- checkpoints ----

    def header(self) -> CheckpointHeader:
        return CheckpointHeader(
            model=ModelRecord(self.cfg.model, self.model_kwargs, list(self.model.state_dict()), **self.model_file),
            dataset=self.data,
            config=self.cfg.to_dict(),
            state=self.state,
            rng={name: gen.bit_generator.state for name, gen in self.rngs.items()},
            loader=self.train_loader.state_dict(),
            convprop_version=convprop.__version__,
        )

    def save(self, name: str = LAST) -> Path:
        """Write the checkpoint ``name`` (rank 0 only; every rank returns its path)."""
        if not self.writer:
            return self.out_dir / name
        if self.gradients is not None:  # written with every checkpoint, so a resumed run finds them in step
            self.gradients.write(self.out_dir)
        states = {"optimizer": self.optimizer.state_dict()}
        if self.scheduler is not None:
            states["scheduler"] = self.scheduler.state_dict()
        return save_checkpoint(self.out_dir / name, self.header().to_dict(), self.model.state_dict(), states)

    def restore(self, ck: Checkpoint) -> None:
        """Continue from ``ck``, which must come from a run with the same settings (see RUNTIME_SETTINGS)."""
        h = CheckpointHeader.from_dict(ck.header, ck.path)
        changed = changed_settings(TrainConfig.from_dict(h.config), self.cfg.to_dict())
        if changed:
            raise ValueError(f"the checkpoint was written with other settings ({', '.join(changed)})")
        check_model_file(h.model, ck.path)
        load_model_state(self.model, ck)
        self.optimizer.load_state_dict(ck.header["states"]["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(ck.header["states"]["scheduler"])
        for name, gen in self.rngs.items():
            gen.bit_generator.state = h.rng[name]
        self.train_loader.load_state_dict(h.loader)
        # Checkpoints written before headers kept their key order hold the records' keys sorted.
        h.state.history = [{k: record[k] for k in METRICS_FIELDS} for record in h.state.history]
        self.state = h.state

    # ---- the loop ----

    def request_stop(self) -> None:
        """Ask the loop to save a checkpoint and stop after the current batch (what Ctrl-C does)."""
        self._stop_requested = True

    def _stop(self) -> bool:
        """Whether a stop was asked on any rank (under MPI every rank calls this at the same points)."""
        return bool(self.group.all_reduce(np.array([float(self._stop_requested)]))[0])

    def train_step(self, x: np.ndarray, y: np.ndarray) -> tuple[float, int, int]:
        """One optimizer step on this rank's rows ``x, y`` of the global batch.

        Returns the global batch's mean loss, its number of correct predictions and its size.
        """
        self.model.train()
        logits = self.model(convprop.Tensor(x))
        loss = F.cross_entropy(logits, y, label_smoothing=self.cfg.label_smoothing)
        correct = int((logits.data.argmax(axis=1) == y).sum())
        # The global batch's loss and accuracy, known to every rank before any of them decides to go on.
        sums = self.group.all_reduce(np.array([float(loss.item()) * len(y), correct]))
        n = self.sampler.global_rows
        value = sums[0] / n
        if not math.isfinite(value):  # checked before the step: the weights stay those of the last finite loss
            raise TrainingDiverged(
                f"the training loss became {value} at step {self.step + 1} (epoch {self.epoch + 1}, batch "
                f"{self.batch + 1}): the learning rate ({self.cfg.lr}) is probably too high; try a lower --lr "
                f"(the last checkpoint in {self.out_dir} is from before this step)"
            )
        self.optimizer.zero_grad()
        # The gradients are averaged over the K ranks; with shards of unequal size (an epoch's last batch)
        # rank r's share of the global mean loss is K·B_r/B of its own mean (see convprop.distributed).
        (loss * (self.group.size() * len(y) / n)).backward()
        distributed.allreduce_gradients(self.model, self.group)
        if self.gradients is not None:
            self.gradients.before_step(self.step + 1)
        self.optimizer.step()
        if self.gradients is not None:
            self.gradients.after_step()
        if self.scheduler is not None:
            self.scheduler.step()
        return value, int(sums[1]), n

    def fit(self) -> dict[str, Any]:
        """Train until ``config.epochs`` are done (or early stopping); returns the summary (also summary.json).

        Raises:
            TrainingInterrupted: after :meth:`request_stop` (Ctrl-C), once the checkpoint is saved.
        """
        if self.writer:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            # allow_nan=False: config.json is strict JSON for any reader (resolve_config rejects non-finite values).
            config_json = json.dumps(self.cfg.to_dict(), indent=2, allow_nan=False)
            write_text_atomic(self.out_dir / "config.json", config_json + "\n")
        cfg = self.cfg
        if self.gradients is not None:
            self.gradients.resume(self.out_dir, self.step)
        while self.epoch < cfg.epochs and not self.stopped_early:
            # A run stopped while validating resumes with the epoch's training done.
            batches = iter(self.train_loader) if self.batch < self.steps_per_epoch else iter(())
            desc = f"epoch {self.epoch + 1}/{cfg.epochs}"
            bar = EpochProgress(self.steps_per_epoch, desc, initial=self.batch, enabled=self.progress, log=self.log)
            with bar:
                clock = _Clock(self.running)
                for x, y in batches:
                    loss, correct, n = self.train_step(x, y)
                    self.batch += 1
                    self.step += 1
                    r = self.running
                    r.loss += loss * n
                    r.correct += correct
                    r.seen += n
                    bar.update(n, r.loss / r.seen, r.correct / r.seen)
                    # After the last batch, let the loader finish its epoch first, so that a
                    # checkpoint with batch == steps_per_epoch always has the loader rolled over.
                    if self._stop() and self.batch < self.steps_per_epoch:
                        clock.stop()
                        raise TrainingInterrupted(self.save())
                    if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0 and self.batch < len(self):
                        clock.stop()
                        self.save()
                        clock.start()
                clock.stop()
                if self._stop():
                    raise TrainingInterrupted(self.save())
                t_eval = time.perf_counter()
                result = None if self.val_loader is None else self._evaluate(self.model, self.val_loader)
                if result is not None:
                    bar.set_validation(result.loss, result.accuracy)
            self._end_epoch(result, time.perf_counter() - t_eval)
        return self._finish()

    def _evaluate(self, model, loader) -> EvalResult:
        """``model`` on ``loader`` (each rank on its shard, summed); Ctrl-C while it runs saves and stops."""
        part = evaluate_model(model, loader, self.num_classes, self._stop)
        seen = int(part.confusion.sum())
        if self._stop():
            raise TrainingInterrupted(self.save())
        loss_sum = self.group.all_reduce(np.array([part.loss * seen]))[0]
        confusion = self.group.all_reduce(part.confusion.copy())
        total = int(confusion.sum())
        return EvalResult(loss_sum / max(total, 1), np.trace(confusion) / max(total, 1), confusion)

    @property
    def stopped_early(self) -> bool:
        """Whether ``--early-stopping`` epochs have passed since the lowest validation loss so far."""
        patience = self.cfg.early_stopping
        if patience is None or not self.history:
            return False
        losses = [h["val_loss"] for h in self.history]
        return len(losses) - 1 - losses.index(min(losses)) >= patience

    def __len__(self) -> int:
        return self.steps_per_epoch

    def _end_epoch(self, val: EvalResult | None, eval_seconds: float) -> None:
        r = self.running
        record = {
            "epoch": self.epoch + 1,
            "step": self.step,
            "lr": float(self.optimizer.param_groups[0]["lr"]),
            "train_loss": r.loss / max(r.seen, 1),
            "train_acc": r.correct / max(r.seen, 1),
            "val_loss": None if val is None else val.loss,
            "val_acc": None if val is None else float(val.accuracy),
            "train_seconds": r.seconds,
            "train_cpu_seconds": r.cpu_seconds,
            "eval_seconds": eval_seconds,
            "images_per_second": r.seen / r.seconds if r.seconds > 0 else math.nan,
        }
        self.history.append(record)
        self.epoch += 1
        self.batch = 0
        self.state.running = Running()
        measured = "" if val is None else f" | val loss {val.loss:.4f} acc {100 * val.accuracy:.2f}%"
        self.log(
            f"epoch {record['epoch']}/{self.cfg.epochs}: train loss {record['train_loss']:.4f} "
            f"acc {100 * record['train_acc']:.2f}%{measured} | {record['train_seconds']:.1f}s "
            f"({record['images_per_second']:.0f} img/s, CPU {record['train_cpu_seconds']:.1f}s)"
            + (f" + validation {eval_seconds:.1f}s" if val is not None else "")
        )
        improved = val is not None and val.accuracy > self.state.best_val_accuracy
        if improved:
            self.state.best_val_accuracy = float(val.accuracy)
        self.save()
        if improved:
            self.save(BEST)
        self._write_metrics()
        if self.plots and self.writer:
            from convprop.train.plots import plot_curves

            plot_curves(self.history, self.out_dir / "curves.png", title=f"{self.cfg.model} on {self.cfg.dataset}")
            if self.gradients is not None:
                plot_gradients(
                    self.gradients.records, self.out_dir / PLOT_NAME, title=f"{self.cfg.model}: gradient flow"
                )
        if self.stopped_early and self.epoch < self.cfg.epochs:
            self.log(
                f"early stopping after epoch {self.epoch}: the validation loss has not improved for "
                f"{self.cfg.early_stopping} epochs"
            )

    def _write_metrics(self) -> None:
        if not self.history or not self.writer:
            return
        table = io.StringIO(newline="")
        writer = csv.DictWriter(table, fieldnames=METRICS_FIELDS)
        writer.writeheader()
        writer.writerows(self.history)
        write_text_atomic(self.out_dir / "metrics.csv", table.getvalue())
        write_text_atomic(self.out_dir / "metrics.json", json.dumps(self.history, indent=2) + "\n")

    def _best_model(self):
        """The model of ``best.npz`` (the epoch with the best validation accuracy; rank 0 reads it for all)."""
        model = build_model(self.cfg.model, self.model_kwargs, np.random.default_rng(0))
        if self.writer:
            load_model_state(model, load_checkpoint(self.out_dir / BEST))
        distributed.broadcast_parameters(model, self.group)
        return model

    def _finish(self) -> dict[str, Any]:
        """Measure the final model and best.npz on the test set; write confusion.png and summary.json."""
        names = self.data.classes
        best_record = max(
            (h for h in self.history if h["val_acc"] is not None), key=lambda h: h["val_acc"], default=None
        )
        final = best = None
        if self.test_loader is not None:
            final = self._evaluate(self.model, self.test_loader)
            if best_record is not None and best_record["epoch"] == self.epoch:
                best = final  # best.npz holds the final weights
            elif best_record is not None:
                best = self._evaluate(self._best_model(), self.test_loader)
            self.log(
                f"test: final model accuracy {100 * final.accuracy:.2f}% loss {final.loss:.4f}"
                + (f" | best.npz (best validation) {100 * best.accuracy:.2f}% loss {best.loss:.4f}" if best else "")
            )
            if self.plots and self.writer:
                from convprop.train.plots import plot_confusion

                title = f"{self.cfg.model} (final)"
                plot_confusion(final.confusion, names, self.out_dir / "confusion.png", title=title)
        train_seconds = sum(h["train_seconds"] for h in self.history)
        images = sum(h["images_per_second"] * h["train_seconds"] for h in self.history)

        def pair(final_value, best_value):
            return None if final_value is None else {"final": final_value, "best": best_value}

        last_val = self.history[-1]["val_acc"] if self.history else None
        summary = {
            "dataset": self.cfg.dataset,
            "model": self.cfg.model,
            "epochs": self.epoch,
            "steps": self.step,
            "stopped_early": self.stopped_early and self.epoch < self.cfg.epochs,
            "best_epoch": best_record["epoch"] if best_record else None,
            "val_accuracy": pair(last_val, best_record["val_acc"] if best_record else None),
            "test_accuracy": pair(final and float(final.accuracy), best and float(best.accuracy)),
            "test_loss": pair(final and final.loss, best and best.loss),
            "train_size": self.data.train_size,
            "val_size": self.data.val_size,
            "test_size": self.data.test_size,
            "train_minutes": train_seconds / 60,
            # CPU time of this process while training: close to the wall time an idle machine would need
            # with --threads 1, whatever else was running here.
            "train_cpu_minutes": sum(h["train_cpu_seconds"] for h in self.history) / 60,
            "train_images_per_second": images / train_seconds if train_seconds > 0 else None,
            # The final model on the test set:
            "per_class_accuracy": (
                {n: float(a) for n, a in zip(names, final.per_class_accuracy, strict=True)} if final else None
            ),
            "confusion_matrix": final.confusion.tolist() if final else None,
            "run_dir": str(self.out_dir),
            "world_size": self.group.size(),
            # Seconds this process (rank 0) spent averaging gradients, waiting for the other ranks included,
            # since it started (a resumed run counts from the resume).
            "allreduce_seconds": self.group.allreduce_seconds,
            "allreduce_ms_per_step": 1e3 * self.group.allreduce_seconds / max(self.group.allreduce_calls, 1),
        }
        if self.writer:
            write_text_atomic(self.out_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
        return summary


class _Clock:
    """Adds the wall-clock and CPU seconds between start() and stop() to ``running``."""

    def __init__(self, running: Running):
        self.running = running
        self.start()

    def start(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self) -> None:
        self.running.seconds += time.perf_counter() - self.wall
        self.running.cpu_seconds += time.process_time() - self.cpu


def _quiet(line: str) -> None:
    """The log of ranks other than 0."""


def _check_outputs(model, image_shape, num_classes: int, name: str) -> None:
    """Refuse a model whose output for one image is not one logit per class (a model file's usual slip)."""
    with convprop.no_grad():
        shape = model.eval()(convprop.Tensor(np.zeros((1, *image_shape), np.float32))).shape
    model.train()
    if tuple(shape) != (1, num_classes):
        raise ValueError(
            f"--model {name}: for one {'x'.join(map(str, image_shape))} image it returns shape {tuple(shape)}, "
            f"but training needs (1, {num_classes}): one logit per class"
        )


def _set_dropout_generator(model, generator: np.random.Generator) -> None:
    """Give every dropout layer (Dropout, Dropout2d) the run's dropout generator, so its masks are checkpointed
    too and, under MPI, drawn for the global batch."""
    from convprop.nn import Dropout, Dropout2d

    for module in model.modules():
        if isinstance(module, Dropout | Dropout2d):
            module.generator = generator


class SigintHandler:
    """Context manager: the first Ctrl-C asks ``trainer`` to stop cleanly; a second one aborts at once."""

    def __init__(self, trainer: Trainer):
        self.trainer = trainer
        self.previous = None

    def _handle(self, signum, frame):
        self.trainer.request_stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def __enter__(self):
        try:
            self.previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: leave Ctrl-C alone
            self.previous = None
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


__all__ = [
    "BEST",
    "LAST",
    "EvalResult",
    "SigintHandler",
    "Trainer",
    "TrainingDiverged",
    "TrainingInterrupted",
    "evaluate_model",
]
