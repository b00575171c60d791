"""Lanczos iteration with full reorthogonalization, and the extreme Hessian eigenpairs from it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .flat import Objective, as_objective

__all__ = ["LanczosResult", "EigenResult", "lanczos", "hessian_eigenvalues", "extreme_eigenpairs"]


@dataclass
class LanczosResult:
    """The tridiagonal matrix ``T = Q^T A Q`` built by :func:`lanczos`.

    Attributes:
        alphas: diagonal of ``T`` (length ``m``).
        betas: off-diagonal of ``T`` (length ``m - 1``; a zero marks a restart after breakdown).
        basis: the orthonormal Lanczos vectors as columns (``n x m``).
        num_products: matrix-vector products used (``m``).
        beta_next: norm of the residual after the last step (``A Q = Q T + beta_next q e_m^T``);
            zero when ``m = n``.
    """

    alphas: Tensor
    betas: Tensor
    basis: Tensor
    num_products: int
    beta_next: float

    def tridiagonal(self) -> Tensor:
        """The dense ``m x m`` matrix ``T``."""
        return torch.diag(self.alphas) + torch.diag(self.betas, 1) + torch.diag(self.betas, -1)


def lanczos(
    matvec: Callable[[Tensor], Tensor],
    v0: Tensor,
    max_steps: int,
    *,
    stop: Callable[[Tensor, Tensor, float], bool] | None = None,
    generator: torch.Generator | None = None,
) -> LanczosResult:
    """Lanczos tridiagonalization of a symmetric operator, with full reorthogonalization.

    Args:
        matvec: ``v -> A v`` for a symmetric ``A`` (``n x n``), on flat vectors.
        v0: the starting vector (any nonzero vector; it is normalized).
        max_steps: at most this many steps (products); at most ``n``.
        stop: optional ``stop(alphas, betas, beta_next) -> bool`` called after every step; the
            iteration ends when it returns True.
        generator: random source for the restart vector after a breakdown.

    Returns:
        A :class:`LanczosResult`.

    Math:
        ``w = A q_j - beta_{j-1} q_{j-1}``, ``alpha_j = q_j·w``, ``w -= alpha_j q_j``, then ``w`` is
        orthogonalized twice against all previous ``q`` (classical Gram-Schmidt, twice is
        enough), ``beta_j = ||w||``, ``q_{j+1} = w / beta_j``. The Ritz values (eigenvalues of
        ``T``) converge first to the extreme eigenvalues of ``A``. When ``beta_j`` vanishes an
        invariant subspace has been found; the iteration restarts with a random vector
        orthogonal to all ``q`` (``beta_j = 0`` in ``T``), so multiple eigenvalues are found
        with their multiplicity.

    References:
        Lanczos, J. Res. Nat. Bur. Standards 1950; Golub & Van Loan, Matrix Computations, 4th ed.,
        sec. 10.1 (2013); Parlett, The Symmetric Eigenvalue Problem (1998).
    """
    if max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    n = v0.numel()
    max_steps = min(max_steps, n)
    norm0 = v0.norm()
    if not torch.isfinite(norm0) or norm0 == 0:
        raise ValueError("v0 must be a nonzero finite vector")
    Q = torch.zeros(n, max_steps, dtype=v0.dtype, device=v0.device)
    Q[:, 0] = v0.reshape(-1) / norm0
    alphas: list[float] = []
    betas: list[float] = []
    scale = 0.0
    steps = 0
    beta = 0.0
    for j in range(max_steps):
        q = Q[:, j]
        w = matvec(q)
        if not bool(torch.isfinite(w).all()):
            raise ValueError(f"the operator's product at Lanczos step {j + 1} is not finite "
                             "(a Hessian at a point where the function is not finite?)")
        steps += 1
        alpha = torch.dot(q, w)
        w = w - alpha * q - (betas[-1] * Q[:, j - 1] if j > 0 else 0.0)
        basis = Q[:, : j + 1]
        for _ in range(2):
            w = w - basis @ (basis.T @ w)
        beta = float(w.norm())
        alphas.append(float(alpha))
        scale = max(scale, abs(float(alpha)), beta)
        if j == max_steps - 1:
            break
        breakdown = beta <= 1e-10 * max(scale, 1e-300)
        # at a breakdown every Ritz pair has zero residual, but multiple eigenvalues and parts
        # of the spectrum orthogonal to v0 are still unseen: restart instead of stopping
        if not breakdown and stop is not None and stop(_t(alphas, q), _t(betas, q), beta):
            break
        if breakdown:
            w = torch.randn(n, dtype=v0.dtype, device=v0.device, generator=generator)
            for _ in range(2):
                w = w - basis @ (basis.T @ w)
            Q[:, j + 1] = w / w.norm()
            betas.append(0.0)
        else:
            Q[:, j + 1] = w / beta
            betas.append(beta)
    beta_next = 0.0 if steps >= n else beta
    return LanczosResult(_t(alphas, v0), _t(betas, v0), Q[:, :steps], steps, beta_next)


def _t(values: list[float], like: Tensor) -> Tensor:
    return torch.tensor(values, dtype=like.dtype, device=like.device)


def _tridiagonal(alphas: Tensor, betas: Tensor) -> Tensor:
    return torch.diag(alphas) + torch.diag(betas, 1) + torch.diag(betas, -1)


@dataclass
class EigenResult:
    """Extreme eigenpairs of a Hessian found by Lanczos.

    Attributes:
        eigenvalues: the ``k`` eigenvalues, sorted in the order asked for (largest first for
            ``which="largest"``, most negative first for ``which="smallest"``).
        eigenvectors: unit eigenvectors as the columns of an ``n x k`` matrix over the flat
            vector (reshape a column with ``x.shape`` for a function of a shaped ``x``).
        residuals: ``||H u - λ u||`` bounds ``|beta_m s_m|`` of each pair (0 when exact).
        num_products: Hessian-vector products used.
        converged: whether every residual met the tolerance.
    """

    eigenvalues: Tensor
    eigenvectors: Tensor
    residuals: Tensor
    num_products: int
    converged: bool


def _ritz(alphas: Tensor, betas: Tensor, beta_next: float, k: int, which: str):
    theta, S = torch.linalg.eigh(_tridiagonal(alphas, betas))
    m = len(theta)
    idx = torch.arange(m - 1, m - 1 - k, -1) if which == "largest" else torch.arange(k)
    idx = idx[(idx >= 0) & (idx < len(theta))]
    return theta, S, idx, (beta_next * S[-1, idx]).abs()


def hessian_eigenvalues(
    f: Callable[[Tensor], Tensor] | nn.Module,
    x: Tensor | None = None,
    k: int = 1,
    which: str = "largest",
    *,
    loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
    data: Any = None,
    tol: float = 1e-10,
    max_steps: int | None = None,
    method: str = "double_backward",
    dtype: torch.dtype | None = None,
    seed: int = 0,
) -> EigenResult:
    """The ``k`` largest or ``k`` smallest (most negative) Hessian eigenpairs, by Lanczos.

    Args:
        f, x, loss_fn, data, method, dtype: as in :func:`ravine.analysis.hvp`.
        k: number of eigenpairs (``1 <= k <= n``).
        which: ``"largest"`` (algebraically largest) or ``"smallest"`` (algebraically smallest,
            i.e. most negative).
        tol: stop when every wanted Ritz pair has residual ``|beta_m s_{m,i}|`` at most
            ``tol * max|Ritz value|`` (the eigenvalue error is at most the residual).
        max_steps: at most this many Hessian-vector products (default ``min(n, 300 + 2k)``).
        seed: seed of the random starting vector.

    Returns:
        An :class:`EigenResult`.

    Math:
        Lanczos on ``v -> H v`` with full reorthogonalization (:func:`lanczos`); the Ritz pairs
        ``(theta_i, Q s_i)`` of ``T_m = Q^T H Q`` approximate the extreme eigenpairs.

    References:
        Lanczos 1950; Golub & Van Loan, Matrix Computations (2013), ch. 10;
        Ghorbani, Krishnan & Xiao, "An investigation into neural net optimization via Hessian
        eigenvalue density", ICML 2019.

    Example:
        >>> d = torch.tensor([3.0, -1.0, 0.5], dtype=torch.float64)
        >>> f = lambda x: 0.5 * (d * x * x).sum()
        >>> res = hessian_eigenvalues(f, torch.zeros(3, dtype=d.dtype), k=2)
        >>> [round(v, 6) for v in res.eigenvalues.tolist()]
        [3.0, 0.5]
    """
    obj = as_objective(f, x, loss_fn=loss_fn, data=data, dtype=dtype)
    return extreme_eigenpairs(obj, k, which, tol=tol, max_steps=max_steps, method=method, seed=seed)


def extreme_eigenpairs(
    obj: Objective,
    k: int,
    which: str,
    *,
    tol: float = 1e-10,
    max_steps: int | None = None,
    method: str = "double_backward",
    seed: int = 0,
) -> EigenResult:
    """:func:`hessian_eigenvalues` on an already-built :class:`~ravine.analysis.flat.Objective`."""
    if which not in ("largest", "smallest"):
        raise ValueError(f"which must be 'largest' or 'smallest', got {which!r}")
    if not isinstance(k, int) or not 1 <= k <= obj.n:
        raise ValueError(f"k must be an integer in [1, {obj.n}], got {k!r}")
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    if not bool(torch.isfinite(obj.x0).all()):
        raise ValueError("the point x must be finite (it holds inf or nan)")
    steps = max_steps if max_steps is not None else min(obj.n, 300 + 2 * k)
    if steps < k:
        raise ValueError(f"max_steps must be >= k = {k}, got {steps}")

    def stop(alphas: Tensor, betas: Tensor, beta_next: float) -> bool:
        if len(alphas) < k:
            return False
        theta, _, _, res = _ritz(alphas, betas, beta_next, k, which)
        return bool((res <= tol * theta.abs().max().clamp_min(1e-300)).all())

    gen = torch.Generator(device=obj.x0.device).manual_seed(seed)
    v0 = torch.randn(obj.n, dtype=obj.x0.dtype, device=obj.x0.device, generator=gen)
    result = lanczos(lambda v: obj.hvp(obj.x0, v, method), v0, steps, stop=stop, generator=gen)
    theta, S, idx, res = _ritz(result.alphas, result.betas, result.beta_next, k, which)
    ok = bool((res <= tol * theta.abs().max().clamp_min(1e-300)).all()) and len(idx) == k
    return EigenResult(theta[idx], result.basis @ S[:, idx], res, result.num_products, ok)
