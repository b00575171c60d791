"""The Moré-Thuente line search against MINPACK-2's dcsrch (scipy.optimize._dcsrch.DCSRCH).

The functions are the six of Moré & Thuente (1994), section 5, plus a quadratic and a cosine
with many local minima; every start step from 1e-3 to 1e3 and both constant sets in use
(L-BFGS-B's c1=1e-3, c2=0.9, xtol=0.1; scipy's wolfe1 c1=1e-4, c2=0.9 or 0.1, xtol=1e-14).
"""

import math

import pytest
import torch
from scipy.optimize._dcsrch import DCSRCH

from ravine.solvers.more_thuente import more_thuente, more_thuente_step


def _mt_function(beta1, beta2):
    def value(t):
        gamma1 = math.sqrt(1 + beta1 ** 2) - beta1
        gamma2 = math.sqrt(1 + beta2 ** 2) - beta2
        return gamma1 * math.sqrt((1 - t) ** 2 + beta2 ** 2) + gamma2 * math.sqrt(
            t ** 2 + beta1 ** 2)

    def slope(t):
        gamma1 = math.sqrt(1 + beta1 ** 2) - beta1
        gamma2 = math.sqrt(1 + beta2 ** 2) - beta2
        return gamma1 * (t - 1) / math.sqrt((1 - t) ** 2 + beta2 ** 2) + gamma2 * t / math.sqrt(
            t ** 2 + beta1 ** 2)

    return lambda t: (value(t), slope(t))


def _phi3(t, beta=0.01, ell=39):
    base = 2 * (1 - beta) / (ell * math.pi)
    phi0 = 1 - t if t <= 1 - beta else (t - 1 if t >= 1 + beta else (t - 1) ** 2 / (2 * beta)
                                         + beta / 2)
    dphi0 = -1.0 if t <= 1 - beta else (1.0 if t >= 1 + beta else (t - 1) / beta)
    return (phi0 + base * math.sin(ell * math.pi / 2 * t),
            dphi0 + (1 - beta) * math.cos(ell * math.pi / 2 * t))


FUNCTIONS = {
    "mt1": lambda t: (-t / (t * t + 2), (t * t - 2) / (t * t + 2) ** 2),
    "mt2": lambda t: ((t + 0.004) ** 5 - 2 * (t + 0.004) ** 4,
                      5 * (t + 0.004) ** 4 - 8 * (t + 0.004) ** 3),
    "mt3": _phi3,
    "mt4": _mt_function(0.001, 0.001),
    "mt5": _mt_function(0.01, 0.001),
    "mt6": _mt_function(0.001, 0.01),
    "quadratic": lambda t: ((t - 3) ** 2, 2 * (t - 3)),
    "cosine": lambda t: (math.cos(3 * t) - 0.5 * t, -3 * math.sin(3 * t) - 0.5),
}
CONSTANTS = [(1e-3, 0.9, 0.1), (1e-4, 0.9, 1e-14), (1e-4, 0.1, 1e-14)]
CASES = [(name, t0, c) for name in FUNCTIONS for t0 in (1e-3, 1e-1, 1.0, 10.0, 1e3)
         for c in CONSTANTS]


@pytest.mark.parametrize(("name", "t0", "constants"), CASES)
def test_solvers_more_thuente_matches_minpack_dcsrch(name, t0, constants):
    fn = FUNCTIONS[name]
    c1, c2, xtol = constants
    f0, g0 = fn(0.0)
    trials = []

    def value(t):
        trials.append(t)
        return fn(t)[0]

    search = DCSRCH(value, lambda t: fn(t)[1], c1, c2, xtol, 0.0, 1e10)
    stp, _, _, task = search(t0, phi0=f0, derphi0=g0, maxiter=20)
    one = torch.ones(1, dtype=torch.float64)
    ours = more_thuente(lambda t: (fn(t)[0], torch.tensor([fn(t)[1]], dtype=torch.float64)),
                        f0, g0 * one, g0, one, t=t0, c1=c1, c2=c2, xtol=xtol, max_evals=20)
    if task.startswith(b"CONV"):
        assert ours.success and ours.t == stp and ours.nfev == len(trials)
        assert ours.f <= f0 + c1 * ours.t * g0 and abs(float(ours.g[0])) <= c2 * abs(g0)
    else:  # a warning: dcsrch re-evaluates its best point to exit; ravine returns it directly
        assert task.startswith(b"WARN") and not ours.success
        assert ours.nfev == len(trials) - 1 and ours.t == trials[-1]
        assert ours.f == fn(trials[-1])[0]


