"""``convprop explain conv|maxpool|avgpool``: argument parsing and output only.

The work lives in :mod:`convprop.explain`. The defaults reproduce the article's
example (3x3 input, 2x2 filter; 4x4 pooling input with 2x2 windows).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from pathlib import Path

from convprop.cli import CLIError
from convprop.cli.explain_model import register_model

_SIZE = re.compile(r"^\s*(\d+)\s*(?:[x×,]\s*(\d+))?\s*$")


def _size(text: str) -> tuple[int, int]:
    """'3x3', '3,2' or '3' (square) -> (h, w)."""
    m = _SIZE.match(text)
    if m is None:
        raise argparse.ArgumentTypeError(f"expected HxW or N, non-negative integers (e.g. 3x3), got {text!r}")
    h = int(m[1])
    return h, int(m[2]) if m[2] else h


def _seed(text: str) -> int:
    """A seed for np.random.default_rng: a non-negative integer."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def _length(text: str) -> int:
    """A conv1d size: one positive integer."""
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected one integer N (a conv1d length), got {text!r}")
    return int(text)


def _common(
    p: argparse.ArgumentParser, input_default: str, kernel_default: str, size=_size, pad_with: str = "zeros"
) -> None:
    shape = "N" if size is _length else "HxW"
    p.add_argument(
        "--input", type=size, default=size(input_default), help=f"input size {shape} (default {input_default})"
    )
    p.add_argument("--kernel", type=size, default=size(kernel_default), help=f"kernel size (default {kernel_default})")
    p.add_argument(
        "--padding", type=size, default=size("0"), help=f"padding per side, filled with {pad_with} (default 0)"
    )
    p.add_argument("--format", choices=("md", "html", "latex", "text"), default="md", help="output format (md)")
    p.add_argument("--lang", choices=("en", "ar"), default="en", help="language of the prose (en)")
    p.add_argument("--animate", metavar="DIR", type=Path, help="also write GIF + PNG animations to DIR")
    p.add_argument("-o", "--output", metavar="FILE", type=Path, help="write to FILE instead of standard output")
    p.add_argument(
        "--numeric", action="store_true", help="numeric check only (any size), no symbolic derivation or animation"
    )


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="derive, prove and animate the backward pass of a conv or pooling layer",
        description="Derive the backward pass of a convolution or pooling layer symbolically, prove it, "
        "check it numerically against convprop's autograd, and write it up (English or Arabic).",
    )
    parser.add_argument(
        "--site",
        metavar="DIR",
        type=Path,
        help="write the gallery instead: an index and an interactive page per configuration, English and Arabic",
    )
    parser.set_defaults(func=run_site)
    sub = parser.add_subparsers(dest="layer", metavar="LAYER")
    layers = (
        ("conv", 2, _size, ("3x3", "2x2"), "a conv2d layer"),
        ("conv1d", 1, _length, ("5", "3"), "a conv1d layer"),
        (
            "conv_transpose",
            2,
            _size,
            ("2x2", "3x3"),
            "a conv_transpose2d layer (the backward pass of a conv, run forward)",
        ),
    )
    for layer, ndim, size, defaults, about in layers:
        conv = sub.add_parser(layer, help=about)
        _common(conv, *defaults, size=size)
        if layer == "conv_transpose":
            conv.add_argument(
                "--output-padding", type=size, default=size("0"), help="extra rows/columns at the bottom/right (0)"
            )
        conv.add_argument("--stride", type=size, default=size("1"), help="stride (default 1)")
        conv.add_argument("--dilation", type=size, default=size("1"), help="filter dilation (default 1)")
        conv.add_argument("--in-channels", type=int, default=1, help="input channels (default 1)")
        conv.add_argument("--out-channels", type=int, default=1, help="output channels (default 1)")
        conv.add_argument(
            "--groups", type=int, default=1, help="groups: each output channel reads only its group's inputs (1)"
        )
        conv.add_argument(
            "--seed", type=_seed, default=0, help="seed of the numeric check's values and the page's starting numbers"
        )
        conv.add_argument(
            "--values",
            help="the interactive page's starting numbers, any of X, F and dO, each row by row: "
            "'X: 1 2 3; 4 5 6; 7 8 9  F: 1 0; 0 -1  dO: 1 2; 3 4' (with channels, all channels in order; "
            "the rest are drawn from --seed)",
        )
        conv.set_defaults(func=run_conv, ndim=ndim, transposed=layer == "conv_transpose")
    for kind in ("max", "avg"):
        p = sub.add_parser(f"{kind}pool", help=f"{'an' if kind == 'avg' else 'a'} {kind}_pool2d layer")
        _common(p, "4x4", "2", pad_with="-inf, never a window's maximum" if kind == "max" else "zeros")
        p.add_argument("--stride", type=_size, default=None, help="stride (default: the kernel size)")
        values = p.add_mutually_exclusive_group()
        values.add_argument(
            "--values",
            help="the input's values, row by row: '9 1 8 2; 3 4 5 6; ...' (max pooling default: the article's "
            "example for a 4x4 input, seed 0 otherwise)",
        )
        values.add_argument("--seed", type=_seed, default=None, help="random integer values 0-9 from this seed")
        p.add_argument("--ceil-mode", action="store_true", help="round the output size up, as ceil_mode=True")
        if kind == "avg":
            p.add_argument("--count-exclude-pad", action="store_true", help="do not count padding in the divisor")
        p.set_defaults(func=run_pool, kind=kind)
    register_model(sub)


