"""The scalar computational graph: forward values, pluggable rules and traversal, path sums, drawing.

utils.graph holds neither the topological sort nor the backward pass (notebook 3's exercises);
these tests pass in a reference traversal written here, by a different method than the notebook's
(Kahn's algorithm: repeatedly take a node whose consumers are all done)."""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import utils.graph  # noqa: E402
from utils.graph import (  # noqa: E402
    Graph, MissingRuleError, RuleOutputError, draw_graph, layout, path_sum_gradients,
)

# Reference gradient rules, written here for the tests only (utils/graph must not hold them).


def add_rule(a, b, upstream):
    return upstream, upstream


def mul_rule(a, b, upstream):
    return upstream * b, upstream * a


def max_rule(a, b, upstream):
    return (upstream, 0.0) if a >= b else (0.0, upstream)


def exp_rule(a, upstream):
    return upstream * math.exp(a)


def inverse_rule(a, upstream):
    return -upstream / (a * a)


def sigmoid_rule(out, upstream):
    return upstream * out * (1.0 - out)


def reference_backward(inputs_of, local_gradients, output):
    """Reverse-mode traversal for the tests: a gate runs once all its consumers have run."""
    waiting = {name: 0 for name in inputs_of}
    for sources in inputs_of.values():
        for source in sources:
            waiting[source] += 1
    grads = {name: 0.0 for name in inputs_of}
    grads[output] = 1.0
    ready = [output]
    while ready:
        name = ready.pop()
        for source, local in zip(inputs_of[name], local_gradients.get(name, ())):
            grads[source] = grads[source] + local * grads[name]
            waiting[source] -= 1
            if waiting[source] == 0:
                ready.append(source)
    return grads


RULES = {"add": add_rule, "mul": mul_rule, "max": max_rule, "exp": exp_rule,
         "inverse": inverse_rule, "sigmoid": sigmoid_rule}


def lecture_graph() -> Graph:
    """f(x, y, z) = (x + y) max(y, z) at (1, 2, 0)."""
    g = Graph()
    x, y, z = g.input("x", 1.0), g.input("y", 2.0), g.input("z", 0.0)
    g.mul(g.add(x, y, name="a"), g.max(y, z, name="b"), name="f")
    return g


def neuron_graph(one_gate: bool = False) -> Graph:
    """The CS231n sigmoid neuron at w = (2, -3, -3), x = (-1, -2)."""
    g = Graph()
    w0, x0, w1, x1, w2 = (g.input(n, v) for n, v in
                          zip(("w0", "x0", "w1", "x1", "w2"), (2.0, -1.0, -3.0, -2.0, -3.0)))
    s = g.add(g.add(g.mul(w0, x0), g.mul(w1, x1)), w2, name="s")
    if one_gate:
        g.sigmoid(s, name="f")
    else:
        g.inverse(g.add(g.exp(g.mul(s, -1.0)), 1.0), name="f")
    return g


@pytest.fixture(scope="module")
def figure_graph() -> Graph:
    g = lecture_graph()
    g.forward()
    g.backward(RULES, reference_backward)
    return g


def test_lecture_example_values_and_gradients() -> None:
    """Does (x+y)max(y,z) at (1,2,0) give 6 and gradients (2, 5, 0), with y's 5 = 2 + 3?"""
    g = lecture_graph()
    assert g.forward() == 6.0
    grads = g.backward(RULES, reference_backward)
    assert (grads["x"], grads["y"], grads["z"]) == (2.0, 5.0, 0.0)
    assert (g.nodes["a"].value, g.nodes["b"].value) == (3.0, 2.0)
    # y is read by two gates: the two branch gradients are kept per edge and add up.
    assert sorted([g.edge_grads[("a", 1)], g.edge_grads[("b", 0)]]) == [2.0, 3.0]


@pytest.mark.parametrize("one_gate", [False, True])
def test_sigmoid_neuron_numbers(one_gate: bool) -> None:
    """Do both sigmoid-neuron graphs give 0.73 and the lecture's gradients to two decimals?"""
    g = neuron_graph(one_gate)
    assert round(g.forward(), 2) == 0.73
    grads = g.backward(RULES, reference_backward)
    assert [round(grads[n], 2) for n in ("w0", "w1", "w2")] == [-0.20, -0.39, 0.20]
    assert [round(grads[n], 2) for n in ("x0", "x1")] == [0.39, -0.59]


def test_backward_trace_follows_reverse_topological_order() -> None:
    """Does the trace visit gates output first, with the lecture's -0.53, -0.53, -0.20, 0.20?"""
    g = neuron_graph()
    g.forward()
    g.backward(RULES, reference_backward)
    assert [s.node for s in g.trace][0] == "f"
    firsts = [round(s.downstream[0], 2) for s in g.trace[:4]]
    assert firsts == [-0.53, -0.53, -0.20, 0.20]
    position = {name: k for k, name in enumerate(g.nodes)}  # creation order: inputs first
    steps = [position[s.node] for s in g.trace]
    assert steps == sorted(steps, reverse=True)
    assert "upstream" in g.format_trace()
    assert g.rule_calls == 8


