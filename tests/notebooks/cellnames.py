"""Which names a notebook cell binds and which it takes from the cells before it.

Enough scoping for dependency analysis of notebook cells: a function's parameters and the names
it assigns are its own, everything else it reads comes from the module (the notebook namespace).
Over-approximate on purpose: a name read that a cell may not need costs only a cell run.
"""

from __future__ import annotations

import ast

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def _own_nodes(node: ast.AST):
    """The nodes under ``node`` that are not inside a nested function, lambda or class body."""
    for child in ast.iter_child_nodes(node):
        yield child
        if not isinstance(child, (*_SCOPES, ast.ClassDef)):
            yield from _own_nodes(child)


def _binds(node: ast.AST) -> set[str]:
    names = set()
    for child in _own_nodes(node):
        if isinstance(child, ast.Name) and isinstance(child.ctx, (ast.Store, ast.Del)):
            names.add(child.id)
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(child.name)
        elif isinstance(child, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in child.names}
        elif isinstance(child, ast.arg):
            names.add(child.arg)
        elif isinstance(child, ast.ExceptHandler) and child.name:
            names.add(child.name)
    return names


def bound_names(tree: ast.Module) -> set[str]:
    """The names a cell binds at module level (assignments, defs, imports, loop variables)."""
    return _binds(tree)


def free_names(tree: ast.AST, bound: frozenset = frozenset()) -> set[str]:
    """The names read in ``tree`` that no enclosing scope of the cell binds."""
    scope_bound = bound | _binds(tree)
    if isinstance(tree, _SCOPES):
        scope_bound |= {a.arg for a in ast.walk(tree.args) if isinstance(a, ast.arg)}
    free = set()
    for child in _own_nodes(tree):
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load) and child.id not in scope_bound:
            free.add(child.id)
        elif isinstance(child, (*_SCOPES, ast.ClassDef)):
            free |= free_names(child, frozenset(scope_bound))
    return free
