"""Loss surfaces: the loss (and accuracy) of a model along one or two directions, and along the
straight line between two solutions.

Every evaluation goes through :class:`~ravine.analysis.FlatParams` and
``torch.func.functional_call`` under ``torch.no_grad``: the module, its parameters, buffers and
train/eval mode are left exactly as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call

from ..analysis.flat import FlatParams

__all__ = [
    "PathCurve",
    "Surface1D",
    "Surface2D",
    "linear_interpolation",
    "surface_1d",
    "surface_2d",
]

LossFn = Callable[[Tensor, Tensor], Tensor]


def _is_batch(data: Any) -> bool:
    return isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(data[0], Tensor)


def _cast(t: Tensor, dtype: torch.dtype | None) -> Tensor:
    return t.to(dtype) if dtype is not None and t.is_floating_point() else t


class ModelEvaluator:
    """Evaluate ``loss_fn(model(inputs), targets)`` (and accuracy) at any flat parameter vector.

    The batches of ``data`` are read once and kept. The value is the batch-size-weighted mean of
    the per-batch losses (exact for a mean-reduced ``loss_fn``). The model runs in eval mode
    (``train=False``, the default, as in Li et al.'s code) or train mode, on copies of its
    buffers, so BatchNorm running statistics are never updated.

    Args:
        model: the module.
        loss_fn: ``loss_fn(outputs, targets) -> scalar`` with mean reduction.
        data: one batch ``(inputs, targets)`` or an iterable of batches (a ``DataLoader``).
        accuracy: also compute the fraction of ``outputs.argmax(1) == targets``.
        dtype: optional dtype (e.g. ``torch.float64``) for parameters, buffers and inputs.
        train: evaluate the model in train mode (dropout active, batch statistics).
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: LossFn,
        data: Any,
        *,
        accuracy: bool = False,
        dtype: torch.dtype | None = None,
        train: bool = False,
    ) -> None:
        if not callable(loss_fn):
            raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
        self.flat = FlatParams(model)
        self.model = model
        self.loss_fn = loss_fn
        self.accuracy = bool(accuracy)
        self.dtype = dtype
        self.train = bool(train)
        if _is_batch(data):
            batches = [data]
        elif isinstance(data, Iterable) and not isinstance(data, Tensor):
            batches = list(data)
            for b in batches:
                if not _is_batch(b):
                    raise TypeError("each batch in data must be a pair (inputs, targets)")
        else:
            raise TypeError("data must be a batch (inputs, targets) or an iterable of batches")
        if not batches:
            raise ValueError("data is an empty loader")
        self.batches = [(_cast(x, dtype), y) for x, y in batches]
        sizes = [len(x) for x, _ in self.batches]
        self.weights = [s / float(sum(sizes)) for s in sizes]
        self.center = self.flat.flatten(dtype)

    def point(self, where: Tensor | nn.Module | Mapping[str, Tensor]) -> Tensor:
        """A flat vector from a flat vector, a module of the same architecture, or a state dict."""
        if isinstance(where, Tensor):
            if where.shape != (self.flat.numel,):
                raise ValueError(f"a point must be a flat vector of length {self.flat.numel}")
            return _cast(where.detach(), self.dtype)
        if isinstance(where, nn.Module):
            where = dict(where.named_parameters())
        if isinstance(where, Mapping):
            missing = [n for n in self.flat.names if n not in where]
            if missing:
                raise ValueError(f"the point lacks parameters {missing}")
            vec = torch.cat([where[n].detach().reshape(-1) for n in self.flat.names])
            return _cast(vec, self.dtype) if self.dtype else vec.to(self.center.dtype)
        raise TypeError(f"a point must be a Tensor, nn.Module or state dict, got {type(where)}")

    @torch.no_grad()
    def __call__(self, theta: Tensor) -> tuple[float, float | None]:
        """``(loss, accuracy)`` at ``theta`` (accuracy is ``None`` unless asked for)."""
        was_training = self.model.training
        self.model.train(self.train)
        try:
            tensors = {n: _cast(b.clone(), self.dtype) for n, b in self.model.named_buffers()}
            for n, p in self.model.named_parameters():
                if not p.requires_grad:
                    tensors[n] = _cast(p.detach(), self.dtype)
            tensors.update(self.flat.unflatten(theta))
            loss, correct = 0.0, 0.0
            for w, (x, y) in zip(self.weights, self.batches, strict=True):
                out = functional_call(self.model, tensors, (x,))
                loss += w * float(self.loss_fn(out, y))
                if self.accuracy:
                    correct += w * float((out.argmax(dim=1) == y).double().mean())
        finally:
            self.model.train(was_training)
        return loss, (correct if self.accuracy else None)


def _grid(values: Sequence[float] | Tensor, name: str) -> Tensor:
    grid = torch.as_tensor(values, dtype=torch.float64).reshape(-1)
    if grid.numel() == 0 or not torch.isfinite(grid).all():
        raise ValueError(f"{name} must be a non-empty sequence of finite numbers")
    return grid


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
    values = [ev(base + float(a) * d) for a in grid]
    loss = torch.tensor([v[0] for v in values], dtype=torch.float64)
    acc = torch.tensor([v[1] for v in values], dtype=torch.float64) if accuracy else None
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
    loss = torch.empty(len(ga), len(gb), dtype=torch.float64)
    acc = torch.empty_like(loss) if accuracy else None
    for i, a in enumerate(ga.tolist()):
        for j, b in enumerate(gb.tolist()):
            value, correct = ev(base + a * u + b * v)
            loss[i, j] = value
            if acc is not None:
                acc[i, j] = correct
    return Surface2D(ga, gb, loss, acc)


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
    values = [ev((1.0 - t) * w1 + t * w2) for t in grid.tolist()]
    loss = torch.tensor([v[0] for v in values], dtype=torch.float64)
    acc = torch.tensor([v[1] for v in values], dtype=torch.float64) if accuracy else None
    return PathCurve(grid, loss, acc)
