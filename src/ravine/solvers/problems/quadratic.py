"""A convex quadratic with a chosen condition number: the ravine in its purest form."""

from __future__ import annotations

import torch

from .base import TestProblem

__all__ = ["make_quadratic"]


def make_quadratic(n: int, condition: float, seed: int = 0,
                   dtype: torch.dtype = torch.float64) -> tuple[TestProblem, torch.Tensor]:
    """``f(x) = (x - 1)^T A (x - 1) / 2`` with ``A = Q diag(lambda) Q^T``, ``lambda`` log-spaced in
    ``[1, condition]`` and ``Q`` a random orthogonal matrix; ``f* = 0`` at ``x = 1``.

    Args:
        n: dimension (>= 1).
        condition: the condition number ``lambda_max / lambda_min`` (>= 1).
        seed: seed of the rotation ``Q``.
        dtype: dtype of ``A``.

    Returns:
        ``(problem, A)``; the start is the origin.

    Example:
        >>> p, A = make_quadratic(3, 100.0)
        >>> round(float(torch.linalg.cond(A)), 6)
        100.0
    """
    if not (isinstance(n, int) and n >= 1):
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if not condition >= 1.0:
        raise ValueError(f"condition must be >= 1, got {condition}")
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=dtype))
    eig = torch.logspace(0, torch.log10(torch.tensor(float(condition))).item(), n, dtype=dtype)
    a = (q * eig) @ q.T
    a = (a + a.T) / 2

    def objective(x: torch.Tensor) -> torch.Tensor:
        e = x - 1
        return 0.5 * e @ (a.to(x.dtype) @ e)

    problem = TestProblem(f"quadratic_{n}_cond{condition:g}", n, 0, (0.0,) * n, None, (0.0,),
                          source="closed form", objective=objective)
    return problem, a
