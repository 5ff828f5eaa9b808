"""``convprop summary MODEL --input-shape CxHxW``: the layer table of :func:`convprop.summary`."""

from __future__ import annotations

from convprop.cli.model_spec import MODEL_NAMES, RUNS_CODE, input_shape, load_model, run_forward


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "summary",
        help="layers, output shapes, parameters and multiply-accumulates of a model",
        description="Print every layer of a model with its output shape, parameter count and multiply-accumulates "
        "for one sample (conv, transposed conv and linear layers are counted; FLOPs are about twice the MACs). "
        + RUNS_CODE,
    )
    parser.add_argument("model", metavar="MODEL", help=f"{MODEL_NAMES} or FILE.py:ClassName")
    parser.add_argument(
        "--input-shape", type=input_shape, required=True, metavar="CxHxW", help="one sample's shape, e.g. 1x28x28"
    )
    parser.set_defaults(func=run)


def run(args) -> int:
    from convprop.nn.summary import summary

    model = load_model(args.model, args.input_shape)
    print(run_forward(args.model, args.input_shape, lambda: summary(model, args.input_shape)))
    return 0
