"""The rewrites behind :mod:`tests.notebooks.mutants`: for one syntax-tree node, every typical
mistake a student makes there, as (kind, replacement node); the kinds are tabled in that module."""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Iterator

KINDS = ("transpose", "sign", "term", "factor", "mask", "swap", "accumulate", "axis", "bounds", "order",
         "statement", "copy")
_SHAPE_CALLS = {"zeros", "ones", "empty", "full", "reshape", "normal", "uniform", "standard_normal"}
_SWAPPABLE_CALLS = {"outer", "dot", "matmul"}
_REDUCTIONS = {"sum", "mean", "max", "min", "argmax", "argmin", "prod", "std", "var"}
_REVERSED = {ast.Gt: ast.Lt, ast.Lt: ast.Gt, ast.GtE: ast.LtE, ast.LtE: ast.GtE}
_LOOSENED = {ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Lt: ast.LtE, ast.LtE: ast.Lt}


def _name(node: ast.AST) -> str:
    """The called name of a call's func: ``np.zeros`` -> "zeros", ``x.reshape`` -> "reshape"."""
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _has_compare(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Compare) for n in ast.walk(node))


def _transposed(node: ast.expr) -> ast.expr:
    return ast.Attribute(value=copy.deepcopy(node), attr="T", ctx=ast.Load())


def _negated(node: ast.expr) -> ast.expr:
    return ast.UnaryOp(op=ast.USub(), operand=copy.deepcopy(node))


_CONTAINERS = (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)


def containers(function: ast.FunctionDef) -> frozenset[str]:
    """Names the function binds to a list, dict or set (``order = []``): negating or transposing one
    is a crash, not a mistake worth a mutant."""
    names = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and (
                isinstance(node.value, _CONTAINERS)
                or isinstance(node.value, ast.BinOp) and isinstance(node.value.left, ast.List)):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return frozenset(names)


def _each_returned(value: ast.expr, rewrite: Callable[[ast.expr], ast.expr],
                   skip: frozenset[str]) -> Iterator[ast.expr]:
    """A return value with one of its parts rewritten: each element of a tuple or each value of a
    dict literal in turn, else the whole value (the element of a comprehension); never a container."""
    parts = value.elts if isinstance(value, ast.Tuple) else value.values if isinstance(value, ast.Dict) else None
    if parts is None:
        yield from _rewritten(value, rewrite, skip)
        return
    for index in range(len(parts)):
        for part in _rewritten(parts[index], rewrite, skip):
            new = copy.deepcopy(value)
            (new.elts if isinstance(value, ast.Tuple) else new.values)[index] = part
            yield new


def _rewritten(value: ast.expr, rewrite: Callable[[ast.expr], ast.expr], skip: frozenset[str]) -> Iterator[ast.expr]:
    if isinstance(value, (ast.ListComp, ast.DictComp)):
        field = "elt" if isinstance(value, ast.ListComp) else "value"
        new = copy.deepcopy(value)
        setattr(new, field, rewrite(getattr(value, field)))
        yield new
    elif not isinstance(value, (*_CONTAINERS, ast.Tuple)) and not (isinstance(value, ast.Name) and value.id in skip):
        yield rewrite(value)


