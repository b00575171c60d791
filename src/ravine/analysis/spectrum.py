"""Hessian trace (Hutchinson) and spectral density (stochastic Lanczos quadrature)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import torch
from torch import Tensor, nn

from .flat import Objective, as_objective
from .lanczos import lanczos

__all__ = ["TraceEstimate", "SpectralDensity", "hessian_trace", "hessian_density", "hutchinson"]


@dataclass
class TraceEstimate:
    """A Hutchinson estimate of ``tr(H)`` with its confidence interval.

    Attributes:
        estimate: the sample mean of ``v^T H v``.
        stderr: its standard error (sample standard deviation / sqrt(num_samples)).
        ci_low, ci_high: the ``confidence`` interval ``estimate ± z * stderr`` (normal
            approximation, valid by the central limit theorem for many samples).
        confidence: the level of the interval.
        num_samples: number of Hessian-vector products used.
        samples: the individual ``v^T H v``.
        per_layer: name -> :class:`TraceEstimate` of each diagonal block, when asked for.
    """

    estimate: float
    stderr: float
    ci_low: float
    ci_high: float
    confidence: float
    num_samples: int
    samples: Tensor
    per_layer: dict[str, TraceEstimate] | None = None

    def __repr__(self) -> str:
        return (
            f"TraceEstimate({self.estimate:.6g} ± {self.stderr:.2g}, "
            f"{100 * self.confidence:g}% CI [{self.ci_low:.6g}, {self.ci_high:.6g}], "
            f"n={self.num_samples})"
        )


def _rademacher(n: int, generator: torch.Generator | None, like: Tensor) -> Tensor:
    signs = torch.randint(0, 2, (n,), generator=generator, device=like.device)
    return signs.to(like.dtype) * 2 - 1


def hutchinson(
    matvec: Callable[[Tensor], Tensor],
    n: int,
    num_samples: int,
    *,
    like: Tensor,
    confidence: float = 0.95,
    generator: torch.Generator | None = None,
    mask: Tensor | None = None,
) -> TraceEstimate:
    """Hutchinson's estimator of ``tr(A)`` from ``num_samples`` Rademacher probes.

    Args:
        matvec: ``v -> A v`` on vectors of length ``n``.
        like: a tensor whose dtype and device the probes take.
        mask: optional 0/1 vector; probes are restricted to it (the trace of that diagonal block).

    Math:
        ``tr(A) = E[v^T A v]`` for ``v`` with independent ±1 entries; the estimator's variance per
        sample is ``2 sum_{i != j} A_ij^2``.

    References:
        Hutchinson, "A stochastic estimator of the trace of the influence matrix for Laplacian
        smoothing splines", 1990; Avron & Toledo, J. ACM 2011.
    """
    values = []
    for _ in range(num_samples):
        v = _rademacher(n, generator, like)
        if mask is not None:
            v = v * mask
        values.append(torch.dot(v, matvec(v)))
    samples = torch.stack(values)
    mean = float(samples.mean())
    std = float(samples.std()) if num_samples > 1 else math.inf
    stderr = std / math.sqrt(num_samples)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    return TraceEstimate(mean, stderr, mean - z * stderr, mean + z * stderr, confidence,
                         num_samples, samples)


def hessian_trace(
    f: Callable[[Tensor], Tensor] | nn.Module,
    x: Tensor | None = None,
    *,
    loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
    data: Any = None,
    num_samples: int = 100,
    confidence: float = 0.95,
    per_layer: bool = False,
    method: str = "double_backward",
    dtype: torch.dtype | None = None,
    seed: int = 0,
) -> TraceEstimate:
    """Estimate ``tr(H)`` by Hutchinson's method, with a confidence interval.

    Args:
        f, x, loss_fn, data, method, dtype: as in :func:`ravine.analysis.hvp`.
        num_samples: Rademacher probes (Hessian-vector products), at least 2.
        confidence: level of the reported interval, in (0, 1).
        per_layer: also estimate the trace of each parameter tensor's diagonal block (the
            blocks' estimates use their own probes: ``num_samples`` more products each).
        seed: seed of the probes.

    Returns:
        A :class:`TraceEstimate`.

    Math:
        ``tr(H) ≈ (1/S) sum_s v_s^T H v_s``, ``v_s`` Rademacher.

    References:
        Hutchinson 1990; Yao et al., "PyHessian: neural networks through the lens of the
        Hessian", 2020.

    Example:
        >>> d = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
        >>> est = hessian_trace(lambda x: 0.5 * (d * x * x).sum(), torch.zeros(3, dtype=d.dtype))
        >>> round(est.estimate, 8), est.stderr  # a diagonal H: every probe gives the exact trace
        (6.0, 0.0)
    """
    if not isinstance(num_samples, int) or num_samples < 2:
        raise ValueError(f"num_samples must be an integer >= 2, got {num_samples!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    obj = as_objective(f, x, loss_fn=loss_fn, data=data, dtype=dtype)
    gen = torch.Generator(device=obj.x0.device).manual_seed(seed)
    x0 = obj.x0

    def matvec(v: Tensor) -> Tensor:
        return obj.hvp(x0, v, method)

    result = hutchinson(matvec, obj.n, num_samples, like=x0, confidence=confidence, generator=gen)
    if per_layer:
        result.per_layer = {}
        for name, block in obj.blocks.items():
            mask = torch.zeros_like(x0)
            mask[block] = 1
            result.per_layer[name] = hutchinson(matvec, obj.n, num_samples, like=x0,
                                                confidence=confidence, generator=gen, mask=mask)
    return result


@dataclass
class SpectralDensity:
    """An estimate of the Hessian's eigenvalue density (stochastic Lanczos quadrature).

    Attributes:
        grid: points ``t`` at which the smoothed density is given.
        density: the density ``phi(t)`` (integrates to 1 over the grid up to quadrature error).
        nodes: Gauss quadrature nodes (Ritz values), one row per probe (``num_probes x m``).
        weights: their weights (squared first components of the Ritz vectors), same shape; each
            row sums to 1. ``weights[mask].sum() / num_probes`` is the estimated fraction of
            eigenvalues at ``nodes[mask]``.
        sigma: width of the Gaussian smoothing kernel.
        num_products: Hessian-vector products used.
        per_layer: name -> :class:`SpectralDensity` of each diagonal block, when asked for.
    """

    grid: Tensor
    density: Tensor
    nodes: Tensor
    weights: Tensor
    sigma: float
    num_products: int
    per_layer: dict[str, SpectralDensity] | None = None

    def mass(self, low: float, high: float) -> float:
        """Estimated fraction of eigenvalues in ``[low, high)`` (quadrature, unsmoothed)."""
        inside = (self.nodes >= low) & (self.nodes < high)
        return float((self.weights * inside).sum() / self.nodes.shape[0])


def _slq(
    obj: Objective, num_probes: int, num_steps: int, gen: torch.Generator, method: str,
    block: slice | None,
) -> tuple[Tensor, Tensor, int]:
    x0 = obj.x0
    n = obj.n if block is None else block.stop - block.start
    full = torch.zeros_like(x0)

    def matvec(v: Tensor) -> Tensor:
        if block is None:
            return obj.hvp(x0, v, method)
        full.zero_()
        full[block] = v
        return obj.hvp(x0, full, method)[block]

    nodes, weights, products = [], [], 0
    for _ in range(num_probes):
        v = _rademacher(n, gen, x0)
        res = lanczos(matvec, v, num_steps, generator=gen)
        theta, S = torch.linalg.eigh(res.tridiagonal())
        nodes.append(theta)
        weights.append(S[0] ** 2)
        products += res.num_products
    m = min(len(t) for t in nodes)
    # every probe runs min(num_steps, n) steps, so the rows have equal length
    return torch.stack([t[:m] for t in nodes]), torch.stack([w[:m] for w in weights]), products


def _smooth(nodes: Tensor, weights: Tensor, sigma: float | None, grid_size: int):
    span = float(nodes.max() - nodes.min())
    if sigma is None:
        sigma = max(1e-2 * span, 1e-12 * max(1.0, float(nodes.abs().max())))
    grid = torch.linspace(float(nodes.min()) - 6 * sigma, float(nodes.max()) + 6 * sigma,
                          grid_size, dtype=nodes.dtype, device=nodes.device)
    diff = grid[:, None] - nodes.reshape(-1)[None, :]
    kernel = torch.exp(-0.5 * (diff / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
    density = kernel @ weights.reshape(-1) / nodes.shape[0]
    return grid, density, sigma


def hessian_density(
    f: Callable[[Tensor], Tensor] | nn.Module,
    x: Tensor | None = None,
    *,
    loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
    data: Any = None,
    num_probes: int = 10,
    num_steps: int = 80,
    sigma: float | None = None,
    grid_size: int = 1000,
    per_layer: bool = False,
    method: str = "double_backward",
    dtype: torch.dtype | None = None,
    seed: int = 0,
) -> SpectralDensity:
    """Estimate the eigenvalue density of the Hessian by stochastic Lanczos quadrature.

    Args:
        f, x, loss_fn, data, method, dtype: as in :func:`ravine.analysis.hvp`.
        num_probes: random Rademacher starting vectors (the density averages over them).
        num_steps: Lanczos steps per probe (quadrature nodes; capped at the dimension).
        sigma: width of the Gaussian kernel (default: 1% of the spread of the nodes).
        grid_size: number of grid points of the smoothed density.
        per_layer: also compute the density of each parameter tensor's diagonal Hessian block.
        seed: seed of the probes.

    Returns:
        A :class:`SpectralDensity`.

    Math:
        For a unit probe ``v``, ``v^T g(H) v = sum_i (v·u_i)^2 g(lambda_i)``, a Riemann-Stieltjes
        integral that ``m`` Lanczos steps turn into the Gauss quadrature
        ``sum_j tau_j g(theta_j)`` with nodes ``theta_j`` (Ritz values) and weights ``tau_j``
        (squared first components of the eigenvectors of ``T_m``). Averaging over probes,
        ``phi(t) ≈ (1/P) sum_p sum_j tau_j^p N(t; theta_j^p, sigma^2)``.

    References:
        Ghorbani, Krishnan & Xiao, "An investigation into neural net optimization via Hessian
        eigenvalue density", ICML 2019; Lin, Saad & Yang, "Approximating spectral densities of
        large matrices", SIAM Review 2016; Golub & Meurant, Matrices, Moments and Quadrature
        (2010).

    Example:
        >>> d = torch.tensor([-1.0, 1.0, 2.0, 2.0], dtype=torch.float64)
        >>> dens = hessian_density(lambda x: 0.5 * (d * x * x).sum(), torch.zeros(4, dtype=d.dtype))
        >>> round(dens.mass(1.5, 2.5), 2)  # half of the eigenvalues are 2
        0.5
    """
    if not isinstance(num_probes, int) or num_probes < 1:
        raise ValueError(f"num_probes must be an integer >= 1, got {num_probes!r}")
    if not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"num_steps must be an integer >= 1, got {num_steps!r}")
    if sigma is not None and not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    if not isinstance(grid_size, int) or grid_size < 2:
        raise ValueError(f"grid_size must be an integer >= 2, got {grid_size!r}")
    obj = as_objective(f, x, loss_fn=loss_fn, data=data, dtype=dtype)
    gen = torch.Generator(device=obj.x0.device).manual_seed(seed)

    def one(block: slice | None) -> SpectralDensity:
        nodes, weights, products = _slq(obj, num_probes, num_steps, gen, method, block)
        grid, density, width = _smooth(nodes, weights, sigma, grid_size)
        return SpectralDensity(grid, density, nodes, weights, width, products)

    result = one(None)
    if per_layer:
        result.per_layer = {name: one(block) for name, block in obj.blocks.items()}
    return result
