"""``convprop train``, ``convprop evaluate`` and ``convprop predict``: argument parsing and printing only.

The work lives in :mod:`convprop.train`. ``--threads N`` is
:func:`convprop.train.threads.set_num_threads`: N worker threads for the convolution kernels, with
BLAS on one thread in each (see :mod:`convprop.threads`).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from convprop.cli import CLIError
from convprop.cli.model_spec import MODEL_NAMES
from convprop.train.config import (
    DATASET_DEFAULTS,
    DATASETS,
    OPTIMIZER_LR,
    OPTIMIZERS,
    SCHEDULERS,
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


def _path(text: str) -> Path:
    """An argparse ``type`` for paths: an empty string (Path("") is the current folder) is refused."""
    if not text:
        raise argparse.ArgumentTypeError("expected a path, got an empty string")
    return Path(text)


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r} ({exc})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object such as '{{\"hidden\": 64}}', got {text!r}")
    return value


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
        "with checkpoints (last.npz; best.npz, the epoch with the best validation accuracy), metrics.csv/json,\n"
        "config.json, curves.png, confusion.png and summary.json. The test set is measured once, at the end, on\n"
        "the final model and on best.npz. Ctrl-C saves a checkpoint; continue with --resume (same weights as if\n"
        "never stopped).\n\n"
        "Data parallel: mpirun -n K convprop train ... (the same flags) trains on K processes, on one machine or\n"
        "several; --batch-size is then the global batch, which K must divide, each process takes its share of\n"
        "every batch, and the weights equal the one-process run's to float32 rounding. Rank 0 writes the run\n"
        "folder. Needs an MPI (apt-get install openmpi-bin) and pip install 'convprop[mpi]'.",
        epilog=_defaults_table(),
        formatter_class=fmt,
    )
    p.add_argument("--dataset", choices=DATASETS, default=None, help="dataset (default: fashion-mnist)")
    p.add_argument(
        "--model",
        metavar="NAME",
        help=f"model name, one of {MODEL_NAMES}; or your own nn.Module as "
        "path/to/file.py:ClassName (the file's code is run, as by python: name only files you trust)",
    )
    p.add_argument(
        "--model-args",
        metavar="JSON",
        type=_json_object,
        help="constructor arguments of a model file's class, e.g. '{\"hidden\": 64}' (num_classes, in_channels "
        "and input_size are filled in from the data when the constructor takes them)",
    )
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
    p.add_argument(
        "--val-split",
        metavar="FRACTION",
        type=_float(0.0, 1.0),
        help="hold out this share of each class of the training set for validation, drawn from the seed "
        "(default 0.1; 0: no validation). best.npz and early stopping use validation, never the test set",
    )
    p.add_argument(
        "--val-dir",
        type=_path,
        metavar="DIR",
        help="validate on these images instead: one subfolder per class, named after the class or its index",
    )
    p.add_argument(
        "--early-stopping",
        type=_positive_int,
        metavar="PATIENCE",
        help="stop when the validation loss has not improved for PATIENCE epochs",
    )
    p.add_argument(
        "--image-size",
        type=_positive_int,
        metavar="N",
        help="--dataset imagefolder: resize the images to NxN (default: their own size, if they share one)",
    )
    p.add_argument("--seed", metavar="N", type=_nonnegative_int, help="seed of every random generator (default 0)")
    p.add_argument(
        "--threads",
        metavar="N",
        type=_positive_int,
        help="worker threads for the conv kernels, per process under mpirun (default 1; more help only on an "
        "otherwise idle machine)",
    )
    p.add_argument(
        "--sync-batchnorm",
        action=argparse.BooleanOptionalAction,
        help="under mpirun, BatchNorm uses the statistics of the whole global batch (default), so the run equals "
        "the one-process run; --no-sync-batchnorm: each process's own share only, faster (two fewer "
        "exchanges per BatchNorm layer and step) but no longer equivalent to one process",
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
    p.add_argument("--out", type=_path, metavar="DIR", help="run folder (default runs/<dataset>-<model>-<time>)")
    p.add_argument(
        "--resume",
        nargs="?",
        const="",
        metavar="PATH",
        help="continue a run exactly: from --out DIR, or from PATH (a run folder or a checkpoint file); "
        "with both, the run continues in --out DIR, which must not hold another run",
    )
    p.add_argument(
        "--data-dir",
        type=_path,
        metavar="DIR",
        help="look for the dataset files here first; for imagefolder, the folder of class subfolders "
        "(or of train/, val/, test/ folders of them)",
    )
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, help="progress bars (default: on a terminal)")
    p.add_argument(
        "--track-gradients",
        nargs="?",
        const=10,
        type=_positive_int,
        metavar="EVERY",
        help="every EVERY steps (default 10) record each layer's gradient norm and update-to-weight ratio "
        "into gradients.csv/json and draw gradients.png (default: off)",
    )
    p.set_defaults(func=run_train)

    e = subparsers.add_parser(
        "evaluate",
        help="accuracy, per-class accuracy and confusion matrix of a checkpoint",
        description="Evaluate a checkpoint on a dataset split: accuracy, per-class accuracy and the confusion "
        "matrix (rows: true class, columns: predicted).",
    )
    e.add_argument("checkpoint", type=_path, help="checkpoint file, or a run folder (uses best.npz, else last.npz)")
    e.add_argument("--dataset", choices=DATASETS, help="dataset (default: the one the model was trained on)")
    e.add_argument(
        "--split",
        choices=("test", "val", "train"),
        default="test",
        help="split (default test; val: the run's validation set, drawn again from its seed)",
    )
    e.add_argument("--data-dir", type=_path, metavar="DIR", help="look for the dataset files here first")
    e.add_argument("--limit", type=_positive_int, metavar="N", help="use only the first N images")
    e.add_argument("--batch-size", type=_positive_int, metavar="N", default=500, help="batch size (default 500)")
    e.add_argument(
        "--threads", type=_positive_int, metavar="N", default=1, help="worker threads for the conv kernels (default 1)"
    )
    e.add_argument("--confusion", type=_path, metavar="PNG", help="also save the confusion matrix as a PNG")
    e.set_defaults(func=run_evaluate)

    r = subparsers.add_parser(
        "predict",
        help="classify PNG/JPEG images with a checkpoint",
        description="Classify images with a trained checkpoint. Each image is converted as in training "
        "(grayscale or RGB, resized to the model's input size, normalised with the training statistics) "
        "and the top-k classes are printed with their probabilities.",
    )
    r.add_argument("checkpoint", type=_path, help="checkpoint file, or a run folder (uses best.npz, else last.npz)")
    r.add_argument(
        "images", type=_path, nargs="+", metavar="IMAGE", help="PNG or JPEG files, or folders of them (each image)"
    )
    r.add_argument("--top-k", type=_positive_int, metavar="K", default=3, help="how many classes to print (default 3)")
    r.add_argument(
        "--invert",
        action="store_true",
        help="invert brightness first (MNIST-style data is light on dark; photos are usually dark on light)",
    )
    r.add_argument(
        "--threads", type=_positive_int, metavar="N", default=1, help="worker threads for the conv kernels (default 1)"
    )
    r.set_defaults(func=run_predict)

    x = subparsers.add_parser(
        "export",
        help="export a checkpoint's model to ONNX or safetensors",
        description="Export a trained model. onnx: the network as an ONNX graph (opset 17, float32, input "
        "'input' of shape (batch, C, H, W), normalised as in training; output 'logits'), for onnxruntime and "
        "other runtimes. safetensors: the weights under PyTorch's state_dict keys, with the model's name, "
        "arguments, classes and normalisation as metadata.",
    )
    x.add_argument("checkpoint", type=_path, help="checkpoint file, or a run folder (uses best.npz, else last.npz)")
    x.add_argument("--format", choices=("onnx", "safetensors"), help="default: from the output file's suffix")
    x.add_argument("-o", "--output", type=_path, required=True, metavar="FILE", help="the file to write")
    x.set_defaults(func=run_export)


# ---- train ----


def _warn(command: str):
    def warn(line: str) -> None:
        print(f"convprop {command}: warning: {line}", file=sys.stderr)

    return warn


def _output_path(path: Path, flag: str) -> Path:
    """Refuse an output path under an existing file (mkdir would say "file exists"), before any work is done."""
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise CLIError(f"{flag} {path}: {parent} is a file, not a folder")
            break
    return path


def _data_dir(path: Path | None) -> Path | None:
    if path is not None and not path.is_dir():
        raise CLIError(f"--data-dir {path}: " + ("not a folder" if path.exists() else "no such folder"))
    return path


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


def _config_from_args(args) -> dict:
    """The settings given on the command line (TrainConfig field -> value); the others are left to the library."""
    given = {
        "dataset": args.dataset,
        "model": args.model,
        "width": args.width,
        "model_args": args.model_args,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "optimizer": args.optimizer,
        "momentum": args.momentum,
        "weight_decay": args.weight_decay,
        "scheduler": args.scheduler,
        "augment": args.augment,
        "label_smoothing": args.label_smoothing,
        "val_split": args.val_split,
        "val_dir": None if args.val_dir is None else str(args.val_dir),
        "early_stopping": args.early_stopping,
        "image_size": args.image_size,
        "seed": args.seed,
        "threads": args.threads,
        "limit_train": args.limit_train,
        "limit_test": args.limit_test,
        "checkpoint_every": args.checkpoint_every,
        "eval_batch_size": args.eval_batch_size,
        "sync_batchnorm": args.sync_batchnorm,
    }
    return {k: v for k, v in given.items() if v is not None}


def _same_flags_on_every_rank(args) -> None:
    """Under mpirun, refuse flags that differ from rank 0's (each rank would train another run)."""
    from convprop import distributed

    mine = {k: str(v) for k, v in sorted(vars(args).items()) if k != "func"}
    first = distributed.WORLD.broadcast_object(mine)
    for key, value in mine.items():
        if first.get(key) != value:
            flag = "--" + key.replace("_", "-")
            raise CLIError(
                f"started with {flag} {value}, but rank 0 with {flag} {first.get(key)}: every process of mpirun "
                "must get the same flags"
            )


