"""Iterate-for-iterate parity with scipy where ravine follows the same algorithm.

``lbfgs`` with its defaults is L-BFGS-B without bounds: the same direction (two-loop recursion
instead of the compact form, equal in exact arithmetic), the same Moré-Thuente search
(c1 1e-3, c2 0.9, xtol 0.1, first step 1/|g|), the same skipping and stopping rules (gtol on
``max|g|``, ftol 2.2e-9 on the relative reduction). ``newton-cg`` no longer copies scipy's
Newton-CG step for step (it starts each line search at t = 1 and steps along negative
curvature, see test_solvers_second_order.py); here it must reach scipy's minima in no more
iterations.
"""

import warnings

import numpy as np
import pytest
import scipy.optimize as so
import torch

from ravine.solvers import minimize
from ravine.solvers.problems import get

LBFGS_PROBLEMS = ["rosenbrock", "beale", "bard", "box_3d", "kowalik_osborne", "osborne2",
                  "watson_6", "extended_rosenbrock_10", "discrete_boundary_value_10",
                  "chebyquad_8"]


def _numpy_fun(problem):
    def fun(x):
        xt = torch.tensor(x, requires_grad=True)
        value = problem.fun(xt)
        (grad,) = torch.autograd.grad(value, xt)
        return value.item(), grad.numpy()

    def hessp(x, v):
        xt = torch.tensor(x, requires_grad=True)
        (grad,) = torch.autograd.grad(problem.fun(xt), xt, create_graph=True)
        return torch.autograd.grad(grad, xt, torch.tensor(v))[0].numpy()

    return fun, hessp


@pytest.mark.parametrize("name", LBFGS_PROBLEMS)
def test_solvers_lbfgs_follows_scipy_lbfgsb_iterates(name):
    problem = get(name)
    ours_x = []
    ours = minimize(problem.fun, problem.x0(), method="lbfgs",
                    callback=lambda x: ours_x.append(x.numpy().copy()))
    fun, _ = _numpy_fun(problem)
    ref_x = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = so.minimize(fun, np.array(problem.start), jac=True, method="L-BFGS-B",
                          callback=lambda x: ref_x.append(x.copy()))
    assert (ours.nit, ours.nfev) == (ref.nit, ref.nfev)
    assert ours.success and ref.success
    np.testing.assert_allclose(np.array(ours_x), np.array(ref_x), rtol=1e-6, atol=1e-9)
    assert abs(ours.fun - ref.fun) <= 1e-8 * abs(ref.fun) + 1e-12


def test_solvers_lbfgs_defaults_stop_like_lbfgsb():
    problem = get("rosenbrock")
    ours = minimize(problem.fun, problem.x0(), method="lbfgs")
    assert ours.success and "relative reduction" in ours.message  # ftol 2.2e-9, as L-BFGS-B
    strict = minimize(problem.fun, problem.x0(), method="lbfgs", options={"ftol": 0.0})
    assert strict.success and "gradient" in strict.message and strict.nit > ours.nit


def test_solvers_newton_cg_reaches_osborne2_and_rosenbrock_in_scipys_iterations():
    for name, published in (("osborne2", 4.01377e-2), ("rosenbrock", 0.0)):
        problem = get(name)
        ours = minimize(problem.fun, problem.x0(), method="newton-cg")
        fun, hessp = _numpy_fun(problem)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = so.minimize(fun, np.array(problem.start), jac=True, hessp=hessp,
                              method="Newton-CG")
        assert ours.success and abs(ours.fun - published) <= 1e-5 * published + 1e-8
        assert ours.nit <= ref.nit + 2, (ours.nit, ref.nit)