def rewrites(node: ast.AST, skip: frozenset[str] = frozenset()) -> Iterator[tuple[str, ast.AST | None]]:
    """(kind, replacement) for every typical mistake at ``node`` (None deletes a statement);
    returned names in ``skip`` (see :func:`containers`) are neither negated nor transposed."""
    if isinstance(node, ast.Return) and node.value is not None:
        for kind, rewrite in (("sign", _negated), ("transpose", _transposed)):
            for value in _each_returned(node.value, rewrite, skip):
                yield kind, ast.Return(value=value)
    elif isinstance(node, ast.Attribute) and node.attr == "T":
        yield "transpose", copy.deepcopy(node.value)
    elif isinstance(node, ast.BinOp):
        yield from _binop_rewrites(node)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        yield "sign", copy.deepcopy(node.operand)
    elif isinstance(node, ast.Compare) and len(node.ops) == 1:
        for table in (_REVERSED, _LOOSENED):
            if type(node.ops[0]) in table:
                yield "mask", ast.Compare(left=copy.deepcopy(node.left), ops=[table[type(node.ops[0])]()],
                                          comparators=copy.deepcopy(node.comparators))
    elif isinstance(node, ast.Call):
        yield from _call_rewrites(node)
    elif isinstance(node, ast.Subscript):
        yield from _shape_index_rewrites(node)
        if isinstance(node.slice, ast.Slice) and _is_reversal(node.slice):
            yield "order", copy.deepcopy(node.value)
    elif isinstance(node, ast.Slice) and not _is_reversal(node):
        for bound, op in (("upper", ast.Sub), ("lower", ast.Add)):
            if getattr(node, bound) is not None:
                new = copy.deepcopy(node)
                setattr(new, bound, ast.BinOp(left=getattr(new, bound), op=op(), right=ast.Constant(1)))
                yield "bounds", new
    elif isinstance(node, ast.AugAssign):
        yield "accumulate", ast.Assign(targets=[copy.deepcopy(node.target)], value=copy.deepcopy(node.value))
        flipped = {ast.Add: ast.Sub, ast.Sub: ast.Add}.get(type(node.op))
        if flipped:
            yield "sign", ast.AugAssign(target=copy.deepcopy(node.target), op=flipped(),
                                        value=copy.deepcopy(node.value))
        if isinstance(node.target, ast.Subscript):
            yield "term", None
    elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        if _is_add_at(node.value):                                   # np.add.at(A, i, v) -> A[i] = v
            array, index, values = (copy.deepcopy(arg) for arg in node.value.args)
            yield "accumulate", ast.Assign(targets=[ast.Subscript(value=array, slice=index, ctx=ast.Store())],
                                           value=values)
        yield "statement", None                                      # order.append(node) forgotten
    elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript):
        if _has_compare(node.targets[0].slice):
            yield "mask", None


def _is_reversal(node: ast.Slice) -> bool:
    """Is the slice ``[::-1]``?"""
    step = node.step
    return (node.lower is None and node.upper is None and isinstance(step, ast.UnaryOp)
            and isinstance(step.op, ast.USub) and isinstance(step.operand, ast.Constant) and step.operand.value == 1)


def _is_add_at(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and _name(node.func) == "at" and isinstance(node.func, ast.Attribute)
            and _name(node.func.value) == "add" and len(node.args) == 3)


def _binop_rewrites(node: ast.BinOp) -> Iterator[tuple[str, ast.AST]]:
    left, right = copy.deepcopy(node.left), copy.deepcopy(node.right)
    if isinstance(node.op, ast.MatMult):
        yield "transpose", ast.BinOp(left=right, op=ast.MatMult(), right=left)
        if not (isinstance(node.left, ast.Attribute) and node.left.attr == "T"):
            yield "transpose", ast.BinOp(left=_transposed(node.left), op=ast.MatMult(), right=right)
        if not (isinstance(node.right, ast.Attribute) and node.right.attr == "T"):
            yield "transpose", ast.BinOp(left=left, op=ast.MatMult(), right=_transposed(node.right))
    elif isinstance(node.op, (ast.Add, ast.Sub)):
        flipped = ast.Sub() if isinstance(node.op, ast.Add) else ast.Add()
        yield "sign", ast.BinOp(left=left, op=flipped, right=right)
        yield "term", left
        yield "term", right if isinstance(node.op, ast.Add) else _negated(node.right)
    elif isinstance(node.op, (ast.Mult, ast.Div)):
        yield ("mask" if _has_compare(node.right) else "factor"), left
        if isinstance(node.op, ast.Mult):
            yield ("mask" if _has_compare(node.left) else "factor"), right
    elif isinstance(node.op, ast.Pow):
        yield "factor", left


def _call_rewrites(node: ast.Call) -> Iterator[tuple[str, ast.AST]]:
    name = _name(node.func)
    if name == "where" and len(node.args) == 3:
        yield "mask", copy.deepcopy(node.args[1])
        yield "mask", copy.deepcopy(node.args[2])
    if name in _SWAPPABLE_CALLS and len(node.args) == 2:
        new = copy.deepcopy(node)
        new.args.reverse()
        yield "transpose", new
    if name == "reversed" and isinstance(node.func, ast.Name) and len(node.args) == 1:
        yield "order", copy.deepcopy(node.args[0])
    if name == "range" and isinstance(node.func, ast.Name) and node.args:
        yield from _bounds(node)
    if name == "copy" and isinstance(node.func, ast.Attribute) and not node.args and not node.keywords:
        yield "copy", copy.deepcopy(node.func.value)
    if name in ("maximum", "minimum", "clip") and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
        yield "mask", copy.deepcopy(node.args[0])                    # np.maximum(z, 0) -> z: no ReLU
    if name in ("mean", "sum") and isinstance(node.func, ast.Attribute):
        new = copy.deepcopy(node)
        new.func.attr = "sum" if name == "mean" else "mean"          # the average forgotten, or added
        yield "factor", new
    if name in _SHAPE_CALLS:
        yield from _shape_swaps(node)
    if name in _REDUCTIONS or any(k.arg in ("axis", "keepdims") for k in node.keywords):
        yield from _axis_rewrites(node)