def test_engine_uses_only_the_rules_it_is_given() -> None:
    """Are gradients exactly what the given rules say, so the engine adds no formula of its own?"""
    g = lecture_graph()
    g.forward()

    def seven(a, b, upstream):
        return 7.0 * upstream, 7.0 * upstream

    grads = g.backward({"add": seven, "mul": seven, "max": seven}, reference_backward)
    assert grads["x"] == 49.0 and grads["y"] == 98.0 and grads["z"] == 49.0


def test_missing_rule_is_a_clear_error() -> None:
    """Does a missing rule fail before any rule runs, naming the gate kind and its nodes?"""
    g = lecture_graph()
    g.forward()
    calls = []

    def spy(a, b, upstream):
        calls.append(1)
        return upstream, upstream

    with pytest.raises(MissingRuleError, match=r"'max' \(used by b\).*max_backward"):
        g.backward({"add": spy, "mul": spy}, reference_backward)
    assert calls == []


@pytest.mark.parametrize("bad", [lambda a, b, u: u, lambda a, b, u: (u, "x"),
                                 lambda a, b, u: (u, math.nan), lambda a, b, u: (u, [u, u])])
def test_bad_rule_output_is_a_clear_error(bad) -> None:
    """Is a rule returning one gradient for two inputs, a string, a NaN or a vector reported?"""
    g = lecture_graph()
    g.forward()
    with pytest.raises(RuleOutputError, match="node 'f'"):
        g.backward({**RULES, "mul": bad}, reference_backward)


def test_backward_needs_forward_and_forward_needs_inputs() -> None:
    """Are backward-before-forward, unknown inputs and missing input values clear errors?"""
    g = lecture_graph()
    g.nodes["x"].value = None
    with pytest.raises(ValueError, match="no value for input"):
        g.forward()
    with pytest.raises(ValueError, match="forward"):
        g.backward(RULES, reference_backward)
    with pytest.raises(KeyError, match="not an input"):
        g.forward({"a": 1.0})
    with pytest.raises(ValueError, match="no gate"):
        Graph().forward()


def test_building_errors() -> None:
    """Are duplicate names, unknown gates, wrong arity and foreign nodes rejected?"""
    g, other = Graph(), Graph()
    x = g.input("x", 1.0)
    with pytest.raises(ValueError, match="already exists"):
        g.input("x")
    with pytest.raises(ValueError, match="unknown gate 'tanh'"):
        g.gate("tanh", x)
    with pytest.raises(ValueError, match="takes 1 input"):
        g.gate("exp", x, x)
    with pytest.raises(ValueError, match="another graph"):
        g.exp(other.input("y", 0.0))
    with pytest.raises(TypeError, match="nodes or numbers"):
        g.add(x, "1")


def test_forward_with_new_values_recomputes_in_order() -> None:
    """Does forward({...}) re-evaluate every gate from new input values?"""
    g = lecture_graph()
    assert g.forward({"x": -4.0, "z": 5.0}) == (-4.0 + 2.0) * 5.0
    grads = g.backward(RULES, reference_backward)
    assert (grads["x"], grads["y"], grads["z"]) == (5.0, 5.0, -2.0)


def test_graph_holds_no_traversal() -> None:
    """Does utils.graph export no topological sort or backward traversal, and hand out edges
    sorted by name (so a backward pass cannot borrow the creation order)?"""
    names = {name.lower() for module in (utils.graph, utils.graph.engine) for name in dir(module)}
    assert not any("topolog" in name or name == "order" for name in names)
    assert not hasattr(Graph, "order")
    g = lecture_graph()
    edges = g.inputs_of()
    assert list(edges) == sorted(edges)
    assert edges == {"a": ["x", "y"], "b": ["y", "z"], "f": ["a", "b"], "x": [], "y": [], "z": []}


def test_backward_pass_gets_edges_local_gradients_and_output() -> None:
    """Does backward hand the traversal the edges, each gate's local gradients (its rule called
    once with upstream 1) and the output's name, then record upstream x local per edge?"""
    g = lecture_graph()
    g.forward()
    seen = {}

    def traversal(inputs_of, local_gradients, output):
        seen.update(inputs_of=inputs_of, local=local_gradients, output=output)
        return {"x": 2.0, "y": 5.0, "z": 0.0, "a": 2.0, "b": 3.0, "f": 1.0}

    grads = g.backward(RULES, traversal)
    assert seen["output"] == "f" and seen["inputs_of"] == g.inputs_of()
    assert seen["local"] == {"a": [1.0, 1.0], "b": [1.0, 0.0], "f": [2.0, 3.0]}
    assert g.rule_calls == 3
    assert [(s.node, s.upstream, s.downstream) for s in g.trace] == [
        ("f", 1.0, (2.0, 3.0)), ("b", 3.0, (3.0, 0.0)), ("a", 2.0, (2.0, 2.0))]
    assert g.edge_grads[("a", 1)] == 2.0 and g.edge_grads[("b", 0)] == 3.0
    assert grads == {"x": 2.0, "y": 5.0, "z": 0.0, "a": 2.0, "b": 3.0, "f": 1.0}


