"""Unconstrained test problems: the Moré-Garbow-Hillstrom (1981) set and scalable ones.

``MGH_PROBLEMS`` lists every problem implemented with its standard start and the published
minimum values (each ``TestProblem`` names its source); ``get(name)`` finds one.
"""

from .base import TestProblem
from .mgh_scalable import SCALABLE_PROBLEMS, make_extended_powell, make_extended_rosenbrock
from .mgh_small import SMALL_PROBLEMS
from .quadratic import make_quadratic

MGH_PROBLEMS = [*SMALL_PROBLEMS, *SCALABLE_PROBLEMS]

__all__ = [
    "MGH_PROBLEMS",
    "TestProblem",
    "get",
    "make_extended_powell",
    "make_extended_rosenbrock",
    "make_quadratic",
]


def get(name: str) -> TestProblem:
    """The problem called ``name`` from ``MGH_PROBLEMS``.

    Example:
        >>> get("rosenbrock").start
        (-1.2, 1.0)
    """
    for problem in MGH_PROBLEMS:
        if problem.name == name:
            return problem
    raise ValueError(f"unknown problem {name!r}; known: {[p.name for p in MGH_PROBLEMS]}")
