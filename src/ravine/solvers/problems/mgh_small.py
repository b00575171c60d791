"""Moré-Garbow-Hillstrom problems 1-19: fixed dimension, from Rosenbrock to Osborne 2.

Formulas, standard starts and minimum values are from J. J. Moré, B. S. Garbow and
K. E. Hillstrom, "Testing Unconstrained Optimization Software", ACM Transactions on
Mathematical Software 7(1):17-41, 1981, section 3 (problem numbers in brackets). Values
published as ``a.bcdef...`` are stored with those digits and ``rtol`` set to match.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import TestProblem

__all__ = ["SMALL_PROBLEMS"]


def _like(values, x: Tensor) -> Tensor:
    return torch.as_tensor(values, dtype=x.dtype, device=x.device)


def _i(m: int, x: Tensor) -> Tensor:
    """``1, 2, ..., m`` as a tensor like ``x``."""
    return torch.arange(1, m + 1, dtype=x.dtype, device=x.device)


def rosenbrock(x: Tensor) -> Tensor:  # [1]
    return torch.stack([10 * (x[1] - x[0] ** 2), 1 - x[0]])


def freudenstein_roth(x: Tensor) -> Tensor:  # [2]
    return torch.stack([
        -13 + x[0] + ((5 - x[1]) * x[1] - 2) * x[1],
        -29 + x[0] + ((x[1] + 1) * x[1] - 14) * x[1],
    ])


def powell_badly_scaled(x: Tensor) -> Tensor:  # [3]
    return torch.stack([1e4 * x[0] * x[1] - 1, torch.exp(-x[0]) + torch.exp(-x[1]) - 1.0001])


def brown_badly_scaled(x: Tensor) -> Tensor:  # [4]
    return torch.stack([x[0] - 1e6, x[1] - 2e-6, x[0] * x[1] - 2])


def beale(x: Tensor) -> Tensor:  # [5]
    y = _like([1.5, 2.25, 2.625], x)
    return y - x[0] * (1 - x[1] ** _i(3, x))


def jennrich_sampson(x: Tensor) -> Tensor:  # [6], m = 10
    i = _i(10, x)
    return 2 + 2 * i - (torch.exp(i * x[0]) + torch.exp(i * x[1]))


def helical_valley(x: Tensor) -> Tensor:  # [7]
    theta = torch.atan(x[1] / x[0]) / (2 * math.pi) + torch.where(x[0] < 0, 0.5, 0.0)
    return torch.stack([
        10 * (x[2] - 10 * theta), 10 * (torch.sqrt(x[0] ** 2 + x[1] ** 2) - 1), x[2]
    ])


_BARD_Y = [0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58, 0.73, 0.96, 1.34, 2.10, 4.39]


def bard(x: Tensor) -> Tensor:  # [8]
    u = _i(15, x)
    v = 16 - u
    w = torch.minimum(u, v)
    return _like(_BARD_Y, x) - (x[0] + u / (v * x[1] + w * x[2]))


_GAUSSIAN_Y = [0.0009, 0.0044, 0.0175, 0.0540, 0.1295, 0.2420, 0.3521, 0.3989,
               0.3521, 0.2420, 0.1295, 0.0540, 0.0175, 0.0044, 0.0009]


def gaussian(x: Tensor) -> Tensor:  # [9]
    t = (8 - _i(15, x)) / 2
    return x[0] * torch.exp(-x[1] * (t - x[2]) ** 2 / 2) - _like(_GAUSSIAN_Y, x)


_MEYER_Y = [34780, 28610, 23650, 19630, 16370, 13720, 11540, 9744,
            8261, 7030, 6005, 5147, 4427, 3820, 3307, 2872]


def meyer(x: Tensor) -> Tensor:  # [10]
    t = 45 + 5 * _i(16, x)
    return x[0] * torch.exp(x[1] / (t + x[2])) - _like(_MEYER_Y, x)


def gulf(x: Tensor) -> Tensor:  # [11], m = 99
    t = _i(99, x) / 100
    y = 25 + (-50 * torch.log(t)) ** (2 / 3)
    return torch.exp(-torch.abs(y - x[1]) ** x[2] / x[0]) - t


def box_3d(x: Tensor) -> Tensor:  # [12], m = 10
    t = 0.1 * _i(10, x)
    return (torch.exp(-t * x[0]) - torch.exp(-t * x[1])
            - x[2] * (torch.exp(-t) - torch.exp(-10 * t)))


def powell_singular(x: Tensor) -> Tensor:  # [13]
    return torch.stack([
        x[0] + 10 * x[1], math.sqrt(5) * (x[2] - x[3]), (x[1] - 2 * x[2]) ** 2,
        math.sqrt(10) * (x[0] - x[3]) ** 2,
    ])


def wood(x: Tensor) -> Tensor:  # [14]
    return torch.stack([
        10 * (x[1] - x[0] ** 2), 1 - x[0], math.sqrt(90) * (x[3] - x[2] ** 2), 1 - x[2],
        math.sqrt(10) * (x[1] + x[3] - 2), (x[1] - x[3]) / math.sqrt(10),
    ])


_KO_Y = [0.1957, 0.1947, 0.1735, 0.1600, 0.0844, 0.0627, 0.0456, 0.0342, 0.0323, 0.0235, 0.0246]
_KO_U = [4, 2, 1, 0.5, 0.25, 0.167, 0.125, 0.1, 0.0833, 0.0714, 0.0625]


def kowalik_osborne(x: Tensor) -> Tensor:  # [15]
    u = _like(_KO_U, x)
    return _like(_KO_Y, x) - x[0] * (u ** 2 + u * x[1]) / (u ** 2 + u * x[2] + x[3])


def brown_dennis(x: Tensor) -> Tensor:  # [16], m = 20
    t = _i(20, x) / 5
    return ((x[0] + t * x[1] - torch.exp(t)) ** 2
            + (x[2] + x[3] * torch.sin(t) - torch.cos(t)) ** 2)


_OSBORNE1_Y = [0.844, 0.908, 0.932, 0.936, 0.925, 0.908, 0.881, 0.850, 0.818, 0.784, 0.751,
               0.718, 0.685, 0.658, 0.628, 0.603, 0.580, 0.558, 0.538, 0.522, 0.506, 0.490,
               0.478, 0.467, 0.457, 0.448, 0.438, 0.431, 0.424, 0.420, 0.414, 0.411, 0.406]


def osborne1(x: Tensor) -> Tensor:  # [17]
    t = 10 * (_i(33, x) - 1)
    model = x[0] + x[1] * torch.exp(-t * x[3]) + x[2] * torch.exp(-t * x[4])
    return _like(_OSBORNE1_Y, x) - model


def biggs_exp6(x: Tensor) -> Tensor:  # [18], m = 13
    t = 0.1 * _i(13, x)
    y = torch.exp(-t) - 5 * torch.exp(-10 * t) + 3 * torch.exp(-4 * t)
    return (x[2] * torch.exp(-t * x[0]) - x[3] * torch.exp(-t * x[1])
            + x[5] * torch.exp(-t * x[4]) - y)


_OSBORNE2_Y = [
    1.366, 1.191, 1.112, 1.013, 0.991, 0.885, 0.831, 0.847, 0.786, 0.725, 0.746, 0.679, 0.608,
    0.655, 0.616, 0.606, 0.602, 0.626, 0.651, 0.724, 0.649, 0.649, 0.694, 0.644, 0.624, 0.661,
    0.612, 0.558, 0.533, 0.495, 0.500, 0.423, 0.395, 0.375, 0.372, 0.391, 0.396, 0.405, 0.428,
    0.429, 0.523, 0.562, 0.607, 0.653, 0.672, 0.708, 0.633, 0.668, 0.645, 0.632, 0.591, 0.559,
    0.597, 0.625, 0.739, 0.710, 0.729, 0.720, 0.636, 0.581, 0.428, 0.292, 0.162, 0.098, 0.054,
]


def osborne2(x: Tensor) -> Tensor:  # [19]
    t = (_i(65, x) - 1) / 10
    model = (x[0] * torch.exp(-t * x[4]) + x[1] * torch.exp(-(t - x[8]) ** 2 * x[5])
             + x[2] * torch.exp(-(t - x[9]) ** 2 * x[6])
             + x[3] * torch.exp(-(t - x[10]) ** 2 * x[7]))
    return _like(_OSBORNE2_Y, x) - model


SMALL_PROBLEMS = [
    TestProblem("rosenbrock", 2, 2, (-1.2, 1.0), rosenbrock, (0.0,)),
    TestProblem("freudenstein_roth", 2, 2, (0.5, -2.0), freudenstein_roth, (0.0, 48.9842),
                rtol=1e-5),
    TestProblem("powell_badly_scaled", 2, 2, (0.0, 1.0), powell_badly_scaled, (0.0,)),
    TestProblem("brown_badly_scaled", 2, 3, (1.0, 1.0), brown_badly_scaled, (0.0,)),
    TestProblem("beale", 2, 3, (1.0, 1.0), beale, (0.0,)),
    TestProblem("jennrich_sampson", 2, 10, (0.3, 0.4), jennrich_sampson, (124.362,), rtol=1e-5),
    TestProblem("helical_valley", 3, 3, (-1.0, 0.0, 0.0), helical_valley, (0.0,)),
    TestProblem("bard", 3, 15, (1.0, 1.0, 1.0), bard, (8.21487e-3, 17.4286), rtol=1e-5),
    TestProblem("gaussian", 3, 15, (0.4, 1.0, 0.0), gaussian, (1.12793e-8,), rtol=1e-5),
    TestProblem("meyer", 3, 16, (0.02, 4000.0, 250.0), meyer, (87.9458,), rtol=1e-5),
    TestProblem("gulf", 3, 99, (5.0, 2.5, 0.15), gulf, (0.0,)),
    TestProblem("box_3d", 3, 10, (0.0, 10.0, 20.0), box_3d, (0.0,)),
    TestProblem("powell_singular", 4, 4, (3.0, -1.0, 0.0, 1.0), powell_singular, (0.0,)),
    TestProblem("wood", 4, 6, (-3.0, -1.0, -3.0, -1.0), wood, (0.0,)),
    TestProblem("kowalik_osborne", 4, 11, (0.25, 0.39, 0.415, 0.39), kowalik_osborne,
                (3.07505e-4, 1.02734e-3), rtol=1e-5),
    TestProblem("brown_dennis", 4, 20, (25.0, 5.0, -5.0, -1.0), brown_dennis, (85822.2,),
                rtol=2e-6),
    TestProblem("osborne1", 5, 33, (0.5, 1.5, -1.0, 0.01, 0.02), osborne1, (5.46489e-5,),
                rtol=1e-5),
    TestProblem("biggs_exp6", 6, 13, (1.0, 2.0, 1.0, 1.0, 1.0, 1.0), biggs_exp6,
                (0.0, 5.65565e-3), rtol=1e-5),
    TestProblem("osborne2", 11, 65, (1.3, 0.65, 0.65, 0.7, 0.6, 3.0, 5.0, 7.0, 2.0, 4.5, 5.5),
                osborne2, (4.01377e-2,), rtol=1e-5),
]
