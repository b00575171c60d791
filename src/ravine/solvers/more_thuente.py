"""The Moré-Thuente line search (MINPACK-2 ``dcsrch``/``dcstep``), as used by L-BFGS-B."""

from __future__ import annotations

import math

from torch import Tensor

from .linesearch import LineFunction, LineSearchResult

__all__ = ["more_thuente", "more_thuente_step"]


def _cubic(t1: float, f1: float, g1: float, t2: float, f2: float, g2: float,
           clamp_root: bool = False) -> tuple[float, float, float]:
    """The cubic through ``(t1, f1, g1)`` and ``(t2, f2, g2)``: ``(p, gamma, theta)`` with its
    minimizer at ``t2 + p / q * (t1 - t2)`` (``q`` depends on the case)."""
    theta = 3.0 * (f1 - f2) / (t2 - t1) + g1 + g2
    s = max(abs(theta), abs(g1), abs(g2))
    root = (theta / s) ** 2 - (g1 / s) * (g2 / s)
    gamma = s * math.sqrt(max(0.0, root) if clamp_root else root)
    if t2 > t1:
        gamma = -gamma
    return (gamma - g2) + theta, gamma, theta


def more_thuente_step(
    stx: float, fx: float, dx: float, sty: float, fy: float, dy: float,
    stp: float, fp: float, dp: float, brackt: bool, stpmin: float, stpmax: float,
) -> tuple[float, float, float, float, float, float, float, bool]:
    """One safeguarded step of the Moré-Thuente search; updates the interval ``[stx, sty]``.

    Args:
        stx, fx, dx: the best step so far, its value and derivative.
        sty, fy, dy: the other end of the interval.
        stp, fp, dp: the current trial step, its value and derivative.
        brackt: whether a minimizer is bracketed by ``stx`` and ``sty``.
        stpmin, stpmax: bounds for the new step while nothing is bracketed.

    Returns:
        ``(stx, fx, dx, sty, fy, dy, stp, brackt)``, ``stp`` being the next trial step.

    Math (the four cases of Moré & Thuente, section 4): (1) ``fp > fx``: the cubic step
    ``c`` or the midpoint of ``c`` and the quadratic step ``q``; (2) derivatives of opposite
    sign: whichever of ``c`` and the secant step is farther from ``stp``; (3) ``|dp|``
    decreasing: the nearer (bracketed, kept within 0.66 of the interval) or the farther of
    ``c`` and the secant step; (4) else the cubic through ``stp`` and ``sty``, or a bound.

    References:
        Moré & Thuente, "Line search algorithms with guaranteed sufficient decrease", ACM TOMS
        20(3), 1994; MINPACK-2 ``dcstep`` (Averick, Carter & Moré, 1993).

    Example:
        >>> out = more_thuente_step(0.0, 0.0, -1.0, 0.0, 0.0, -1.0, 2.0, 0.0, 1.0, False,
        ...                         0.0, 10.0)
        >>> out[6], out[7]  # f = t^2/2 - t sampled at 0 and 2: the cubic finds t = 1
        (1.0, True)
    """
    sgnd = dp * (dx / abs(dx))
    if fp > fx:  # case 1: a higher value, the minimizer is bracketed
        theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp
        s = max(abs(theta), abs(dx), abs(dp))
        gamma = s * math.sqrt((theta / s) ** 2 - (dx / s) * (dp / s))
        if stp < stx:
            gamma = -gamma
        p, q = (gamma - dx) + theta, ((gamma - dx) + gamma) + dp
        stpc = stx + (p / q) * (stp - stx)
        stpq = stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2.0) * (stp - stx)
        stpf = stpc if abs(stpc - stx) < abs(stpq - stx) else stpc + (stpq - stpc) / 2.0
        brackt = True
    elif sgnd < 0.0:  # case 2: derivatives of opposite sign, bracketed
        p, gamma, _ = _cubic(stx, fx, dx, stp, fp, dp)
        stpc = stp + (p / (((gamma - dp) + gamma) + dx)) * (stx - stp)
        stpq = stp + (dp / (dp - dx)) * (stx - stp)
        stpf = stpc if abs(stpc - stp) > abs(stpq - stp) else stpq
        brackt = True
    elif abs(dp) < abs(dx):  # case 3: same sign, the derivative's magnitude decreases
        p, gamma, _ = _cubic(stx, fx, dx, stp, fp, dp, clamp_root=True)
        r = p / ((gamma + (dx - dp)) + gamma)
        if r < 0 and gamma != 0:
            stpc = stp + r * (stx - stp)
        else:
            stpc = stpmax if stp > stx else stpmin
        stpq = stp + (dp / (dp - dx)) * (stx - stp)
        if brackt:
            stpf = stpc if abs(stpc - stp) < abs(stpq - stp) else stpq
            bound = stp + 0.66 * (sty - stp)
            stpf = min(bound, stpf) if stp > stx else max(bound, stpf)
        else:
            stpf = stpc if abs(stpc - stp) > abs(stpq - stp) else stpq
            stpf = min(max(stpf, stpmin), stpmax)
    elif brackt:  # case 4: same sign, |derivative| does not decrease: cubic towards sty
        p, gamma, _ = _cubic(sty, fy, dy, stp, fp, dp)
        stpf = stp + (p / (((gamma - dp) + gamma) + dy)) * (sty - stp)
    else:
        stpf = stpmax if stp > stx else stpmin
    if fp > fx:
        sty, fy, dy = stp, fp, dp
    else:
        if sgnd < 0.0:
            sty, fy, dy = stx, fx, dx
        stx, fx, dx = stp, fp, dp
    return stx, fx, dx, sty, fy, dy, stpf, brackt


