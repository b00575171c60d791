"""Run any ``torch.optim.Optimizer`` on the learned-optimizer problems, and tune its ``lr``.

The comparison the paper makes: the learned optimizer against hand-designed ones, each with its
learning rate tuned on a grid, on the same problems and the same number of steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from .lstm import _check_positive

__all__ = ["optimizer_curves", "tune_lr"]

OptimizerFactory = Callable[[list[Tensor], float], torch.optim.Optimizer]


def optimizer_curves(
    problems: Sequence[Any], factory: OptimizerFactory, steps: int, lr: float = 1.0
) -> Tensor:
    """Loss curves of ``factory(params, lr)`` on each problem: ``(len(problems), steps + 1)``.

    Column ``t`` is ``mean(problem.losses(theta_t, t))`` (the same convention as
    :func:`ravine.learned.evaluate`); the optimizer follows the gradient of ``losses.sum()``.
    A curve that overflows keeps its non-finite values (such an ``lr`` loses any comparison).

    Example:
        >>> import torch
        >>> from ravine.learned import QuadraticFamily
        >>> problem = QuadraticFamily(dim=3, batch=2).sample(torch.Generator().manual_seed(0))
        >>> curves = optimizer_curves([problem], lambda p, lr: torch.optim.SGD(p, lr=lr), 5, 0.01)
        >>> curves.shape, bool(curves[0, -1] < curves[0, 0])
        (torch.Size([1, 6]), True)
    """
    _check_positive("steps", steps, integer=True)
    curves = []
    for problem in problems:
        params = [p.detach().requires_grad_(True) for p in problem.init_params()]
        optimizer = factory(params, lr)
        curve = []
        for t in range(steps + 1):
            optimizer.zero_grad()
            losses = problem.losses(params, t)
            curve.append(float(losses.detach().mean()))
            if t == steps or not math.isfinite(curve[-1]):
                curve.extend([float("inf")] * (steps - t))
                break
            losses.sum().backward()
            optimizer.step()
        curves.append(curve)
    return torch.tensor(curves, dtype=torch.float64)


def tune_lr(
    problems: Sequence[Any], factory: OptimizerFactory, lrs: Sequence[float], steps: int
) -> tuple[float, Tensor]:
    """The ``lr`` in ``lrs`` with the smallest mean loss along the curves, and its curves.

    The criterion is the meta-loss of the paper, ``mean over problems of sum_{t=1}^{T} loss_t``
    (divided by ``T``), so the tuned optimizers are judged as the learned one is trained.
    """
    if not lrs:
        raise ValueError("lrs must hold at least one learning rate")
    best: tuple[float, float, Tensor] | None = None
    for lr in lrs:
        curves = optimizer_curves(problems, factory, steps, lr)
        score = float(curves[:, 1:].mean())
        if not math.isfinite(score):
            score = float("inf")
        if best is None or score < best[0]:
            best = (score, lr, curves)
    return best[1], best[2]
