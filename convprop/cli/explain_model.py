"""``convprop explain model MODEL --input-shape CxHxW``: the whole-network lesson page (argument parsing only).

Registered by :mod:`convprop.cli.explain` as one more LAYER choice of ``convprop explain``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from convprop.cli.model_spec import MODEL_NAMES, RUNS_CODE, input_shape, load_model, run_forward, shape_text


def register_model(explain_subparsers) -> None:
    p = explain_subparsers.add_parser(
        "model",
        help="the backward pass of a whole model: layer table, graph, steps, per-layer lessons, gradient check",
        description="Write one self-contained HTML page that explains the backward pass of a whole model: its "
        "layers, its autograd graph with gradient norms, the backward pass stepped from the loss to the input, a "
        "derivation page for each conv and pooling layer (written beside it, in PAGE_lessons/), and a float64 "
        "gradient check of every parameter. Exit status 1 when a check fails. " + RUNS_CODE,
    )
    p.add_argument("model", metavar="MODEL", help=f"{MODEL_NAMES} or FILE.py:ClassName")
    p.add_argument(
        "--input-shape", type=input_shape, required=True, metavar="CxHxW", help="one sample's shape, e.g. 1x28x28"
    )
    p.add_argument("--lang", choices=("en", "ar"), default="en", help="language of the prose (en)")
    p.add_argument("-o", "--output", metavar="PAGE", type=Path, help="the HTML page to write (default: MODEL.html)")
    p.set_defaults(func=run_model)


def run_model(args) -> int:
    from convprop.nn.summary import summary
    from convprop.viz.check import check_network
    from convprop.viz.model_page import model_page, training_step_graph

    spec, shape = args.model, args.input_shape
    model = load_model(spec, shape)
    path_text, colon, class_name = spec.rpartition(":")
    title = f"{class_name} ({Path(path_text).name})" if colon else spec
    table = run_forward(spec, shape, lambda: summary(model, shape))
    graph = run_forward(spec, shape, lambda: training_step_graph(model, shape))
    svg = graph.svg()
    checks = run_forward(spec, shape, lambda: check_network(model, shape))
    output = args.output or Path(f"{class_name if colon else spec}.html")
    lessons = _lessons(model, args.lang, title, f"../{output.name}")
    folder = output.parent / f"{output.stem}_lessons"
    links = {name: f"{folder.name}/{lesson.filename}" for name, lesson in lessons.items()}
    page = model_page(title, table, graph, svg, checks, links, args.lang)
    output.parent.mkdir(parents=True, exist_ok=True)
    if lessons:
        folder.mkdir(exist_ok=True)
        for lesson in {lesson.filename: lesson for lesson in lessons.values()}.values():
            (folder / lesson.filename).write_text(lesson.html, encoding="utf-8")
    output.write_text(page, encoding="utf-8")
    failed = [c.name for c in checks if not c.ok]
    verdict = f"gradient check failed for {', '.join(failed)}" if failed else f"all {len(checks)} parameters verified"
    print(f"wrote {output} ({shape_text(shape)}, {len(set(links.values()))} layer lessons); {verdict}", file=sys.stderr)
    return 1 if failed else 0


def _lessons(model, lang: str, title: str, back: str):
    try:
        from convprop.viz.lessons import layer_lessons

        return layer_lessons(model, lang, title, back)
    except ModuleNotFoundError as exc:
        raise RuntimeError(
            f"the per-layer lessons need {exc.name} (the explain extra): pip install 'convprop[explain]'"
        ) from None
