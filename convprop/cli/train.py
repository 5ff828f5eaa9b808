"""``convprop train``, ``convprop evaluate`` and ``convprop predict``: argument parsing and printing only.

The work lives in :mod:`convprop.train`. ``--threads N`` limits the BLAS library
to N threads: NumPy is already imported when arguments are parsed, so
:func:`convprop.train.threads.set_num_threads` sets ``OPENBLAS_NUM_THREADS``/
``OMP_NUM_THREADS`` (for subprocesses) and also tells the already loaded
OpenBLAS through its ``openblas_set_num_threads`` entry point.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from convprop.cli import CLIError
from convprop.train.config import (
    DATASET_DEFAULTS,
    DATASETS,
    OPTIMIZER_LR,
    OPTIMIZERS,
    RUNTIME_SETTINGS,
    SCHEDULERS,
    TrainConfig,
)


def _int(low: int, expected: str, must: str):
    """An argparse ``type`` for integers >= ``low``; ``expected`` and ``must`` word its two error messages."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be {must}, got {value}")
        return value

    return parse


_positive_int = _int(1, "a positive integer", "a positive integer")
_nonnegative_int = _int(0, "an integer >= 0", ">= 0")


def _float(low: float, high: float | None = None, low_open: bool = False):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):  # float() accepts "nan", "inf" and overflows such as 1e309 to inf
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        too_low = value <= low if low_open else value < low
        if too_low or (high is not None and not value < high):
            bound = f"> {low}" if low_open else f">= {low}"
            upper = f" and < {high}" if high is not None else ""
            raise argparse.ArgumentTypeError(f"must be {bound}{upper}, got {text}")
        return value

    return parse


def _defaults_table() -> str:
    rows = []
    for name, d in DATASET_DEFAULTS.items():
        model = d["model"] + (f" (width {d['width']})" if "width" in d else "")
        rows.append(
            f"  {name}: model {model}, {d['epochs']} epochs, batch {d['batch_size']}, {d['optimizer']} lr {d['lr']} "
            f"momentum {d['momentum']} weight decay {d['weight_decay']}, {d['scheduler']} schedule, "
            f"augment {'on' if d['augment'] else 'off'}"
        )
    others = ", ".join(f"{name} {lr}" for name, lr in OPTIMIZER_LR.items())
    rows.append(f"another --optimizer without --lr gets its own default lr: {others}")
    return "defaults per dataset (any flag overrides them):\n" + "\n".join(rows)