def _emit(text: str, args) -> None:
    if args.output is None:
        sys.stdout.write(text)
        return
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)


def _figures(figures, args):
    """Figure paths relative to the output file (Markdown/LaTeX link them; HTML embeds them)."""
    if args.output is None:
        return figures
    base = args.output.resolve().parent
    # relpath, not Path.relative_to: a folder beside the output's (../d/x.gif) is still relative
    return [(key, Path(os.path.relpath(Path(path).resolve(), base)).as_posix()) for key, path in figures]


def _no_numeric_animation(args) -> None:
    # the numeric mode exists for sizes too large to read, and so too large to animate frame by frame
    if args.numeric and args.animate is not None:
        raise CLIError("--animate needs the symbolic mode: drop --numeric (animations are drawn up to 8x8 inputs)")


def _user_errors(fn):
    """Bad sizes and values become one clean line (CLIError), never a traceback."""

    def wrapped(args):
        if args.site is not None and args.layer is not None:
            raise CLIError(f"--site writes the whole gallery: give it without a LAYER (got {args.layer!r})")
        try:
            return fn(args)
        except (ValueError, TypeError) as exc:
            raise CLIError(str(exc)) from None

    return wrapped


@_user_errors
def run_conv(args) -> int:
    from convprop import explain
    from convprop.explain.animate import animate_conv

    params = dict(
        input_size=args.input,
        kernel_size=args.kernel,
        stride=args.stride,
        padding=args.padding,
        dilation=args.dilation,
        in_channels=args.in_channels,
        out_channels=args.out_channels,
        groups=args.groups,
    )
    _no_numeric_animation(args)
    if args.transposed:
        return _transposed(args, params)
    if args.numeric:
        cfg, check = explain.numeric_conv(**params, seed=args.seed, ndim=args.ndim)
        _emit(explain.render(explain.numeric_document("conv", cfg, check, args.lang), args.format), args)
        return 0 if check.ok else 1
    values = _parse_conv_values(args.values) if args.values is not None else None
    d = (explain.derive_conv if args.ndim == 2 else explain.derive_conv1d)(**params)
    check = explain.check_conv(d, seed=args.seed)
    figures = animate_conv(d.config, args.animate, seed=args.seed, lang=args.lang) if args.animate else []
    figures = _figures(figures, args) if args.format != "html" else figures
    doc = explain.conv_document(d, args.lang, check, figures, values=values, seed=args.seed)
    _emit(explain.render(doc, args.format), args)
    return 0 if d.verified and check.ok else 1


def _transposed(args, params) -> int:
    from convprop import explain

    if args.numeric or args.animate is not None:
        raise CLIError("conv_transpose has the symbolic lesson only: drop --numeric and --animate")
    d = explain.derive_conv_transpose(**params, output_padding=args.output_padding)
    check = explain.check_conv_transpose(d, seed=args.seed)
    values = _parse_conv_values(args.values) if args.values is not None else None
    _emit(explain.render(explain.conv_transpose_document(d, args.lang, check, values, args.seed), args.format), args)
    return 0 if d.verified and check.ok else 1


