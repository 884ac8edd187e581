"""Typical wrong answers, generated from a solution by rewriting its syntax tree.

:func:`mutants` parses an answer cell, finds the code between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` and yields one :class:`Mutant` per typical mistake a student makes there:

============  ===============================================================================
kind          rewrites
============  ===============================================================================
transpose     drop a ``.T``; add ``.T`` to an operand of ``@`` or to a returned array; swap the
              operands of ``@`` or of ``np.outer``/``np.dot``/``np.matmul``
sign          negate a returned value; ``+`` <-> ``-``; drop a unary minus; ``+=`` <-> ``-=``
term          drop one term of ``+``/``-``; drop an in-place update statement (``g[y] -= 1``)
factor        drop one operand of ``*`` or ``/``, or a power (``x ** 2`` -> ``x``); ``.mean()`` <->
              ``.sum()``
mask          drop a comparison factor (``dout * (z > 0)``), a branch of ``np.where``, a clamp
              (``np.maximum(z, 0)`` -> ``z``) or a masked assignment (``dx[z < 0] = 0``); reverse
              or loosen a comparison
swap          swap the two sizes of a shape tuple (n <-> m), ``.shape[0]`` <-> ``.shape[1]``,
              ``A[i, j]`` -> ``A[j, i]``
accumulate    ``+=`` -> ``=``; ``np.add.at(A, i, v)`` -> ``A[i] = v``
axis          ``axis=0`` <-> ``axis=1``; drop ``axis=`` or ``keepdims=``
bounds        off by one: ``range(n)`` -> ``range(n - 1)``, a ``range`` that skips its first or
              last iteration, a slice one shorter at either end
order         drop a ``reversed(...)`` or a ``[::-1]`` (the backward pass in forward order)
statement     drop a statement that only calls (``order.append(node)``, ``visited.add(node)``)
copy          drop a ``.copy()`` (the input is changed in place)
============  ===============================================================================

Mutants are deterministic (tree order) and unique (the rewritten cell's ``ast.unparse`` text).
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator
from dataclasses import dataclass

from tests.notebooks.mutation_rules import KINDS, containers, rewrites

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
__all__ = ["KINDS", "Mutant", "mutants", "solution_lines"]



@dataclass(frozen=True)
class Mutant:
    """One rewrite of one solution: ``source`` is the whole answer cell with it applied."""

    function: str        # the top-level function it lives in
    kind: str            # one of KINDS
    line: int            # 1-based line in the answer cell
    before: str          # the rewritten expression or statement ...
    after: str           # ... and what it became
    source: str

    def __str__(self) -> str:
        return f"{self.function}, line {self.line}, {self.kind}: {self.before}  ->  {self.after}"


def solution_lines(source: str) -> list[range]:
    """The line ranges (1-based, markers excluded) between each BEGIN and END SOLUTION marker."""
    ranges, start = [], None
    for number, line in enumerate(source.splitlines(), start=1):
        if line.strip().startswith(BEGIN):
            start = number
        elif line.strip().startswith(END) and start is not None:
            ranges.append(range(start + 1, number))
            start = None
    return ranges


def _preorder(node: ast.AST) -> Iterator[ast.AST]:
    yield node
    for child in ast.iter_child_nodes(node):
        yield from _preorder(child)


class _Replace(ast.NodeTransformer):
    """Replace the node at preorder position ``target`` (numbered as :func:`_preorder` does)."""

    def __init__(self, target: int, new: ast.AST | None) -> None:
        self.count, self.target, self.new = -1, target, new

    def visit(self, node: ast.AST) -> ast.AST | None:
        self.count += 1
        if self.count == self.target:
            return self.new
        if self.count > self.target:
            return node
        return self.generic_visit(node)


def _enclosing_functions(tree: ast.Module) -> dict[int, str]:
    """Preorder position (the module itself is 0) -> name of the top-level function the node is in."""
    owner, position = {}, 1
    for top in tree.body:
        for _ in _preorder(top):
            if isinstance(top, ast.FunctionDef):
                owner[position] = top.name
            position += 1
    return owner


def mutants(source: str) -> list[Mutant]:
    """Every typical mistake in the solution regions of the answer cell ``source``, one mutant each."""
    regions = solution_lines(source)
    tree = ast.parse(source)
    owner = _enclosing_functions(tree)
    lines = set().union(*regions) if regions else set()
    skip = {f.name: containers(f) for f in tree.body if isinstance(f, ast.FunctionDef)}
    original = ast.unparse(tree)
    seen, found = {original}, []
    for position, node in enumerate(_preorder(tree)):
        if position not in owner or getattr(node, "lineno", None) not in lines:
            continue
        if not (isinstance(node, ast.stmt) or node.end_lineno in lines):
            continue
        for kind, replacement in rewrites(node, skip[owner[position]]):
            if replacement is None and not isinstance(node, ast.stmt):
                continue
            new = ast.fix_missing_locations(_Replace(position, replacement or ast.Pass()).visit(copy.deepcopy(tree)))
            text = ast.unparse(new)
            if text in seen:
                continue
            seen.add(text)
            after = ast.unparse(replacement) if replacement is not None else "(statement removed)"
            found.append(Mutant(owner[position], kind, node.lineno, ast.unparse(node), after, text))
    return found