def register(subparsers) -> None:
    """Add the ``train``, ``evaluate`` and ``predict`` subcommands."""
    fmt = argparse.RawDescriptionHelpFormatter
    p = subparsers.add_parser(
        "train",
        help="train a CNN (default: the VGG-style net on Fashion-MNIST)",
        description="Train a CNN with convprop's engine. Shows a progress bar per epoch and writes a run folder\n"
        "with checkpoints (last.npz, best.npz), metrics.csv/json, config.json, curves.png, confusion.png\n"
        "and summary.json. Ctrl-C saves a checkpoint; continue with --resume (same weights as if never stopped).",
        epilog=_defaults_table(),
        formatter_class=fmt,
    )
    p.add_argument("--dataset", choices=DATASETS, default=None, help="dataset (default: fashion-mnist)")
    p.add_argument("--model", metavar="NAME", help="model name, one of lenet5, vggsmall, resnet8, resnet20")
    p.add_argument(
        "--width", metavar="N", type=_positive_int, help="channels of the first stage (vggsmall, resnet models)"
    )
    p.add_argument("--epochs", metavar="N", type=_positive_int, help="number of epochs")
    p.add_argument("--batch-size", metavar="N", type=_positive_int, help="training batch size")
    p.add_argument(
        "--lr",
        metavar="LR",
        type=_float(0.0, low_open=True),
        help="(peak) learning rate; with onecycle the maximum "
        "(default: the dataset's for its optimizer, else the optimizer's: see below)",
    )
    p.add_argument("--optimizer", choices=OPTIMIZERS, help="optimizer")
    p.add_argument(
        "--momentum", metavar="M", type=_float(0.0, 1.0), help="SGD momentum (Nesterov when > 0); Adam's beta1"
    )
    p.add_argument("--weight-decay", metavar="WD", type=_float(0.0), help="weight decay (decoupled for adamw)")
    p.add_argument("--scheduler", choices=SCHEDULERS, help="learning-rate schedule, stepped every batch")
    p.add_argument(
        "--label-smoothing", metavar="EPS", type=_float(0.0, 1.0), help="cross-entropy label smoothing (default 0)"
    )
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, help="random crop + flip augmentation")
    p.add_argument("--seed", metavar="N", type=_nonnegative_int, help="seed of every random generator (default 0)")
    p.add_argument(
        "--threads",
        metavar="N",
        type=_positive_int,
        help="threads for BLAS and the conv kernels (default 1; more help only on an otherwise idle machine)",
    )
    p.add_argument("--limit-train", type=_positive_int, metavar="N", help="use only the first N training images")
    p.add_argument("--limit-test", type=_positive_int, metavar="N", help="use only the first N test images")
    p.add_argument(
        "--checkpoint-every",
        type=_nonnegative_int,
        metavar="STEPS",
        help="also checkpoint every STEPS batches (default 200; 0: only at epoch ends)",
    )
    p.add_argument("--eval-batch-size", type=_positive_int, metavar="N", help="batch size for testing (default 500)")
    p.add_argument("--out", type=Path, metavar="DIR", help="run folder (default runs/<dataset>-<model>-<time>)")
    p.add_argument(
        "--resume",
        nargs="?",
        const="",
        metavar="PATH",
        help="continue a run exactly: from --out DIR, or from PATH (a run folder or a checkpoint file); "
        "with both, the run continues in --out DIR, which must not hold another run",
    )
    p.add_argument("--data-dir", type=Path, metavar="DIR", help="look for the dataset files here first")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, help="progress bars (default: on a terminal)")
    p.set_defaults(func=run_train)

    e = subparsers.add_parser(
        "evaluate",
        help="accuracy, per-class accuracy and confusion matrix of a checkpoint",
        description="Evaluate a checkpoint on a dataset split: accuracy, per-class accuracy and the confusion "
        "matrix (rows: true class, columns: predicted).",
    )
    e.add_argument("checkpoint", type=Path, help="checkpoint file, or a run folder (uses best.npz, else last.npz)")
    e.add_argument("--dataset", choices=DATASETS, help="dataset (default: the one the model was trained on)")
    e.add_argument("--split", choices=("test", "train"), default="test", help="split (default test)")
    e.add_argument("--data-dir", type=Path, metavar="DIR", help="look for the dataset files here first")
    e.add_argument("--limit", type=_positive_int, metavar="N", help="use only the first N images")
    e.add_argument("--batch-size", type=_positive_int, metavar="N", default=500, help="batch size (default 500)")
    e.add_argument("--threads", type=_positive_int, metavar="N", default=1, help="BLAS and conv threads (default 1)")
    e.add_argument("--confusion", type=Path, metavar="PNG", help="also save the confusion matrix as a PNG")
    e.set_defaults(func=run_evaluate)

    r = subparsers.add_parser(
        "predict",
        help="classify PNG/JPEG images with a checkpoint",
        description="Classify images with a trained checkpoint. Each image is converted as in training "
        "(grayscale or RGB, resized to the model's input size, normalised with the training statistics) "
        "and the top-k classes are printed with their probabilities.",
    )
    r.add_argument("checkpoint", type=Path, help="checkpoint file, or a run folder (uses best.npz, else last.npz)")
    r.add_argument("images", type=Path, nargs="+", metavar="IMAGE", help="PNG or JPEG files")
    r.add_argument("--top-k", type=_positive_int, metavar="K", default=3, help="how many classes to print (default 3)")
    r.add_argument(
        "--invert",
        action="store_true",
        help="invert brightness first (MNIST-style data is light on dark; photos are usually dark on light)",
    )
    r.add_argument("--threads", type=_positive_int, metavar="N", default=1, help="BLAS and conv threads (default 1)")
    r.set_defaults(func=run_predict)