def _numbers(text: str, flag: str = "--values") -> list[float]:
    try:
        flat = [float(v) for v in re.split(r"[\s,;]+", text.strip()) if v]
    except ValueError:
        raise CLIError(f"{flag}: expected numbers separated by spaces, commas or ';', got {text!r}") from None
    if not all(math.isfinite(v) for v in flat):
        raise CLIError(f"{flag}: expected finite numbers (no nan or inf), got {text!r}")
    return flat


_TENSOR = re.compile(r"\b(X|F|dO)\s*[:=]")


def _parse_conv_values(text: str) -> dict:
    """'X: 1 2; 3 4  F: 1  dO: ...' -> {"X": [1, 2, 3, 4], "F": [1], ...}; shapes are checked by the library."""
    parts = _TENSOR.split(text)
    if parts[0].strip() or len(parts) < 3:
        raise CLIError(f"--values: expected 'X: ...', 'F: ...' and/or 'dO: ...' (rows split by ';'), got {text!r}")
    values = {}
    for name, numbers in zip(parts[1::2], parts[2::2], strict=True):
        if name in values:
            raise CLIError(f"--values: {name} is given twice")
        values[name] = _numbers(numbers, f"--values {name}")
    return values


def _parse_values(text: str, size: tuple[int, int]):
    import numpy as np

    flat = _numbers(text)
    if len(flat) != size[0] * size[1]:
        raise CLIError(f"--values: a {size[0]}x{size[1]} input needs {size[0] * size[1]} values, got {len(flat)}")
    return np.array(flat).reshape(size)


@_user_errors
def run_pool(args) -> int:
    import numpy as np

    from convprop import explain
    from convprop.explain.animate import animate_pool
    from convprop.explain.pool import ARTICLE_VALUES

    count_include_pad = not getattr(args, "count_exclude_pad", False)
    _no_numeric_animation(args)
    if args.numeric:
        cfg, check = explain.numeric_pool(
            args.kind,
            args.input,
            args.kernel,
            args.stride,
            args.padding,
            count_include_pad,
            seed=args.seed or 0,
            ceil_mode=args.ceil_mode,
        )
        _emit(explain.render(explain.numeric_document("pool", cfg, check, args.lang), args.format), args)
        return 0 if check.ok else 1
    if args.values is not None:
        values = _parse_values(args.values, args.input)
    elif args.seed is not None:
        values = np.random.default_rng(args.seed).integers(0, 10, size=args.input).astype(np.float64)
    elif args.kind == "max" and args.input == ARTICLE_VALUES.shape:
        values = ARTICLE_VALUES  # the article's example: each 2x2 window peaks in its top-left corner
    elif args.kind == "max":
        values = np.random.default_rng(0).integers(0, 10, size=args.input).astype(np.float64)
    else:
        values = None
    d = explain.derive_pool(
        args.kind,
        args.input if values is None else values,
        args.kernel,
        args.stride,
        args.padding,
        count_include_pad,
        ceil_mode=args.ceil_mode,
    )
    check = explain.check_pool(d, seed=args.seed or 0)
    figures = (
        animate_pool(d.config, args.animate, d.values, seed=args.seed or 0, lang=args.lang) if args.animate else []
    )
    figures = _figures(figures, args) if args.format != "html" else figures
    doc = explain.pool_document(d, args.lang, check, figures, seed=args.seed or 0)
    _emit(explain.render(doc, args.format), args)
    return 0 if d.verified and check.ok else 1


@_user_errors
def run_site(args) -> int:
    """``convprop explain --site DIR``: the gallery; a LAYER or nothing at all is a usage error."""
    if args.site is None:
        raise CLIError(
            "choose a LAYER (conv, conv1d, conv_transpose, maxpool, avgpool, model), "
            "or write the gallery with --site DIR"
        )
    from convprop.explain.gallery import write_site

    def progress(k: int, n: int, slug: str) -> None:
        print(f"[{k}/{n}] deriving and proving {slug}", file=sys.stderr)

    pages = write_site(args.site, progress=progress)
    print(f"wrote {len(pages)} pages to {args.site} (open {args.site / 'index.html'})", file=sys.stderr)
    return 0
