"""The ``convprop`` command line: argument parsing only; the work lives in the library.

Each subcommand module exposes ``register(subparsers)``, which adds its parser and
sets ``func`` (called with the parsed namespace; it returns the exit status).

Exit status, the same for every subcommand (see :data:`EXIT_STATUS`): 0 success; 2 an error
the user can fix, printed as one line: bad arguments (argparse, :class:`CLIError`), a bad
value or file (``ValueError``: checkpoints, images, datasets, settings) or an unusable path
(``OSError``); 1 any other failure (``RuntimeError``, e.g. an optional extra not installed);
130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys

from convprop import __version__

# Subcommand modules, imported lazily so `convprop --help` stays fast and an
# optional extra that is not installed only affects its own subcommand.
_SUBCOMMANDS = ("convprop.cli.train", "convprop.cli.explain", "convprop.cli.summary")


EXIT_STATUS = "exit status: 0 done, 2 bad arguments or input files (one line on stderr), 1 other failures, 130 Ctrl-C"


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


class MissingExtra(RuntimeError):
    """An optional dependency the command needs is not installed: printed as one line, exit status 1."""


def _needs(args) -> list[tuple[str, str, str]]:
    """(module, what this invocation uses it for, the extra that installs it), for what ``args`` will do.

    Checked before any work, so a core-only install (``pip install convprop``: NumPy only) never trains
    an epoch and then stops for want of a plotting library.
    """
    command = args.command
    imagefolder = getattr(args, "dataset", None) == "imagefolder" or getattr(args, "val_dir", None) is not None
    needs = {
        "train": [("matplotlib", "curves.png and confusion.png", "train")]
        + ([("PIL", "reading image files", "train")] if imagefolder else []),
        "evaluate": [("matplotlib", "--confusion", "train")] if getattr(args, "confusion", None) else [],
        "predict": [("PIL", "reading image files", "train")],
        "explain": [("sympy", "deriving the equations", "explain")]
        + (
            [("matplotlib", "--animate", "explain"), ("PIL", "--animate", "explain")]
            if getattr(args, "animate", None)
            else []
        ),
    }
    if command == "export":
        from convprop.cli.train import export_format

        fmt = export_format(args)
        needs["export"] = [(fmt, f"--format {fmt}", fmt)]
    return needs.get(command, [])


def check_extras(args) -> None:
    """Raise :class:`MissingExtra` naming the first missing module and the extra that installs it."""
    for module, purpose, extra in _needs(args):
        if importlib.util.find_spec(module) is None:
            name = {"PIL": "Pillow", "sympy": "SymPy"}.get(module, module)
            raise MissingExtra(f"{name} (for {purpose}) is not installed: pip install 'convprop[{extra}]'")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr (exit status 2), not usage + error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="convprop",
        description="Backpropagation in convolutional networks, transparent and fast.",
        epilog=EXIT_STATUS,
    )
    parser.add_argument("--version", action="version", version=f"convprop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _SUBCOMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and exc.name.startswith("convprop.cli."):
                continue  # that subcommand is not part of this build
            raise
        module.register(sub)
    return parser


class _PipeSafeStdout:
    """``sys.stdout`` that outlives its reader: once the pipe is closed (``convprop evaluate | head -2``), output
    goes to the null device and the command finishes its work (files it was asked to write) instead of failing.

    This is what well-behaved command-line tools do on EPIPE; Python ignores SIGPIPE, so without it the next
    print raises BrokenPipeError, and even a flush at interpreter exit prints "Exception ignored".
    """

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._to_devnull()
            return len(text)

    def flush(self):
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._to_devnull()

    def _to_devnull(self):
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._stream.fileno())  # the text still buffered is flushed into the null device
        finally:
            os.close(devnull)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _describe(exc: OSError) -> str:
    """``[Errno 21] Is a directory: '/tmp/x'`` as ``/tmp/x: is a directory``."""
    if exc.strerror and exc.filename is not None:
        reason = exc.strerror[0].lower() + exc.strerror[1:]
        return f"{exc.filename}: {reason}" + (f" (and {exc.filename2})" if exc.filename2 is not None else "")
    return str(exc)


def _rank() -> int:
    from convprop import distributed

    return distributed.rank()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    stdout, sys.stdout = sys.stdout, _PipeSafeStdout(sys.stdout)

    def error(exc: BaseException, text: str, status: int) -> int:
        # An error every MPI rank raised together (convprop.distributed.agree_on_errors) is printed by rank 0.
        if not getattr(exc, "collective", False) or _rank() == 0:
            print(f"convprop {args.command}: {text}", file=sys.stderr)
        return status

    try:
        check_extras(args)
        return int(args.func(args) or 0)
    except (CLIError, ValueError) as exc:  # ValueError: CheckpointError, ImageError, DatasetError, settings
        return error(exc, f"error: {exc}", 2)
    except KeyboardInterrupt as exc:
        return error(exc, "interrupted", 130)
    except OSError as exc:
        # A path the user gave cannot be used: it exists already, is a folder, is a file, is not ours to write.
        return error(exc, f"error: {_describe(exc)}", 2)
    except (TypeError, RuntimeError) as exc:
        return error(exc, f"error: {exc}", 1)
    finally:
        sys.stdout.flush()
        sys.stdout = stdout


if __name__ == "__main__":
    sys.exit(main())