# ---- train ----


def _checkpoint_path(path: Path) -> Path:
    from convprop.train.trainer import BEST, LAST

    if path.is_dir():
        for name in (BEST, LAST):
            if (path / name).is_file():
                return path / name
        raise CLIError(f"no checkpoint ({BEST} or {LAST}) in {path}")
    if not path.exists():
        raise CLIError(f"checkpoint not found: {path}")
    return path


def _load(path: Path):
    from convprop.train.checkpoint import CheckpointError, load_checkpoint

    try:
        return load_checkpoint(path)
    except CheckpointError as exc:
        raise CLIError(str(exc)) from None


def _resume_checkpoint(args):
    """The checkpoint --resume points at, and the run folder to continue in."""
    from convprop.train.trainer import LAST

    if args.resume == "":
        if args.out is None:
            raise CLIError("--resume needs the run folder: pass --out DIR (or --resume DIR)")
        source = args.out
    else:
        source = Path(args.resume)
    path = source / LAST if source.is_dir() else source
    if not path.is_file():
        raise CLIError(f"nothing to resume: {path} does not exist")
    out = args.out if args.out is not None else path.parent
    # Continuing into another folder starts a copy of the run there; it must not overwrite a run that lives there.
    if (out / LAST).exists() and out.resolve() != path.parent.resolve():
        raise CLIError(
            f"{out} already holds another run: resume into it with --resume {out}, or choose an --out without a run"
        )
    return _load(path), out


def _config_from_args(args) -> TrainConfig:
    given = {
        "dataset": args.dataset,
        "model": args.model,
        "width": args.width,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "optimizer": args.optimizer,
        "momentum": args.momentum,
        "weight_decay": args.weight_decay,
        "scheduler": args.scheduler,
        "augment": args.augment,
        "label_smoothing": args.label_smoothing,
        "seed": args.seed,
        "threads": args.threads,
        "limit_train": args.limit_train,
        "limit_test": args.limit_test,
        "checkpoint_every": args.checkpoint_every,
        "eval_batch_size": args.eval_batch_size,
    }
    return {k: v for k, v in given.items() if v is not None}


