"""The problem contract of the lab: a fixed objective with a target, built fresh for each seed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

__all__ = ["Problem", "Target", "Task"]


@dataclass(frozen=True)
class Target:
    """What counts as solved: ``metric`` ('loss' or 'accuracy') reaching ``value``.

    For 'loss' the target is met when ``loss <= value``; for 'accuracy' when ``accuracy >= value``.
    """

    metric: str
    value: float

    def __post_init__(self) -> None:
        if self.metric not in ("loss", "accuracy"):
            raise ValueError(f"Target metric must be 'loss' or 'accuracy', got {self.metric!r}")

    def met(self, loss: float, accuracy: float | None) -> bool:
        if self.metric == "loss":
            return loss <= self.value
        return accuracy is not None and accuracy >= self.value

    def __str__(self) -> str:
        op = "<=" if self.metric == "loss" else ">="
        return f"{self.metric} {op} {self.value:g}"


class Task:
    """One seeded instance of a problem: parameters, a stochastic loss and a full evaluation.

    Subclasses set ``self.params`` (leaf tensors with ``requires_grad``) and implement
    :meth:`loss` (the training loss of the next mini-batch) and :meth:`evaluate`.
    """

    params: list[Tensor]

    def loss(self) -> Tensor:
        """The training loss on the next mini-batch (the whole data set for full-batch tasks)."""
        raise NotImplementedError

    def next_batch_objective(self) -> Callable[[], Tensor]:
        """Draw the next mini-batch, as :meth:`loss` does, and return its loss function.

        Each call of the returned function computes the training loss on that same batch at
        the current parameters: what a closure (SAM, L-BFGS) re-evaluates within one step.
        This default suits full-batch tasks (it returns :meth:`loss`); a task with
        mini-batches must override it.
        """
        return self.loss

    @torch.no_grad()
    def evaluate(self) -> tuple[float, float | None]:
        """Full training loss and the test accuracy (None where a problem has no accuracy)."""
        return float(self.loss()), None

    def point(self) -> tuple[float, float] | None:
        """The current (x, y) of a 2-D surface; None for other problems."""
        return None


@dataclass
class Problem:
    """A named benchmark problem.

    Args:
        name: registry name (used on the command line).
        kind: 'surface' (2-D), 'quadratic' or 'classification'.
        description: one line for ``ravine compare --list`` and the report.
        steps: default number of optimizer steps per run.
        target: the :class:`Target` for steps-to-target and time-to-target.
        lr_range: (low, high) of the log-uniform learning-rate search space.
        log_every: steps between two recorded metric rows.
        build_fn: ``build_fn(seed, **options) -> Task``.
        options: keyword arguments passed to ``build`` (from a config file).
    """

    name: str
    kind: str
    description: str
    steps: int
    target: Target
    build_fn: Any
    lr_range: tuple[float, float] = (1e-4, 1.0)
    log_every: int = 1
    options: dict[str, Any] = field(default_factory=dict)

    def build(self, seed: int) -> Task:
        return self.build_fn(seed, **self.options)
