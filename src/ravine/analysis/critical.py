"""Classify critical points (minimum, maximum, saddle, degenerate) and step away from saddles."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .flat import Objective, as_objective
from .lanczos import extreme_eigenpairs

__all__ = ["CriticalPoint", "SaddleEscape", "classify_critical_point", "escape_saddle"]


@dataclass
class CriticalPoint:
    """What kind of point ``x`` is, with the evidence and the tolerances used.

    Attributes:
        kind: ``"minimum"``, ``"maximum"``, ``"saddle"``, ``"degenerate"`` or ``"not critical"``.
        index: number of negative eigenvalues (Morse index) found; with Lanczos (``exact=False``)
            only the ``k`` smallest are examined, so it is a lower bound when all of them are
            negative.
        eigenvalues: the Hessian eigenvalues examined, ascending (all of them when ``exact``).
        grad_norm: ``||∇f(x)||``.
        grad_tol: the point is critical when ``grad_norm <= grad_tol``.
        eig_tol: an eigenvalue counts as zero when ``|lambda| <= eig_tol``
            (``eig_rtol * max(1, max |lambda|)``).
        exact: True when the dense Hessian's full spectrum was used, False for Lanczos.
    """

    kind: str
    index: int
    eigenvalues: Tensor
    grad_norm: float
    grad_tol: float
    eig_tol: float
    exact: bool


def _spectrum(obj: Objective, dense_max: int, k: int, method: str) -> tuple[Tensor, bool]:
    if obj.n <= dense_max:
        H = obj.hessian(obj.x0)
        return torch.linalg.eigvalsh(0.5 * (H + H.T)), True
    k = min(k, obj.n)
    lo = extreme_eigenpairs(obj, k, "smallest", method=method)
    hi = extreme_eigenpairs(obj, k, "largest", method=method)
    return torch.cat([lo.eigenvalues, hi.eigenvalues]).unique().sort().values, False


def _eig_rtol(eig_rtol: float | None, obj: Objective) -> float:
    if eig_rtol is None:
        return 1e-8 if obj.x0.dtype == torch.float64 else 1e-4
    if not eig_rtol >= 0:
        raise ValueError(f"eig_rtol must be >= 0, got {eig_rtol}")
    return float(eig_rtol)


def _classify(eigs: Tensor, eig_tol: float) -> tuple[str, int]:
    neg = int((eigs < -eig_tol).sum())
    pos = int((eigs > eig_tol).sum())
    zero = eigs.numel() - neg - pos
    if neg and pos:
        return "saddle", neg
    if zero:
        return "degenerate", neg
    return ("minimum", 0) if pos else ("maximum", neg)


def classify_critical_point(
    f: Callable[[Tensor], Tensor] | nn.Module,
    x: Tensor | None = None,
    *,
    loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
    data: Any = None,
    grad_tol: float = 1e-6,
    eig_rtol: float | None = None,
    dense_max: int = 2000,
    k: int = 10,
    method: str = "double_backward",
    dtype: torch.dtype | None = None,
) -> CriticalPoint:
    """Say whether ``x`` is a minimum, a maximum, a saddle (and its index), or degenerate.

    Args:
        f, x, loss_fn, data, method, dtype: as in :func:`ravine.analysis.hvp` (for the lab:
            ``classify_critical_point(f, x)`` with ``x`` a 1-D tensor).
        grad_tol: ``x`` is "not critical" when ``||∇f(x)|| > grad_tol``.
        eig_rtol: eigenvalues with ``|lambda| <= eig_rtol * max(1, max |lambda|)`` count as zero
            (default 1e-8 in float64, 1e-4 in lower precision).
        dense_max: up to this many variables the dense Hessian is diagonalized (exact); above
            it, Lanczos finds the ``k`` smallest and ``k`` largest eigenvalues.
        k: eigenvalues at each end examined by Lanczos.

    Returns:
        A :class:`CriticalPoint`.

    Math:
        Second-order test at a point with ``∇f = 0``: all eigenvalues of ``H`` positive → strict
        local minimum; all negative → strict local maximum; both signs → saddle, whose index is
        the number of negative eigenvalues. If some eigenvalue is zero and the others do not
        have both signs the test is inconclusive ("degenerate": the answer depends on higher
        derivatives, e.g. ``x^4`` (minimum), ``x^3`` and the monkey saddle ``x^3 - 3xy^2``
        (saddles), all with ``H = 0``).

    References:
        Nocedal & Wright, Numerical Optimization, 2nd ed. (2006), Thm. 2.3-2.4;
        Dauphin et al., "Identifying and attacking the saddle point problem in high-dimensional
        non-convex optimization", NeurIPS 2014.

    Example:
        >>> r = classify_critical_point(lambda x: x[0] ** 2 - x[1] ** 2, torch.zeros(2))
        >>> r.kind, r.index
        ('saddle', 1)
    """
    if not grad_tol >= 0:
        raise ValueError(f"grad_tol must be >= 0, got {grad_tol}")
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    obj = as_objective(f, x, loss_fn=loss_fn, data=data, dtype=dtype)
    eig_rtol = _eig_rtol(eig_rtol, obj)
    grad_norm = float(obj.grad(obj.x0).norm())
    eigs, exact = _spectrum(obj, dense_max, k, method)
    eig_tol = eig_rtol * max(1.0, float(eigs.abs().max()))
    if grad_norm > grad_tol:
        kind, index = "not critical", int((eigs < -eig_tol).sum())
    else:
        kind, index = _classify(eigs, eig_tol)
    return CriticalPoint(kind, index, eigs, grad_norm, grad_tol, eig_tol, exact)


@dataclass
class SaddleEscape:
    """The result of :func:`escape_saddle`.

    Attributes:
        x: the new point (same shape as the input ``x``; a flat vector for a module).
        loss_before, loss_after: ``f`` at the old and the new point.
        direction: the unit direction taken (flat).
        step: the step length (``x_new = x + step * direction``).
        curvature: ``d^T H d`` along the direction (the most negative eigenvalue when one exists).
        how: ``"negative curvature"`` (eigenvector of the most negative eigenvalue),
            ``"third order"`` (degenerate point: along a null direction of ``H`` where the third
            derivative is nonzero), ``"search"`` (degenerate point: best of the candidate
            directions by function value), or ``"none"`` (no decreasing direction found).
        success: whether ``loss_after < loss_before``.
    """

    x: Tensor
    loss_before: float
    loss_after: float
    direction: Tensor
    step: float
    curvature: float
    how: str
    success: bool


def _third_derivative(obj: Objective, x0: Tensor, d: Tensor) -> float:
    # D^3 f(x)[d, d, d] = d/dt (d^T H(x + t d) d) at t = 0, by a third reverse pass
    t = x0.detach().requires_grad_(True)
    total = 0.0
    for w, fn in obj.pieces:
        with torch.enable_grad():
            (g,) = torch.autograd.grad(fn(t), t, create_graph=True)
            (hv,) = torch.autograd.grad(g @ d, t, create_graph=True)
            if not hv.requires_grad:
                continue
            (h3,) = torch.autograd.grad(hv @ d, t, allow_unused=True)
        if h3 is not None:
            total += w * float(h3 @ d)
    return total


def _backtrack(obj: Objective, x0: Tensor, d: Tensor, f0: float, max_step: float, shrink: int):
    step = max_step
    for _ in range(shrink):
        with torch.no_grad():
            value = float(obj.value(x0 + step * d))
        if value < f0:
            return step, value
        step *= 0.5
    return 0.0, f0


def escape_saddle(
    f: Callable[[Tensor], Tensor] | nn.Module,
    x: Tensor | None = None,
    *,
    loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
    data: Any = None,
    max_step: float = 1.0,
    max_halvings: int = 40,
    eig_rtol: float | None = None,
    num_random: int = 16,
    dense_max: int = 2000,
    method: str = "double_backward",
    dtype: torch.dtype | None = None,
    seed: int = 0,
) -> SaddleEscape:
    """Step from a saddle (or degenerate critical point) to a point of lower loss.

    Args:
        f, x, loss_fn, data, method, dtype: as in :func:`ravine.analysis.hvp`.
        max_step: the line search starts at this step length and halves it.
        max_halvings: at most this many halvings before giving up on a direction.
        eig_rtol: relative threshold below which an eigenvalue counts as zero (default as in
            :func:`classify_critical_point`).
        num_random: random unit directions inside the null space of ``H`` added to the
            candidates at a degenerate point.
        dense_max: up to this many variables the dense Hessian is used; above it Lanczos finds
            the most negative eigenpair, and the degenerate case (which needs the null space)
            is not handled (``how="none"``).
        seed: seed of those random directions.

    Returns:
        A :class:`SaddleEscape`; ``success`` is False (and ``x`` unchanged) when no tried
        direction decreases ``f``, e.g. at a true local minimum.

    Math:
        With a most negative eigenpair ``(lambda, u)``, ``lambda < 0``: ``d = ±u`` with the sign
        making ``∇f·d <= 0``, so ``f(x + t d) = f(x) + t ∇f·d + t^2 lambda / 2 + O(t^3)``
        decreases for small ``t``; ``t`` is the first of ``max_step * 2^-i`` that lowers ``f``.
        When ``H`` has no negative eigenvalue (a degenerate point, e.g. the monkey saddle
        ``x^3 - 3xy^2`` at 0 where ``H = 0``), the second-order test cannot see the descent:
        for null-space directions ``d`` the cubic term ``t^3 D^3f[d,d,d] / 6`` dominates, so the
        step goes along ``-sign(D^3f[d,d,d]) d`` for the candidate with the largest
        ``|D^3f[d,d,d]|`` ("third order"); if every third derivative vanishes (quartic and
        higher), the candidate with the lowest ``f(x ± max_step d)`` is line-searched
        ("search"). Candidates: the null-space eigenvectors and ``num_random`` random unit
        vectors in the null space.

    References:
        Nocedal & Wright, Numerical Optimization (2006), sec. 4.3 (directions of negative
        curvature); Dauphin et al., NeurIPS 2014; Anandkumar & Ge, "Efficient approaches for
        escaping higher order saddle points in non-convex optimization", COLT 2016.

    Example:
        >>> res = escape_saddle(lambda x: x[0] ** 2 - x[1] ** 2, torch.zeros(2))
        >>> res.how, res.loss_after < res.loss_before
        ('negative curvature', True)
    """
    if not max_step > 0:
        raise ValueError(f"max_step must be > 0, got {max_step}")
    if not isinstance(max_halvings, int) or max_halvings < 1:
        raise ValueError(f"max_halvings must be an integer >= 1, got {max_halvings!r}")
    obj = as_objective(f, x, loss_fn=loss_fn, data=data, dtype=dtype)
    eig_rtol = _eig_rtol(eig_rtol, obj)
    x0 = obj.x0
    with torch.no_grad():
        f0 = float(obj.value(x0))
    g = obj.grad(x0)
    if obj.n <= dense_max:
        H = obj.hessian(x0)
        lam, U = torch.linalg.eigh(0.5 * (H + H.T))
    else:
        low = extreme_eigenpairs(obj, 1, "smallest", method=method, seed=seed)
        high = extreme_eigenpairs(obj, 1, "largest", method=method, seed=seed)
        lam, U = low.eigenvalues, low.eigenvectors
        lam = torch.cat([lam, high.eigenvalues])
    eig_tol = eig_rtol * max(1.0, float(lam.abs().max()))

    def done(d: Tensor, how: str, step: float, value: float) -> SaddleEscape:
        new = x0 + step * d
        shaped = new.view(obj.shape) if obj.shape is not None else new
        curvature = float(d @ obj.hvp(x0, d, method))
        return SaddleEscape(shaped, f0, value, d, step, curvature, how, value < f0)

    if lam[0] < -eig_tol:
        d = U[:, 0] if float(g @ U[:, 0]) <= 0 else -U[:, 0]
        step, value = _backtrack(obj, x0, d, f0, max_step, max_halvings)
        if value < f0:
            return done(d, "negative curvature", step, value)
    null = U[:, lam[: U.shape[1]].abs() <= eig_tol] if obj.n <= dense_max else U[:, :0]
    if null.shape[1] == 0:
        return done(-g / g.norm().clamp_min(1e-300), "none", 0.0, f0)
    gen = torch.Generator(device=x0.device).manual_seed(seed)
    mix = torch.randn(null.shape[1], num_random, dtype=x0.dtype, device=x0.device, generator=gen)
    candidates = torch.cat([null, null @ (mix / mix.norm(dim=0))], dim=1)
    thirds = torch.tensor([_third_derivative(obj, x0, c) for c in candidates.T],
                          dtype=torch.float64)
    best = int(thirds.abs().argmax())
    if thirds[best].abs() > eig_tol:
        d = -torch.sign(thirds[best]).item() * candidates[:, best]
        step, value = _backtrack(obj, x0, d, f0, max_step, max_halvings)
        if value < f0:
            return done(d, "third order", step, value)
    signed = torch.cat([candidates, -candidates], dim=1)
    with torch.no_grad():
        values = torch.tensor([float(obj.value(x0 + max_step * c)) for c in signed.T],
                              dtype=torch.float64)
    for i in values.argsort().tolist():
        step, value = _backtrack(obj, x0, signed[:, i], f0, max_step, max_halvings)
        if value < f0:
            return done(signed[:, i], "search", step, value)
    return done(signed[:, 0], "none", 0.0, f0)
