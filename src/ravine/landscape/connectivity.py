"""Mode connectivity: the loss along the straight line and along a trained quadratic Bezier curve
between two solutions, and the loss barrier of a path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call

from .evaluate import LossFn, ModelEvaluator, _grid
from .surface import PathCurve, linear_interpolation

__all__ = [
    "BezierCurve",
    "LossBarrier",
    "curve_path",
    "linear_path",
    "loss_barrier",
    "train_bezier",
]

Point = Tensor | nn.Module | Mapping[str, Tensor]

linear_path = linear_interpolation
"""The loss along the straight line ``(1 - t) w1 + t w2`` (see :func:`linear_interpolation`)."""


class BezierCurve(nn.Module):
    """A quadratic Bezier curve between two fixed end points with one trainable bend.

    Args:
        start, end: the end points ``w1``, ``w2`` (flat vectors; kept as buffers).
        bend: the initial control point ``theta`` (default: the midpoint ``(w1 + w2) / 2``,
            so the untrained curve is the straight line).

    Math:
        ``phi(t) = (1 - t)^2 w1 + 2 t (1 - t) theta + t^2 w2``, ``t`` in ``[0, 1]``.

    References:
        Garipov, Izmailov, Podoprikhin, Vetrov & Wilson, "Loss Surfaces, Mode Connectivity, and
        Fast Ensembling of DNNs", NeurIPS 2018.

    Example:
        >>> c = BezierCurve(torch.zeros(2), torch.ones(2), bend=torch.tensor([1.0, 0.0]))
        >>> c(0.5).tolist()  # 0.25 * w1 + 0.5 * theta + 0.25 * w2
        [0.75, 0.25]
    """

    def __init__(self, start: Tensor, end: Tensor, bend: Tensor | None = None) -> None:
        super().__init__()
        if not isinstance(start, Tensor) or start.ndim != 1:
            raise ValueError("start must be a flat vector")
        if not isinstance(end, Tensor) or end.shape != start.shape:
            raise ValueError(f"end must be a flat vector of length {start.numel()}")
        self.register_buffer("start", start.detach().clone())
        self.register_buffer("end", end.detach().clone())
        init = (self.start + self.end) / 2 if bend is None else bend.detach().clone()
        if init.shape != start.shape:
            raise ValueError(f"bend must be a flat vector of length {start.numel()}")
        self.bend = nn.Parameter(init.to(self.start.dtype))

    def forward(self, t: float | Tensor) -> Tensor:
        """The point ``phi(t)``."""
        return (1 - t) ** 2 * self.start + 2 * t * (1 - t) * self.bend + t**2 * self.end


@dataclass
class LossBarrier:
    """The largest excess of a path's loss over the straight line between its end values.

    Attributes:
        height: ``max_t [f(t) - ((1 - t) f(0) + t f(1))]`` over the sampled ``t``.
        t: where the maximum is reached.
    """

    height: float
    t: float


def loss_barrier(path: PathCurve, *, metric: str = "loss") -> LossBarrier:
    """The barrier of a path: its worst excess over the interpolation of the end values.

    Args:
        path: a :class:`PathCurve` sampled on ``ts`` from ``0`` to ``1`` (first and last ``t``
            must be exactly ``0`` and ``1``).
        metric: ``"loss"``, or ``"error"`` (``1 - accuracy``; needs ``accuracy=True``).

    Returns:
        :class:`LossBarrier`.

    Math:
        ``B = max_t f(t) - ((1 - t) f(0) + t f(1))``; zero or below for a path that is never
        above the chord between its ends.

    References:
        Frankle, Dziugaite, Roy & Carbin, "Linear Mode Connectivity and the Lottery Ticket
        Hypothesis", ICML 2020; Draxler et al., "Essentially No Barriers in Neural Network
        Energy Landscape", ICML 2018.

    Example:
        >>> p = PathCurve(torch.tensor([0.0, 0.5, 1.0]), torch.tensor([1.0, 3.0, 2.0]))
        >>> b = loss_barrier(p)
        >>> b.height, b.t
        (1.5, 0.5)
    """
    if metric not in ("loss", "error"):
        raise ValueError(f"metric must be 'loss' or 'error', got {metric!r}")
    ts = path.ts.to(torch.float64)
    if metric == "error":
        if path.accuracy is None:
            raise ValueError("metric='error' needs a path computed with accuracy=True")
        values = 1.0 - path.accuracy.to(torch.float64)
    else:
        values = path.loss.to(torch.float64)
    if ts.numel() < 2 or float(ts[0]) != 0.0 or float(ts[-1]) != 1.0:
        raise ValueError("path.ts must run from exactly 0 to exactly 1")
    excess = values - ((1 - ts) * values[0] + ts * values[-1])
    k = int(excess.argmax())
    return LossBarrier(float(excess[k]), float(ts[k]))


def curve_path(
    model: nn.Module,
    loss_fn: LossFn,
    data: Any,
    curve: Callable[[float], Tensor],
    ts: Sequence[float] | Tensor,
    *,
    accuracy: bool = False,
    dtype: torch.dtype | None = None,
    chunk_size: int | None = None,
) -> PathCurve:
    """The loss (and accuracy) along a curve ``t -> phi(t)`` in parameter space.

    Args:
        model: a module of the architecture (it is not modified).
        loss_fn: ``loss_fn(outputs, targets) -> scalar`` (mean reduction).
        data: one batch or an iterable of batches.
        curve: a callable ``t -> flat vector`` (a :class:`BezierCurve`).
        ts: the path parameters.
        accuracy: also return the accuracy.
        dtype: optional evaluation dtype.
        chunk_size: points per ``torch.func.vmap`` call (``None``: one at a time).

    Returns:
        :class:`PathCurve` with ``loss[k] = L(phi(ts[k]))``.

    Example:
        >>> lin = nn.Linear(1, 1, bias=False)
        >>> x, y = torch.ones(1, 1), torch.zeros(1, 1)
        >>> c = BezierCurve(torch.tensor([-1.0]), torch.tensor([1.0]))
        >>> curve_path(lin, nn.MSELoss(), (x, y), c, [0.0, 0.5, 1.0]).loss.tolist()
        [1.0, 0.0, 1.0]
    """
    ev = ModelEvaluator(model, loss_fn, data, accuracy=accuracy, dtype=dtype)
    grid = _grid(ts, "ts")
    with torch.no_grad():
        points = [ev.point(curve(t).detach()) for t in grid.tolist()]
    loss, acc = ev.evaluate([lambda p=p: p for p in points], chunk_size)
    return PathCurve(grid, loss, acc)


def train_bezier(
    model: nn.Module,
    loss_fn: LossFn,
    data: Any,
    start: Point,
    end: Point,
    *,
    steps: int,
    optimizer: Callable[[list[Tensor]], torch.optim.Optimizer] | None = None,
    bend: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> BezierCurve:
    """Train the bend of a quadratic Bezier curve so that the whole curve has low loss.

    Each step samples ``t ~ U(0, 1)``, takes the next batch (cycling through ``data``) and
    makes one optimizer step on ``theta`` to lower ``L(phi(t))``; the end points stay fixed.

    Args:
        model: a module of the architecture of both end points (it is not modified; it is
            evaluated in its current train/eval mode on copies of its buffers).
        loss_fn: ``loss_fn(outputs, targets) -> scalar``.
        data: one batch or an iterable of batches (read once; the steps cycle through the
            stored batches in order).
        start, end: the end points (flat vectors, modules or state dicts).
        steps: number of optimizer steps (``>= 1``).
        optimizer: ``params -> optimizer`` (any ravine or torch optimizer), default
            ``ravine.optim.Adam(params, lr=1e-2)``.
        bend: initial control point (default: the midpoint).
        generator: ``torch.Generator`` for the samples of ``t``.

    Returns:
        The trained :class:`BezierCurve`.

    Math:
        minimize ``E_{t ~ U(0,1)} L(phi_theta(t))`` over ``theta`` by stochastic gradients
        ``d/dtheta L(phi(t)) = 2 t (1 - t) grad L(phi(t))``.

    References:
        Garipov et al., "Loss Surfaces, Mode Connectivity, and Fast Ensembling of DNNs",
        NeurIPS 2018.
    """
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    ev = ModelEvaluator(model, loss_fn, data)
    curve = BezierCurve(ev.point(start), ev.point(end), bend)
    if optimizer is None:
        from ..optim import Adam

        opt = Adam([curve.bend], lr=1e-2)
    else:
        opt = optimizer([curve.bend])
    names = ev.flat
    buffers = {n: b.detach().clone() for n, b in model.named_buffers()}
    frozen = {n: p.detach() for n, p in model.named_parameters() if not p.requires_grad}
    k = 0
    for _ in range(steps):
        x, y = ev.batches[k % len(ev.batches)]
        k += 1
        t = float(torch.rand((), generator=generator, dtype=torch.float64))
        opt.zero_grad()
        params = names.unflatten(curve(t))
        out = functional_call(model, {**buffers, **frozen, **params}, (x,))
        loss_fn(out, y).backward()
        opt.step()
    return curve
