"""A scalar computational-graph engine and its picture, for the chain-rule notebook.

The engine (:mod:`utils.graph.engine`, gates in :mod:`utils.graph.gates`) holds values in
nodes, runs the forward pass in topological order and the backward pass in reverse
topological order, adding up the gradients that reach a node along several branches. It does *not* know any gate's local gradient: the
backward pass calls the rules you give it (``graph.backward({"mul": mul_backward, ...})``).
:mod:`utils.graph.paths` computes the same gradients path by path to count the work that
reuse saves, and :mod:`utils.graph.draw` draws the graph with matplotlib.
"""

from .draw import draw_graph, layout
from .engine import BackwardStep, Graph, MissingRuleError, Node, RuleOutputError
from .gates import GATES, GateSpec
from .order import topological_order
from .paths import PathSum, path_sum_gradients

__all__ = [
    "GATES", "BackwardStep", "GateSpec", "Graph", "MissingRuleError", "Node", "PathSum",
    "RuleOutputError", "draw_graph", "layout", "path_sum_gradients", "topological_order",
]
