"""Direction rules for line-search methods: each proposes ``d`` at ``x`` and learns from ``(s, y)``.

A rule has ``direction(x, f, g) -> d``, ``update(s, y, g_new, g_old)``, ``reset()`` (back to
steepest descent; returns False if there was nothing to forget) and ``first_step(g, f, f_prev,
gtd)``, the line search's first trial step. The loop that uses them is
:func:`ravine.solvers.descent.line_search_descent`.
"""

from __future__ import annotations

import math
from collections import deque

import torch
from torch import Tensor

from .directions import CG_BETAS, bfgs_inverse_update, cg_beta, two_loop
from .objective import Objective

__all__ = [
    "BFGSRule",
    "LBFGSRule",
    "NewtonCGRule",
    "NewtonRule",
    "NonlinearCGRule",
    "SteepestDescentRule",
]


def _first_unit_step(g: Tensor) -> float:
    """``min(1, 1/|g|_2)``: a first step before any curvature is known."""
    norm = float(torch.linalg.vector_norm(g))
    return min(1.0, 1.0 / norm) if norm > 0 else 1.0


class SteepestDescentRule:
    """``d = -g``; the first trial step interpolates the last decrease (N&W eq. 3.60)."""


    def direction(self, x: Tensor, f: float, g: Tensor) -> Tensor:
        return g.neg()

    def update(self, s: Tensor, y: Tensor, g_new: Tensor, g_old: Tensor) -> None:
        pass

    def reset(self) -> bool:
        return False

    def first_step(self, g: Tensor, f: float, f_prev: float | None, gtd: float) -> float:
        if f_prev is None or not gtd < 0 or not f_prev > f:
            return _first_unit_step(g)
        return min(1.0, 1.01 * 2.0 * (f - f_prev) / gtd)


class BFGSRule:
    """``d = -H g`` with the dense BFGS inverse Hessian; ``H_0`` scaled by ``s.y / y.y`` after the
    first step (Nocedal & Wright eq. 6.20). Pairs with ``y.s <= 1e-10 |s| |y|`` are skipped."""


    def __init__(self, n: int, dtype: torch.dtype, device: torch.device) -> None:
        self.n, self.dtype, self.device = n, dtype, device
        self.h: Tensor | None = None

    def direction(self, x: Tensor, f: float, g: Tensor) -> Tensor:
        return g.neg() if self.h is None else -(self.h @ g)

    def update(self, s: Tensor, y: Tensor, g_new: Tensor, g_old: Tensor) -> None:
        ys = float(y.dot(s))
        if not ys > 1e-10 * float(torch.linalg.vector_norm(s) * torch.linalg.vector_norm(y)):
            return
        if self.h is None:
            eye = torch.eye(self.n, dtype=self.dtype, device=self.device)
            self.h = eye * (ys / float(y.dot(y)))
        self.h = bfgs_inverse_update(self.h, s, y)

    def reset(self) -> bool:
        had, self.h = self.h is not None, None
        return had

    def first_step(self, g: Tensor, f: float, f_prev: float | None, gtd: float) -> float:
        return _first_unit_step(g) if self.h is None else 1.0


class LBFGSRule:
    """``d = -H g`` by the two-loop recursion over the last ``m`` pairs, ``H_0 = (s.y / y.y) I``.

    As L-BFGS-B (unconstrained): a pair is skipped unless ``s.y > eps (-g_old.s)``; the first
    trial step is ``1 / |g|_2`` while the memory is empty, else 1.
    """

    def __init__(self, m: int) -> None:
        self.s: deque[Tensor] = deque(maxlen=m)
        self.y: deque[Tensor] = deque(maxlen=m)
        self.rho: deque[float] = deque(maxlen=m)
        self.gamma = 1.0

    def direction(self, x: Tensor, f: float, g: Tensor) -> Tensor:
        if not self.s:
            return g.neg()
        return two_loop(g, self.s, self.y, self.rho, self.gamma)

    def update(self, s: Tensor, y: Tensor, g_new: Tensor, g_old: Tensor) -> None:
        ys = float(y.dot(s))
        if not ys > 2.220446049250313e-16 * -float(g_old.dot(s)):
            return
        self.s.append(s)
        self.y.append(y)
        self.rho.append(1.0 / ys)
        self.gamma = ys / float(y.dot(y))

    def reset(self) -> bool:
        had = bool(self.s)
        self.s.clear()
        self.y.clear()
        self.rho.clear()
        self.gamma = 1.0
        return had

    def first_step(self, g: Tensor, f: float, f_prev: float | None, gtd: float) -> float:
        if self.s:
            return 1.0
        norm = float(torch.linalg.vector_norm(g))
        return 1.0 / norm if norm > 0 else 1.0


