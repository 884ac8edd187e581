"""The mutation engine on toy notebooks: are the typical mistakes generated, and is a mutant that
only a hidden test catches reported as a survivor?"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from tests.notebooks import mutation
from tests.notebooks.mutants import KINDS, mutants
from tests.notebooks.mutation import NotebookSession, main


def _answer(source: str) -> str:
    body = "\n".join("    " + line for line in source.strip().splitlines())
    return f"    ### BEGIN SOLUTION\n{body}\n    ### END SOLUTION\n"


TOY = (
    "def toy(A, x, n, m, ids, rows):\n"
    '    """A toy exercise."""\n'
    "    g = np.zeros((n, m))\n"                           # outside the markers: never mutated
    + _answer("""
grad = (A + A.T) @ x
out = np.zeros((n, m))
np.add.at(out, ids, rows)
total = out.sum(axis=0)
mask = x * (x > 0)
for i in range(n):
    total += i
order = []
for i in reversed(ids):
    order.append(i)
last = rows[::-1][:m]
h = np.maximum(x, 0.0)
return grad - mask, total.copy(), order, last, h * out.mean(), out[n, m]
""")
    + '    raise NotImplementedError("Exercise 0.1: toy")\n'
)


def _mutations() -> set[tuple[str, str, str]]:
    return {(m.kind, m.before, m.after) for m in mutants(TOY)}


def test_each_kind_of_typical_mistake_is_generated() -> None:
    """Does the engine produce the transpose, sign, factor, mask, swap, accumulate and axis mistakes?"""
    found = _mutations()
    for expected in [
        ("transpose", "A.T", "A"),
        ("transpose", "(A + A.T) @ x", "x @ (A + A.T)"),
        ("term", "A + A.T", "A"),
        ("sign", "grad - mask", "grad + mask"),
        ("mask", "x * (x > 0)", "x"),
        ("mask", "x > 0", "x < 0"),
        ("swap", "np.zeros((n, m))", "np.zeros((m, n))"),
        ("accumulate", "np.add.at(out, ids, rows)", "out[ids] = rows"),
        ("accumulate", "total += i", "total = i"),
        ("axis", "out.sum(axis=0)", "out.sum(axis=1)"),
        ("axis", "out.sum(axis=0)", "out.sum()"),
        ("bounds", "range(n)", "range(n - 1)"),
        ("bounds", ":m", ":m - 1"),
        ("order", "reversed(ids)", "ids"),
        ("order", "rows[::-1]", "rows"),
        ("statement", "order.append(i)", "(statement removed)"),
        ("copy", "total.copy()", "total"),
        ("mask", "np.maximum(x, 0.0)", "x"),
        ("factor", "out.mean()", "out.sum()"),
        ("swap", "out[n, m]", "out[m, n]"),
    ]:
        assert expected in found, expected
    assert {kind for kind, _, _ in found} == set(KINDS)


def test_only_the_solution_region_is_mutated() -> None:
    """Are the code outside the markers, the docstring and the stub left alone, each mutant unique?"""
    found = mutants(TOY)
    solution_lines = range(TOY.splitlines().index("    ### BEGIN SOLUTION") + 2,
                           TOY.splitlines().index("    ### END SOLUTION") + 1)
    assert found and all(m.line in solution_lines and m.function == "toy" for m in found)
    assert len({m.source for m in found}) == len(found)
    for m in found:
        assert "g = np.zeros((n, m))" in m.source and "Exercise 0.1: toy" in m.source
        compile(m.source, "mutant", "exec")
    assert mutants(TOY) == found                      # deterministic


def _cell(source: str, **nbgrader) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    if nbgrader:
        cell.metadata["nbgrader"] = {"locked": True, **nbgrader}
    return cell


def _notebook(*cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[_cell("import numpy as np", grade_id="setup"), *cells])


def _answer_cell(name: str, body: str) -> nbformat.NotebookNode:
    return _cell(f"def {name}(x):\n{_answer(body)}", grade_id=name, solution=True)


def _test_cell(name: str, visible: str, hidden: str = "") -> nbformat.NotebookNode:
    hidden = f"### BEGIN HIDDEN TESTS\n{hidden}\n### END HIDDEN TESTS\n" if hidden else ""
    return _cell(f"{visible}\n{hidden}", grade_id=name, grade=True, points=1)


def _verdicts(session: NotebookSession) -> dict[tuple[str, str], str]:
    return {(o.mutant.before, o.mutant.after): o.verdict for o in session.report().outcomes}


def test_a_mistake_only_the_hidden_test_catches_is_a_survivor(tmp_path: Path) -> None:
    """Is a transpose that the 1-D visible test cannot see, but the 2-D hidden test catches, a survivor;
    are a dropped factor 'visible', an unchecked factor 'untested' and a no-op 'equivalent'?"""
    nb = _notebook(
        _answer_cell("double", "return 2 * x"),
        _test_cell("test_double", "assert np.allclose(double(np.array([1.0, 2.0])), [2.0, 4.0])",
                   "assert np.allclose(double(np.ones((2, 3))), 2 * np.ones((2, 3)))"),
        _answer_cell("halve", "return x / 2"),
        _test_cell("test_halve", "assert halve(np.ones(3)).shape == (3,)"),
        _answer_cell("ignored", "return x + 1"),
    )
    session = NotebookSession(nb, tmp_path, "toy")
    verdicts = _verdicts(session)
    assert verdicts[("return 2 * x", "return (2 * x).T")] == "hidden"
    assert verdicts[("2 * x", "x")] == "visible"
    assert verdicts[("return 2 * x", "return -(2 * x)")] == "visible"
    assert verdicts[("x / 2", "x")] == "untested"
    assert verdicts[("return x / 2", "return (x / 2).T")] == "equivalent"
    assert verdicts[("x + 1", "x - 1")] == "untested"              # no test calls ignored()
    report = session.report("double")
    assert [str(o.mutant) for o in report.survivors] == [
        "double, line 3, transpose: return 2 * x  ->  return (2 * x).T"]
    assert "1 survive to the hidden tests" in report.summary()


def test_a_cell_that_captured_the_function_sees_the_mutant(tmp_path: Path) -> None:
    """Does a setup cell that stored the function (rules = {"d": double}) run again with the mutant,
    so that a test reaching the function only through it still kills the mutant?"""
    nb = _notebook(
        _answer_cell("double", "return 2 * x"),
        _cell('rules = {"d": double}'),
        _test_cell("test_rules", 'assert np.allclose(rules["d"](np.ones((2, 3))), 2.0)'),
    )
    verdicts = _verdicts(NotebookSession(nb, tmp_path, "toy"))
    assert verdicts[("2 * x", "x")] == "visible"
    assert verdicts[("return 2 * x", "return -(2 * x)")] == "visible"


def test_a_mutant_that_never_returns_is_killed_by_the_timeout(tmp_path: Path, monkeypatch) -> None:
    """Does a loop made endless by a mutant (i += 1 -> i = 1) count as a failing test, not hang?"""
    monkeypatch.setattr(mutation, "TIMEOUT_S", 0.3)
    nb = _notebook(
        _answer_cell("count", "i = 0\nwhile i < x:\n    i += 1\nreturn i"),
        _test_cell("test_count", "assert count(3) == 3"),
    )
    outcomes = {(o.mutant.before, o.mutant.after): o for o in NotebookSession(nb, tmp_path, "toy").report().outcomes}
    endless = outcomes[("i += 1", "i = 1")]
    assert endless.verdict == "visible" and "_Timeout" in endless.detail


def test_a_solution_that_fails_its_own_tests_is_refused(tmp_path: Path) -> None:
    """Is a notebook whose solution fails a test (or whose tests need a missing cell) refused, naming the test?"""
    nb = _notebook(_answer_cell("double", "return 2 * x"),
                   _test_cell("test_double", "assert double(1) == 3"))
    with pytest.raises(RuntimeError, match="test_double: AssertionError"):
        NotebookSession(nb, tmp_path, "toy")


def test_a_test_that_needs_another_test_is_refused(tmp_path: Path) -> None:
    """Is a test cell that reads a name bound only by an earlier test cell refused, naming both?"""
    nb = _notebook(_answer_cell("double", "return 2 * x"),
                   _test_cell("test_a", "expected = 4\nassert double(2) == expected"),
                   _test_cell("test_b", "assert double(2) == expected"))
    with pytest.raises(RuntimeError, match="test cell test_b reads expected, bound only by the test cell test_a"):
        NotebookSession(nb, tmp_path, "toy")


def test_only_the_cells_the_tests_need_are_run(tmp_path: Path) -> None:
    """Are demo cells that no test needs (a slow training loop) left out, and needed helpers kept?"""
    nb = _notebook(
        _cell("def helper(x):\n    return x + 1"),
        _cell("raise SystemExit('the demo ran')"),
        _answer_cell("double", "return 2 * x"),
        _test_cell("test_double", "assert double(helper(1)) == 4"),
    )
    session = NotebookSession(nb, tmp_path, "toy")
    assert [c.grade_id for c in session.cells] == ["cell 1", "double", "test_double"]


def test_the_command_rejects_an_unknown_assignment(capsys) -> None:
    """Does the score command name the known assignments when given an unknown one?"""
    with pytest.raises(SystemExit):
        main(["no_such_notebook"])
    assert "no such assignment: no_such_notebook" in capsys.readouterr().err


class _Node:
    def __init__(self, grad: float) -> None:
        self.grad, self.children = grad, []


def _graph(grad: float) -> _Node:
    root, leaf = _Node(1.0), _Node(grad)
    root.children.append(leaf)
    leaf.children.append(root)                      # a cycle, as parents and children make
    return root


def test_results_are_compared_entry_by_entry() -> None:
    """Are results equal when arrays agree to rounding and objects (cyclic graphs too) agree attribute
    by attribute, and different when an entry, a shape or a node's gradient differs?"""
    import numpy as np

    from tests.notebooks.recorder import same

    assert same({"W": np.ones((2, 3)), "b": [1.0, 2]}, {"W": np.ones((2, 3)) + 1e-13, "b": [1.0, 2]})
    assert not same(np.ones((2, 3)), np.ones((3, 2)))
    assert not same((np.zeros(2), 1.0), (np.zeros(2), 1.5))
    assert same(_graph(0.5), _graph(0.5))
    assert not same(_graph(0.5), _graph(-0.5))


