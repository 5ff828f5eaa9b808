"""Pictures of a network's backward pass: :func:`draw_graph` draws the autograd graph."""

from convprop.viz.graph import Edge, Graph, GraphTooLarge, Node, draw_graph

__all__ = ["Edge", "Graph", "GraphTooLarge", "Node", "draw_graph"]
