"""Loss surfaces: the loss (and accuracy) of a model along one or two directions, and along the
straight line between two solutions.

Every evaluation goes through :class:`~ravine.analysis.FlatParams` and
``torch.func.functional_call`` under ``torch.no_grad``: the module, its parameters, buffers and
train/eval mode are left exactly as they were.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .evaluate import LossFn, ModelEvaluator, _cast, _grid

__all__ = [
    "PathCurve",
    "Surface1D",
    "Surface2D",
    "linear_interpolation",
    "surface_1d",
    "surface_2d",
]

def _direction(d: Tensor, n: int, name: str) -> Tensor:
    if not isinstance(d, Tensor) or d.shape != (n,):
        raise ValueError(f"{name} must be a flat vector of length {n}")
    return d.detach()


@dataclass
class Surface1D:
    """Loss (and accuracy) at ``center + alphas[i] * direction``."""

    alphas: Tensor
    loss: Tensor
    accuracy: Tensor | None = None


@dataclass
class Surface2D:
    """Loss (and accuracy) at ``center + alphas[i] * d1 + betas[j] * d2`` (index ``[i, j]``)."""

    alphas: Tensor
    betas: Tensor
    loss: Tensor
    accuracy: Tensor | None = None


@dataclass
class PathCurve:
    """Loss (and accuracy) along a path in parameter space, at the path parameters ``ts``."""

    ts: Tensor
    loss: Tensor
    accuracy: Tensor | None = None


def surface_1d(
    model: nn.Module,
    loss_fn: LossFn,
    data: Any,
    direction: Tensor,
    alphas: Sequence[float] | Tensor,
    *,
    center: Tensor | None = None,
    accuracy: bool = False,
    dtype: torch.dtype | None = None,
    chunk_size: int | None = None,
) -> Surface1D:
    """The loss of ``model`` along one direction: ``f(alpha) = L(theta* + alpha d)``.

    Args:
        model: the module; it is not modified.
        loss_fn: ``loss_fn(outputs, targets) -> scalar`` (mean reduction).
        data: one batch ``(inputs, targets)`` or an iterable of batches.
        direction: a flat direction (see :func:`random_direction`).
        alphas: the step sizes along ``direction``.
        center: the point ``theta*`` (default: the model's current parameters).
        accuracy: also return the accuracy at each point.
        dtype: optional evaluation dtype (``torch.float64`` for reference checks).
        chunk_size: evaluate this many points at once with ``torch.func.vmap`` (same
            values; faster when one evaluation is cheap, e.g. batches of ~100 images, slower
            for large batches: see ``benchmarks/landscape_surface.py``); ``None`` (default)
            evaluates one point at a time.

    Returns:
        :class:`Surface1D` with ``loss[i] = L(theta* + alphas[i] d)``.

    References:
        Goodfellow, Vinyals & Saxe, "Qualitatively Characterizing Neural Network Optimization
        Problems", ICLR 2015; Li et al., "Visualizing the Loss Landscape of Neural Nets", 2018.

    Example:
        >>> lin = nn.Linear(2, 1, bias=False)
        >>> with torch.no_grad(): _ = lin.weight.fill_(1.0)
        >>> x, y = torch.eye(2), torch.zeros(2, 1)
        >>> s = surface_1d(lin, nn.MSELoss(), (x, y), torch.ones(2), [-1.0, 0.0, 1.0])
        >>> s.loss.tolist()
        [0.0, 1.0, 4.0]
    """
    ev = ModelEvaluator(model, loss_fn, data, accuracy=accuracy, dtype=dtype)
    d = _cast(_direction(direction, ev.flat.numel, "direction"), dtype)
    base = ev.center if center is None else ev.point(center)
    grid = _grid(alphas, "alphas")
    points = [lambda a=a: base + a * d for a in grid.tolist()]
    loss, acc = ev.evaluate(points, chunk_size)
    return Surface1D(grid, loss, acc)


def surface_2d(
    model: nn.Module,
    loss_fn: LossFn,
    data: Any,
    d1: Tensor,
    d2: Tensor,
    alphas: Sequence[float] | Tensor,
    betas: Sequence[float] | Tensor,
    *,
    center: Tensor | None = None,
    accuracy: bool = False,
    dtype: torch.dtype | None = None,
    chunk_size: int | None = None,
) -> Surface2D:
    """The loss of ``model`` on a plane: ``f(alpha, beta) = L(theta* + alpha d1 + beta d2)``.

    Args:
        model: the module; it is not modified.
        loss_fn: ``loss_fn(outputs, targets) -> scalar`` (mean reduction).
        data: one batch ``(inputs, targets)`` or an iterable of batches.
        d1, d2: flat directions (random filter-normalized, or from :func:`pca_directions`).
        alphas, betas: grid coordinates along ``d1`` and ``d2``.
        center: the point ``theta*`` (default: the model's current parameters).
        accuracy: also return the accuracy on the grid.
        dtype: optional evaluation dtype.
        chunk_size: points per ``torch.func.vmap`` call (``None``: one at a time).

    Returns:
        :class:`Surface2D` with ``loss[i, j] = L(theta* + alphas[i] d1 + betas[j] d2)``.

    References:
        Li et al., "Visualizing the Loss Landscape of Neural Nets", NeurIPS 2018.

    Example:
        >>> lin = nn.Linear(2, 1, bias=False)
        >>> x, y = torch.eye(2), torch.zeros(2, 1)
        >>> s = surface_2d(lin, nn.MSELoss(), (x, y), torch.tensor([1.0, 0.0]),
        ...                torch.tensor([0.0, 1.0]), [0.0, 1.0], [0.0, 1.0],
        ...                center=torch.zeros(2))
        >>> s.loss.tolist()
        [[0.0, 0.5], [0.5, 1.0]]
    """
    ev = ModelEvaluator(model, loss_fn, data, accuracy=accuracy, dtype=dtype)
    u = _cast(_direction(d1, ev.flat.numel, "d1"), dtype)
    v = _cast(_direction(d2, ev.flat.numel, "d2"), dtype)
    base = ev.center if center is None else ev.point(center)
    ga, gb = _grid(alphas, "alphas"), _grid(betas, "betas")
    points = [lambda a=a, b=b: base + a * u + b * v for a in ga.tolist() for b in gb.tolist()]
    loss, acc = ev.evaluate(points, chunk_size)
    shape = (len(ga), len(gb))
    return Surface2D(ga, gb, loss.view(shape), acc.view(shape) if acc is not None else None)


def linear_interpolation(
    model: nn.Module,
    loss_fn: LossFn,
    data: Any,
    start: Tensor | nn.Module | Mapping[str, Tensor],
    end: Tensor | nn.Module | Mapping[str, Tensor],
    ts: Sequence[float] | Tensor,
    *,
    accuracy: bool = False,
    dtype: torch.dtype | None = None,
    chunk_size: int | None = None,
) -> PathCurve:
    """The loss along the straight line between two solutions: ``L((1 - t) w1 + t w2)``.

    Args:
        model: a module of the architecture of both solutions (it is not modified).
        loss_fn: ``loss_fn(outputs, targets) -> scalar`` (mean reduction).
        data: one batch ``(inputs, targets)`` or an iterable of batches.
        start, end: the solutions ``w1`` and ``w2`` (flat vectors, modules or state dicts).
        ts: path parameters (values outside ``[0, 1]`` extrapolate, as in Goodfellow et al.).
        accuracy: also return the accuracy along the path.
        dtype: optional evaluation dtype.
        chunk_size: points per ``torch.func.vmap`` call (``None``: one at a time).

    Returns:
        :class:`PathCurve` with ``loss[k] = L((1 - ts[k]) w1 + ts[k] w2)``.

    References:
        Goodfellow, Vinyals & Saxe, "Qualitatively Characterizing Neural Network Optimization
        Problems", ICLR 2015.

    Example:
        >>> lin = nn.Linear(1, 1, bias=False)
        >>> x, y = torch.ones(1, 1), torch.zeros(1, 1)
        >>> p = linear_interpolation(lin, nn.MSELoss(), (x, y), torch.tensor([-1.0]),
        ...                          torch.tensor([1.0]), [0.0, 0.5, 1.0])
        >>> p.loss.tolist()
        [1.0, 0.0, 1.0]
    """
    ev = ModelEvaluator(model, loss_fn, data, accuracy=accuracy, dtype=dtype)
    w1, w2 = ev.point(start), ev.point(end)
    grid = _grid(ts, "ts")
    points = [lambda t=t: (1.0 - t) * w1 + t * w2 for t in grid.tolist()]
    loss, acc = ev.evaluate(points, chunk_size)
    return PathCurve(grid, loss, acc)
