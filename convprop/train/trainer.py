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
"""

from __future__ import annotations

import csv
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
from convprop.train.checkpoint import Checkpoint, load_model_state, save_checkpoint
from convprop.train.config import RUNTIME_SETTINGS, TrainConfig, resolve_config
from convprop.train.progress import EpochProgress
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
    "test_loss",
    "test_acc",
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


def load_split(name: str, split: str, data_dir=None, limit: int | None = None):
    """One split of a dataset as an ``ImageDataset``, cut to its first ``limit`` images."""
    from convprop.data.datasets import ImageDataset, load_dataset

    ds = load_dataset(name, split, data_dir=data_dir)
    if limit is None or limit >= len(ds):
        return ds
    return ImageDataset(ds.images[:limit], ds.labels[:limit], ds.classes, ds.mean, ds.std, ds.name, split, ds.source)


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
        progress: show tqdm bars (None: only on a terminal).
        plots: draw curves.png (every epoch) and confusion.png (at the end).
        log: prints one line (end-of-epoch lines, notices).
    """

    def __init__(
        self,
        config: TrainConfig,
        out_dir: str | os.PathLike,
        data_dir: str | os.PathLike | None = None,
        progress: bool | None = None,
        plots: bool = True,
        log: Callable[[str], None] = print,
    ):
        from convprop.data.loader import DataLoader
        from convprop.models import get_model

        self.cfg = cfg = resolve_config(config)
        if cfg.threads is not None:
            set_num_threads(cfg.threads)
        self.out_dir = Path(out_dir)
        self.progress = progress
        self.plots = plots
        self.log = log
        self.rngs = spawn_generators(cfg.seed)
        train = load_split(cfg.dataset, "train", data_dir, cfg.limit_train)
        test = load_split(cfg.dataset, "test", data_dir, cfg.limit_test)
        image_shape = tuple(train.images.shape[1:])
        self.data = {
            "name": cfg.dataset,
            "classes": list(train.classes),
            "mean": list(train.mean),
            "std": list(train.std),
            "input_shape": list(image_shape),
            "train_size": len(train),
            "test_size": len(test),
        }
        self.train_loader = DataLoader(
            train,
            batch_size=cfg.batch_size,
            shuffle=True,
            generator=self.rngs["data"],
            transform=augmentation(image_shape) if cfg.augment else None,
            normalize=train.normalization,
        )
        self.test_loader = DataLoader(test, batch_size=cfg.eval_batch_size, normalize=train.normalization)
        self.num_classes = len(train.classes)
        self.model_kwargs = {
            "num_classes": self.num_classes,
            "in_channels": image_shape[0],
            "input_size": image_shape[1],
        }
        if cfg.width is not None:
            self.model_kwargs["width"] = cfg.width
        self.model = get_model(cfg.model, generator=self.rngs["init"], **self.model_kwargs)
        _set_dropout_generator(self.model, self.rngs["dropout"])
        self.steps_per_epoch = len(self.train_loader)
        self.optimizer = build_optimizer(cfg, list(self.model.parameters()))
        self.scheduler = build_scheduler(cfg, self.optimizer, self.steps_per_epoch)
        # Position: `epoch` epochs are complete; `batch` batches of the current one are done.
        self.epoch = 0
        self.batch = 0
        self.step = 0
        self.running = {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0, "cpu_seconds": 0.0}
        self.history: list[dict[str, Any]] = []
        self.best_accuracy = -1.0
        self._stop_requested = False

    # ---- checkpoints ----

    def header(self) -> dict[str, Any]:
        return {
            "model": {
                "name": self.cfg.model,
                "kwargs": self.model_kwargs,
                "state_keys": list(self.model.state_dict()),
            },
            "dataset": self.data,
            "config": self.cfg.to_dict(),
            "position": {"epoch": self.epoch, "batch": self.batch, "step": self.step},
            "rng": {name: gen.bit_generator.state for name, gen in self.rngs.items()},
            "loader": self.train_loader.state_dict(),
            "running": dict(self.running),
            "history": self.history,
            "best_accuracy": self.best_accuracy,
            "convprop_version": convprop.__version__,
        }

    def save(self, name: str = LAST) -> Path:
        states = {"optimizer": self.optimizer.state_dict()}
        if self.scheduler is not None:
            states["scheduler"] = self.scheduler.state_dict()
        return save_checkpoint(self.out_dir / name, self.header(), self.model.state_dict(), states)

    def restore(self, ck: Checkpoint) -> None:
        """Continue from ``ck``, which must come from a run with the same settings (see RUNTIME_SETTINGS)."""
        h = ck.header
        changed = sorted(
            k for k, v in self.cfg.to_dict().items() if k not in RUNTIME_SETTINGS and h["config"].get(k) != v
        )
        if changed:
            raise ValueError(f"the checkpoint was written with other settings ({', '.join(changed)})")
        load_model_state(self.model, ck)
        self.optimizer.load_state_dict(h["states"]["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(h["states"]["scheduler"])
        for name, gen in self.rngs.items():
            gen.bit_generator.state = h["rng"][name]
        pos = h["position"]
        self.epoch, self.batch, self.step = pos["epoch"], pos["batch"], pos["step"]
        self.train_loader.load_state_dict(h["loader"])
        self.running = dict(h["running"])
        # Checkpoints written before headers kept their key order hold the records' keys sorted.
        self.history = [{k: record[k] for k in METRICS_FIELDS} for record in h["history"]]
        self.best_accuracy = h["best_accuracy"]

    # ---- the loop ----

    def request_stop(self) -> None:
        """Ask the loop to save a checkpoint and stop after the current batch (what Ctrl-C does)."""
        self._stop_requested = True

    def _stop(self) -> bool:
        return self._stop_requested

    def train_step(self, x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
        self.model.train()
        logits = self.model(convprop.Tensor(x))
        loss = F.cross_entropy(logits, y, label_smoothing=self.cfg.label_smoothing)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        return float(loss.item()), int((logits.data.argmax(axis=1) == y).sum())

    def fit(self) -> dict[str, Any]:
        """Train until ``config.epochs`` are done; returns the summary (also written to summary.json).

        Raises:
            TrainingInterrupted: after :meth:`request_stop` (Ctrl-C), once the checkpoint is saved.
        """
        self.out_dir.mkdir(parents=True, exist_ok=True)
        # allow_nan=False: config.json is strict JSON for any reader (resolve_config rejects non-finite values).
        config_json = json.dumps(self.cfg.to_dict(), indent=2, allow_nan=False)
        (self.out_dir / "config.json").write_text(config_json + "\n")
        cfg = self.cfg
        result = None
        while self.epoch < cfg.epochs:
            # A run stopped while testing resumes with the epoch's training done.
            batches = iter(self.train_loader) if self.batch < self.steps_per_epoch else iter(())
            desc = f"epoch {self.epoch + 1}/{cfg.epochs}"
            with EpochProgress(self.steps_per_epoch, desc, initial=self.batch, enabled=self.progress) as bar:
                clock = _Clock(self.running)
                for x, y in batches:
                    loss, correct = self.train_step(x, y)
                    self.batch += 1
                    self.step += 1
                    r = self.running
                    r["loss"] += loss * len(y)
                    r["correct"] += correct
                    r["seen"] += len(y)
                    bar.update(len(y), r["loss"] / r["seen"], r["correct"] / r["seen"])
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
            result = evaluate_model(self.model, self.test_loader, self.num_classes, self._stop)
            if self._stop():
                raise TrainingInterrupted(self.save())
            self._end_epoch(result, time.perf_counter() - t_eval)
        if result is None:  # resumed from a finished run: nothing left to train, measure the final model
            result = evaluate_model(self.model, self.test_loader, self.num_classes)
        return self._finish(result)

    def __len__(self) -> int:
        return self.steps_per_epoch

    def _end_epoch(self, result: EvalResult, eval_seconds: float) -> None:
        r = self.running
        record = {
            "epoch": self.epoch + 1,
            "step": self.step,
            "lr": float(self.optimizer.param_groups[0]["lr"]),
            "train_loss": r["loss"] / max(r["seen"], 1),
            "train_acc": r["correct"] / max(r["seen"], 1),
            "test_loss": result.loss,
            "test_acc": float(result.accuracy),
            "train_seconds": r["seconds"],
            "train_cpu_seconds": r["cpu_seconds"],
            "eval_seconds": eval_seconds,
            "images_per_second": r["seen"] / r["seconds"] if r["seconds"] > 0 else math.nan,
        }
        self.history.append(record)
        self.epoch += 1
        self.batch = 0
        self.running = {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0, "cpu_seconds": 0.0}
        self.log(
            f"epoch {record['epoch']}/{self.cfg.epochs}: train loss {record['train_loss']:.4f} "
            f"acc {100 * record['train_acc']:.2f}% | test loss {record['test_loss']:.4f} "
            f"acc {100 * record['test_acc']:.2f}% | {record['train_seconds']:.1f}s "
            f"({record['images_per_second']:.0f} img/s, CPU {record['train_cpu_seconds']:.1f}s) "
            f"+ eval {eval_seconds:.1f}s"
        )
        improved = record["test_acc"] > self.best_accuracy
        if improved:
            self.best_accuracy = record["test_acc"]
        self.save()
        if improved:
            self.save(BEST)
        self._write_metrics()
        if self.plots:
            from convprop.train.plots import plot_curves

            plot_curves(self.history, self.out_dir / "curves.png", title=f"{self.cfg.model} on {self.cfg.dataset}")

    def _write_metrics(self) -> None:
        if not self.history:
            return
        with open(self.out_dir / "metrics.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=METRICS_FIELDS)
            writer.writeheader()
            writer.writerows(self.history)
        (self.out_dir / "metrics.json").write_text(json.dumps(self.history, indent=2) + "\n")

    def _finish(self, result: EvalResult) -> dict[str, Any]:
        names = self.data["classes"]
        if self.plots:
            from convprop.train.plots import plot_confusion

            plot_confusion(result.confusion, names, self.out_dir / "confusion.png", title=f"{self.cfg.model} (final)")
        train_seconds = sum(h["train_seconds"] for h in self.history)
        images = sum(h["images_per_second"] * h["train_seconds"] for h in self.history)
        summary = {
            "dataset": self.cfg.dataset,
            "model": self.cfg.model,
            "epochs": self.epoch,
            "steps": self.step,
            "final_test_accuracy": float(result.accuracy),
            "final_test_loss": result.loss,
            "best_test_accuracy": self.best_accuracy,
            "best_epoch": max(self.history, key=lambda h: h["test_acc"])["epoch"] if self.history else None,
            "train_minutes": train_seconds / 60,
            # CPU time of this process while training: close to the wall time an idle machine would need
            # with --threads 1, whatever else was running here.
            "train_cpu_minutes": sum(h["train_cpu_seconds"] for h in self.history) / 60,
            "train_images_per_second": images / train_seconds if train_seconds > 0 else None,
            "per_class_accuracy": {n: float(a) for n, a in zip(names, result.per_class_accuracy, strict=True)},
            "confusion_matrix": result.confusion.tolist(),
            "run_dir": str(self.out_dir),
        }
        (self.out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        return summary


class _Clock:
    """Adds the wall-clock and CPU seconds between start() and stop() to ``running``."""

    def __init__(self, running: dict):
        self.running = running
        self.start()

    def start(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self) -> None:
        self.running["seconds"] += time.perf_counter() - self.wall
        self.running["cpu_seconds"] += time.process_time() - self.cpu


def _set_dropout_generator(model, generator: np.random.Generator) -> None:
    """Give every dropout layer the run's dropout generator, so dropout masks are checkpointed too."""
    from convprop.nn import Dropout

    for module in model.modules():
        if isinstance(module, Dropout):
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
    "TrainingInterrupted",
    "evaluate_model",
]