def run_train(args) -> int:
    import numpy as np

    from convprop import distributed
    from convprop.nn.summary import summary
    from convprop.train.run import plan_run, start_run
    from convprop.train.trainer import SigintHandler, TrainingInterrupted

    world = distributed.init()
    # A rank that fails here (bad flags, data it cannot read) stops every rank, with one message.
    with distributed.agree_on_errors():
        _same_flags_on_every_rank(args)
        plan = plan_run(_config_from_args(args), args.out, args.resume)
        trainer = start_run(
            plan, data_dir=_data_dir(args.data_dir), progress=args.progress, track_gradients=args.track_gradients
        )
    ck, out = plan.checkpoint, plan.out_dir
    cfg = trainer.cfg
    say = print if world.rank() == 0 else _silent
    what = (
        f"resuming at epoch {trainer.epoch + 1}, batch {trainer.batch}/{len(trainer)}"
        if ck is not None
        else f"training {cfg.model}"
    )
    shape = summary(trainer.model, trainer.data.input_shape)
    processes = f", {cfg.world_size} processes (global batch {cfg.batch_size})" if cfg.world_size > 1 else ""
    say(
        f"{cfg.model}: {shape.total_parameters:,} parameters, {shape.total_macs / 1e6:.2f} M multiply-accumulates "
        f"per image (convprop summary {cfg.model} --input-shape {'x'.join(map(str, trainer.data.input_shape))})"
    )
    say(
        f"{what} on {cfg.dataset}: {trainer.data.train_size} train / {trainer.data.val_size} validation / "
        f"{trainer.data.test_size} test images, "
        f"{cfg.epochs} epochs x {len(trainer)} batches of {cfg.batch_size}, {cfg.optimizer} lr {cfg.lr} "
        f"({cfg.scheduler} schedule), seed {cfg.seed}, threads {cfg.threads or 'default'}{processes}; "
        f"run folder {out}",
        flush=True,
    )
    # A diverging run overflows in NumPy before its loss turns NaN; the trainer reports that in one line instead.
    with SigintHandler(trainer), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        try:
            summary = trainer.fit()
        except TrainingInterrupted as exc:
            launcher = f"mpirun -n {cfg.world_size} " if cfg.world_size > 1 else ""
            say(
                f"\ninterrupted at epoch {trainer.epoch + 1}, batch {trainer.batch}; checkpoint saved to {exc.path}\n"
                f"resume with: {launcher}convprop train --resume {out}",
                file=sys.stderr,
            )
            return 130
    say(
        f"done: {_outcome(summary)}, {summary['epochs']} epochs in {summary['train_minutes']:.1f} min of "
        f"training ({summary['train_images_per_second'] or 0:.0f} img/s); results in {out}"
    )
    return 0


