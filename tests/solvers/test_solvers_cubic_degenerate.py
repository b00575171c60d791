"""Cubic interpolation without a finite minimizer falls back to the bisection point (no crash)."""

from __future__ import annotations

import pytest
import torch

from ravine.optim import LBFGS
from ravine.solvers.linesearch import cubic_minimizer


@pytest.mark.parametrize("args,bounds", [
    ((0.0, 0.0, -1.0, 1.0, -1.0, -1.0), (1.0, 10.0)),  # a straight line: zero denominator
    ((2.0, 1.0, -1.0, 2.0, 1.0, -1.0), (2.0, 4.0)),    # the same point twice
    ((0.0, 0.0, -1.0, 1.0, float("-inf"), -1.0), (1.0, 3.0)),  # an overflowed value
])
def test_no_finite_minimizer_gives_the_midpoint(args, bounds):
    assert cubic_minimizer(*args, bounds=bounds) == sum(bounds) / 2


def test_the_cubic_minimizer_is_unchanged_where_it_exists():
    # f = t^3/3 - t on [0, 2]: minimum at t = 1 (exact cubic through two points)
    f = lambda t: t**3 / 3 - t  # noqa: E731
    g = lambda t: t**2 - 1  # noqa: E731
    assert cubic_minimizer(0.0, f(0.0), g(0.0), 2.0, f(2.0), g(2.0)) == pytest.approx(1.0)


def test_lbfgs_on_an_unbounded_saddle_does_not_crash():
    # f = x^2 - y^2 is unbounded below along y: the line search extrapolates until it gives up
    w = torch.tensor([1.0, 1e-3], dtype=torch.float64, requires_grad=True)
    opt = LBFGS([w], lr=1.0, max_iter=1, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = w[0] ** 2 - w[1] ** 2
        loss.backward()
        return loss

    for _ in range(20):
        opt.step(closure)
    assert float((w[0] ** 2 - w[1] ** 2).detach()) < -1.0  # it went down the unbounded direction