def more_thuente(
    phi: LineFunction,
    f0: float,
    g0: Tensor,
    gtd0: float,
    d: Tensor,
    t: float = 1.0,
    c1: float = 1e-3,
    c2: float = 0.9,
    xtol: float = 0.1,
    stpmin: float = 0.0,
    stpmax: float = 1e10,
    max_evals: int = 20,
) -> LineSearchResult:
    """Find a step meeting the strong Wolfe conditions by the Moré-Thuente interval search.

    Args:
        phi: ``phi(t) -> (f(x + t d), grad f(x + t d))``.
        f0, g0, gtd0: value, gradient and directional derivative ``g0 . d`` at ``t = 0``
            (``gtd0 < 0``).
        d: the search direction.
        t: the first trial step, in ``[stpmin, stpmax]``.
        c1, c2: sufficient decrease and curvature constants (``dcsrch``'s ``ftol``, ``gtol``;
            L-BFGS-B uses 1e-3 and 0.9).
        xtol: stop (with a warning) when the bracket is shorter than ``xtol * stmax``.
        stpmin, stpmax: bounds on the step.
        max_evals: the most calls of ``phi`` (L-BFGS-B: 20).

    Returns:
        a :class:`~ravine.solvers.linesearch.LineSearchResult` at the last trial step;
        ``success`` says whether both conditions hold there. A warning exit (rounding errors,
        ``xtol``, a bound reached) or the evaluation limit gives ``success=False``. Where
        ``dcsrch`` would set the step back to the best point ``stx`` and evaluate it again only
        to exit with a warning, this returns ``stx`` with its stored value and gradient, one
        evaluation fewer, the same point.

    Math: with ``psi(t) = f(t) - f0 - c1 t gtd0``, stage 1 steps on ``psi`` until
    ``psi(t) <= 0`` and ``f'(t) >= 0``, then on ``f``; each step is
    :func:`more_thuente_step`; once bracketed, a bisection is forced if the interval did not
    shrink by 0.66 in two steps; before, trial steps extrapolate into
    ``[t + 1.1 (t - stx), t + 4 (t - stx)]``. Stop when ``f(t) <= f0 + c1 t gtd0`` and
    ``|f'(t)| <= c2 |gtd0|``. A non-finite value (not in MINPACK) shrinks the step towards the
    best point by 0.1 and caps later steps below it.

    References:
        Moré & Thuente, "Line search algorithms with guaranteed sufficient decrease", ACM TOMS
        20(3), 1994; Zhu, Byrd, Lu & Nocedal, "Algorithm 778: L-BFGS-B", 1997 (``lnsrlb``).

    Example:
        >>> import torch
        >>> phi = lambda t: ((t - 3.0) ** 2, torch.tensor([2 * (t - 3.0)]))
        >>> r = more_thuente(phi, 9.0, torch.tensor([-6.0]), -6.0, torch.tensor([1.0]), c2=0.1)
        >>> round(r.t, 6), r.nfev, r.success  # t = 1 is too short; the cubic step lands on 3
        (3.0, 2, True)
    """
    if not 0.0 <= c1 < c2 < 1.0 or c1 == 0.0:
        raise ValueError(f"need 0 < c1 < c2 < 1, got c1={c1}, c2={c2}")
    if not 0.0 <= stpmin <= t <= stpmax:
        raise ValueError(f"need 0 <= stpmin <= t <= stpmax, got {stpmin}, {t}, {stpmax}")
    if not gtd0 < 0.0:
        raise ValueError(f"gtd0 must be < 0 (a descent direction), got {gtd0}")
    gtest = c1 * gtd0
    brackt, stage = False, 1
    width, width1 = stpmax - stpmin, 2.0 * (stpmax - stpmin)
    stx, fx, gx = 0.0, f0, gtd0
    sty, fy, gy = 0.0, f0, gtd0
    stmin, stmax = 0.0, t + 4.0 * t
    cap = stpmax  # below the smallest step seen to give a non-finite value
    f, g, nfev = f0, g0, 0
    g_stx = g0  # the gradient at stx, the best step so far
    while nfev < max_evals:
        f, g = phi(t)
        nfev += 1
        gtd = float(g.dot(d)) if g is not None else math.nan
        if not (math.isfinite(f) and math.isfinite(gtd)):
            cap = t
            t = stx + 0.1 * (t - stx)
            continue
        ftest = f0 + t * gtest
        if stage == 1 and f <= ftest and gtd >= 0.0:
            stage = 2
        if f <= ftest and abs(gtd) <= -c2 * gtd0:
            return LineSearchResult(t, f, g, nfev, True)
        if (brackt and (t <= stmin or t >= stmax or stmax - stmin <= xtol * stmax)) or (
                t == stpmax and f <= ftest and gtd <= gtest) or (
                t == stpmin and (f > ftest or gtd >= gtest)):
            return LineSearchResult(t, f, g, nfev, False)  # dcsrch's warnings
        t_trial, g_trial = t, g
        if stage == 1 and f <= fx and f > ftest:  # step on the modified function psi
            stx, fxm, gxm, sty, fym, gym, t, brackt = more_thuente_step(
                stx, fx - stx * gtest, gx - gtest, sty, fy - sty * gtest, gy - gtest,
                t, f - t * gtest, gtd - gtest, brackt, stmin, stmax)
            fx, gx = fxm + stx * gtest, gxm + gtest
            fy, gy = fym + sty * gtest, gym + gtest
        else:
            stx, fx, gx, sty, fy, gy, t, brackt = more_thuente_step(
                stx, fx, gx, sty, fy, gy, t, f, gtd, brackt, stmin, stmax)
        if brackt:
            if abs(sty - stx) >= 0.66 * width1:
                t = stx + 0.5 * (sty - stx)
            width1, width = width, abs(sty - stx)
            stmin, stmax = min(stx, sty), max(stx, sty)
        else:
            stmin, stmax = t + 1.1 * (t - stx), t + 4.0 * (t - stx)
        if stx == t_trial:
            g_stx = g_trial
        t = min(max(t, stpmin), stpmax)
        if brackt and (t <= stmin or t >= stmax or stmax - stmin <= xtol * stmax):
            # dcsrch would evaluate stx again only to exit with a warning: return it as is
            return LineSearchResult(stx, fx, g_stx, nfev, False)
        if t >= cap:
            t = stx + 0.1 * (cap - stx)
    return LineSearchResult(t, f, g, nfev, False)
