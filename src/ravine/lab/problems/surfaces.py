"""2-D test surfaces for watching optimizer trajectories over a contour plot.

Each surface is a function ``f(x, y)`` of two tensors, a start point, a plotting window and a
loss target. The task's parameter is the point ``(x, y)`` as one float64 tensor of shape (2,).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from .base import Problem, Target, Task

__all__ = ["SURFACES", "Surface", "SurfaceTask", "surface_problems"]


def ravine(x: Tensor, y: Tensor) -> Tensor:
    """Ill-conditioned quadratic ``(x^2 + 50 y^2) / 2`` rotated by 30 degrees (condition 50).

    Example:
        >>> import torch
        >>> float(ravine(torch.tensor(0.0), torch.tensor(0.0)))
        0.0
    """
    c, s = 0.8660254037844387, 0.5
    u, v = c * x + s * y, -s * x + c * y
    return 0.5 * (u**2 + 50.0 * v**2)


def rosenbrock(x: Tensor, y: Tensor) -> Tensor:
    """Rosenbrock's valley ``(1 - x)^2 + 100 (y - x^2)^2``, minimum 0 at (1, 1) (1960)."""
    return (1 - x) ** 2 + 100.0 * (y - x**2) ** 2


def beale(x: Tensor, y: Tensor) -> Tensor:
    """Beale's function; minimum 0 at (3, 0.5)."""
    return (
        (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2
    )


def saddle(x: Tensor, y: Tensor) -> Tensor:
    """The saddle ``x^2 - y^2``: critical point at the origin, unbounded below along y."""
    return x**2 - y**2


def himmelblau(x: Tensor, y: Tensor) -> Tensor:
    """Himmelblau's function ``(x^2 + y - 11)^2 + (x + y^2 - 7)^2``: four minima of value 0.

    Example:
        >>> import torch
        >>> float(himmelblau(torch.tensor(3.0), torch.tensor(2.0)))
        0.0
    """
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


@dataclass(frozen=True)
class Surface:
    """A 2-D surface: function, start point, plot window ``(xmin, xmax, ymin, ymax)``, target."""

    name: str
    fn: Callable[[Tensor, Tensor], Tensor]
    start: tuple[float, float]
    window: tuple[float, float, float, float]
    target: float
    steps: int
    lr_range: tuple[float, float]
    description: str


class SurfaceTask(Task):
    """Minimize a 2-D surface from its start point, jittered by ``0.01 * N(0, 1)`` for seed > 0."""

    def __init__(self, surface: Surface, seed: int) -> None:
        self.surface = surface
        start = torch.tensor(surface.start, dtype=torch.float64)
        if seed:
            g = torch.Generator().manual_seed(seed)
            start = start + 0.01 * torch.randn(2, generator=g, dtype=torch.float64)
        self.xy = start.clone().requires_grad_(True)
        self.params = [self.xy]

    def loss(self) -> Tensor:
        return self.surface.fn(self.xy[0], self.xy[1])

    def point(self) -> tuple[float, float]:
        x, y = self.xy.detach().tolist()
        return x, y


SURFACES: dict[str, Surface] = {
    s.name: s
    for s in [
        Surface("ravine", ravine, (-4.0, 2.5), (-5.0, 5.0, -3.5, 3.5), 1e-3, 200, (1e-3, 1.0),
                "ill-conditioned quadratic (condition number 50), rotated"),
        Surface("rosenbrock", rosenbrock, (-1.2, 1.0), (-2.0, 2.0, -1.0, 3.0), 1e-3, 400,
                (1e-4, 1.0), "Rosenbrock's curved valley, minimum at (1, 1)"),
        Surface("beale", beale, (1.0, 1.5), (-1.0, 4.5, -1.5, 2.5), 1e-3, 300, (1e-4, 1.0),
                "Beale's function, flat plateaus and a narrow valley to (3, 0.5)"),
        Surface("saddle", saddle, (1.0, 1e-3), (-1.5, 1.5, -1.5, 1.5), -1.0, 100, (1e-3, 1.0),
                "the saddle x^2 - y^2 (escape it: loss <= -1)"),
        Surface("himmelblau", himmelblau, (-0.3, -0.8), (-5.0, 5.0, -5.0, 5.0), 1e-3, 200,
                (1e-4, 0.1), "Himmelblau's function, four minima"),
    ]
}


def _build(surface: Surface) -> Callable[..., Task]:
    def build(seed: int) -> Task:
        return SurfaceTask(surface, seed)

    return build


def surface_problems() -> list[Problem]:
    """One :class:`Problem` per built-in 2-D surface."""
    return [
        Problem(name=s.name, kind="surface", description=s.description, steps=s.steps,
                target=Target("loss", s.target), build_fn=_build(s), lr_range=s.lr_range,
                log_every=1)
        for s in SURFACES.values()
    ]
