"""The lesson for a whole model (`convprop explain model`): one self-contained HTML page.

The page holds the layer table (:func:`convprop.summary`), the autograd graph of one
training step (:func:`convprop.draw_graph`, inline SVG), the backward pass stepped from the
loss back to the input, links to the per-layer derivations (:mod:`convprop.viz.lessons`)
and the whole-network gradient check (:mod:`convprop.viz.check`). CSS and the stepper's
script are inline; nothing is fetched.

Testing contract: each layer row is ``<tr data-layer="features.0" data-output-shape="6x28x28">``;
the steps carry ``data-step`` and ``data-layer``; the buttons ``data-role="prev"``/``"next"``;
the check's verdict is the element ``data-role="gradcheck"``, whose text contains
"verified" only when every parameter passed.
"""

from __future__ import annotations

import copy
import html
from dataclasses import dataclass, field

import numpy as np

import convprop.nn.functional as F
from convprop.nn.modules.dropout import Dropout
from convprop.nn.modules.module import Module
from convprop.nn.summary import Summary
from convprop.tensor import Tensor
from convprop.viz import strings
from convprop.viz.check import ParameterCheck
from convprop.viz.graph import Graph, Node, draw_graph


@dataclass
class Step:
    """One step of the backward pass: the operations of one module (``module`` None: the loss)."""

    module: str | None
    type: str
    ops: list[Node]
    received: Node
    params: list[tuple[str, tuple[int, ...], float | None]] = field(default_factory=list)
    inputs: list[tuple[tuple[int, ...], float | None, str | None]] = field(default_factory=list)


def training_step_graph(model: Module, input_shape: tuple[int, ...], batch: int = 2, seed: int = 0) -> Graph:
    """The graph of one forward and backward pass of a float64 copy of ``model`` on random inputs.

    The loss is the cross-entropy against random classes when the model returns (N, classes)
    scores, else Σ out ⊙ G with a random G. Training mode, Dropout off (as the gradient check).
    """
    net = copy.deepcopy(model).double().train()
    for m in net.modules():
        if isinstance(m, Dropout):
            m.eval()
    rng = np.random.default_rng(seed)
    out = net(Tensor(rng.standard_normal((batch, *input_shape))))
    if out.ndim == 2:
        loss = F.cross_entropy(out, rng.integers(0, out.shape[1], size=batch))
    else:
        loss = (out * Tensor(rng.standard_normal(out.shape))).sum()
    graph = draw_graph(loss, params=net, color_by_grad=True)
    loss.backward()
    return graph


def backward_steps(graph: Graph) -> list[Step]:
    """The graph's operations from the loss back to the input, grouped by module, each with its gradients."""
    nodes = graph.nodes_by_id
    groups: list[list[Node]] = []
    for node in reversed(graph.ops):
        if groups and groups[-1][0].module == node.module:
            groups[-1].append(node)
        else:
            groups.append([node])
    steps = []
    for ops in groups:
        ids = {n.id for n in ops}
        module = ops[0].module
        step = Step(module, graph.module_types.get(module, "") if module else "", list(reversed(ops)), ops[0])
        for edge in graph.edges:
            if edge.dst not in ids or edge.src in ids:
                continue
            src = nodes[edge.src]
            if src.kind == "leaf":
                step.params.append((src.name, src.shape, edge.grad_norm))
            else:
                step.inputs.append((src.shape, edge.grad_norm, src.module))
        steps.append(step)
    return steps


def _shape(shape) -> str:
    return "x".join(map(str, shape)) if shape else "scalar"


def _norm(value: float | None) -> str:
    return "-" if value is None else f"{value:.3e}"


def _e(text) -> str:
    return html.escape(str(text))


def _t(lang: str, key: str, **fields) -> str:
    """The escaped string ``key`` with its fields set left to right (formulas and names inside Arabic prose)."""
    template = html.escape(strings.text(lang, key), quote=False)
    return template.format(**{k: f'<bdi dir="ltr">{_e(v)}</bdi>' for k, v in fields.items()})


