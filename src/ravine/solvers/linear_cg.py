"""Linear conjugate gradient for symmetric positive definite systems ``A x = b``."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

__all__ = ["CGSolveResult", "cg_solve"]


class CGSolveResult(NamedTuple):
    """``x`` the solution, ``nit`` iterations (matvecs), ``residual`` ``|b - A x|``,
    ``success`` whether ``residual <= max(rtol |b|, atol)``."""

    x: Tensor
    nit: int
    residual: float
    success: bool


def cg_solve(
    matvec: Callable[[Tensor], Tensor],
    b: Tensor,
    x0: Tensor | None = None,
    rtol: float = 1e-10,
    atol: float = 0.0,
    maxiter: int | None = None,
) -> CGSolveResult:
    """Solve ``A x = b`` for symmetric positive definite ``A`` given only ``v -> A v``.

    Args:
        matvec: ``matvec(v) -> A v`` for vectors shaped like ``b``.
        b: the right-hand side.
        x0: the starting point (zeros if None).
        rtol, atol: stop when ``|r| <= max(rtol |b|, atol)``.
        maxiter: the most iterations (default ``10 n``).

    Returns:
        a :class:`CGSolveResult`.

    Math: ``r = b - A x, p = r``; repeat ``alpha = r.r / p.Ap, x += alpha p, r -= alpha Ap,
    p = r + (r+.r+ / r.r) p``. In exact arithmetic it terminates in at most ``n`` steps (at most
    the number of distinct eigenvalues of ``A``).

    References:
        Hestenes & Stiefel, "Methods of conjugate gradients for solving linear systems", 1952;
        Nocedal & Wright, Numerical Optimization, 2006, Algorithm 5.2.

    Example:
        >>> import torch
        >>> A = torch.tensor([[4.0, 1.0], [1.0, 3.0]], dtype=torch.float64)
        >>> r = cg_solve(lambda v: A @ v, torch.tensor([1.0, 2.0], dtype=torch.float64))
        >>> r.nit, torch.allclose(A @ r.x, torch.tensor([1.0, 2.0], dtype=torch.float64))
        (2, True)
    """
    if not isinstance(b, Tensor) or not b.is_floating_point():
        raise TypeError("b must be a floating-point tensor")
    if rtol < 0 or atol < 0:
        raise ValueError(f"rtol and atol must be >= 0, got rtol={rtol}, atol={atol}")
    if maxiter is None:
        maxiter = 10 * b.numel()
    if maxiter < 0:
        raise ValueError(f"maxiter must be >= 0, got {maxiter}")
    x = torch.zeros_like(b) if x0 is None else x0.detach().clone()
    r = b - matvec(x) if x0 is not None else b.clone()
    target = max(rtol * float(torch.linalg.vector_norm(b)), atol)
    rr = float(r.flatten().dot(r.flatten()))
    p = r.clone()
    nit = 0
    while math.sqrt(rr) > target and nit < maxiter:
        ap = matvec(p)
        pap = float(p.flatten().dot(ap.flatten()))
        if not pap > 0.0:
            raise ValueError(f"matvec is not positive definite: p.Ap = {pap} at iteration {nit}")
        alpha = rr / pap
        x.add_(p, alpha=alpha)
        r.add_(ap, alpha=-alpha)
        rr_new = float(r.flatten().dot(r.flatten()))
        p.mul_(rr_new / rr).add_(r)
        rr = rr_new
        nit += 1
    residual = math.sqrt(rr)
    return CGSolveResult(x, nit, residual, residual <= target)