def test_solvers_more_thuente_step_cases_on_a_cubic():
    # f(t) = (t - 1)^3 - 3 (t - 1), from stx = 1 (f = 0, f' = -3); its local minimizer is t = 2,
    # where the interpolating cubic (exact here) puts its minimizer too.
    f = lambda t: ((t - 1) ** 3 - 3 * (t - 1), 3 * (t - 1) ** 2 - 3)  # noqa: E731
    fx, dx = f(1.0)
    # case 1, stp = 3 (f = 2 > 0): cubic 2, quadratic 1 + 3/4; the cubic is farther from stx,
    # so the midpoint of the two
    out = more_thuente_step(1.0, fx, dx, 1.0, fx, dx, 3.0, *f(3.0), False, 1.0, 20.0)
    assert out[7] and out[6] == pytest.approx(1.875, rel=1e-12) and out[3] == 3.0
    # case 2, stp = 2.5 (f' > 0, lower f): cubic 2 vs secant 2.5 - 1.5 * 3.75 / 6.75; the
    # farther from stp (the secant) is taken; the interval becomes [2.5, 1]
    out = more_thuente_step(1.0, fx, dx, 1.0, fx, dx, 2.5, *f(2.5), False, 1.0, 20.0)
    assert out[7] and out[6] == pytest.approx(2.5 - 1.5 * 3.75 / 6.75, rel=1e-12)
    assert (out[0], out[3]) == (2.5, 1.0)
    # case 3, stp = 1.5 (f' = -2.25, smaller in magnitude): cubic 2 vs secant 3; unbracketed,
    # the farther one (3), kept inside [stpmin, stpmax] = [1.6, 2.8]
    out = more_thuente_step(1.0, fx, dx, 1.0, fx, dx, 1.5, *f(1.5), False, 1.6, 2.8)
    assert not out[7] and out[6] == 2.8 and out[0] == 1.5
    # case 3 bracketed by sty = 2.5: the nearer (the cubic's 2), within 0.66 of the way to sty
    out = more_thuente_step(1.0, fx, dx, 2.5, *f(2.5), 1.5, *f(1.5), True, 1.0, 2.5)
    assert out[6] == pytest.approx(2.0, rel=1e-12)


def test_solvers_more_thuente_shrinks_after_a_nonfinite_value():
    def phi(t):
        if t > 2.0:
            return math.inf, torch.tensor([math.nan], dtype=torch.float64)
        return (t - 1.5) ** 2, torch.tensor([2 * (t - 1.5)], dtype=torch.float64)

    one = torch.ones(1, dtype=torch.float64)
    r = more_thuente(phi, 2.25, -3.0 * one, -3.0, one, t=100.0, c1=1e-4, c2=0.1)
    assert r.success and abs(r.t - 1.5) < 0.15 and math.isfinite(r.f)


def test_solvers_more_thuente_rejects_bad_arguments():
    one = torch.ones(1, dtype=torch.float64)
    phi = lambda t: (t * t, 2 * t * one)  # noqa: E731
    with pytest.raises(ValueError, match="gtd0"):
        more_thuente(phi, 0.0, one, 1.0, one)
    with pytest.raises(ValueError, match="c1"):
        more_thuente(phi, 1.0, -one, -1.0, one, c1=0.95, c2=0.9)
    with pytest.raises(ValueError, match="stpmax"):
        more_thuente(phi, 1.0, -one, -1.0, one, t=2.0, stpmax=1.0)
