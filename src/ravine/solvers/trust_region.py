"""Trust-region Newton-CG: the Steihaug-Toint truncated CG subproblem solver and the outer loop."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from .descent import StopRules, finish
from .objective import Objective
from .result import OptimizeResult

__all__ = ["steihaug_cg", "trust_ncg"]


def _boundary_steps(z: Tensor, d: Tensor, radius: float) -> tuple[float, float]:
    """The roots ``ta <= 0 <= tb`` of ``|z + t d| = radius`` (``|z| <= radius``), computed
    without cancellation (Golub & Van Loan, section 2.7)."""
    a, b, c = float(d.dot(d)), 2.0 * float(z.dot(d)), float(z.dot(z)) - radius * radius
    root = math.sqrt(max(b * b - 4.0 * a * c, 0.0))
    q = -0.5 * (b + math.copysign(root, b))
    if q == 0.0:  # z = 0 and radius = 0
        return 0.0, 0.0
    t1, t2 = q / a, c / q
    return min(t1, t2), max(t1, t2)


def steihaug_cg(
    hessp: Callable[[Tensor], Tensor], g: Tensor, radius: float, tol: float, maxiter: int
) -> tuple[Tensor, bool]:
    """Approximately minimize ``m(p) = g.p + p.Hp / 2`` subject to ``|p| <= radius``.

    Args:
        hessp: ``p -> H p``.
        g: the gradient.
        radius: the trust-region radius.
        tol: stop when the residual ``|H z + g| <= tol``.
        maxiter: the most CG iterations.

    Returns:
        ``(p, on_boundary)``.

    Math: linear CG on ``H p = -g`` from ``p = 0``. When an iterate leaves the region, follow
    the current CG direction ``d`` forward to the boundary; at a direction of nonpositive
    curvature, move along ``+-d`` to whichever of the two boundary points has the lower model
    value (N&W Algorithm 7.2: ``tau`` minimizing ``m`` on ``|z + tau d| = radius``).

    References:
        Steihaug, "The conjugate gradient method and trust regions in large scale
        optimization", 1983; Nocedal & Wright, Numerical Optimization, 2006, Algorithm 7.2.

    Example:
        >>> import torch
        >>> H = torch.diag(torch.tensor([1.0, 4.0], dtype=torch.float64))
        >>> p, hit = steihaug_cg(lambda v: H @ v, torch.tensor([1.0, 4.0], dtype=torch.float64),
        ...                      radius=10.0, tol=1e-12, maxiter=10)
        >>> [round(v, 9) for v in p.tolist()], hit  # the Newton step, inside the region
        ([-1.0, -1.0], False)
    """
    z = torch.zeros_like(g)
    r = g.clone()
    d = -r
    rr = float(r.dot(r))
    if math.sqrt(rr) <= tol:
        return z, False
    for _ in range(maxiter):
        hd = hessp(d)
        dhd = float(d.dot(hd))
        if dhd <= 0.0:
            # m(z + t d) - m(z) = t r.d + t^2 d.Hd / 2: the boundary point of lower model value
            ta, tb = _boundary_steps(z, d, radius)
            rd = float(r.dot(d))
            t = ta if ta * rd + 0.5 * ta * ta * dhd < tb * rd + 0.5 * tb * tb * dhd else tb
            return z + t * d, True
        alpha = rr / dhd
        z_next = z + alpha * d
        if float(torch.linalg.vector_norm(z_next)) >= radius:
            return z + _boundary_steps(z, d, radius)[1] * d, True
        z = z_next
        r = r + alpha * hd
        rr_next = float(r.dot(r))
        if math.sqrt(rr_next) <= tol:
            return z, False
        d = -r + (rr_next / rr) * d
        rr = rr_next
    return z, False


def trust_ncg(
    obj: Objective,
    x: Tensor,
    stop: StopRules,
    initial_trust_radius: float = 1.0,
    max_trust_radius: float = 1000.0,
    eta: float = 0.15,
    callback: Callable[[Tensor], Any] | None = None,
) -> OptimizeResult:
    """Trust-region Newton-CG: steps from :func:`steihaug_cg`, radius by the ratio of reductions.

    Math: ``rho = (f(x) - f(x + p)) / (m(0) - m(p))``; ``rho < 1/4``: radius /= 4;
    ``rho > 3/4`` on the boundary: radius = min(2 radius, max_trust_radius); accept when
    ``rho > eta``. The inner tolerance is ``min(0.5, sqrt|g|) |g|`` (2-norms). With
    ``stop.norm = 2`` (the default of ``minimize``) it stops as scipy's trust-ncg, on
    ``|g|_2 <= gtol``, and follows its iterates.

    References:
        Nocedal & Wright, Numerical Optimization, 2006, Algorithms 4.1 and 7.2.
    """
    if not 0 < initial_trust_radius <= max_trust_radius:
        raise ValueError(
            "options must satisfy 0 < initial_trust_radius <= max_trust_radius, got "
            f"{initial_trust_radius} and {max_trust_radius}"
        )
    if not 0 <= eta < 0.25:
        raise ValueError(f"options['eta'] must be in [0, 0.25), got {eta}")
    shape = obj.shape
    f_t, g = obj.value_and_grad(x)
    f = float(f_t)
    if not math.isfinite(f) or not bool(torch.isfinite(g).all()):
        raise ValueError(f"fun or its gradient is not finite at x0 (f(x0) = {f})")
    radius = float(initial_trust_radius)
    nit = 0
    reason = "gtol" if stop.small_gradient(g) else ""
    while not reason:
        reason = stop.limit(nit, obj.nfev)
        if reason:
            break
        hessp = obj.hessp_at(x)
        gnorm = float(torch.linalg.vector_norm(g))
        p, on_boundary = steihaug_cg(hessp, g, radius, min(0.5, math.sqrt(gnorm)) * gnorm,
                                     maxiter=10 * x.numel() + 10)
        predicted = -(float(g.dot(p)) + 0.5 * float(p.dot(hessp(p))))
        f_trial_t, g_trial = obj.value_and_grad(x + p)
        f_trial = float(f_trial_t)
        actual = f - f_trial if math.isfinite(f_trial) else -math.inf
        rho = actual / predicted if predicted > 0 else -math.inf
        if rho < 0.25:
            radius *= 0.25
        elif rho > 0.75 and on_boundary:
            radius = min(2.0 * radius, max_trust_radius)
        nit += 1
        if rho > eta:
            x, f_prev, f, g = x + p, f, f_trial, g_trial
            if callback is not None:
                try:
                    callback(x.view(shape))
                except StopIteration:
                    reason = "callback"
                    break
            reason = stop.converged(g, f_prev, f, p, x)
        elif radius < 1e-15 * (1.0 + float(x.abs().max())):
            reason = "radius"
    return finish(obj, x, f, g, nit, reason, shape)
