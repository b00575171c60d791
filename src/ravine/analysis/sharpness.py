"""Sharpness of a minimum: top Hessian eigenvalue, Hessian trace, and epsilon-sharpness."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .flat import Objective, as_objective
from .lanczos import extreme_eigenpairs
from .spectrum import TraceEstimate, hutchinson

__all__ = ["Sharpness", "EpsilonSharpness", "sharpness", "epsilon_sharpness"]


@dataclass
class EpsilonSharpness:
    """The largest loss increase found inside the box around ``x`` (Keskar et al. 2017).

    Attributes:
        value: Keskar's sharpness, ``100 * max_increase / (1 + f(x))``.
        max_increase: ``max f(x + y) - f(x)`` found over the box.
        epsilon: the box's relative size.
        perturbation: the maximizing ``y`` (flat).
        steps: ascent steps taken (over all restarts).
    """

    value: float
    max_increase: float
    epsilon: float
    perturbation: Tensor
    steps: int


def _epsilon_sharpness(
    obj: Objective, epsilon: float, steps: int, restarts: int, seed: int
) -> EpsilonSharpness:
    x0 = obj.x0
    with torch.no_grad():
        f0 = float(obj.value(x0))
    half_width = epsilon * (x0.abs() + 1)
    gen = torch.Generator(device=x0.device).manual_seed(seed)
    best_y, best = torch.zeros_like(x0), f0
    stride = 2.5 / steps
    for _ in range(restarts):
        y = (torch.rand(obj.n, dtype=x0.dtype, device=x0.device, generator=gen) * 2 - 1)
        y = y * half_width
        for _ in range(steps + 1):
            t = (x0 + y).detach().requires_grad_(True)
            with torch.enable_grad():
                value = obj.value(t)
                (g,) = torch.autograd.grad(value, t)
            if float(value.detach()) > best:
                best, best_y = float(value.detach()), y.clone()
            y = torch.clamp(y + stride * half_width * g.sign(), -half_width, half_width)
    increase = best - f0
    return EpsilonSharpness(100 * increase / (1 + f0), increase, epsilon, best_y, steps * restarts)


def epsilon_sharpness(
    f: Callable[[Tensor], Tensor] | nn.Module,
    x: Tensor | None = None,
    *,
    loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
    data: Any = None,
    epsilon: float = 1e-3,
    steps: int = 20,
    restarts: int = 3,
    dtype: torch.dtype | None = None,
    seed: int = 0,
) -> EpsilonSharpness:
    """Keskar's epsilon-sharpness: the largest relative loss increase within an epsilon box.

    Args:
        f, x, loss_fn, data, dtype: as in :func:`ravine.analysis.hvp`.
        epsilon: relative box size (> 0); Keskar et al. use 1e-3 and 5e-4.
        steps: projected ascent steps per start (>= 1).
        restarts: random starting points inside the box (>= 1); the best value over all
            iterates of all starts is reported.
        seed: seed of the random starts.

    Returns:
        An :class:`EpsilonSharpness`.

    Math:
        ``C_eps = {y : |y_i| <= eps (|x_i| + 1)}`` and
        ``phi(x, eps) = 100 * (max_{y in C_eps} f(x + y) - f(x)) / (1 + f(x))``.
        The maximum is searched by projected steepest ascent in the box's own (l-infinity)
        geometry, from a random point of the box:
        ``y <- clip(y + (2.5 / steps) * w * sign(∇f(x + y)), -w, w)`` with half-widths
        ``w_i = eps (|x_i| + 1)``; the best iterate is kept. The result is a lower bound of the
        true maximum: for a convex ``f`` the ascent ends at a vertex of the box where the gradient
        points outwards in every coordinate (a KKT point of the maximization), which need not
        be the global maximum (maximizing a convex quadratic over a box is NP-hard), hence the
        restarts.

    References:
        Keskar, Mudigere, Nocedal, Smelyanskiy & Tang, "On large-batch training for deep
        learning: generalization gap and sharp minima", ICLR 2017; Madry et al., "Towards deep
        learning models resistant to adversarial attacks", ICLR 2018 (projected sign ascent).

    Example:
        >>> res = epsilon_sharpness(lambda x: (x * x).sum(), torch.zeros(3, dtype=torch.float64),
        ...                         epsilon=0.1)
        >>> round(res.max_increase, 6)  # the corners of the box: 3 * 0.1^2
        0.03
    """
    if not epsilon > 0:
        raise ValueError(f"epsilon must be > 0, got {epsilon}")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    if not isinstance(restarts, int) or restarts < 1:
        raise ValueError(f"restarts must be an integer >= 1, got {restarts!r}")
    obj = as_objective(f, x, loss_fn=loss_fn, data=data, dtype=dtype)
    return _epsilon_sharpness(obj, epsilon, steps, restarts, seed)


@dataclass
class Sharpness:
    """Three measures of how sharp the loss is at ``x``.

    Attributes:
        loss: ``f(x)``.
        max_eigenvalue: the largest Hessian eigenvalue (Lanczos).
        trace: Hutchinson's estimate of ``tr(H)`` with its confidence interval.
        epsilon: Keskar's epsilon-sharpness (:class:`EpsilonSharpness`).
    """

    loss: float
    max_eigenvalue: float
    trace: TraceEstimate
    epsilon: EpsilonSharpness


def sharpness(
    f: Callable[[Tensor], Tensor] | nn.Module,
    x: Tensor | None = None,
    *,
    loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
    data: Any = None,
    epsilon: float = 1e-3,
    ascent_steps: int = 20,
    ascent_restarts: int = 3,
    trace_samples: int = 50,
    eig_tol: float = 1e-6,
    method: str = "double_backward",
    dtype: torch.dtype | None = None,
    seed: int = 0,
) -> Sharpness:
    """Largest Hessian eigenvalue, Hessian trace and epsilon-sharpness of ``f`` at ``x``.

    Args:
        f, x, loss_fn, data, method, dtype: as in :func:`ravine.analysis.hvp`.
        epsilon, ascent_steps, ascent_restarts: passed to :func:`epsilon_sharpness` (as
            ``epsilon``, ``steps``, ``restarts``).
        trace_samples: Hutchinson probes for the trace (>= 2).
        eig_tol: relative residual tolerance of the Lanczos run for the top eigenvalue.
        seed: seed of all random draws.

    Returns:
        A :class:`Sharpness`.

    Math:
        ``lambda_max(H)`` by Lanczos, ``tr(H) ≈ mean v^T H v`` (Rademacher ``v``), and
        ``phi(x, eps)`` as in :func:`epsilon_sharpness`.

    References:
        Keskar et al., ICLR 2017; Ghorbani et al., ICML 2019; Yao et al., PyHessian 2020.

    Example:
        >>> d = torch.tensor([4.0, 1.0], dtype=torch.float64)
        >>> s = sharpness(lambda x: 0.5 * (d * x * x).sum(), torch.zeros(2, dtype=d.dtype))
        >>> round(s.max_eigenvalue, 6), round(s.trace.estimate, 6)
        (4.0, 5.0)
    """
    if not isinstance(trace_samples, int) or trace_samples < 2:
        raise ValueError(f"trace_samples must be an integer >= 2, got {trace_samples!r}")
    if not epsilon > 0:
        raise ValueError(f"epsilon must be > 0, got {epsilon}")
    if not isinstance(ascent_steps, int) or ascent_steps < 1:
        raise ValueError(f"ascent_steps must be an integer >= 1, got {ascent_steps!r}")
    obj = as_objective(f, x, loss_fn=loss_fn, data=data, dtype=dtype)
    with torch.no_grad():
        loss = float(obj.value(obj.x0))
    top = extreme_eigenpairs(obj, 1, "largest", tol=eig_tol, method=method, seed=seed)
    gen = torch.Generator(device=obj.x0.device).manual_seed(seed)
    trace = hutchinson(lambda v: obj.hvp(obj.x0, v, method), obj.n, trace_samples,
                       like=obj.x0, generator=gen)
    if not isinstance(ascent_restarts, int) or ascent_restarts < 1:
        raise ValueError(f"ascent_restarts must be an integer >= 1, got {ascent_restarts!r}")
    eps = _epsilon_sharpness(obj, epsilon, ascent_steps, ascent_restarts, seed)
    return Sharpness(loss, float(top.eigenvalues[0]), trace, eps)
