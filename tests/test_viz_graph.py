"""convprop.draw_graph: one node per recorded operation, parameter names, module boxes, gradient norms, SVG."""

from __future__ import annotations

import shutil
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

import convprop
import convprop.nn.functional as F
from convprop import nn
from convprop.models import get_model
from tests.browser import chromium_page

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot is not installed (CI installs Debian's graphviz)"
)


def _recorded_ops(output) -> set[int]:
    """Every Function the forward pass recorded for ``output``, found by walking the parents (as backward does)."""
    found, stack = set(), [output]
    while stack:
        fn = stack.pop()._ctx
        if fn is None or id(fn) in found:
            continue
        found.add(id(fn))
        stack.extend(p for p in fn.parents if p.requires_grad)
    return found


def _loss(name: str, in_channels: int, size: int, batch: int = 2):
    model = get_model(name, in_channels=in_channels, generator=np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((batch, in_channels, size, size)).astype(np.float32)
    loss = F.cross_entropy(model(convprop.tensor(x)), np.arange(batch) % 10)
    return model, x, loss


def _module_outputs(graph, names) -> dict[str, list[tuple[int, ...]]]:
    """Per module: the shapes of the operations inside it (or its submodules) used by nothing inside it."""
    consumers: dict[str, list[str]] = {}
    for edge in graph.edges:
        consumers.setdefault(edge.src, []).append(edge.dst)
    module_of = {n.id: n.module or "" for n in graph.ops}
    out: dict[str, list[tuple[int, ...]]] = {}
    for name in names:

        def inside(node_id, name=name):
            return module_of[node_id] == name or module_of[node_id].startswith(name + ".")

        shapes = [n.shape for n in graph.ops if inside(n.id) and not any(map(inside, consumers.get(n.id, ())))]
        if shapes:
            out[name] = shapes
    return out


def _torch_outputs(model, x) -> dict[str, list[tuple[int, ...]]]:
    """Per module of the PyTorch twin: the shape of every output it returned."""
    from tests.torch_mirror import to_torch, torch

    twin = to_torch(model)
    shapes: dict[str, list[tuple[int, ...]]] = {}
    for name, module in twin.named_modules():
        module.register_forward_hook(
            lambda _m, _i, out, name=name: shapes.setdefault(name, []).append(tuple(out.shape))
        )
    twin(torch.from_numpy(x))
    return shapes


@pytest.mark.parametrize(("name", "in_channels", "size"), [("lenet5", 1, 28), ("resnet8", 3, 32)])
def test_one_node_per_recorded_operation_and_shapes_as_in_pytorch(name, in_channels, size):
    model, x, loss = _loss(name, in_channels, size)
    graph = convprop.draw_graph(loss, params=model)
    recorded = _recorded_ops(loss)
    assert len(graph.ops) == len(recorded) > 10
    assert {id(fn) for fn in graph._fns.values()} == recorded
    # every parameter is a named leaf, once, with its shape
    params = dict(model.named_parameters())
    assert sorted(n.name for n in graph.leaves) == sorted(params)
    assert all(n.shape == params[n.name].shape and n.dtype == "float32" for n in graph.leaves)
    # each leaf module's output shape (as the graph records it) equals the PyTorch twin's
    theirs = _torch_outputs(model, x)
    del theirs[""]  # the whole model: its output feeds the loss, drawn outside every module
    ours = _module_outputs(graph, theirs)
    without_ops = {name for name, m in model.named_modules() if isinstance(m, nn.Identity)}
    assert set(ours) == set(theirs) - without_ops
    for module in ours:
        assert sorted(ours[module]) == sorted(theirs[module]), module
    # nodes come in forward order: every edge goes from an earlier node to a later one
    position = {n.id: i for i, n in enumerate(graph.nodes)}
    assert all(position[e.src] < position[e.dst] for e in graph.edges)
    assert graph.nodes[-1].id == graph.output and graph.nodes[-1].shape == ()


def test_labels_formulas_and_module_clusters():
    model, _, loss = _loss("resnet8", 3, 32)
    graph = convprop.draw_graph(loss, params=model)
    conv = next(n for n in graph.ops if n.module == "layer1.0.conv1")
    assert conv.name == "ConvNd" and conv.formula == convprop.ops.conv.ConvNd.formula
    assert conv.shape == (2, 16, 32, 32)
    add = [n for n in graph.ops if n.module == "layer1.0" and n.name == "Add"]
    assert len(add) == 1  # the residual sum belongs to the block itself
    dot = graph.source
    assert 'label="layer1.0 · BasicBlock"' in dot and 'label="layer1.0.conv1 · Conv2d"' in dot
    assert "∂L/∂X = full correlation of ∂L/∂O with rot180(F)<br/>∂L/∂F = X ⋆ ∂L/∂O" in dot
    assert "<b>layer1.0.conv1.weight</b>" in dot and "16×16×3×3  float32" in dot
    assert "dL/dx = dL/dy where x &gt; 0, else 0" in dot  # escaped for Graphviz's HTML labels


def test_edges_carry_the_gradient_norms_after_backward():
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(5, 4, generator=rng), nn.Sigmoid(), nn.Linear(4, 3, generator=rng)).double()
    x, c = rng.standard_normal((6, 5)), rng.standard_normal((6, 3))
    loss = (model(convprop.tensor(x)) * convprop.tensor(c)).sum()
    graph = convprop.draw_graph(loss, params=model, color_by_grad=True)
    assert all(e.grad_norm is None for e in graph.edges) and 'label=" ' not in graph.source
    loss.backward()
    params = dict(model.named_parameters())
    names = {n.id: n.name for n in graph.nodes}
    leaf_edges = [e for e in graph.edges if names[e.src] in params]
    assert len(leaf_edges) == 4
    for edge in leaf_edges:
        assert edge.grad_norm == pytest.approx(np.linalg.norm(params[names[edge.src]].grad), rel=1e-12)
    # by hand: dL/dy = c W2 arrives from the second linear layer, dL/dh = dL/dy · y(1 - y) from the sigmoid
    w1, b1, w2 = (params[k].data for k in ("0.weight", "0.bias", "2.weight"))
    y = 1 / (1 + np.exp(-(x @ w1.T + b1)))
    into = {(graph.nodes_by_id[e.src].module, graph.nodes_by_id[e.dst].module): e.grad_norm for e in graph.edges}
    assert into[("1", "2")] == pytest.approx(np.linalg.norm(c @ w2), rel=1e-12)
    assert into[("0", "1")] == pytest.approx(np.linalg.norm(c @ w2 * y * (1 - y)), rel=1e-12)
    received = {n.module: n.grad_norm for n in graph.ops if n.module}
    assert received["2"] == pytest.approx(np.linalg.norm(c), rel=1e-12)  # each op records the ‖∂L/∂y‖ it got
    assert received["1"] == pytest.approx(np.linalg.norm(c @ w2), rel=1e-12)
    dot = graph.source
    assert "#2b83ba" in dot and "#d7191c" in dot  # smallest norm blue, largest red