class NonlinearCGRule:
    """``d+ = -g+ + beta d`` (:func:`cg_beta`), restarted along ``-g`` every ``restart`` steps and
    when successive gradients are far from orthogonal, ``|g+.g| >= 0.2 |g+|^2`` (Powell, 1977)."""


    def __init__(self, beta: str, restart: int) -> None:
        if beta not in CG_BETAS:
            raise ValueError(f"options['beta'] must be one of {CG_BETAS}, got {beta!r}")
        if restart < 1:
            raise ValueError(f"options['restart'] must be >= 1, got {restart}")
        self.beta, self.restart = beta, restart
        self.d: Tensor | None = None
        self.since_restart = 0
        self.next_beta = 0.0

    def direction(self, x: Tensor, f: float, g: Tensor) -> Tensor:
        if self.d is None:
            self.d = g.neg()
        else:
            self.d = g.neg().add_(self.d, alpha=self.next_beta)
        return self.d

    def update(self, s: Tensor, y: Tensor, g_new: Tensor, g_old: Tensor) -> None:
        self.since_restart += 1
        gg = float(g_new.dot(g_new))
        if self.since_restart >= self.restart or abs(float(g_new.dot(g_old))) >= 0.2 * gg:
            self.reset()
            return
        self.next_beta = cg_beta(self.beta, g_new, g_old, self.d)

    def reset(self) -> bool:
        had = self.d is not None and self.since_restart > 0
        self.d, self.since_restart, self.next_beta = None, 0, 0.0
        return had

    def first_step(self, g: Tensor, f: float, f_prev: float | None, gtd: float) -> float:
        if f_prev is None or not f_prev > f:
            return _first_unit_step(g)
        return min(1.0, 1.01 * 2.0 * (f - f_prev) / gtd)


class NewtonRule:
    """``d = -(H + tau I)^{-1} g`` with the smallest ``tau`` in ``0, beta, 2 beta, ...`` that
    makes ``H + tau I`` positive definite (Nocedal & Wright Algorithm 3.3), so a saddle or a
    maximum is never the target. ``self.tau`` records the last shift."""


    def __init__(self, objective: Objective, beta: float = 1e-3) -> None:
        self.objective, self.beta, self.tau = objective, beta, 0.0

    def direction(self, x: Tensor, f: float, g: Tensor) -> Tensor:
        h = self.objective.hess(x)
        h = (h + h.T) / 2
        n = h.shape[0]
        eye = torch.eye(n, dtype=h.dtype, device=h.device)
        min_diag = float(h.diagonal().min())
        tau = 0.0 if min_diag > 0 else -min_diag + self.beta * max(1.0, float(h.abs().max()))
        for _ in range(200):
            factor, info = torch.linalg.cholesky_ex(h + tau * eye)
            if int(info) == 0:
                self.tau = tau
                return torch.cholesky_solve(-g.unsqueeze(1), factor).squeeze(1)
            tau = max(2.0 * tau, self.beta * max(1.0, float(h.abs().max())))
        raise RuntimeError("could not make the Hessian positive definite (non-finite entries?)")

    def update(self, s: Tensor, y: Tensor, g_new: Tensor, g_old: Tensor) -> None:
        pass

    def reset(self) -> bool:
        return False

    def first_step(self, g: Tensor, f: float, f_prev: float | None, gtd: float) -> float:
        return 1.0


class NewtonCGRule:
    """Line-search Newton-CG: the truncated CG solution of ``H d = -g`` from Hessian-vector
    products (Nocedal & Wright Algorithm 7.1), with a step along negative curvature.

    Inner CG from ``z = 0`` stops when ``|r|_2 <= eta_k |g|_2`` with the forcing term
    ``eta_k = min(0.5, sqrt(|g|_2))`` (superlinear convergence, N&W Theorem 7.2). At a direction
    ``p`` of curvature ``p.Hp <= 3 eps |p|^2``: if it is negative, take the CG step along ``p``
    with the curvature's absolute value, ``d = z + (r.r / |p.Hp|) p`` (on the first CG
    iteration this is scipy's scaled steepest descent ``-(g.g / |g.Hg|) g``; later it keeps the
    CG progress and moves along the negative curvature instead of stalling at a saddle); if it
    is (numerically) zero, return ``z`` (``-g`` on the first iteration). The line search always
    starts from the Newton step ``t = 1`` (N&W section 3.5).
    """

    def __init__(self, objective: Objective, max_cg: int) -> None:
        self.objective, self.max_cg = objective, max_cg

    def direction(self, x: Tensor, f: float, g: Tensor) -> Tensor:
        hessp = self.objective.hessp_at(x)
        gnorm = float(torch.linalg.vector_norm(g))
        tol = min(0.5, math.sqrt(gnorm)) * gnorm
        tiny = 3.0 * torch.finfo(g.dtype).eps
        z = torch.zeros_like(g)
        r, p = g.clone(), g.neg()
        rr = float(r.dot(r))
        for _ in range(self.max_cg):
            if math.sqrt(rr) <= tol:
                break
            hp = hessp(p)
            php = float(p.dot(hp))
            if php <= tiny * float(p.dot(p)):
                if php < 0.0:
                    z.add_(p, alpha=rr / -php)
                break
            alpha = rr / php
            z.add_(p, alpha=alpha)
            r.add_(hp, alpha=alpha)
            rr_new = float(r.dot(r))
            p.mul_(rr_new / rr).sub_(r)
            rr = rr_new
        return z if bool(z.any()) else g.neg()

    def update(self, s: Tensor, y: Tensor, g_new: Tensor, g_old: Tensor) -> None:
        pass

    def reset(self) -> bool:
        return False

    def first_step(self, g: Tensor, f: float, f_prev: float | None, gtd: float) -> float:
        return 1.0
