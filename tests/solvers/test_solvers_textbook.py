"""Textbook facts: linear CG in n steps, BFGS with exact line search in n steps, Newton in one
step on a quadratic and quadratically near a minimum; input checks; limits give success=False."""

import math

import pytest
import torch

from ravine.solvers import cg_solve, minimize, strong_wolfe
from ravine.solvers.problems import get, make_quadratic


def _spd(n, cond, seed=0):
    _, a = make_quadratic(n, cond, seed=seed)
    return a


@pytest.mark.parametrize("n", [5, 20, 50])
def test_solvers_linear_cg_solves_in_at_most_n_steps(n):
    a = _spd(n, 10.0)  # well conditioned: rounding does not cost extra steps
    b = torch.randn(n, dtype=torch.float64)
    result = cg_solve(lambda v: a @ v, b, rtol=1e-10, maxiter=n)
    assert result.success and result.nit <= n
    torch.testing.assert_close(result.x, torch.linalg.solve(a, b), rtol=1e-8, atol=1e-10)


def test_solvers_linear_cg_k_distinct_eigenvalues_take_k_steps():
    q, _ = torch.linalg.qr(torch.randn(30, 30, dtype=torch.float64))
    eig = torch.tensor([1.0, 4.0, 9.0], dtype=torch.float64).repeat(10)
    a = (q * eig) @ q.T
    result = cg_solve(lambda v: a @ v, torch.randn(30, dtype=torch.float64), rtol=1e-10)
    assert result.nit == 3


def test_solvers_bfgs_with_exact_line_search_terminates_in_n_steps_on_a_quadratic():
    n = 8
    a = _spd(n, 50.0, seed=3)
    b = torch.randn(n, dtype=torch.float64)
    x = torch.zeros(n, dtype=torch.float64)
    h = torch.eye(n, dtype=torch.float64)
    from ravine.solvers import bfgs_inverse_update

    g = a @ x - b
    for _ in range(n):
        d = -(h @ g)
        t = -float(g @ d) / float(d @ (a @ d))  # exact minimizer along d
        s = t * d
        x = x + s
        g_new = a @ x - b
        h = bfgs_inverse_update(h, s, g_new - g)
        g = g_new
    assert float(g.abs().max()) < 1e-9
    torch.testing.assert_close(h, torch.linalg.inv(a), rtol=1e-6, atol=1e-8)


def test_solvers_newton_one_step_on_a_quadratic():
    problem, _ = make_quadratic(6, 1e4)
    result = minimize(problem.fun, problem.x0(), method="newton", options={"gtol": 1e-9})
    assert result.nit == 1 and result.success
    torch.testing.assert_close(result.x, torch.ones(6, dtype=torch.float64))


def test_solvers_newton_converges_quadratically_error_ratio():
    rosen = get("rosenbrock")
    errors = []
    minimize(rosen.fun, rosen.x0(), method="newton", options={"gtol": 1e-12},
             callback=lambda x: errors.append(float((x - 1).norm())))
    tail = [e for e in errors if 0 < e < 1e-1]
    ratios = [e2 / e1 ** 2 for e1, e2 in zip(tail, tail[1:], strict=False) if e2 > 1e-14]
    assert len(ratios) >= 2
    # e_{k+1} <= C e_k^2 with a bounded C (seen: 1.8 .. 18): quadratic convergence
    assert max(ratios) < 100.0
    assert errors[-1] < 1e-10


def test_solvers_newton_avoids_a_saddle():
    def fun(x):
        return x[0] ** 2 - x[1] ** 2 + x[1] ** 4  # saddle at 0, minima at y = +-1/sqrt 2
    x0 = torch.tensor([0.5, 1e-3], dtype=torch.float64)
    result = minimize(fun, x0, method="newton", options={"gtol": 1e-10})
    assert result.success
    assert abs(abs(float(result.x[1])) - 1 / math.sqrt(2)) < 1e-8


def test_solvers_gd_zigzags_on_an_ill_conditioned_quadratic():
    results = {}
    for cond in (10.0, 1000.0):
        problem, _ = make_quadratic(10, cond)
        results[cond] = minimize(problem.fun, problem.x0(), method="gd",
                                 options={"gtol": 1e-6, "maxiter": 20000})
    assert results[10.0].success and results[1000.0].success
    assert results[1000.0].nit > 20 * results[10.0].nit


@pytest.mark.parametrize("beta", ["fletcher-reeves", "polak-ribiere+", "hestenes-stiefel",
                                  "dai-yuan"])
def test_solvers_nonlinear_cg_betas_match_scipy_on_rosenbrock(beta):
    rosen = get("rosenbrock")
    result = minimize(rosen.fun, rosen.x0(), method="cg",
                      options={"beta": beta, "gtol": 1e-8, "maxiter": 5000})
    assert result.success, result.message
    assert result.fun < 1e-14


