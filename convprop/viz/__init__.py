"""The backward pass of a whole network, shown.

- :func:`draw_graph` (``graph``): the autograd graph, one node per recorded operation;
- ``model_page``, ``lessons``, ``check``, ``strings``: the page of ``convprop explain model``
  (layer table, backward steps, per-layer derivations, a float64 gradient check of every parameter).
"""

from convprop.viz.graph import Edge, Graph, GraphTooLarge, Node, draw_graph

__all__ = ["Edge", "Graph", "GraphTooLarge", "Node", "draw_graph"]