def run_train(args) -> int:
    from convprop.train.config import resolve_config
    from convprop.train.memory import keep_freed_memory
    from convprop.train.trainer import SigintHandler, Trainer, TrainingInterrupted

    given = _config_from_args(args)
    ck = None
    if args.resume is not None:
        ck, out = _resume_checkpoint(args)
        try:
            saved = TrainConfig.from_dict(ck.header["config"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CLIError(f"{ck.path}: cannot read the run's settings: {exc}") from None
        for key, value in given.items():
            if key not in RUNTIME_SETTINGS and getattr(saved, key) != value:
                flag = "--" + key.replace("_", "-")
                raise CLIError(
                    f"{flag} {value} differs from the run being resumed ({getattr(saved, key)}); "
                    "a resumed run keeps its settings (start a new run with another --out to change them)"
                )
        config = TrainConfig(**{**saved.to_dict(), **{k: given[k] for k in RUNTIME_SETTINGS if k in given}})
    else:
        config = resolve_config(TrainConfig(**given))
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = args.out if args.out is not None else Path("runs") / f"{config.dataset}-{config.model}-{stamp}"
        if (out / "last.npz").exists():
            raise CLIError(f"{out} already holds a run: continue it with --resume, or choose another --out")
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {out} is a file, not a run folder")
    keep_freed_memory()  # faster steps; see convprop/train/memory.py
    trainer = Trainer(config, out, data_dir=args.data_dir, progress=args.progress)
    if ck is not None:
        try:
            trainer.restore(ck)
        except (KeyError, TypeError, ValueError) as exc:
            raise CLIError(f"cannot resume from {ck.path}: {exc}") from None
    cfg = trainer.cfg
    what = (
        f"resuming at epoch {trainer.epoch + 1}, batch {trainer.batch}/{len(trainer)}"
        if ck is not None
        else f"training {cfg.model}"
    )
    print(
        f"{what} on {cfg.dataset}: {trainer.data['train_size']} train / {trainer.data['test_size']} test images, "
        f"{cfg.epochs} epochs x {len(trainer)} batches of {cfg.batch_size}, {cfg.optimizer} lr {cfg.lr} "
        f"({cfg.scheduler} schedule), seed {cfg.seed}, threads {cfg.threads or 'default'}; run folder {out}",
        flush=True,
    )
    with SigintHandler(trainer):
        try:
            summary = trainer.fit()
        except TrainingInterrupted as exc:
            print(
                f"\ninterrupted at epoch {trainer.epoch + 1}, batch {trainer.batch}; checkpoint saved to {exc.path}\n"
                f"resume with: convprop train --resume {out}",
                file=sys.stderr,
            )
            return 130
    print(
        f"done: test accuracy {100 * summary['final_test_accuracy']:.2f}% "
        f"(best {100 * summary['best_test_accuracy']:.2f}% "
        f"at epoch {summary['best_epoch']}), {summary['epochs']} epochs in {summary['train_minutes']:.1f} min of "
        f"training ({summary['train_images_per_second'] or 0:.0f} img/s); results in {out}"
    )
    return 0


# ---- evaluate ----


def run_evaluate(args) -> int:
    from convprop.train.predict import evaluate_checkpoint
    from convprop.train.threads import set_num_threads

    set_num_threads(args.threads)
    ck = _load(_checkpoint_path(args.checkpoint))
    result, classes, dataset = evaluate_checkpoint(
        ck, dataset=args.dataset, split=args.split, data_dir=args.data_dir, limit=args.limit, batch_size=args.batch_size
    )
    n = int(result.confusion.sum())
    print(f"{ck.model_name} from {ck.path} on {dataset} {args.split} ({n} images)")
    print(f"accuracy {100 * result.accuracy:.2f}%   loss {result.loss:.4f}\n")
    width = max(len(c) for c in classes)
    print(f"{'class':<{width}}  accuracy  images")
    for name, acc, count in zip(classes, result.per_class_accuracy, result.confusion.sum(axis=1), strict=True):
        print(f"{name:<{width}}  {100 * acc:7.2f}%  {count:6d}")
    print("\nconfusion matrix (rows: true class, columns: predicted)")
    cell = max(5, len(str(int(result.confusion.max(initial=0)))) + 1)
    print(" " * width + "".join(f"{i:>{cell}d}" for i in range(len(classes))))
    for i, (name, row) in enumerate(zip(classes, result.confusion, strict=True)):
        print(f"{name:<{width}}" + "".join(f"{v:>{cell}d}" for v in row) + f"   ({i})")
    if args.confusion is not None:
        from convprop.train.plots import plot_confusion

        title = f"{ck.model_name} on {dataset} {args.split}"
        saved = plot_confusion(result.confusion, classes, args.confusion, title=title)
        print(f"\nconfusion matrix saved to {saved}")
    return 0


# ---- predict ----


def run_predict(args) -> int:
    from convprop.train.predict import ImageError, load_model, predict_images
    from convprop.train.threads import set_num_threads

    set_num_threads(args.threads)
    ck = _load(_checkpoint_path(args.checkpoint))
    model = load_model(ck)
    try:
        results = predict_images(model, ck, args.images, top_k=args.top_k, invert=args.invert)
    except ImageError as exc:
        raise CLIError(str(exc)) from None
    for path, top in zip(args.images, results, strict=True):
        print(f"{path}:")
        for name, prob in top:
            print(f"  {100 * prob:6.2f}%  {name}")
    return 0
