"""The loop shared by line-search methods: direction, line search, stopping rules, result."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .linesearch import LineSearchResult, backtracking_armijo, strong_wolfe
from .more_thuente import more_thuente
from .objective import Objective
from .result import OptimizeResult

__all__ = ["LINE_SEARCHES", "LineSearchSpec", "StopRules", "finish", "line_search_descent"]

LINE_SEARCHES = ("strong-wolfe", "more-thuente", "armijo")

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
    """Stopping rules: ``|g|_norm <= gtol`` (``norm`` = inf: ``max|g|``, the default; 2: the
    Euclidean norm); ``(f_k - f_{k+1}) <= ftol max(|f_k|, |f_{k+1}|, 1)``;
    ``|s|_inf <= xtol (1 + |x|_inf)``; ``maxiter`` iterations; ``maxfev`` evaluations of ``fun``.
    A tolerance of 0 disables its rule; ``maxfev=None`` means no limit."""

    gtol: float
    ftol: float
    xtol: float
    maxiter: int
    maxfev: int | None
    norm: float = math.inf

    def small_gradient(self, g: Tensor) -> bool:
        """Whether ``|g|_norm <= gtol``."""
        return float(torch.linalg.vector_norm(g, ord=self.norm)) <= self.gtol

    def converged(self, g: Tensor, f_old: float, f_new: float, s: Tensor | None, x: Tensor) -> str:
        if self.small_gradient(g):
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


@dataclass
class LineSearchSpec:
    """Which line search a method uses, and its constants.

    ``kind``: ``"strong-wolfe"`` (:func:`~ravine.solvers.linesearch.strong_wolfe`),
    ``"more-thuente"`` (:func:`~ravine.solvers.more_thuente.more_thuente`) or ``"armijo"``
    (:func:`~ravine.solvers.linesearch.backtracking_armijo`); ``c1``, ``c2`` the Wolfe constants;
    ``xtol``, ``stpmin``, ``stpmax`` as in the search; ``max_evals`` calls of ``fun`` per search;
    ``fallback``: when a Moré-Thuente search fails, run a strong-Wolfe search from the same
    start (scipy's ``_line_search_wolfe12``).
    """

    kind: str = "strong-wolfe"
    c1: float = 1e-4
    c2: float = 0.9
    xtol: float = 1e-9
    stpmin: float = 0.0
    stpmax: float = 1e10
    max_evals: int = 25
    fallback: bool = False

    def search(self, phi: Any, f: float, g: Tensor, gtd: float, d: Tensor, t0: float,
               budget: int) -> LineSearchResult:
        """Run the search along ``d`` from ``t0`` with at most ``budget`` evaluations."""
        if self.kind == "armijo":
            return backtracking_armijo(phi, f, gtd, t=t0, c1=self.c1, max_evals=budget)
        if self.kind == "strong-wolfe":
            return strong_wolfe(phi, f, g, gtd, d, t=t0, c1=self.c1, c2=self.c2,
                                max_evals=budget)
        t0 = min(max(t0, self.stpmin), self.stpmax)
        ls = more_thuente(phi, f, g, gtd, d, t=t0, c1=self.c1, c2=self.c2, xtol=self.xtol,
                          stpmin=self.stpmin, stpmax=self.stpmax, max_evals=budget)
        if ls.success or not self.fallback or budget - ls.nfev < 1:
            return ls
        again = strong_wolfe(phi, f, g, gtd, d, t=t0, c1=self.c1, c2=self.c2,
                             max_evals=min(25, budget - ls.nfev))
        return again._replace(nfev=ls.nfev + again.nfev)


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
    search: LineSearchSpec,
    callback: Callable[[Tensor], Any] | None = None,
) -> OptimizeResult:
    """Minimize by ``x_{k+1} = x_k + t_k d_k``: ``d_k`` from ``rule``, ``t_k`` from a line search.

    Args:
        obj: the objective.
        x: the flat starting point.
        rule: a direction rule (see :mod:`ravine.solvers.direction_rules`).
        stop: the stopping rules.
        search: the line search and its constants.
        callback: called as ``callback(x)`` after each iteration; raising ``StopIteration``
            stops the run.

    Returns:
        an :class:`OptimizeResult`. A direction that is not a descent direction, or a line
        search that fails without decrease (a failed Armijo search counts as no decrease),
        first resets the rule to steepest descent (as L-BFGS-B refreshes its memory); a second
        failure stops with status 2.
    """
    shape = obj.shape
    f_t, g = obj.value_and_grad(x)
    f = float(f_t)
    if not math.isfinite(f) or not bool(torch.isfinite(g).all()):
        raise ValueError(f"fun or its gradient is not finite at x0 (f(x0) = {f})")
    f_prev: float | None = None
    nit = 0
    reason = "gtol" if stop.small_gradient(g) else ""
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

        budget = search.max_evals
        if stop.maxfev is not None:
            budget = max(1, min(budget, stop.maxfev - obj.nfev))
        ls = search.search(phi, f, g, gtd, d, t0, budget)
        decreased = search.kind != "armijo" and ls.t > 0 and math.isfinite(ls.f) and ls.f < f
        if not (ls.success or decreased):
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
