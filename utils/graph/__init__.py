"""A scalar computational graph and its picture, for the chain-rule notebook.

The graph (:mod:`utils.graph.engine`, gates in :mod:`utils.graph.gates`) holds values in nodes
and evaluates the gates (the forward pass). It contains neither the topological sort nor the
backward pass nor any gate's local gradient: those are the notebook's exercises, passed in
(``graph.backward(rules, backward_pass)``). :mod:`utils.graph.paths` computes gradients path by
path to count the work that reuse saves, and :mod:`utils.graph.draw` draws the graph.
"""

from .draw import draw_graph, layout
from .engine import BackwardStep, Graph, MissingRuleError, Node, RuleOutputError
from .gates import GATES, GateSpec
from .paths import PathSum, path_sum_gradients

__all__ = [
    "GATES", "BackwardStep", "GateSpec", "Graph", "MissingRuleError", "Node", "PathSum",
    "RuleOutputError", "draw_graph", "layout", "path_sum_gradients",
]