def test_a_freed_graph_and_bad_arguments_are_clear_errors():
    model, _, loss = _loss("lenet5", 1, 28)
    with pytest.raises(TypeError, match=r"params must be an nn\.Module"):
        convprop.draw_graph(loss, params=[1])
    with pytest.raises(ValueError, match="more than max_nodes=5 nodes"):
        convprop.draw_graph(loss, params=model, max_nodes=5)
    loss.backward()
    with pytest.raises(ValueError, match=r"freed by backward\(\); call draw_graph\(output\) before"):
        convprop.draw_graph(loss, params=model)
    with pytest.raises(ValueError, match="does not require grad"):
        convprop.draw_graph(convprop.tensor([1.0]))


def test_missing_graphviz_is_one_line(monkeypatch):
    model, _, loss = _loss("lenet5", 1, 28)
    graph = convprop.draw_graph(loss, params=model)
    assert graph.source.startswith("digraph convprop {")  # the DOT text needs nothing
    monkeypatch.setitem(sys.modules, "graphviz", None)
    with pytest.raises(RuntimeError, match=r"needs the graphviz Python package: pip install 'convprop\[viz\]'"):
        graph.svg()


def test_missing_dot_program_is_one_line(monkeypatch):
    pytest.importorskip("graphviz", reason="pip install graphviz (the viz extra)")
    model, _, loss = _loss("lenet5", 1, 28)
    graph = convprop.draw_graph(loss, params=model)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(RuntimeError, match="needs Graphviz's dot program"):
        graph.svg()


@needs_dot
def test_svg_is_valid_xml_with_every_node_and_renders_in_chromium(tmp_path):
    pytest.importorskip("graphviz", reason="pip install graphviz (the viz extra)")
    model, _, loss = _loss("resnet8", 3, 32)
    graph = convprop.draw_graph(loss, params=model, color_by_grad=True)
    loss.backward()
    svg = graph.svg()
    root = ET.fromstring(svg.encode())
    ns = {"svg": "http://www.w3.org/2000/svg"}
    assert len(root.findall(".//svg:g[@class='node']", ns)) == len(graph.nodes)
    assert len(root.findall(".//svg:g[@class='edge']", ns)) == len(graph.edges)
    assert len(root.findall(".//svg:g[@class='cluster']", ns)) >= 20
    assert graph._repr_svg_() == svg and svg in graph._repr_html_()
    graph.save(tmp_path / "g.svg")
    graph.save(tmp_path / "g.dot")
    assert (tmp_path / "g.dot").read_text() == graph.source
    with chromium_page() as (page, errors):
        page.goto((tmp_path / "g.svg").as_uri())
        box = page.evaluate(
            "() => { const r = document.documentElement.getBoundingClientRect(); return [r.width, r.height]; }"
        )
        texts = page.evaluate("() => Array.from(document.querySelectorAll('text')).map(t => t.textContent)")
        (tmp_path / "g.html").write_text(f"<!doctype html><meta charset=utf-8><body>{svg}</body>", encoding="utf-8")
        page.goto((tmp_path / "g.html").as_uri())
        page.screenshot(path=str(tmp_path / "g.png"))
    assert errors == []
    assert box[0] > 500 and box[1] > 2000
    assert "layer3.0.shortcut.0.weight" in texts and "ConvNd" in texts
    shot = np.asarray(Image.open(tmp_path / "g.png").convert("L"))
    assert shot.min() < 100 and (shot < 250).mean() > 0.02  # drawn, not a blank page