@pytest.mark.parametrize("returned, message", [
    (None, "must return a dict"),
    ({"x": 1.0}, "no gradient for node"),
    ({n: 1.0 for n in "xyzab"} | {"f": math.nan}, "node 'f'.*finite"),
    ({n: 1.0 for n in "xyzab"} | {"f": [1.0, 2.0]}, "one finite number"),
])
def test_bad_traversal_result_is_a_clear_error(returned, message) -> None:
    """Is a traversal that returns no dict, leaves a node out or gives a non-number reported?"""
    g = lecture_graph()
    g.forward()
    with pytest.raises(ValueError, match=message):
        g.backward(RULES, lambda inputs_of, local_gradients, output: returned)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-3, 3), min_size=3, max_size=3), st.integers(1, 6))
def test_path_sum_agrees_with_backward(values, depth) -> None:
    """Do path sums (no reuse) equal backward's gradients, at a cost that grows faster?"""
    g = Graph()
    x, y, z = (g.input(n, v) for n, v in zip("xyz", values))
    node = g.mul(g.add(x, y), g.max(y, z))
    for _ in range(depth):  # a ladder: each level reads the previous one twice
        node = g.add(g.sigmoid(node), g.mul(node, 0.5))
    g.forward()
    grads = g.backward(RULES, reference_backward)
    slow = path_sum_gradients(g, RULES)
    for name in "xyz":
        assert slow.grads[name] == pytest.approx(grads[name], rel=1e-9, abs=1e-12)
    assert g.rule_calls == 3 + 3 * depth
    assert slow.paths == 4 * 2 ** depth
    assert slow.rule_calls > g.rule_calls


def test_path_sum_refuses_too_many_paths() -> None:
    """Does path enumeration stop with a clear error instead of running for ages?"""
    g = Graph()
    node = g.input("x", 0.5)
    for _ in range(12):  # 2**12 paths
        node = g.add(g.sigmoid(node), g.mul(node, 0.5))
    g.forward()
    with pytest.raises(ValueError, match="more than 1000 paths"):
        path_sum_gradients(g, RULES, max_paths=1000)


def test_path_sum_counts_a_chain() -> None:
    """Does a chain of L sigmoids cost L rule calls backward but L per input path-by-path?"""
    g = Graph()
    node = g.input("x", 0.3)
    for _ in range(5):
        node = g.sigmoid(node)
    g.forward()
    g.backward(RULES, reference_backward)
    slow = path_sum_gradients(g, RULES)
    assert (g.rule_calls, slow.rule_calls, slow.paths) == (5, 5, 1)
    assert slow.grads["x"] == pytest.approx(g.nodes["x"].grad)


def test_layout_puts_inputs_left_and_output_right(figure_graph: Graph) -> None:
    """Are inputs in the first column, gates level with their inputs, the output last?"""
    pos = layout(figure_graph)
    assert {pos[n][0] for n in "xyz"} == {0.0}
    assert pos["f"][0] > pos["a"][0] > 0
    assert pos["a"][1] == pytest.approx((pos["x"][1] + pos["y"][1]) / 2)
    assert not any(name.startswith("const") for name in pos)


def test_drawing_shows_values_gradients_and_branch_sums(figure_graph: Graph) -> None:
    """Does the picture carry every forward value, edge gradient and y's sum 5 = 2 + 3?"""
    ax = draw_graph(figure_graph, title="lecture example")
    texts = [t.get_text() for t in ax.texts]
    assert "5.00 = 2.00 + 3.00" in texts
    for number in ("6.00", "3.00", "2.00", "1.00", "0.00"):
        assert number in texts
    buffer = io.BytesIO()
    ax.figure.savefig(buffer, format="png")
    assert buffer.tell() > 5_000
    plt.close(ax.figure)


def test_drawing_constants_and_forward_only() -> None:
    """Are constants folded into gate labels (x(-1), +1), and gradients hidden before backward?"""
    g = neuron_graph()
    g.forward()
    fig, ax = plt.subplots()
    assert draw_graph(g, ax=ax) is ax
    texts = [t.get_text() for t in ax.texts]
    assert "\u00d7(-1)" in texts and "+1" in texts and "0.73" in texts
    assert not any("red" in t for t in texts)
    plt.close(fig)
    with pytest.raises(ValueError, match="forward"):
        draw_graph(lecture_graph())
