"""TestProblem: a least-squares function ``f(x) = sum_i r_i(x)^2``, its start and minima."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

__all__ = ["TestProblem"]


@dataclass(frozen=True)
class TestProblem:
    """One unconstrained test problem.

    Attributes:
        name: short name, e.g. ``"rosenbrock"``.
        n: number of variables.
        m: number of residuals (``f = sum r_i^2``), or 0 if ``fun`` is not a sum of squares.
        start: the standard starting point (a tuple of floats).
        residuals: ``x -> r(x)`` (a 1-D tensor of ``m`` entries), or None.
        minima: published local-minimum values of ``f``; the first is the global one
            (``f*``). Each holds the digits the source publishes.
        rtol: the relative accuracy to which ``minima`` are published (e.g. 1e-5 for six
            significant digits).
        source: where the values come from.
        objective: ``x -> f(x)`` if the problem is not given by residuals.
    """

    name: str
    n: int
    m: int
    start: tuple[float, ...]
    residuals: Callable[[Tensor], Tensor] | None
    minima: tuple[float, ...]
    rtol: float = 1e-12
    source: str = "Moré, Garbow & Hillstrom, ACM TOMS 7(1), 1981, section 3"
    objective: Callable[[Tensor], Tensor] | None = field(default=None)

    def fun(self, x: Tensor) -> Tensor:
        """``f(x)``: the sum of squared residuals (or the problem's own objective)."""
        if self.objective is not None:
            return self.objective(x)
        r = self.residuals(x)
        return (r * r).sum()

    def x0(self, dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu") -> Tensor:
        """The standard start as a tensor."""
        return torch.tensor(self.start, dtype=dtype, device=device)

    def reached(self, f: float, atol: float = 1e-10) -> float | None:
        """The published minimum ``f`` matches (``|f - f*| <= rtol |f*| + atol``), else None."""
        for value in self.minima:
            if abs(f - value) <= self.rtol * abs(value) + atol:
                return value
        return None
