"""The loop shared by line-search methods: direction, line search, stopping rules, result."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .linesearch import backtracking_armijo, strong_wolfe
from .objective import Objective
from .result import OptimizeResult

__all__ = ["StopRules", "finish", "line_search_descent"]

MESSAGES = {
    "gtol": "Optimization terminated successfully: gradient norm <= gtol.",
    "ftol": "Optimization terminated successfully: relative reduction of f <= ftol.",
    "xtol": "Optimization terminated successfully: step size <= xtol.",
    "maxiter": "Maximum number of iterations has been exceeded.",
    "maxfev": "Maximum number of function evaluations has been exceeded.",
    "linesearch": "Desired error not necessarily achieved due to precision loss "
    "(the line search found no decrease).",
    "callback": "Stopped by the callback (StopIteration).",
    "nonfinite": "The objective or its gradient became non-finite.",
    "radius": "Desired error not necessarily achieved due to precision loss "
    "(the trust radius became too small).",
}
STATUS = {"gtol": 0, "ftol": 0, "xtol": 0, "maxiter": 1, "maxfev": 1, "linesearch": 2,
          "callback": 3, "nonfinite": 2, "radius": 2}


@dataclass
class StopRules:
    """Stopping rules: ``|g|_inf <= gtol``; ``(f_k - f_{k+1}) <= ftol max(|f_k|, |f_{k+1}|, 1)``;
    ``|s|_inf <= xtol (1 + |x|_inf)``; ``maxiter`` iterations; ``maxfev`` evaluations of ``fun``.
    A tolerance of 0 disables its rule; ``maxfev=None`` means no limit."""

    gtol: float
    ftol: float
    xtol: float
    maxiter: int
    maxfev: int | None

    def converged(self, g: Tensor, f_old: float, f_new: float, s: Tensor | None, x: Tensor) -> str:
        if float(g.abs().max()) <= self.gtol:
            return "gtol"
        if self.ftol > 0 and f_old - f_new <= self.ftol * max(abs(f_old), abs(f_new), 1.0):
            return "ftol"
        if s is not None and self.xtol > 0:
            if float(s.abs().max()) <= self.xtol * (1.0 + float(x.abs().max())):
                return "xtol"
        return ""

    def limit(self, nit: int, nfev: int) -> str:
        if nit >= self.maxiter:
            return "maxiter"
        if self.maxfev is not None and nfev >= self.maxfev:
            return "maxfev"
        return ""


def finish(obj: Objective, x: Tensor, f: float, g: Tensor, nit: int, reason: str,
           shape: torch.Size, **extra: Any) -> OptimizeResult:
    """Build the :class:`OptimizeResult` for a run that stopped for ``reason``."""
    status = STATUS[reason]
    return OptimizeResult(
        x=x.view(shape).clone(), fun=f, jac=g.view(shape).clone(), nit=nit, nfev=obj.nfev,
        njev=obj.njev, nhev=obj.nhev, status=status, success=status == 0,
        message=MESSAGES[reason], **extra,
    )


def line_search_descent(
    obj: Objective,
    x: Tensor,
    rule: Any,
    stop: StopRules,
    line_search: str = "strong-wolfe",
    c1: float = 1e-4,
    c2: float | None = None,
    callback: Callable[[Tensor], Any] | None = None,
) -> OptimizeResult:
    """Minimize by ``x_{k+1} = x_k + t_k d_k``: ``d_k`` from ``rule``, ``t_k`` from a line search.

    Args:
        obj: the objective.
        x: the flat starting point.
        rule: a direction rule (see :mod:`ravine.solvers.direction_rules`).
        stop: the stopping rules.
        line_search: ``"strong-wolfe"`` or ``"armijo"``.
        c1, c2: line-search constants (``c2`` defaults to the rule's).
        callback: called as ``callback(x)`` after each iteration; raising ``StopIteration``
            stops the run.

    Returns:
        an :class:`OptimizeResult`. A direction that is not a descent direction, or a failed line
        search, first resets the rule to steepest descent; a second failure stops with status 2.
    """
    shape = obj.shape
    c2 = rule.c2 if c2 is None else c2
    f_t, g = obj.value_and_grad(x)
    f = float(f_t)
    if not math.isfinite(f) or not bool(torch.isfinite(g).all()):
        raise ValueError(f"fun or its gradient is not finite at x0 (f(x0) = {f})")
    f_prev: float | None = None
    nit = 0
    reason = "gtol" if float(g.abs().max()) <= stop.gtol else ""
    while not reason:
        reason = stop.limit(nit, obj.nfev)
        if reason:
            break
        d = rule.direction(x, f, g)
        gtd = float(g.dot(d))
        if not gtd < 0.0 or not math.isfinite(gtd):
            rule.reset()
            d = g.neg()
            gtd = -float(g.dot(g))
        t0 = rule.first_step(g, f, f_prev, gtd)

        def phi(t: float, x: Tensor = x, d: Tensor = d) -> tuple[float, Tensor]:
            value, grad = obj.value_and_grad(x + t * d)
            return float(value), grad

        budget = 25 if stop.maxfev is None else max(1, min(25, stop.maxfev - obj.nfev))
        if line_search == "armijo":
            ls = backtracking_armijo(phi, f, gtd, t=t0, c1=c1, max_evals=budget + 35)
        else:
            ls = strong_wolfe(phi, f, g, gtd, d, t=t0, c1=c1, c2=c2, max_evals=budget)
        if not (ls.success or (ls.t > 0 and math.isfinite(ls.f) and ls.f < f)):
            if rule.reset():
                continue
            reason = "linesearch"
            break
        s = ls.t * d
        x = x + s
        g_old, g = g, ls.g
        f_prev, f = f, ls.f
        rule.update(s, g - g_old, g, g_old)
        nit += 1
        if callback is not None:
            try:
                callback(x.view(shape))
            except StopIteration:
                reason = "callback"
                break
        if not bool(torch.isfinite(g).all()):
            reason = "nonfinite"
            break
        reason = stop.converged(g, f_prev, f, s, x)
    return finish(obj, x, f, g, nit, reason, shape)