def _bounds(node: ast.Call) -> Iterator[tuple[str, ast.AST]]:
    """Off by one: a ``range`` that skips its last iteration, or its first (given a start)."""
    step = node.args[2] if len(node.args) == 3 else None
    down = isinstance(step, ast.UnaryOp) and isinstance(step.op, ast.USub)
    inward = (ast.Sub, ast.Add) if down else (ast.Add, ast.Sub)        # (start, stop) moved inwards
    stop = 0 if len(node.args) == 1 else 1
    for index in sorted({0, stop}, reverse=True):
        new = copy.deepcopy(node)
        op = inward[index] if len(node.args) > 1 else ast.Sub
        new.args[index] = ast.BinOp(left=copy.deepcopy(node.args[index]), op=op(), right=ast.Constant(1))
        yield "bounds", new


def _shape_swaps(node: ast.Call) -> Iterator[tuple[str, ast.AST]]:
    """n <-> m: the first two sizes of a shape given as a tuple argument, ``size=``/``shape=``, or
    as the positional sizes of ``x.reshape(n, m)``."""
    for index, arg in enumerate(node.args):
        if isinstance(arg, ast.Tuple) and len(arg.elts) >= 2:
            new = copy.deepcopy(node)
            new.args[index].elts[:2] = new.args[index].elts[1::-1]
            yield "swap", new
    for index, keyword in enumerate(node.keywords):
        if keyword.arg in ("size", "shape") and isinstance(keyword.value, ast.Tuple) and len(keyword.value.elts) >= 2:
            new = copy.deepcopy(node)
            new.keywords[index].value.elts[:2] = new.keywords[index].value.elts[1::-1]
            yield "swap", new
    if _name(node.func) == "reshape" and isinstance(node.func, ast.Attribute) and len(node.args) >= 2:
        new = copy.deepcopy(node)
        new.args[:2] = new.args[1::-1]
        yield "swap", new


def _shape_index_rewrites(node: ast.Subscript) -> Iterator[tuple[str, ast.AST]]:
    """``x.shape[0]`` <-> ``x.shape[1]`` (and ``[-1]`` -> ``[0]``); ``A[i, j]`` -> ``A[j, i]``."""
    if isinstance(node.value, ast.Attribute) and node.value.attr == "shape":
        index = node.slice
        value = index.value if isinstance(index, ast.Constant) else None
        if isinstance(index, ast.UnaryOp) and isinstance(index.operand, ast.Constant):
            value = -index.operand.value
        other = {0: 1, 1: 0, -1: 0}.get(value) if isinstance(value, int) else None
        if other is not None:
            new = copy.deepcopy(node)
            new.slice = ast.Constant(other)
            yield "swap", new
    elif isinstance(node.slice, ast.Tuple) and len(node.slice.elts) == 2 \
            and not any(isinstance(e, ast.Slice) for e in node.slice.elts):
        new = copy.deepcopy(node)                                    # A[i, j] -> A[j, i]
        new.slice.elts.reverse()
        yield "swap", new


def _axis_rewrites(node: ast.Call) -> Iterator[tuple[str, ast.AST]]:
    """The wrong axis: 0 <-> 1 (-1 -> 0) for ``axis=`` or a reduction's positional axis; drop
    ``axis=`` or ``keepdims=``."""
    for index, keyword in enumerate(node.keywords):
        if keyword.arg == "axis" and isinstance(keyword.value, (ast.Constant, ast.UnaryOp)):
            for swapped in _other_axis(keyword.value):
                new = copy.deepcopy(node)
                new.keywords[index].value = swapped
                yield "axis", new
        if keyword.arg in ("axis", "keepdims"):
            new = copy.deepcopy(node)
            del new.keywords[index]
            yield "axis", new
    if _name(node.func) in _REDUCTIONS and isinstance(node.func, ast.Attribute) and len(node.args) == 1:
        for swapped in _other_axis(node.args[0]):
            new = copy.deepcopy(node)
            new.args[0] = swapped
            yield "axis", new


def _other_axis(value: ast.expr) -> Iterator[ast.expr]:
    try:
        axis = ast.literal_eval(value)
    except ValueError:
        return
    if isinstance(axis, int) and not isinstance(axis, bool) and axis in (0, 1, -1):
        yield ast.Constant(1 if axis == 0 else 0)
