"""The autograd graph of a result, drawn: one node per recorded operation, one per parameter.

:func:`draw_graph` walks the graph that the forward pass recorded (the same walk
``Tensor.backward`` makes) and keeps a plain description of it: every operation
with its backward formula (``Function.formula``), output shape and dtype, the
innermost module that ran it, and every leaf that requires a gradient, named
after the model's parameter. Called before ``backward()``, it also watches that
backward pass, so every edge then carries the norm of the gradient that flowed
back along it.

The DOT text (``Graph.source``) needs nothing; the SVG needs Graphviz's ``dot``
program and the ``graphviz`` Python package (``pip install 'convprop[viz]'``).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

import numpy as np

from convprop.tensor import Function, Tensor

MAX_NODES = 2000


class GraphTooLarge(ValueError):
    """The graph has more nodes than ``max_nodes``: too many to draw readably."""


# Gradient-norm colours, from the smallest norm of a graph to the largest.
_LOW, _HIGH = (0x2B, 0x83, 0xBA), (0xD7, 0x19, 0x1C)


@dataclass
class Node:
    """One node: an operation (``kind="op"``) or a leaf that requires a gradient (``kind="leaf"``).

    After backward, an operation's ``grad_norm`` is ‖∂L/∂y‖ of its output y, the gradient it received.
    """

    id: str
    kind: str
    name: str
    shape: tuple[int, ...]
    dtype: str
    formula: str = ""
    module: str | None = None
    parents: list[str] = field(default_factory=list)
    grad_norm: float | None = None


@dataclass
class Edge:
    """``src`` is an input of ``dst``; ``grad_norm`` is ‖∂L/∂src‖ as sent back by ``dst`` (after backward)."""

    src: str
    dst: str
    grad_norm: float | None = None


def _norm(g) -> float:
    return float(np.linalg.norm(np.asarray(g, dtype=np.float64)))


def _op_name(fn: Function) -> str:
    name = type(fn).__name__
    return name.removesuffix("Function") or name


def _shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape)) if shape else "scalar"


def _module_names(params) -> tuple[dict[int, str], dict[int, str]]:
    """(id of module -> qualified name, id of tensor -> name) from a Module or a {name: Tensor} mapping.

    The module named ``""`` (the model itself) is left out: its operations draw outside every cluster.
    """
    if params is None:
        return {}, {}
    if hasattr(params, "named_modules") and hasattr(params, "named_parameters"):
        modules = {id(m): name for name, m in params.named_modules() if name}
        tensors = {id(t): name for name, t in (*params.named_parameters(), *params.named_buffers())}
        return modules, tensors
    if isinstance(params, dict):
        for name, value in params.items():
            if not isinstance(value, Tensor):
                raise TypeError(f"draw_graph: params[{name!r}] must be a Tensor, got {type(value).__name__}")
        return {}, {id(t): name for name, t in params.items()}
    raise TypeError(f"draw_graph: params must be an nn.Module or a dict of name -> Tensor, got {type(params).__name__}")


class Graph:
    """The drawn graph of one result. ``source`` is its DOT text; ``svg()`` renders it.

    ``nodes`` (forward order: every node after its inputs) and ``edges`` describe it in
    plain data; ``ops`` and ``leaves`` are the two kinds of nodes. In Jupyter it displays
    itself as SVG.
    """

    def __init__(self, output: Tensor, params=None, color_by_grad: bool = False, max_nodes: int = MAX_NODES):
        if not isinstance(output, Tensor):
            raise TypeError(f"draw_graph: output must be a Tensor, got {type(output).__name__}")
        if not output.requires_grad:
            raise ValueError("draw_graph: output does not require grad, so no graph was recorded for it")
        self.color_by_grad = bool(color_by_grad)
        self._svg: tuple[str, str] | None = None  # (DOT text, its SVG)
        self.nodes: list[Node] = []
        self.edges: list[Edge] = []
        module_names, tensor_names = _module_names(params)
        # qualified name -> class name, for the cluster labels
        self.module_types = {name: type(m).__name__ for name, m in params.named_modules()} if module_names else {}
        self._walk(output, module_names, tensor_names, max_nodes)

    # ---- building ---------------------------------------------------------
    def _walk(self, output: Tensor, module_names: dict[int, str], tensor_names: dict[int, str], max_nodes: int):
        ids: dict[int, str] = {}
        order: list[Tensor] = []  # forward order, by an iterative depth-first post-order
        stack: list[tuple[Tensor, bool]] = [(output, False)]
        seen: set[int] = set()
        while stack:
            tensor, expanded = stack.pop()
            if expanded:
                order.append(tensor)
                continue
            key = id(tensor._ctx) if tensor._ctx is not None else id(tensor)
            if key in seen:
                continue
            seen.add(key)
            if len(seen) > max_nodes:
                raise GraphTooLarge(
                    f"draw_graph: the graph has more than max_nodes={max_nodes} nodes, too many to draw readably; "
                    "draw a smaller model or one block of it"
                )
            stack.append((tensor, True))
            fn = tensor._ctx
            if fn is None:
                continue
            if getattr(fn, "_released", False):
                raise ValueError(
                    "draw_graph: this graph was freed by backward(); call draw_graph(output) before "
                    "output.backward() (the gradients then appear on its edges)"
                )
            stack.extend((p, False) for p in reversed(fn.parents) if p.requires_grad)
        self._fns: dict[str, Function] = {}
        for tensor in order:
            fn = tensor._ctx
            if fn is None:
                node = Node(
                    f"leaf{len(ids)}", "leaf", tensor_names.get(id(tensor), "leaf"), tensor.shape, str(tensor.dtype)
                )
                ids[id(tensor)] = node.id
            else:
                module = None if fn.module is None else module_names.get(id(fn.module))
                parents = [ids[id(p._ctx) if p._ctx is not None else id(p)] for p in fn.parents if p.requires_grad]
                node = Node(
                    f"op{len(ids)}", "op", _op_name(fn), tensor.shape, str(tensor.dtype), fn.formula, module, parents
                )
                ids[id(fn)] = node.id
                self._fns[node.id] = fn
                self.edges.extend(Edge(p, node.id) for p in parents)
            self.nodes.append(node)
        self.output = self.nodes[-1].id
        nodes = self.nodes_by_id
        for node_id, fn in self._fns.items():
            self._observe(nodes[node_id], fn)

    def _observe(self, node: Node, fn: Function) -> None:
        """Record the norms of the gradient ``fn`` receives and of those it sends back, when backward runs.

        The wrapper is set on this one Function object only; backward frees the object's state
        (and with it the wrapper) afterwards, so nothing stays behind.
        """
        inner = fn.backward
        edges = [e for e in self.edges if e.dst == node.id]
        wanted = [i for i, p in enumerate(fn.parents) if p.requires_grad]

        def backward(grad_out):
            node.grad_norm = _norm(grad_out)
            grads = inner(grad_out)
            as_tuple = grads if isinstance(grads, tuple) else (grads,)
            for edge, i in zip(edges, wanted, strict=True):
                g = as_tuple[i] if i < len(as_tuple) else None
                edge.grad_norm = None if g is None else _norm(g)
            return grads

        fn.backward = backward

    # ---- views ------------------------------------------------------------
    @property
    def nodes_by_id(self) -> dict[str, Node]:
        return {n.id: n for n in self.nodes}

    @property
    def ops(self) -> list[Node]:
        return [n for n in self.nodes if n.kind == "op"]

    @property
    def leaves(self) -> list[Node]:
        return [n for n in self.nodes if n.kind == "leaf"]

    @property
    def source(self) -> str:
        """The graph in Graphviz's DOT language (modules as nested clusters)."""
        lines = [
            "digraph convprop {",
            '  graph [rankdir=TB, fontname="DejaVu Sans", fontsize=11, nodesep=0.25, ranksep=0.35];',
            '  node [shape=box, style="rounded,filled", fontname="DejaVu Sans", fontsize=10, margin="0.08,0.04"];',
            '  edge [fontname="DejaVu Sans", fontsize=8, arrowsize=0.6];',
        ]
        lines += self._clusters()
        lines += [f"  {self._edge(e)}" for e in self.edges]
        lines.append("}")
        return "\n".join(lines) + "\n"

    def _label(self, node: Node, boxed: bool) -> str:
        shape = html.escape(f"{_shape_text(node.shape)}  {node.dtype}")
        if node.kind == "leaf":
            return f'<<b>{html.escape(node.name)}</b><br/><font point-size="9">{shape}</font>>'
        formula = "<br/>".join(html.escape(part.strip()) for part in node.formula.split(";") if part.strip())
        rows = [f"<b>{html.escape(node.name)}</b>"]
        if node.module and not boxed:
            rows[0] += f' <font point-size="9" color="#374151">{html.escape(node.module)}</font>'
        if formula:
            rows.append(f'<font point-size="8" color="#444444">{formula}</font>')
        rows.append(f'<font point-size="9">{shape}</font>')
        return "<" + "<br/>".join(rows) + ">"

    def _node(self, node: Node, boxed: bool) -> str:
        if node.kind == "leaf":
            style = 'shape=box, style="filled", fillcolor="#dbeafe", color="#1d4ed8"'
        elif node.id == self.output:
            style = 'fillcolor="#fde68a", penwidth=2'
        else:
            style = 'fillcolor="#fef9c3"'
        return f"{node.id} [label={self._label(node, boxed)}, {style}];"

    def _edge(self, edge: Edge) -> str:
        # a heavy weight keeps the chain of operations straight; parameters hang beside it
        attrs = ["weight=10"] if edge.src.startswith("op") else []
        if edge.grad_norm is None:
            return f"{edge.src} -> {edge.dst}" + (f" [{attrs[0]}];" if attrs else ";")
        attrs.append(f'label=" {edge.grad_norm:.2e}"')
        if self.color_by_grad:
            colour = self._colour(edge.grad_norm)
            attrs += [f'color="{colour}"', f'fontcolor="{colour}"', "penwidth=1.6"]
        return f"{edge.src} -> {edge.dst} [{', '.join(attrs)}];"

    def _colour(self, norm: float) -> str:
        logs = [math.log10(e.grad_norm) for e in self.edges if e.grad_norm]
        if norm <= 0 or not logs:
            return "#9ca3af"
        lo, hi = min(logs), max(logs)
        t = 0.5 if hi == lo else (math.log10(norm) - lo) / (hi - lo)
        return "#" + "".join(f"{round(a + t * (b - a)):02x}" for a, b in zip(_LOW, _HIGH, strict=True))

    def _owners(self) -> dict[str, str | None]:
        """The module box each node is drawn in (None: outside all of them).

        An operation sits in the box of the module that ran it. Parameters are drawn outside
        every box, beside their operation: inside one, a parameter would share a rank with the
        previous layer's operation, and the boxes of consecutive layers, which cannot overlap,
        would step sideways, layer after layer. A module without submodules whose
        operations do not touch one another was called more than once (one ReLU module
        reused in a block); a box around its calls would pull the layout apart, so those
        calls are drawn in the parent's box, labelled with the module's name.
        """
        owner = {n.id: (n.module if n.kind == "op" else None) or None for n in self.nodes}
        by_module: dict[str, set[str]] = {}
        for node in self.ops:
            if node.module:
                by_module.setdefault(node.module, set()).add(node.id)
        for module, ids in by_module.items():
            parent_of_another = any(m.startswith(module + ".") for m in by_module)
            linked = {e.dst for e in self.edges if e.src in ids and e.dst in ids}
            if len(ids) > 1 and not parent_of_another and len(ids - linked) > 1:
                for node_id in ids:
                    owner[node_id] = module.rpartition(".")[0] or None
        return owner

    def _clusters(self) -> list[str]:
        """Node statements, nested in one box per module (``layer1`` holds ``layer1.0``, which holds ...)."""
        owner = self._owners()
        first_seen: dict[str, int] = {}  # boxes in forward order: dot then lays the chain out top to bottom
        for i, node in enumerate(self.nodes):
            module = owner[node.id]
            while module:
                first_seen.setdefault(module, i)
                module = module.rpartition(".")[0]
        children: dict[str | None, list[str]] = {}
        for module in sorted(first_seen, key=first_seen.get):
            children.setdefault(module.rpartition(".")[0] or None, []).append(module)
        members: dict[str | None, list[Node]] = {}
        for node in self.nodes:
            members.setdefault(owner[node.id], []).append(node)
        clusters: list[str] = []

        def emit(module: str | None, depth: int) -> list[str]:
            pad = "  " * depth
            out = [f"{pad}{self._node(n, n.kind == 'leaf' or n.module == module)}" for n in members.get(module, [])]
            for child in children.get(module, []):
                label = f"{child} · {self.module_types[child]}" if child in self.module_types else child
                out.append(f"{pad}subgraph cluster_{len(clusters)} {{")
                out.append(
                    f'{pad}  label="{label}"; labeljust=l; style="rounded"; color="#9ca3af"; fontcolor="#374151";'
                )
                clusters.append(child)
                out += emit(child, depth + 1)
                out.append(f"{pad}}}")
            return out

        return emit(None, 1)

    # ---- rendering --------------------------------------------------------
    def svg(self) -> str:
        """The graph as SVG text, laid out by Graphviz's ``dot`` (once per DOT text: Jupyter asks twice)."""
        source = self.source
        if self._svg is None or self._svg[0] != source:
            self._svg = (source, self._render(source))
        return self._svg[1]

    @staticmethod
    def _render(source: str) -> str:
        try:
            import graphviz
        except ModuleNotFoundError:
            raise RuntimeError(
                "drawing the graph needs the graphviz Python package: pip install 'convprop[viz]'"
            ) from None
        try:
            return graphviz.Source(source, engine="dot").pipe(format="svg", encoding="utf-8")
        except graphviz.ExecutableNotFound:
            raise RuntimeError(
                "drawing the graph needs Graphviz's dot program: apt-get install graphviz (or your system's package)"
            ) from None

    def save(self, path) -> None:
        """Write the SVG to ``path`` (or the DOT text, when ``path`` ends in .dot or .gv)."""
        text = self.source if str(path).endswith((".dot", ".gv")) else self.svg()
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)

    def _repr_svg_(self) -> str:
        return self.svg()

    def _repr_html_(self) -> str:
        return f'<div style="overflow:auto; max-height:80vh">{self.svg()}</div>'

    def __repr__(self) -> str:
        return f"Graph({len(self.ops)} operations, {len(self.leaves)} leaves)"