def test_a_leak_between_mutants_is_refused(tmp_path: Path) -> None:
    """Is a function whose results change from run to run (as state left behind by a mutant would
    make them) refused rather than judged?"""
    nb = _notebook(
        _cell("calls = []"),
        _answer_cell("noisy", "calls.append(1)\nreturn x * len(calls)"),
        _test_cell("test_noisy", "assert noisy(1.0) > 0"),
    )
    with pytest.raises(RuntimeError, match="the unmutated noisy is judged 'untested'"):
        NotebookSession(nb, tmp_path, "toy").report()


def test_a_returned_container_is_not_negated_but_its_entries_are() -> None:
    """Are a returned list (which -order would only crash) left alone, and the values of a returned
    dict comprehension negated and transposed instead?"""
    source = ("def f(params):\n" + _answer("order = []\norder.append(1)\nreturn order") + "\n\n"
              "def g(params):\n" + _answer("return {k: 2 * v for k, v in params.items()}"))
    found = {(m.function, m.kind, m.after) for m in mutants(source)}
    assert not any(function == "f" and kind in ("sign", "transpose") for function, kind, _ in found)
    assert ("g", "sign", "return {k: -(2 * v) for k, v in params.items()}") in found
    assert ("g", "transpose", "return {k: (2 * v).T for k, v in params.items()}") in found