def _layer_table(summary: Summary, lessons: dict[str, str], lang: str) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in strings.text(lang, "columns"))
    rows = []
    for layer in summary.layers:
        link = lessons.get(layer.name)
        lesson = f'<a href="{_e(link)}">{_e(strings.text(lang, "lesson"))}</a>' if link else ""
        shape = _shape(layer.output_shape) if layer.output_shape is not None else "?"
        rows.append(
            f'<tr data-layer="{_e(layer.name)}" data-output-shape="{_e(shape)}"><td>{_e(layer.name)}</td>'
            f"<td>{_e(layer.type)}</td><td>{_e(shape)}</td><td class=num>{layer.parameters:,}</td>"
            f"<td class=num>{layer.macs:,}</td><td>{lesson}</td></tr>"
        )
    table = f'<table class="layers" dir="ltr"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    return f'<div class="wide">{table}</div>'  # a phone scrolls the table, not the page


def _step_html(k: int, step: Step, lessons: dict[str, str], lang: str) -> str:
    t = strings.text
    title = f"{step.module} · {step.type}" if step.module else t(lang, "loss")
    formulas = "".join(
        f'<li dir="ltr"><b>{_e(op.name)}</b>: <code>{_e(op.formula or "-")}</code></li>' for op in step.ops
    )
    received = step.received
    items = [_t(lang, "receives", grad="∂L/∂y", shape=_shape(received.shape), norm=_norm(received.grad_norm))]
    items += [
        _t(lang, "computes_param", grad=f"∂L/∂{name}", name=name, shape=_shape(shape), norm=_norm(norm))
        for name, shape, norm in step.params
    ]
    items += [
        _t(lang, "computes_input", grad="∂L/∂x", shape=_shape(shape), norm=_norm(norm), to=source or t(lang, "input"))
        for shape, norm, source in step.inputs
    ]
    if not step.inputs:
        items.append(_t(lang, "no_input_grad"))
    lesson = lessons.get(step.module or "")
    link = f'<p>{_e(t(lang, "see_lesson"))} <a href="{_e(lesson)}">{_e(t(lang, "lesson"))}</a></p>' if lesson else ""
    about = ""
    if step.module is None:  # which loss training_step_graph built: cross-entropy goes through LogSoftmax
        about = f"<p>{_e(t(lang, 'loss_ce' if any(op.name == 'LogSoftmax' for op in step.ops) else 'loss_sum'))}</p>"
    return (
        f'<section class="step" data-step="{k}" data-layer="{_e(step.module or "")}">'
        f"<h3>{_e(title)}</h3>{about}<ul class=formulas>{formulas}</ul>"
        f"<ul>{''.join(f'<li>{item}</li>' for item in items)}</ul>{link}</section>"
    )


def _check_html(checks: list[ParameterCheck], batch: int, eps: float, rtol: float, lang: str) -> str:
    t = strings.text
    head = "".join(f"<th>{_e(c)}</th>" for c in t(lang, "check_columns"))
    rows = "".join(
        f'<tr class="{"ok" if c.ok else "bad"}"><td>{_e(c.name)}</td><td>{_shape(c.shape)}</td>'
        f"<td class=num>{c.analytic:.10e}</td><td class=num>{c.numeric:.10e}</td>"
        f"<td>{_e(t(lang, 'agrees' if c.ok else 'disagrees'))}</td></tr>"
        for c in checks
    )
    failed = [c.name for c in checks if not c.ok]
    verdict = _t(lang, "check_bad", names=", ".join(failed)) if failed else _t(lang, "check_ok", n=len(checks))
    return (
        f"<p>{_t(lang, 'check', batch=batch, eps=eps, rtol=rtol, dot='⟨∂L/∂P, V⟩', difference=_DIFFERENCE)}</p>"
        f'<div class="wide"><table class="check" dir="ltr"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
        "</div>"
        f'<p data-role="gradcheck" class="{"verdict-bad" if failed else "verdict-ok"}">{verdict}</p>'
    )


_DIFFERENCE = "(L(P + εV) − L(P − εV)) / 2ε"


def _inline_svg(svg: str) -> str:
    """Graphviz's SVG without its XML prolog and DOCTYPE, for an HTML page."""
    return svg[svg.index("<svg") :]