def draw_graph(output: Tensor, params=None, color_by_grad: bool = False, max_nodes: int = MAX_NODES) -> Graph:
    """Draw the autograd graph that produced ``output``, like micrograd's ``draw_dot``.

    Each recorded operation becomes one node labelled with its name, its backward formula
    and its output shape and dtype; each leaf that requires a gradient becomes a node
    labelled with its parameter name and shape; a module's operations sit in a box labelled
    with the module's name. Call it before ``output.backward()``: after the backward pass every
    edge shows the norm of the gradient that flowed back along it.

    Args:
        output: the result to draw (usually the loss).
        params: the model (an ``nn.Module``: names its parameters and modules) or a dict of
            name -> Tensor. Default: None (leaves are called "leaf", no module boxes).
        color_by_grad: colour the edges by gradient norm, on a log scale from blue (smallest)
            to red (largest). Default: False.
        max_nodes: refuse (ValueError) a graph with more nodes than this. Default: 2000.

    Returns:
        a :class:`Graph`: ``.source`` (DOT text), ``.svg()``, ``.save(path)``; displays in Jupyter.

    Example::

        >>> loss = F.cross_entropy(model(x), y)
        >>> graph = convprop.draw_graph(loss, params=model, color_by_grad=True)
        >>> loss.backward()
        >>> graph.save("graph.svg")   # edges now carry ‖∂L/∂·‖
    """
    return Graph(output, params, color_by_grad, max_nodes)
