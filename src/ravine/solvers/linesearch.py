"""Line searches along a descent direction: backtracking Armijo and strong Wolfe (zoom + cubic)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

from torch import Tensor

__all__ = ["LineSearchResult", "backtracking_armijo", "cubic_minimizer", "strong_wolfe"]

# phi(t) -> (f(x + t d), grad f(x + t d)) : the objective along the line, value and full gradient
LineFunction = Callable[[float], tuple[float, Tensor]]


class LineSearchResult(NamedTuple):
    """Outcome of a line search: step ``t``, value ``f`` and gradient ``g`` at ``x + t d``.

    ``nfev`` counts calls of ``phi``; ``success`` says whether the search's conditions (Armijo,
    or both strong Wolfe conditions) hold at ``t``.
    """

    t: float
    f: float
    g: Tensor | None
    nfev: int
    success: bool


def _check(c1: float, c2: float | None = None) -> None:
    if not 0.0 < c1 < 1.0:
        raise ValueError(f"c1 must be in (0, 1), got {c1}")
    if c2 is not None and not c1 < c2 < 1.0:
        raise ValueError(f"c2 must be in (c1, 1) = ({c1}, 1), got {c2}")


def backtracking_armijo(
    phi: LineFunction,
    f0: float,
    gtd0: float,
    t: float = 1.0,
    c1: float = 1e-4,
    shrink: float = 0.5,
    max_evals: int = 30,
    nonfinite_shrink: float = 0.1,
) -> LineSearchResult:
    """Shrink ``t`` until the Armijo (sufficient decrease) condition holds.

    Args:
        phi: ``phi(t) -> (f(x + t d), grad f(x + t d))``.
        f0: ``f(x)``.
        gtd0: the directional derivative ``grad f(x) . d`` (negative for a descent direction).
        t: the first trial step.
        c1: sufficient-decrease constant in (0, 1).
        shrink: factor in (0, 1) applied to ``t`` after each failed trial.
        max_evals: the most calls of ``phi``.
        nonfinite_shrink: factor in (0, 1) applied instead after a non-finite value (an
            overflow says the step is far too long).

    Returns:
        a :class:`LineSearchResult`; ``success`` is False if no trial met the condition.

    Math: accept the first ``t = t0 * shrink^k`` with ``f(x + t d) <= f(x) + c1 t g.d`` and
    ``f(x + t d) < f(x)`` (where ``c1 t g.d`` is below the rounding of ``f(x)``, equality is
    not a decrease).
    A non-finite value counts as a failed trial and shrinks the step by ``nonfinite_shrink``.

    References:
        Armijo, "Minimization of functions having Lipschitz continuous first partial
        derivatives", 1966; Nocedal & Wright, Numerical Optimization, 2006, Algorithm 3.1.

    Example:
        >>> import torch
        >>> phi = lambda t: ((t - 0.3) ** 2, torch.tensor([2 * (t - 0.3)]))
        >>> r = backtracking_armijo(phi, f0=0.09, gtd0=-0.6)
        >>> r.t, r.success
        (0.5, True)
    """
    _check(c1)
    for name, value in (("shrink", shrink), ("nonfinite_shrink", nonfinite_shrink)):
        if not 0.0 < value < 1.0:
            raise ValueError(f"{name} must be in (0, 1), got {value}")
    if not t > 0.0:
        raise ValueError(f"t must be > 0, got {t}")
    if not (isinstance(max_evals, int) and max_evals >= 1):
        raise ValueError(f"max_evals must be an integer >= 1, got {max_evals!r}")
    f, g = f0, None
    for k in range(1, max_evals + 1):
        f, g = phi(t)
        if math.isfinite(f) and f <= f0 + c1 * t * gtd0 and f < f0:
            return LineSearchResult(t, f, g, k, True)
        if k < max_evals:
            t *= shrink if math.isfinite(f) else nonfinite_shrink
    return LineSearchResult(t, f, g, max_evals, False)


def cubic_minimizer(
    t1: float, f1: float, g1: float, t2: float, f2: float, g2: float,
    bounds: tuple[float, float] | None = None,
) -> float:
    """Minimizer of the cubic through ``(t1, f1, g1)`` and ``(t2, f2, g2)``, clipped to ``bounds``.

    Math (Nocedal & Wright eq. 3.59): ``d1 = g1 + g2 - 3 (f1 - f2)/(t1 - t2)``,
    ``d2 = sqrt(d1^2 - g1 g2)``, ``t = t2 - (t2 - t1) (g2 + d2 - d1)/(g2 - g1 + 2 d2)``.
    Without a real, finite minimizer (``d1^2 < g1 g2``, or a zero denominator: coincident
    points, or data that a line fits with zero curvature) it returns the midpoint of ``bounds``.

    Example:
        >>> cubic_minimizer(0.0, 0.0, -1.0, 2.0, 0.0, 1.0)  # f = t^2/2 - t: minimum at 1
        1.0
    """
    lo, hi = bounds if bounds is not None else (min(t1, t2), max(t1, t2))
    if t1 == t2:
        return (lo + hi) / 2.0
    d1 = g1 + g2 - 3.0 * (f1 - f2) / (t1 - t2)
    d2_square = d1 * d1 - g1 * g2
    if d2_square >= 0.0:
        d2 = math.sqrt(d2_square)
        denominator = g2 - g1 + 2.0 * d2 if t1 <= t2 else g1 - g2 + 2.0 * d2
        if denominator != 0.0:
            if t1 <= t2:
                t = t2 - (t2 - t1) * ((g2 + d2 - d1) / denominator)
            else:
                t = t1 - (t1 - t2) * ((g1 + d2 - d1) / denominator)
            if t == t:  # nan (inf - inf) has no minimizer either
                return min(max(t, lo), hi)
    return (lo + hi) / 2.0


def strong_wolfe(
    phi: LineFunction,
    f0: float,
    g0: Tensor,
    gtd0: float,
    d: Tensor,
    t: float = 1.0,
    c1: float = 1e-4,
    c2: float = 0.9,
    xtol: float = 1e-9,
    max_evals: int = 25,
) -> LineSearchResult:
    """Find a step meeting the strong Wolfe conditions: bracket, then zoom by cubic interpolation.

    Args:
        phi: ``phi(t) -> (f(x + t d), grad f(x + t d))``.
        f0, g0, gtd0: value, gradient and directional derivative ``g0 . d`` at ``t = 0``.
        d: the search direction (its largest entry scales ``xtol``).
        t: the first trial step.
        c1, c2: Wolfe constants, ``0 < c1 < c2 < 1``.
        xtol: stop zooming when the bracket is shorter than ``xtol / max|d|``.
        max_evals: the most calls of ``phi``.

    Returns:
        a :class:`LineSearchResult` at the best point found (the bracket's low end); ``success``
        says whether both conditions hold there.

    Math: accept ``t`` with ``f(x + t d) <= f0 + c1 t gtd0`` and ``|g(x + t d) . d| <= c2 |gtd0|``.
    Bracketing (Algorithm 3.5) extrapolates by cubic interpolation into ``[t + 0.01 (t - t_prev),
    10 t]``; zoom (Algorithm 3.6) interpolates inside the bracket, moved at least 10% of its
    length away from its ends after two steps without progress (the safeguard of minFunc and
    ``torch.optim.LBFGS``, whose iterates this search reproduces). A non-finite value while
    bracketing halves the step.

    References:
        Nocedal & Wright, Numerical Optimization, 2006, Algorithms 3.5 and 3.6;
        M. Schmidt, minFunc, 2005 (``WolfeLineSearch``).

    Example:
        >>> import torch
        >>> phi = lambda t: ((t - 3.0) ** 2, torch.tensor([2 * (t - 3.0)]))
        >>> r = strong_wolfe(phi, 9.0, torch.tensor([-6.0]), -6.0, torch.tensor([1.0]), c2=0.1)
        >>> round(r.t, 6), r.nfev, r.success  # t = 1 is too short; the cubic step lands on 3
        (3.0, 2, True)
    """
    _check(c1, c2)
    d_norm = float(d.abs().max())
    f_new, g_new = phi(t)
    nfev = 1
    gtd_new = float(g_new.dot(d))
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f0, g0, gtd0
    done = False
    n_iter = 0
    bracket: list[float] = []
    bracket_f: list[float] = []
    bracket_g: list[Tensor] = []
    bracket_gtd: list[float] = []
    # -- bracketing phase ------------------------------------------------------------------
    while n_iter < max_evals:
        if not (math.isfinite(f_new) and math.isfinite(gtd_new)):
            t = t_prev + 0.5 * (t - t_prev)  # a non-finite value: shrink towards the last point
            f_new, g_new = phi(t)
            nfev += 1
            gtd_new = float(g_new.dot(d))
            n_iter += 1
            continue
        if f_new > f0 + c1 * t * gtd0 or (n_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd0:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        bounds = (t + 0.01 * (t - t_prev), t * 10.0)
        t_next = cubic_minimizer(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=bounds)
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = t_next
        f_new, g_new = phi(t)
        nfev += 1
        gtd_new = float(g_new.dot(d))
        n_iter += 1
    if n_iter == max_evals:
        bracket, bracket_f, bracket_g = [0.0, t], [f0, f_new], [g0, g_new]
        if not math.isfinite(f_new):
            bracket_f[1] = math.inf
    # -- zoom phase ------------------------------------------------------------------------
    insufficient_progress = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and n_iter < max_evals:
        if abs(bracket[1] - bracket[0]) * d_norm < xtol:
            break
        t = cubic_minimizer(
            bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1]
        )
        top, bottom = max(bracket), min(bracket)
        eps = 0.1 * (top - bottom)
        if min(top - t, t - bottom) < eps:
            if insufficient_progress or t >= top or t <= bottom:
                t = top - eps if abs(t - top) < abs(t - bottom) else bottom + eps
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        f_new, g_new = phi(t)
        nfev += 1
        gtd_new = float(g_new.dot(d))
        n_iter += 1
        if not math.isfinite(f_new) or f_new > f0 + c1 * t * gtd0 or f_new >= bracket_f[low]:
            bracket[high], bracket_f[high] = t, f_new if math.isfinite(f_new) else math.inf
            bracket_g[high], bracket_gtd[high] = g_new, gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd0:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low] = t, f_new
            bracket_g[low], bracket_gtd[low] = g_new, gtd_new
    t, f_best, g_best = bracket[low], bracket_f[low], bracket_g[low]
    return LineSearchResult(t, f_best, g_best, nfev, done)