def test_solvers_limits_return_success_false():
    rosen = get("rosenbrock")
    r = minimize(rosen.fun, rosen.x0(), method="bfgs", options={"maxiter": 3})
    assert not r.success and r.status == 1 and "iterations" in r.message and r.nit == 3
    r = minimize(rosen.fun, rosen.x0(), method="lbfgs", options={"maxfev": 5})
    assert not r.success and r.status == 1 and "evaluations" in r.message


def test_solvers_bad_input_is_a_clear_error():
    rosen = get("rosenbrock")
    with pytest.raises(ValueError, match="x0 must be finite"):
        minimize(rosen.fun, torch.tensor([float("nan"), 1.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="scalar"):
        minimize(lambda x: x * 2, torch.ones(2, dtype=torch.float64))
    with pytest.raises(TypeError, match="x0"):
        minimize(rosen.fun, torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="method"):
        minimize(rosen.fun, rosen.x0(), method="nelder-mead")
    with pytest.raises(ValueError, match="unknown options"):
        minimize(rosen.fun, rosen.x0(), method="bfgs", options={"m": 5})
    with pytest.raises(ValueError, match="gtol"):
        minimize(rosen.fun, rosen.x0(), options={"gtol": -1.0})


def test_solvers_nonfinite_value_in_line_search_shrinks_the_step():
    def fun(x):
        return torch.where(x[0] > 2, torch.tensor(float("nan"), dtype=x.dtype),
                                    (x[0] - 1.5) ** 2 - torch.log(2.0 - x[0].clamp(max=1.999999)))
    calls = []

    def phi(t):
        x = torch.tensor([t], dtype=torch.float64, requires_grad=True)
        value = fun(x)
        calls.append(t)
        if not torch.isfinite(value):
            return float("nan"), torch.tensor([float("nan")], dtype=torch.float64)
        (g,) = torch.autograd.grad(value, x)
        return float(value), g

    f0, g0 = phi(0.0)
    result = strong_wolfe(phi, f0, g0, float(g0[0]) * 1.0, torch.tensor([1.0],
                          dtype=torch.float64), t=8.0)
    assert math.isfinite(result.f) and result.f < f0 and result.t < 2.0


def test_solvers_result_shapes_follow_x0_and_jac_true_works():
    a = torch.tensor([[3.0, 1.0], [1.0, 2.0]], dtype=torch.float64)

    def fun_and_grad(x):
        return 0.5 * (x * (a @ x)).sum() - x.sum(), (a @ x) - 1

    r = minimize(fun_and_grad, torch.zeros(2, 1, dtype=torch.float64), method="lbfgs", jac=True,
                 options={"gtol": 1e-10})
    assert r.x.shape == (2, 1) and r.jac.shape == (2, 1) and r.nfev == r.njev
    torch.testing.assert_close(r.x.squeeze(1), torch.linalg.solve(a, torch.ones(2,
                               dtype=torch.float64)))


def test_solvers_armijo_shrinks_by_a_tenth_after_an_overflow_and_caps_evaluations():
    from ravine.solvers import backtracking_armijo

    trials = []

    def phi(t):
        trials.append(t)
        value = math.inf if t > 0.05 else (t - 0.02) ** 2
        return value, torch.tensor([0.0], dtype=torch.float64)

    r = backtracking_armijo(phi, f0=4e-4, gtd0=-0.04, t=1.0)
    assert r.success and trials == pytest.approx([1.0, 0.1, 0.01])
    trials.clear()
    r = backtracking_armijo(lambda t: (trials.append(t) or 1.0, None), f0=0.0, gtd0=-1.0,
                            max_evals=7)
    assert not r.success and len(trials) == 7 and r.nfev == 7


def test_solvers_newton_on_jennrich_sampson_stops_in_few_evaluations():
    problem = get("jennrich_sampson")
    r = minimize(problem.fun, problem.x0(), method="newton", options={"gtol": 1e-10})
    assert problem.reached(r.fun) is not None and r.nfev < 200  # was 43k evaluations


def test_solvers_line_search_options_are_checked():
    rosen = get("rosenbrock")
    with pytest.raises(ValueError, match="line_search"):
        minimize(rosen.fun, rosen.x0(), method="lbfgs", options={"line_search": "exact"})
    with pytest.raises(ValueError, match="c2"):
        minimize(rosen.fun, rosen.x0(), method="bfgs", options={"c1": 0.5, "c2": 0.4})
    r = minimize(rosen.fun, rosen.x0(), method="lbfgs", options={"line_search": "strong-wolfe"})
    assert r.success and r.fun < 1e-8