def _silent(*args, **kwargs) -> None:
    """``print`` on ranks other than 0."""


def _outcome(summary) -> str:
    """ "test accuracy 91.20% (best.npz, from epoch 4 on validation: 91.35%)", as far as the run measured it."""
    test, val = summary["test_accuracy"], summary["val_accuracy"]
    best = f"best.npz, epoch {summary['best_epoch']} by validation ({100 * val['best']:.2f}%)" if val else None
    if test is None:
        return f"no test set; {best}" if best else "no test set, no validation"
    text = f"final model test accuracy {100 * test['final']:.2f}%"
    return text + (f"; {best}: test accuracy {100 * test['best']:.2f}%" if best else "")


# ---- evaluate ----


def run_evaluate(args) -> int:
    from convprop.train.predict import evaluate_checkpoint
    from convprop.train.threads import set_num_threads

    set_num_threads(args.threads)
    if args.confusion is not None:
        _output_path(args.confusion, "--confusion")
    ck = _load(_checkpoint_path(args.checkpoint))
    result, classes, dataset = evaluate_checkpoint(
        ck,
        dataset=args.dataset,
        split=args.split,
        data_dir=_data_dir(args.data_dir),
        limit=args.limit,
        batch_size=args.batch_size,
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
    from convprop.train.predict import ImageError, image_files, load_model, predict_images
    from convprop.train.threads import set_num_threads

    set_num_threads(args.threads)
    ck = _load(_checkpoint_path(args.checkpoint))
    model = load_model(ck)
    try:
        files = image_files(args.images)
        results = predict_images(model, ck, files, top_k=args.top_k, invert=args.invert, warn=_warn("predict"))
    except ImageError as exc:
        raise CLIError(str(exc)) from None
    for path, top in zip(files, results, strict=True):
        print(f"{path}:")
        for name, prob in top:
            print(f"  {100 * prob:6.2f}%  {name}")
    return 0


# ---- export ----


def export_format(args) -> str:
    """--format, or the output file's suffix (.onnx, .safetensors)."""
    if args.format is not None:
        return args.format
    suffix = args.output.suffix.lstrip(".").lower()
    if suffix not in ("onnx", "safetensors"):
        raise CLIError(f"-o {args.output}: say --format onnx or --format safetensors (or end the name in one)")
    return suffix


def run_export(args) -> int:
    from convprop.train.export import OPSET, export_checkpoint

    fmt = export_format(args)
    _output_path(args.output, "-o")
    ck = _load(_checkpoint_path(args.checkpoint))
    path = export_checkpoint(ck, fmt, args.output)
    what = f"ONNX opset {OPSET}" if fmt == "onnx" else "safetensors"
    print(f"{ck.model_name} from {ck.path} written to {path} ({what})")
    return 0
