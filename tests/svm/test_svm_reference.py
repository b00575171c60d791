"""The reference SMO against closed forms and scipy, and the fast solver against the reference."""

import numpy as np
import pytest
from scipy.optimize import minimize

from ravine.svm import (
    Kernel,
    dual_objective,
    kkt_violation,
    make_kernel,
    solve_smo,
    solve_smo_reference,
)


def _problem(n=60, d=3, seed=0, overlap=1.0):
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    X = rng.standard_normal((n, d)) * overlap + y[:, None]
    return X, y


def test_svm_reference_separable_closed_form():
    # two points: alpha = 2 / ||x1 - x2||^2, w = x1 - x2 scaled, b puts the midpoint at 0
    X = np.array([[1.0, 2.0], [-1.0, 0.0]])
    y = np.array([1.0, -1.0])
    alpha, b, _ = solve_smo_reference(X @ X.T, y, C=100.0, tol=1e-12)
    np.testing.assert_allclose(alpha, [0.25, 0.25], rtol=1e-12)
    w = (alpha * y) @ X
    np.testing.assert_allclose(X @ w + b, [1.0, -1.0], rtol=1e-12)


@pytest.mark.parametrize("C", [0.1, 1.0, 10.0])
def test_svm_reference_matches_scipy_qp(C):
    X, y = _problem(n=30, seed=1)
    K = make_kernel("rbf", X, gamma=0.5)(X, X)
    alpha, _, _ = solve_smo_reference(K, y, C=C, tol=1e-8)
    Q = (y[:, None] * y[None, :]) * K
    res = minimize(
        lambda a: 0.5 * a @ Q @ a - a.sum(),
        np.zeros(len(y)),
        jac=lambda a: Q @ a - 1.0,
        bounds=[(0, C)] * len(y),
        constraints=[{"type": "eq", "fun": lambda a: a @ y, "jac": lambda a: y}],
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 1000},
    )
    assert res.success
    assert dual_objective(alpha, y, K) == pytest.approx(-res.fun, rel=1e-6)
    assert kkt_violation(alpha, y, K, C) <= 1e-8
    assert abs(alpha @ y) < 1e-10 and alpha.min() >= 0 and alpha.max() <= C


@pytest.mark.parametrize("kernel", ["linear", "rbf", "poly", "sigmoid"])
@pytest.mark.parametrize("C", [0.05, 1.0, 50.0])
def test_svm_fast_solver_reaches_reference_objective(kernel, C):
    X, y = _problem(n=120, d=4, seed=2)
    kern = make_kernel(kernel, X, gamma="scale", degree=3, coef0=0.5 if kernel != "rbf" else 0.0)
    K = kern(X, X)
    alpha_ref, b_ref, _ = solve_smo_reference(K, y, C=C, tol=1e-6)
    result = solve_smo(kern, X, y, C, tol=1e-6)
    assert kkt_violation(result.alpha, y, K, C) <= 1e-6
    assert kkt_violation(alpha_ref, y, K, C) <= 1e-6
    assert abs(result.alpha @ y) < 1e-9 * max(1.0, C)
    if kernel != "sigmoid":  # sigmoid is not PSD: the dual is not concave, KKT points differ
        D_ref, D_fast = dual_objective(alpha_ref, y, K), dual_objective(result.alpha, y, K)
        assert D_fast == pytest.approx(D_ref, rel=1e-6, abs=1e-9)
        assert result.intercept == pytest.approx(b_ref, abs=1e-3)


@pytest.mark.parametrize("name", ["linear", "rbf", "poly"])
def test_svm_tiny_cache_and_shrinking_agree(name):
    # 1,500 samples: shrinking passes every 1,000 iterations; a 0.03 MB cache holds 2 columns,
    # so columns are evicted, moved to new layouts and completed all the time
    X, y = _problem(n=1500, d=5, seed=3, overlap=2.0)
    kern = make_kernel(name, X, gamma=0.2, coef0=1.0, degree=2)
    K = kern(X, X)
    runs = {
        (shrinking, cache_size): solve_smo(kern, X, y, 1.0, tol=1e-5, cache_size=cache_size,
                                           shrinking=shrinking)
        for shrinking in (True, False) for cache_size in (200, 0.03)
    }
    for (shrinking, _), r in runs.items():
        assert r.converged and kkt_violation(r.alpha, y, K, 1.0) <= 1e-5
        assert (r.layouts > 0) == shrinking  # the shrinking path really ran
    for shrinking in (True, False):
        big, tiny = runs[shrinking, 200], runs[shrinking, 0.03]
        assert tiny.cache_misses > big.cache_misses
        if name != "poly":  # entries are computed alike wherever they sit: the same path
            # (poly's pow may differ in the last bit between vector and scalar code)
            assert tiny.n_iter == big.n_iter
            np.testing.assert_array_equal(tiny.alpha, big.alpha)
    D = {key: dual_objective(r.alpha, y, K) for key, r in runs.items()}
    for key in runs:
        assert D[key] == pytest.approx(D[True, 200], rel=1e-7)


