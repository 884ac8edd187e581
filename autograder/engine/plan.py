"""What the judge runs and what the runner watches, read from the source notebook's cells."""

from __future__ import annotations

import ast

from .source import ANSWER, FREE, SETUP, TEST, Cell, SourceNotebook


def top_level_names(source: str) -> set[str] | None:
    """Names a cell uses outside function bodies (None when it does not parse)."""
    from .runner import strip_magics
    try:
        tree = ast.parse(strip_magics(source))
    except SyntaxError:
        return None
    names: set[str] = set()
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            todo.extend(getattr(node, "decorator_list", []))
            continue
        if isinstance(node, ast.Name):
            names.add(node.id)
        todo.extend(ast.iter_child_nodes(node))
    return names


def names(source: str) -> set[str]:
    from .runner import strip_magics
    try:
        return {n.id for n in ast.walk(ast.parse(strip_magics(source))) if isinstance(n, ast.Name)}
    except SyntaxError:
        return set()


def test_helpers(source: SourceNotebook) -> list[str]:
    """Names the tests use that the solutions do not: helpers a cheat would redefine."""
    in_tests = set().union(*(names(c.source) for c in source.cells if c.kind == TEST))
    in_answers = set().union(*(names(c.source) for c in source.cells if c.kind == ANSWER))
    return sorted(in_tests - in_answers - set(source.exercises))


def judge_cells(source: SourceNotebook) -> list[tuple[int, Cell]]:
    """Source cells the judge runs before tests (instructor code only, never the student's
    copy): setup and unlabelled code cells, except those that call an exercise at top level
    (demos and plots of the student's functions, which tests may not depend on)."""
    chosen = []
    exercises = set(source.exercises)
    for index, cell in enumerate(source.cells):
        if cell.kind in (SETUP, FREE):
            names = top_level_names(cell.source)
            if names is not None and not names & exercises:
                chosen.append((index, cell))
    return chosen
