"""Parse a SPEC string such as ``warmup_cosine(peak=0.1, warmup=500, total=10000)``.

The grammar is a Python call expression, read with :mod:`ast` (nothing is evaluated):
``name(keyword=value, ...)`` where ``name`` is a schedule (see ``ravine.schedules.REGISTRY``) and
each value is a number, a string, ``True``/``False``/``None``, a list of values, or another SPEC
(for ``warmup`` and ``join``). Positional arguments fill the fields in order; ``repr`` of every
schedule prints this canonical form, so ``parse(repr(s)) == s``.
"""

from __future__ import annotations

import ast
import dataclasses
from typing import Any

from .base import REGISTRY, Schedule

__all__ = ["parse"]


def parse(spec: str) -> Schedule:
    """Build the schedule described by ``spec``.

    Args:
        spec: a SPEC string, e.g. ``"sgdr(peak=0.1, T_0=1000, T_mult=2)"``.

    Returns:
        The :class:`~ravine.schedules.Schedule`.

    Raises:
        ValueError: on a syntax error, an unknown schedule name, an unknown, repeated or missing
            keyword, or a value out of range; the message says which.
        TypeError: if ``spec`` is not a string.

    Example:
        >>> from ravine.schedules import parse
        >>> parse("join([constant(peak=0.1), cosine(peak=0.1, total=900)], boundaries=[100])")
        join(schedules=[constant(peak=0.1), cosine(peak=0.1, total=900)], boundaries=[100])
        >>> parse("cosine(peak=0.1)")
        Traceback (most recent call last):
        ...
        ValueError: cosine(): missing keyword total (accepted: peak, total, floor)
    """
    if not isinstance(spec, str):
        raise TypeError(f"spec must be a str, got {type(spec).__name__}")
    try:
        tree = ast.parse(spec.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(
            f"cannot parse schedule SPEC {spec!r}: {exc.msg} (at column {exc.offset}); "
            f"expected e.g. 'cosine(peak=0.1, total=1000)'"
        ) from None
    return _build(tree.body)


def _build(node: ast.AST) -> Schedule:
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise ValueError(
            f"expected a schedule call such as 'cosine(peak=0.1, total=1000)', got "
            f"{ast.unparse(node)!r}"
        )
    name = node.func.id
    cls = REGISTRY.get(name)
    if cls is None:
        raise ValueError(f"unknown schedule {name!r}; known: {', '.join(sorted(REGISTRY))}")
    fields = dataclasses.fields(cls)
    names = [f.name for f in fields]
    accepted = f"(accepted: {', '.join(names)})"
    if len(node.args) > len(names):
        raise ValueError(f"{name}(): takes at most {len(names)} arguments {accepted}")
    kwargs: dict[str, Any] = {n: _value(a) for n, a in zip(names, node.args, strict=False)}
    for kw in node.keywords:
        if kw.arg is None:
            raise ValueError(f"{name}(): '**' is not allowed in a SPEC")
        if kw.arg not in names:
            raise ValueError(f"{name}(): unknown keyword {kw.arg!r} {accepted}")
        if kw.arg in kwargs:
            raise ValueError(f"{name}(): keyword {kw.arg!r} given twice")
        kwargs[kw.arg] = _value(kw.value)
    missing = [
        f.name for f in fields if f.default is dataclasses.MISSING and f.name not in kwargs
    ]
    if missing:
        raise ValueError(f"{name}(): missing keyword {', '.join(missing)} {accepted}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(str(exc)) from None


def _value(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, type(None))):
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, (ast.USub, ast.UAdd))
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, (int, float))
        and not isinstance(node.operand.value, bool)
    ):
        v = node.operand.value
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, (ast.List, ast.Tuple)):
        return tuple(_value(e) for e in node.elts)
    if isinstance(node, ast.Call):
        return _build(node)
    raise ValueError(
        f"unsupported value {ast.unparse(node)!r} in SPEC: use numbers, strings, True/False/None, "
        f"lists, or schedules"
    )
