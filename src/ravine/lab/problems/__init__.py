"""The lab's built-in problems: 2-D surfaces, DeepOBS-style quadratics, classification.

Example:
    >>> from ravine.lab.problems import get_problem
    >>> p = get_problem("rosenbrock")
    >>> p.kind, str(p.target)
    ('surface', 'loss <= 0.001')
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .base import Problem, Target, Task
from .classification import classification_problems
from .quadratics import quadratic_problems
from .surfaces import SURFACES, surface_problems

__all__ = ["PROBLEMS", "SURFACES", "Problem", "Target", "Task", "get_problem"]

PROBLEMS: dict[str, Problem] = {
    p.name: p for p in [*surface_problems(), *quadratic_problems(), *classification_problems()]
}


def get_problem(name: str, **overrides: Any) -> Problem:
    """The built-in problem ``name``, with fields (steps, log_every, lr_range, options) replaced.

    ``options`` are merged into the problem's own build options.
    """
    if name not in PROBLEMS:
        raise ValueError(f"unknown problem {name!r}; built-in problems: {', '.join(PROBLEMS)}")
    base = PROBLEMS[name]
    if "options" in overrides:
        overrides = {**overrides, "options": {**base.options, **overrides["options"]}}
    return dataclasses.replace(base, **overrides)
