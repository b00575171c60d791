"""Moré-Garbow-Hillstrom problems 20-35: variable dimension (Watson to Chebyquad).

Sources as in :mod:`.mgh_small`: Moré, Garbow & Hillstrom, ACM TOMS 7(1), 1981, section 3
(problem numbers in brackets). ``make_*`` builds a problem for a chosen ``n`` (and ``m``);
``SCALABLE_PROBLEMS`` holds the sizes whose minimum values the paper publishes.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import TestProblem

__all__ = ["SCALABLE_PROBLEMS", "make_extended_powell", "make_extended_rosenbrock"]


def _i(m: int, x: Tensor) -> Tensor:
    return torch.arange(1, m + 1, dtype=x.dtype, device=x.device)


def watson(x: Tensor) -> Tensor:  # [20], m = 31
    n = x.shape[0]
    t = (_i(29, x) / 29).unsqueeze(1)
    j = torch.arange(n, dtype=x.dtype, device=x.device)  # j - 1 for j = 1..n
    powers = t ** j  # t^(j-1)
    s1 = (j[1:] * powers[:, :-1] * x[1:]).sum(1)  # sum (j-1) x_j t^(j-2)
    s2 = (powers * x).sum(1)
    return torch.cat([s1 - s2 ** 2 - 1, torch.stack([x[0], x[1] - x[0] ** 2 - 1])])


def extended_rosenbrock(x: Tensor) -> Tensor:  # [21]
    odd, even = x[0::2], x[1::2]
    return torch.stack([10 * (even - odd ** 2), 1 - odd], 1).reshape(-1)


def extended_powell(x: Tensor) -> Tensor:  # [22]
    a, b, c, d = x[0::4], x[1::4], x[2::4], x[3::4]
    return torch.stack([a + 10 * b, math.sqrt(5) * (c - d), (b - 2 * c) ** 2,
                        math.sqrt(10) * (a - d) ** 2], 1).reshape(-1)


def penalty1(x: Tensor) -> Tensor:  # [23]
    a = math.sqrt(1e-5)
    return torch.cat([a * (x - 1), ((x * x).sum() - 0.25).reshape(1)])


def penalty2(x: Tensor) -> Tensor:  # [24]
    n = x.shape[0]
    a = math.sqrt(1e-5)
    i = _i(n, x)
    y = torch.exp(i[1:] / 10) + torch.exp(i[:-1] / 10)
    middle = a * (torch.exp(x[1:] / 10) + torch.exp(x[:-1] / 10) - y)
    tail = a * (torch.exp(x[1:] / 10) - math.exp(-0.1))
    last = ((n - i + 1) * x * x).sum() - 1
    return torch.cat([(x[0] - 0.2).reshape(1), middle, tail, last.reshape(1)])


def variably_dimensioned(x: Tensor) -> Tensor:  # [25]
    s = (_i(x.shape[0], x) * (x - 1)).sum()
    return torch.cat([x - 1, s.reshape(1), (s * s).reshape(1)])


def trigonometric(x: Tensor) -> Tensor:  # [26]
    n = x.shape[0]
    return n - torch.cos(x).sum() + _i(n, x) * (1 - torch.cos(x)) - torch.sin(x)


def brown_almost_linear(x: Tensor) -> Tensor:  # [27]
    n = x.shape[0]
    head = x[:-1] + x.sum() - (n + 1)
    return torch.cat([head, (torch.prod(x) - 1).reshape(1)])


def _boundary_grid(n: int, x: Tensor) -> tuple[float, Tensor]:
    h = 1.0 / (n + 1)
    return h, _i(n, x) * h


def discrete_boundary_value(x: Tensor) -> Tensor:  # [28]
    n = x.shape[0]
    h, t = _boundary_grid(n, x)
    padded = torch.nn.functional.pad(x, (1, 1))
    return 2 * x - padded[:-2] - padded[2:] + h * h * (x + t + 1) ** 3 / 2


def discrete_integral_equation(x: Tensor) -> Tensor:  # [29]
    n = x.shape[0]
    h, t = _boundary_grid(n, x)
    cube = (x + t + 1) ** 3
    left = torch.cumsum(t * cube, 0)  # sum_{j <= i} t_j (x_j + t_j + 1)^3
    right_all = torch.cumsum(((1 - t) * cube).flip(0), 0).flip(0)  # sum_{j >= i}
    right = torch.cat([right_all[1:], right_all.new_zeros(1)])  # sum_{j > i}
    return x + h * ((1 - t) * left + t * right) / 2


def broyden_tridiagonal(x: Tensor) -> Tensor:  # [30]
    padded = torch.nn.functional.pad(x, (1, 1))
    return (3 - 2 * x) * x - padded[:-2] - 2 * padded[2:] + 1


def broyden_banded(x: Tensor) -> Tensor:  # [31], ml = 5, mu = 1
    n = x.shape[0]
    i = torch.arange(n, device=x.device).unsqueeze(1)
    j = torch.arange(n, device=x.device).unsqueeze(0)
    band = ((j >= i - 5) & (j <= i + 1) & (j != i)).to(x.dtype)
    return x * (2 + 5 * x * x) + 1 - band @ (x * (1 + x))


def _linear_full_rank(m: int):
    def residuals(x: Tensor) -> Tensor:  # [32]
        n = x.shape[0]
        s = 2.0 / m * x.sum()
        return torch.cat([x - s - 1, (-s - 1).expand(m - n)])
    return residuals


def _linear_rank1(m: int):
    def residuals(x: Tensor) -> Tensor:  # [33]
        s = (_i(x.shape[0], x) * x).sum()
        return _i(m, x) * s - 1
    return residuals


def _linear_rank1_zero(m: int):
    def residuals(x: Tensor) -> Tensor:  # [34]
        n = x.shape[0]
        s = (_i(n, x)[1:-1] * x[1:-1]).sum()
        middle = (_i(m, x)[1:-1] - 1) * s - 1
        return torch.cat([x.new_full((1,), -1.0), middle, x.new_full((1,), -1.0)])
    return residuals


def chebyquad(x: Tensor) -> Tensor:  # [35], m = n
    n = x.shape[0]
    y = 2 * x - 1  # shifted to [-1, 1]
    terms = [torch.ones_like(y), y]
    for _ in range(2, n + 1):
        terms.append(2 * y * terms[-1] - terms[-2])
    means = torch.stack(terms[1:]).mean(1)
    i = _i(n, x)
    exact = torch.where(i % 2 == 0, -1 / (i * i - 1), torch.zeros_like(i))
    return means - exact


def make_extended_rosenbrock(n: int) -> TestProblem:
    """Extended Rosenbrock [21] for even ``n``; ``f* = 0`` at ``(1, ..., 1)``."""
    if n < 2 or n % 2:
        raise ValueError(f"n must be an even integer >= 2, got {n}")
    return TestProblem(f"extended_rosenbrock_{n}", n, n, (-1.2, 1.0) * (n // 2),
                       extended_rosenbrock, (0.0,))


def make_extended_powell(n: int) -> TestProblem:
    """Extended Powell singular [22] for ``n`` a multiple of 4; ``f* = 0`` at the origin."""
    if n < 4 or n % 4:
        raise ValueError(f"n must be a positive multiple of 4, got {n}")
    return TestProblem(f"extended_powell_{n}", n, n, (3.0, -1.0, 0.0, 1.0) * (n // 4),
                       extended_powell, (0.0,))


def _grid_start(n: int) -> tuple[float, ...]:
    return tuple((j / (n + 1)) * (j / (n + 1) - 1) for j in range(1, n + 1))


SCALABLE_PROBLEMS = [
    TestProblem("watson_6", 6, 31, (0.0,) * 6, watson, (2.28767e-3,), rtol=1e-5),
    TestProblem("watson_9", 9, 31, (0.0,) * 9, watson, (1.39976e-6,), rtol=1e-5),
    make_extended_rosenbrock(10),
    make_extended_powell(12),
    TestProblem("penalty1_4", 4, 5, (1.0, 2.0, 3.0, 4.0), penalty1, (2.24997e-5,), rtol=1e-5),
    TestProblem("penalty1_10", 10, 11, tuple(float(j) for j in range(1, 11)), penalty1,
                (7.08765e-5,), rtol=1e-5),
    TestProblem("penalty2_4", 4, 8, (0.5,) * 4, penalty2, (9.37629e-6,), rtol=1e-5),
    TestProblem("penalty2_10", 10, 20, (0.5,) * 10, penalty2, (2.93660e-4,), rtol=1e-5),
    TestProblem("variably_dimensioned_10", 10, 12, tuple(1 - j / 10 for j in range(1, 11)),
                variably_dimensioned, (0.0,)),
    TestProblem("trigonometric_10", 10, 10, (0.1,) * 10, trigonometric, (0.0, 2.79506e-5),
                rtol=1e-5),
    TestProblem("brown_almost_linear_10", 10, 10, (0.5,) * 10, brown_almost_linear, (0.0, 1.0)),
    TestProblem("discrete_boundary_value_10", 10, 10, _grid_start(10), discrete_boundary_value,
                (0.0,)),
    TestProblem("discrete_integral_equation_10", 10, 10, _grid_start(10),
                discrete_integral_equation, (0.0,)),
    TestProblem("broyden_tridiagonal_10", 10, 10, (-1.0,) * 10, broyden_tridiagonal, (0.0,)),
    TestProblem("broyden_banded_10", 10, 10, (-1.0,) * 10, broyden_banded, (0.0,)),
    TestProblem("linear_full_rank_10_20", 10, 20, (1.0,) * 10, _linear_full_rank(20), (10.0,)),
    TestProblem("linear_rank1_10_20", 10, 20, (1.0,) * 10, _linear_rank1(20),
                (20 * 19 / (2 * 41),)),
    TestProblem("linear_rank1_zero_10_20", 10, 20, (1.0,) * 10, _linear_rank1_zero(20),
                ((400 + 60 - 6) / (2 * 37),)),
    TestProblem("chebyquad_8", 8, 8, tuple(j / 9 for j in range(1, 9)), chebyquad,
                (3.51687e-3,), rtol=1e-5),
]