_CSS = """
body { font-family: "DejaVu Sans", "Noto Sans", "Noto Naskh Arabic", sans-serif; max-width: 1100px; margin: 2em auto;
  padding: 0 1em; line-height: 1.5; color: #111827; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
.wide { overflow-x: auto; max-width: 100%; }
th, td { border: 1px solid #d1d5db; padding: 0.25em 0.6em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.current { background: #fef3c7; }
.graph { overflow: auto; max-height: 80vh; border: 1px solid #d1d5db; direction: ltr; }
.stepper { display: flex; gap: 1em; align-items: center; margin: 1em 0; }
.step { border-left: 4px solid #f59e0b; padding: 0 1em; }
[dir=rtl] .step { border-left: none; border-right: 4px solid #f59e0b; }
.step[hidden] { display: none; }
code { font-size: 0.95em; }
.verdict-ok { color: #166534; font-weight: bold; }
.verdict-bad, tr.bad { color: #991b1b; font-weight: bold; }
"""

_SCRIPT = """
(() => {
  const steps = Array.from(document.querySelectorAll("[data-step]"));
  const prev = document.querySelector('[data-role="prev"]');
  const next = document.querySelector('[data-role="next"]');
  const counter = document.querySelector('[data-role="counter"]');
  let current = 0;
  function show(k) {
    current = Math.max(0, Math.min(steps.length - 1, k));
    steps.forEach((step, j) => { step.hidden = j !== current; });
    document.querySelectorAll("tr.current").forEach((row) => row.classList.remove("current"));
    const layer = steps[current].dataset.layer;
    const row = layer && document.querySelector('tr[data-layer="' + CSS.escape(layer) + '"]');
    if (row) row.classList.add("current");
    counter.textContent = counter.dataset.template.replace("{i}", current + 1).replace("{n}", steps.length);
    prev.disabled = current === 0;
    next.disabled = current === steps.length - 1;
  }
  prev.addEventListener("click", () => show(current - 1));
  next.addEventListener("click", () => show(current + 1));
  show(0);
})();
"""


def model_page(
    title_name: str,
    summary: Summary,
    graph: Graph,
    svg: str,
    checks: list[ParameterCheck],
    lessons: dict[str, str],
    lang: str = "en",
    batch: int = 2,
    eps: float = 1e-7,
    rtol: float = 1e-3,
) -> str:
    """The page, from its parts: ``lessons`` maps a layer name to the relative link of its derivation."""
    t = strings.text
    steps = backward_steps(graph)
    title = t(lang, "title", model=title_name)
    intro = _t(
        lang,
        "intro",
        model=title_name,
        shape=_shape(summary.input_shape),
        params=f"{summary.total_parameters:,}",
        macs=f"{summary.total_macs:,}",
    )
    body = [
        f"<h1>{_e(title)}</h1>",
        f"<p>{intro}</p>",
        f"<h2>{_e(t(lang, 'h_layers'))}</h2>",
        _layer_table(summary, lessons, lang),
        f"<h2>{_e(t(lang, 'h_backward'))}</h2>",
        f"<p>{_t(lang, 'backward', start='∂L/∂L = 1', update='W ← W − η ∂L/∂W')}</p>",
        '<div class="stepper">'
        f'<button type="button" data-role="prev">{_e(t(lang, "prev"))}</button>'
        f'<span data-role="counter" data-template="{_e(t(lang, "counter"))}"></span>'
        f'<button type="button" data-role="next">{_e(t(lang, "next"))}</button></div>',
        *(_step_html(k, step, lessons, lang) for k, step in enumerate(steps)),
        f"<h2>{_e(t(lang, 'h_graph'))}</h2>",
        f"<p>{_t(lang, 'graph', batch=batch)}</p>",
        f'<div class="graph">{_inline_svg(svg)}</div>',
        f"<h2>{_e(t(lang, 'h_check'))}</h2>",
        _check_html(checks, batch, eps, rtol, lang),
    ]
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}" dir="{strings.DIRECTION[lang]}">\n<head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + f"\n<script>{_SCRIPT}</script>\n</body>\n</html>\n"
    )
