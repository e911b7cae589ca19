"""Integer arithmetic over named workload parameters: 'seq', 'heads*64', '(seq+1)//2'."""
from __future__ import annotations

import ast
import operator

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.FloorDiv: operator.floordiv}


def _parse(value: str):
    """The expression's tree, or None when it is not Python at all (a syntax error, a null byte,
    a lone surrogate that cannot be encoded: UnicodeEncodeError is a ValueError)."""
    try:
        return ast.parse(value, mode="eval")
    except (SyntaxError, ValueError, RecursionError):
        return None


def names_in(value) -> set[str]:
    """Parameter names an expression refers to (empty for plain integers)."""
    tree = _parse(value) if isinstance(value, str) else None
    return set() if tree is None else {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def evaluate(value, parameters: dict[str, int]) -> int:
    """An int stays; a string is evaluated with + - * // and parameter names only."""
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected an integer or an expression, got {value!r}")
    tree = _parse(value)
    if tree is None:
        raise ValueError(f"cannot read expression {value!r}")
    return _eval(tree.body, parameters, value)


def _eval(node, params, text):
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in params:
            raise ValueError(f"unknown parameter '{node.id}' in {text!r}; parameters: "
                             f"{', '.join(params) or 'none defined'}")
        return params[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _eval(node.left, params, text), _eval(node.right, params, text)
        if isinstance(node.op, ast.FloorDiv) and (right == 0 or left % right):
            raise ValueError(f"{left} // {right} in {text!r} does not divide exactly")
        return _OPS[type(node.op)](left, right)
    raise ValueError(f"only integers, parameter names, + - * and // are allowed in {text!r}")
