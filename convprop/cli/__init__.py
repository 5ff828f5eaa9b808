"""The ``convprop`` command line: argument parsing only; the work lives in the library.

Each subcommand module exposes ``register(subparsers)``, which adds its parser and
sets ``func`` (called with the parsed namespace; it returns the exit status).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from convprop import __version__

# Subcommand modules, imported lazily so `convprop --help` stays fast and an
# optional extra that is not installed only affects its own subcommand.
_SUBCOMMANDS = ("convprop.cli.train", "convprop.cli.explain")


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr (exit status 2), not usage + error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="convprop",
        description="Backpropagation in convolutional networks, transparent and fast.",
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except CLIError as exc:
        print(f"convprop {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"convprop {args.command}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, FileNotFoundError, PermissionError, RuntimeError) as exc:
        print(f"convprop {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