def test_svm_callable_kernel_matches_builtin():
    X, y = _problem(n=80, seed=4)
    builtin = solve_smo(Kernel("rbf", gamma=0.3), X, y, 2.0, tol=1e-6)
    def rbf(A, B):
        return np.exp(-0.3 * ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1))
    custom = solve_smo(Kernel("callable", function=rbf), X, y, 2.0, tol=1e-6)
    np.testing.assert_allclose(custom.alpha, builtin.alpha, atol=1e-6)


def test_svm_max_iter_warns_and_keeps_feasible_solution():
    from sklearn.exceptions import ConvergenceWarning

    X, y = _problem(n=200, seed=5, overlap=3.0)
    kern = Kernel("rbf", gamma=1.0)
    with pytest.warns(ConvergenceWarning, match="max_iter=5"):
        r = solve_smo(kern, X, y, 1.0, max_iter=5)
    assert r.n_iter == 5 and not r.converged
    assert abs(r.alpha @ y) < 1e-12 and r.alpha.min() >= 0 and r.alpha.max() <= 1.0
    K = kern(X, X)
    assert dual_objective(r.alpha, y, K) > 0  # it improved on alpha = 0 (D = 0)


def test_svm_dual_argument_errors():
    K = np.eye(2)
    with pytest.raises(ValueError, match="shape"):
        dual_objective(np.ones(3), np.ones(2), K)
    with pytest.raises(ValueError, match="-1 and \\+1"):
        dual_objective(np.ones(2), np.array([1.0, 0.0]), K)
    with pytest.raises(ValueError, match="C must be > 0"):
        kkt_violation(np.ones(2), np.array([1.0, -1.0]), K, C=0.0)


@pytest.mark.parametrize("n_active", [20, 190])  # libsvm's two ways: by free columns, by rows
def test_svm_rebuild_gradient_of_shrunk_samples_is_exact(n_active):
    from ravine.svm.cache import KERNEL_CODES, ColumnCache
    from ravine.svm.smo import rebuild_gradient

    rng = np.random.default_rng(6)
    n = 200
    C = rng.choice([0.5, 1.0, 2.0], n)  # per-sample bounds (instance weights), per position
    X, y = rng.standard_normal((n, 3)), np.where(rng.random(n) < 0.5, 1.0, -1.0)
    kern = Kernel("rbf", gamma=0.5)
    perm = rng.permutation(n)
    pos = np.empty(n, dtype=np.int64)
    pos[perm] = np.arange(n)
    # per position: free multipliers only among the active ones, shrunk ones at a bound
    alpha = np.where(rng.random(n) < 0.5, C, 0.0)
    alpha[:n_active] = C[:n_active] * rng.choice([0.0, 1.0, 0.3, 0.7], n_active)
    K = kern(X[perm], X[perm])  # in positions
    upper_part = K @ np.where(alpha >= C, C * y, 0.0)
    F = np.full(n, np.nan)
    cache = ColumnCache(n, 1.0)
    args = (KERNEL_CODES["rbf"], X, np.einsum("ij,ij->i", X, X), np.zeros((1, 1)), 0.5, 0.0, 3)
    rebuild_gradient(args, cache.arrays, y, alpha, F, upper_part, perm, pos, n_active, C)
    exact = y - K @ (alpha * y)
    np.testing.assert_allclose(F[n_active:], exact[n_active:], rtol=1e-12, atol=1e-12)
    assert np.isnan(F[:n_active]).all()  # the active part is the solver's, left alone
    assert (cache.stats[2] > 0) == (n_active == 20)  # columns used only in the second way


@pytest.mark.parametrize("case", ["free", "none free"])
def test_svm_reference_intercept_at_positions_matches_reference(case):
    # the solver's compiled intercept (libsvm's calculate_rho on F = -y G, any sample order)
    # against the reference's, with free multipliers and with every multiplier at a bound
    from ravine.svm.smo import intercept_at_positions
    from ravine.svm.smo_reference import intercept_from_gradient

    rng = np.random.default_rng(3)
    n = 40
    y = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    C = rng.uniform(0.5, 2.0, n)
    alpha = np.where(rng.random(n) < 0.5, 0.0, C)
    if case == "free":
        alpha[:7] = C[:7] * rng.uniform(0.1, 0.9, 7)
    G = rng.standard_normal(n)
    expected = intercept_from_gradient(alpha, y, G, C)
    order = rng.permutation(n)
    got = intercept_at_positions(alpha[order], y[order], (-y * G)[order], C[order])
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)
    if case == "none free":  # the midpoint branch, not the mean
        assert not ((alpha > 0) & (alpha < C)).any()
